package e2e

import (
	"context"
	"testing"
	"time"

	"cusax.dev/bridge/admin"
	"cusax.dev/bridge/config"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/mixer/audiotest"
)

// TestDTMFModeratorMenu through the binary: a caller who is no moderator
// presses *8 and nothing happens; after *1 PIN # it presses *8 and the
// other caller is muted, confirmed by a tone pattern (G5, 784 Hz) in the
// moderator's ear only; *9 unmutes; *7 locks the conference so that a new
// caller gets 403.
func TestDTMFModeratorMenu(t *testing.T) {
	b := StartBridge(t, func(c *config.Config) {
		c.Admin.Token = apiToken
		c.Rooms = []config.Room{{Name: "team", PIN: "2468"}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const rate = 8000
	const cue = 783.99 // the high note of the cue patterns
	dial := func(user string, freq float64) *audiotest.Phone {
		phone, err := audiotest.NewPhone(audiotest.PhoneConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { phone.Close() })
		phone.SetSource(audiotest.Tone(freq, 8000, rate).Fill)
		ua, err := sipua.New(sipua.Config{User: user})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ua.Close() })
		call, err := ua.Invite(ctx, ua.Target("team", b.SIPAddr), sipua.Offer(phone.Addr(), "0 101"))
		if err != nil || call.Response.StatusCode != 200 {
			t.Fatalf("%s INVITE: %v %v", user, call, err)
		}
		if err := call.Ack(nil); err != nil {
			t.Fatal(err)
		}
		dst, err := sipua.AudioPort(call.Response.Body())
		if err != nil {
			t.Fatal(err)
		}
		phone.Start(dst)
		return phone
	}
	mod := dial("mod", 500)
	other := dial("other", 900)
	press := func(p *audiotest.Phone, digits string) {
		for _, d := range digits {
			if err := p.SendDTMF(d, 80*time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
	}
	state := func(user string) admin.Participant {
		pv, ok := findBySIP(t, b, "team", user)
		if !ok {
			t.Fatalf("%s not in the room", user)
		}
		return pv
	}
	WaitFor(t, 5*time.Second, "both callers hearing each other", func() bool {
		return audiotest.PowerDB(other.Tail(rate/2), 500, rate) > -40 && audiotest.PowerDB(mod.Tail(rate/2), 900, rate) > -40
	})

	// Without the moderator role, *8 does nothing.
	press(mod, "*8")
	press(mod, "*6*6") // a marker: the digits after *8 were taken
	WaitFor(t, 5*time.Second, "the *6 toggles to be taken", func() bool {
		return b.Metric("cusax_moderation_actions_total", `action="unmute"`, `origin="dtmf"`) == 1
	})
	if state("other").Muted {
		t.Fatal("a caller without the moderator role muted the others with *8")
	}

	press(mod, "*12468#")
	WaitFor(t, 5*time.Second, "the PIN making mod a moderator", func() bool { return state("mod").Role == "moderator" })

	mod.ResetRecording()
	other.ResetRecording()
	press(mod, "*8")
	WaitFor(t, 5*time.Second, "*8 muting the other caller", func() bool { return state("other").Muted })
	WaitFor(t, 5*time.Second, "1.5 s of audio after *8", func() bool {
		return len(mod.Recording()) >= 3*rate/2 && len(other.Recording()) >= 3*rate/2
	})
	inMod, inOther := audiotest.PowerDB(mod.Recording(), cue, rate), audiotest.PowerDB(other.Recording(), cue, rate)
	t.Logf("cue (%.0f Hz) after *8: %.1f dBFS in the moderator's ear, %.1f dBFS in the other's", cue, inMod, inOther)
	if inMod < -40 || inOther > -50 {
		t.Fatalf("the cue must be in the moderator's ear only: %.1f / %.1f dBFS", inMod, inOther)
	}
	if state("mod").Muted {
		t.Fatal("*8 muted the moderator itself")
	}

	press(mod, "*9")
	WaitFor(t, 5*time.Second, "*9 unmuting the other caller", func() bool { return !state("other").Muted })

	press(mod, "*7")
	var room admin.Room
	WaitFor(t, 5*time.Second, "*7 locking the conference", func() bool {
		apiCall(t, b, "GET", "/rooms/team", "", &room)
		return room.Locked
	})
	ua, err := sipua.New(sipua.Config{User: "late"})
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	late, err := ua.Invite(ctx, ua.Target("team", b.SIPAddr), sipua.Offer(ua.Addr(), "0"))
	if err != nil || late.Response.StatusCode != 403 {
		t.Fatalf("a new caller into the locked conference: %v %v", late, err)
	}
	press(mod, "*7")
	WaitFor(t, 5*time.Second, "*7 unlocking", func() bool {
		apiCall(t, b, "GET", "/rooms/team", "", &room)
		return !room.Locked
	})
}
