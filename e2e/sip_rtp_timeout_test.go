package e2e

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/config"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/mixer/audiotest"
)

// A Go UA joins through the binary with rtp.timeout 5s and sends RTP for
// longer than the timeout: the call stays. Then its phone falls silent
// without a BYE (as a crashed phone would): the bridge hangs up with BYE no
// sooner than the timeout, the participant gauge returns to 0 and every
// RTP port of the range can be bound again.
func TestSIPRTPTimeout(t *testing.T) {
	const timeout = 5 * time.Second
	b := StartBridge(t, func(c *config.Config) { c.RTP.Timeout = config.Duration(timeout) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	phone, err := audiotest.NewPhone(audiotest.PhoneConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phone.Close() })
	phone.SetSource(audiotest.Tone(700, 8000, 8000).Fill)
	ua, err := sipua.New(sipua.Config{User: "vanishing", DisplayName: "Vanishing Phone"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	call, err := ua.Invite(ctx, ua.Target("team", b.SIPAddr), sipua.Offer(phone.Addr(), "0 101"))
	if err != nil {
		t.Fatalf("INVITE: %v", err)
	}
	if call.Response.StatusCode != 200 {
		t.Fatalf("INVITE: %s", call.Response.StartLine())
	}
	if err := call.Ack(nil); err != nil {
		t.Fatal(err)
	}
	dst, err := sipua.AudioPort(call.Response.Body())
	if err != nil {
		t.Fatalf("answer: %v\n%s", err, call.Response.Body())
	}
	phone.Start(dst)
	WaitFor(t, 5*time.Second, "the caller in the conference", func() bool {
		return b.Metric("cusax_participants_active") == 1
	})

	// Talking for longer than the timeout keeps the call.
	talk, stop := context.WithTimeout(ctx, timeout+2*time.Second)
	r, err := call.NextRequest(talk)
	stop()
	if err == nil {
		t.Fatalf("the bridge sent %s to a caller sending RTP", r.Method)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if n := b.Metric("cusax_participants_active"); n != 1 {
		t.Fatalf("participants_active %v while talking, want 1", n)
	}
	if n := b.Metric("cusax_rtp_packets_total", `direction="in"`); n < 100 {
		t.Fatalf("only %v RTP packets reached the bridge: the test proves nothing", n)
	}

	// The phone vanishes: no more RTP, no BYE.
	silent := time.Now()
	phone.Start(netip.AddrPort{})
	bye, err := call.WaitBye(ctx)
	if err != nil {
		t.Fatalf("no BYE after the phone fell silent: %v", err)
	}
	// The last packet may have left up to one ptime before silent.
	if quiet := time.Since(silent); quiet < timeout-20*time.Millisecond {
		t.Errorf("BYE %v after the last packet, before the %v timeout", quiet, timeout)
	}
	if tag, _ := bye.From().Params.Get("tag"); tag != call.RemoteTag() {
		t.Errorf("BYE From tag %q, want the focus's %q", tag, call.RemoteTag())
	}
	phone.Close() // its own ports must not count as busy below
	WaitFor(t, 5*time.Second, "no participant left", func() bool {
		return b.Metric("cusax_participants_active") == 0
	})
	WaitFor(t, 5*time.Second, "every RTP port free", func() bool {
		return len(PortsBusy(b.RTPMin, b.RTPMax)) == 0
	})
	if n := b.Metric("cusax_rtp_timeouts_total"); n != 1 {
		t.Errorf("cusax_rtp_timeouts_total = %v, want 1", n)
	}
	// The focus logs the end once the BYE is answered, maybe after the
	// UA saw it.
	WaitFor(t, 5*time.Second, "the RTP-timeout log lines", func() bool {
		logs := b.Logs()
		return strings.Contains(logs, "no RTP or RTCP from the call; hanging up") && strings.Contains(logs, "how=failed")
	})
}
