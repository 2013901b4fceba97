package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/mixer/audiotest"
)

// caller is one Go UAC of the audio test: SIP by sipua, RTP by an
// audiotest.Phone sending a tone.
type caller struct {
	freq  float64
	ua    *sipua.UA
	call  *sipua.Call
	phone *audiotest.Phone
}

// Three callers each send a tone into sip:team@DOMAIN through the real
// binary. Each must hear the other two and not itself (≥ 20 dB below);
// after caller 0 dials *6 (RFC 4733) the others stop hearing it; after
// everybody hangs up no participant is left and every RTP port of the
// range can be bound again.
func TestSIPAudioConference(t *testing.T) {
	b := StartBridge(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const rate = 8000
	freqs := []float64{500, 900, 1300}
	callers := make([]*caller, len(freqs))
	for i, f := range freqs {
		phone, err := audiotest.NewPhone(audiotest.PhoneConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { phone.Close() })
		phone.SetSource(audiotest.Tone(f, 8000, rate).Fill)
		ua, err := sipua.New(sipua.Config{User: fmt.Sprintf("caller%d", i), DisplayName: fmt.Sprintf("Caller %d", i)})
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
		if ct := call.Response.Contact(); ct == nil || !ct.Params.Has("isfocus") {
			t.Errorf("caller %d: Contact %v lacks isfocus", i, call.Response.GetHeader("Contact"))
		}
		if err := call.Ack(nil); err != nil {
			t.Fatal(err)
		}
		dst, err := sipua.AudioPort(call.Response.Body())
		if err != nil {
			t.Fatalf("caller %d answer: %v\n%s", i, err, call.Response.Body())
		}
		phone.Start(dst)
		callers[i] = &caller{freq: f, ua: ua, call: call, phone: phone}
	}
	WaitFor(t, 5*time.Second, "three SIP participants", func() bool {
		return b.Metric("cusax_participants_active") == 3
	})

	// listen records a second of what everybody hears and returns, per
	// caller, the level of each tone in dBFS.
	listen := func() [][]float64 {
		time.Sleep(300 * time.Millisecond) // let the jitter buffers settle
		for _, c := range callers {
			c.phone.ResetRecording()
		}
		time.Sleep(1200 * time.Millisecond)
		levels := make([][]float64, len(callers))
		for i, c := range callers {
			rec := c.phone.Tail(rate)
			if len(rec) < rate*9/10 {
				t.Fatalf("caller %d received only %d samples in 1.2 s", i, len(rec))
			}
			for _, f := range freqs {
				levels[i] = append(levels[i], audiotest.PowerDB(rec, f, rate))
			}
		}
		return levels
	}

	levels := listen()
	for i, l := range levels {
		for j := range freqs {
			if j == i {
				continue
			}
			if l[j] < -40 {
				t.Errorf("caller %d hears caller %d's %v Hz at only %.1f dBFS", i, j, freqs[j], l[j])
			}
			if l[i] > l[j]-20 {
				t.Errorf("caller %d hears itself at %.1f dBFS, not 20 dB below caller %d (%.1f dBFS)", i, l[i], j, l[j])
			}
		}
		t.Logf("caller %d hears %v Hz: %.1f / %.1f / %.1f dBFS", i, freqs, l[0], l[1], l[2])
	}

	// *6 mutes caller 0 through the conference core.
	for _, d := range "*6" {
		if err := callers[0].phone.SendDTMF(d, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	WaitFor(t, 5*time.Second, "the core muting caller 0 by DTMF", func() bool {
		return b.Metric("cusax_moderation_actions_total", `action="mute"`, `origin="dtmf"`) == 1
	})
	levels = listen()
	for i := 1; i < len(callers); i++ {
		other := 3 - i // the unmuted caller besides i
		if levels[i][0] > levels[i][other]-20 {
			t.Errorf("after *6, caller %d still hears caller 0 at %.1f dBFS (caller %d at %.1f dBFS)", i, levels[i][0], other, levels[i][other])
		}
		if levels[i][other] < -40 {
			t.Errorf("after *6, caller %d no longer hears caller %d (%.1f dBFS)", i, other, levels[i][other])
		}
	}
	for i, l := range levels {
		t.Logf("after *6, caller %d hears %v Hz: %.1f / %.1f / %.1f dBFS", i, freqs, l[0], l[1], l[2])
	}
	if levels[0][1] < -40 || levels[0][2] < -40 {
		t.Errorf("muted caller 0 must still hear the others: %.1f / %.1f dBFS", levels[0][1], levels[0][2])
	}

	for i, c := range callers {
		res, err := c.call.Bye(ctx)
		if err != nil || res.StatusCode != 200 {
			t.Errorf("caller %d BYE: %v %v", i, res, err)
		}
	}
	WaitFor(t, 5*time.Second, "no participant left", func() bool {
		return b.Metric("cusax_participants_active") == 0
	})
	WaitFor(t, 5*time.Second, "every RTP port free", func() bool {
		return len(PortsBusy(b.RTPMin, b.RTPMax)) == 0
	})
}
