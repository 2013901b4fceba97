package e2e

import (
	"context"
	"testing"

	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/mixer/audiotest"
)

// dialTone makes a Go UA called user dial sip:room@hostport (a bridge, or a
// proxy in front of bridges), ACK the 200 and send a tone of freq Hz to the
// RTP address of the answer. The call and the phone end with the test.
func dialTone(t *testing.T, ctx context.Context, hostport, room, user string, freq float64) *caller {
	t.Helper()
	return dialToneOver(t, ctx, "udp", hostport, room, user, freq)
}

// dialToneOver is dialTone with SIP over transport ("udp" or "tcp").
func dialToneOver(t *testing.T, ctx context.Context, transport, hostport, room, user string, freq float64) *caller {
	t.Helper()
	phone, err := audiotest.NewPhone(audiotest.PhoneConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phone.Close() })
	phone.SetSource(audiotest.Tone(freq, 8000, 8000).Fill)
	ua, err := sipua.New(sipua.Config{User: user, DisplayName: user, Transport: transport})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	call, err := ua.Invite(ctx, ua.Target(room, hostport), sipua.Offer(phone.Addr(), "0 101"))
	if err != nil {
		t.Fatalf("%s INVITE sip:%s@%s: %v", user, room, hostport, err)
	}
	if call.Response.StatusCode != 200 {
		t.Fatalf("%s INVITE sip:%s@%s: %s", user, room, hostport, call.Response.StartLine())
	}
	if err := call.Ack(nil); err != nil {
		t.Fatal(err)
	}
	dst, err := sipua.AudioPort(call.Response.Body())
	if err != nil {
		t.Fatalf("%s answer: %v\n%s", user, err, call.Response.Body())
	}
	phone.Start(dst)
	return &caller{freq: freq, ua: ua, call: call, phone: phone}
}
