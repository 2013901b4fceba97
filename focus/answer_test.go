package focus

import (
	"context"
	"testing"
	"time"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/internal/testwait"
)

// A participant kicked while its INVITE is being answered (after the call
// entered the table, or just before the 2xx) gets a final response all the
// same: 403, no 2xx, nothing left behind.
func TestKickedBeforeAnswer(t *testing.T) {
	for _, tt := range []struct {
		name  string
		point hookPoint
	}{
		{"before mute sync", hookAdded},
		{"before 2xx", hookAnswering},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hook := func(f *Focus, p hookPoint, c *call) {
				if p != tt.point {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				if err := f.reg.Kick(ctx, c.room, c.pid, conference.Actor{API: true}, conference.OriginAPI, ""); err != nil {
					t.Errorf("kick: %v", err)
					return
				}
				// The event follower finds the call in the table and
				// ends it.
				for !c.isEnded() && ctx.Err() == nil {
					time.Sleep(5 * time.Millisecond)
				}
			}
			e := newEnv(t, envOptions{hook: hook, rooms: []conference.RoomSpec{{Name: "team"}}})
			u := e.ua("udp", "alice")
			_, rtpAddr := e.rtp()
			ctx := ctxT(t, 5*time.Second)
			c, err := u.Invite(ctx, e.target(u, "udp", "team"), sipua.Offer(rtpAddr, "0"))
			if err != nil {
				t.Fatalf("INVITE got no final response: %v", err)
			}
			if c.Response.StatusCode != 403 {
				t.Fatalf("INVITE answered %s, want 403", c.Response.StartLine())
			}
			testwait.Until(t, 2*time.Second, "nothing left", func() bool {
				return e.f.Calls() == 0 && e.eng.PortsInUse() == 0 && len(e.participants("team")) == 0
			})
		})
	}
}

// RFC 3261 §15: the focus sends no BYE before the ACK of its 2xx. A kick
// between the 2xx and the ACK waits (bounded) for the ACK.
func TestKickBeforeAckWaitsForAck(t *testing.T) {
	e := newEnv(t, envOptions{})
	u := e.ua("udp", "alice")
	_, rtpAddr := e.rtp()
	ctx := ctxT(t, 10*time.Second)

	c, err := u.Invite(ctx, e.target(u, "udp", "team"), sipua.Offer(rtpAddr, "0"))
	if err != nil || c.Response.StatusCode != 200 {
		t.Fatalf("INVITE: %v %v", c.Response, err)
	}
	joined := e.waitEvent(conference.Joined, 2*time.Second)
	if err := e.reg.Kick(ctx, "team", joined.Participant.ID, conference.Actor{API: true}, conference.OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if r, err := c.NextRequest(short); err == nil {
		t.Fatalf("%s before the ACK", r.Method)
	}
	if err := c.Ack(nil); err != nil {
		t.Fatal(err)
	}
	bye, err := c.WaitBye(ctx)
	if err != nil {
		t.Fatalf("no BYE after the ACK: %v", err)
	}
	if bye.CallID().Value() != c.CallID() {
		t.Errorf("BYE in %s", bye.CallID().Value())
	}
	testwait.Until(t, 2*time.Second, "call gone", func() bool { return e.f.Calls() == 0 && e.eng.PortsInUse() == 0 })

	// Without any ACK the BYE still goes, once the wait is over.
	c, err = u.Invite(ctx, e.target(u, "udp", "team"), sipua.Offer(rtpAddr, "0"))
	if err != nil || c.Response.StatusCode != 200 {
		t.Fatalf("second INVITE: %v %v", c.Response, err)
	}
	joined = e.waitEvent(conference.Joined, 2*time.Second)
	if err := e.reg.Kick(ctx, "team", joined.Participant.ID, conference.Actor{API: true}, conference.OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitBye(ctx); err != nil {
		t.Fatalf("no BYE without ACK: %v", err)
	}
}
