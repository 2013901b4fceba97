package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cusax.dev/bridge/config"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/mixer/audiotest"
)

// With rtp.mode shared, three Go callers through the real binary all get
// one RTP port in their answers, hear the other two and not themselves.
func TestSIPSharedMode(t *testing.T) {
	b := StartBridge(t, func(c *config.Config) { c.RTP.Mode = "shared" })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const rate = 8000
	freqs := []float64{500, 900, 1300}
	callers := make([]*caller, len(freqs))
	port := 0
	for i, f := range freqs {
		phone, err := audiotest.NewPhone(audiotest.PhoneConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { phone.Close() })
		phone.SetSource(audiotest.Tone(f, 8000, rate).Fill)
		ua, err := sipua.New(sipua.Config{User: fmt.Sprintf("shared%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ua.Close() })
		call, err := ua.Invite(ctx, ua.Target("team", b.SIPAddr), sipua.Offer(phone.Addr(), "0 101"))
		if err != nil {
			t.Fatalf("caller %d INVITE: %v", i, err)
		}
		if call.Response.StatusCode != 200 {
			t.Fatalf("caller %d: %s", i, call.Response.StartLine())
		}
		if err := call.Ack(nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { call.Bye(context.Background()) })
		dst, err := sipua.AudioPort(call.Response.Body())
		if err != nil {
			t.Fatalf("caller %d answer: %v\n%s", i, err, call.Response.Body())
		}
		if i == 0 {
			port = int(dst.Port())
		} else if int(dst.Port()) != port {
			t.Errorf("caller %d answered with port %d, caller 0 with %d", i, dst.Port(), port)
		}
		phone.Start(dst)
		callers[i] = &caller{freq: f, ua: ua, call: call, phone: phone}
	}
	WaitFor(t, 5*time.Second, "three SIP participants", func() bool {
		return b.Metric("cusax_participants_active") == 3
	})

	const window = rate // 1 s
	for _, c := range callers {
		c.phone.ResetRecording()
	}
	ok := func() bool {
		for i, c := range callers {
			rec := c.phone.Tail(window)
			if len(rec) < window {
				return false
			}
			own := audiotest.PowerDB(rec, c.freq, rate)
			for j, o := range callers {
				if j != i {
					if other := audiotest.PowerDB(rec, o.freq, rate); other < -30 || own > other-20 {
						return false
					}
				}
			}
		}
		return true
	}
	WaitFor(t, 15*time.Second, "every caller hears the two others and not itself", ok)
	for i, c := range callers {
		rec := c.phone.Tail(window)
		s := ""
		for _, o := range callers {
			s += fmt.Sprintf(" %v Hz %.1f dB", o.freq, audiotest.PowerDB(rec, o.freq, rate))
		}
		t.Logf("caller %d (%v Hz) hears:%s", i, c.freq, s)
	}
}
