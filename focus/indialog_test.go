package focus

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/internal/testwait"
)

// forged builds an in-dialog request for call c's dialog as a stranger
// would, who read the Call-ID and tags in conference-info: From is c's own
// From (with fromURI as URI when not empty), To carries the focus's tag.
func forged(c *sipua.Call, sender *sipua.UA, method sip.RequestMethod, seq uint32, fromURI string) *sip.Request {
	req := sip.NewRequest(method, *c.Response.Contact().Address.Clone())
	from := sip.HeaderClone(c.Invite.From()).(*sip.FromHeader)
	if fromURI != "" {
		var u sip.Uri
		if err := sip.ParseUri(fromURI, &u); err != nil {
			panic(err)
		}
		from.Address = u
	}
	req.AppendHeader(from)
	to := sip.HeaderClone(c.Invite.To()).(*sip.ToHeader)
	to.Params.Add("tag", c.RemoteTag())
	req.AppendHeader(to)
	req.AppendHeader(sip.HeaderClone(c.Invite.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	req.AppendHeader(sender.Contact())
	req.SetBody(nil)
	return req
}

// withBody sets a body and its type on req.
func withBody(req *sip.Request, contentType string, body []byte) *sip.Request {
	req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	req.SetBody(body)
	return req
}

// In-dialog requests are admitted only from the dialog's peer: its From
// URI and tag, and the IP address its requests came from. A stranger who
// knows the Call-ID and tags (conference-info publishes them) gets 481 for
// BYE, INFO, OPTIONS, re-INVITE, SUBSCRIBE and REFER, and the dialog is
// left as it was: its CSeq, and where the focus's BYE goes.
func TestInDialogStrangerRefused(t *testing.T) {
	e := newEnv(t, envOptions{policy: conference.WatchAnyone})
	ctx := ctxT(t, 15*time.Second)
	_, rtpAddr := e.rtp()
	alice := e.ua("udp", "alice")
	call := e.dial(alice, "udp", "team", rtpAddr, "0")
	joined := e.waitEvent(conference.Joined, 2*time.Second)

	// Mallory on another host (127.0.0.2) writes alice's From; Eve on
	// alice's host writes her own From with alice's tag.
	mallory, err := sipua.New(sipua.Config{Host: "127.0.0.2", User: "alice", Domain: "example.test", Logger: testLogger(t)})
	if err != nil {
		t.Skip("no 127.0.0.2:", err)
	}
	t.Cleanup(func() { mallory.Close() })
	eve := e.ua("udp", "eve")
	_, evil := e.rtp()
	strangers := []struct {
		name string
		ua   *sipua.UA
		from string
	}{
		{"other IP", mallory, ""},
		{"other From", eve, "sip:eve@example.test"},
	}
	seq := uint32(100)
	for _, s := range strangers {
		for _, req := range []*sip.Request{
			forged(call, s.ua, sip.BYE, seq, s.from),
			withBody(forged(call, s.ua, sip.INFO, seq+1, s.from), "application/dtmf-relay", []byte("Signal=*\r\nDuration=100\r\n")),
			withBody(forged(call, s.ua, sip.INFO, seq+2, s.from), "application/dtmf-relay", []byte("Signal=6\r\nDuration=100\r\n")),
			forged(call, s.ua, sip.OPTIONS, seq+3, s.from),
			withBody(forged(call, s.ua, sip.INVITE, seq+4, s.from), "application/sdp", sipua.Offer(evil, "0", "a=sendonly")),
			forged(call, s.ua, sip.REFER, seq+5, s.from),
		} {
			if req.Method == sip.REFER {
				req.AppendHeader(sip.NewHeader("Refer-To", "<sip:bob@example.test;method=BYE>"))
			}
			res, err := s.ua.Client().Do(ctx, req)
			if err != nil || res.StatusCode != 481 {
				t.Errorf("%s: %s: %v %v, want 481", s.name, req.Method, res, err)
			}
		}
		sub := forged(call, s.ua, sip.SUBSCRIBE, seq+6, s.from)
		sub.AppendHeader(sip.NewHeader("Event", "conference"))
		if res, err := s.ua.Client().Do(ctx, sub); err != nil || res.StatusCode != 481 {
			t.Errorf("%s: SUBSCRIBE: %v %v, want 481", s.name, res, err)
		}
		seq += 10
	}
	if e.f.Calls() != 1 || e.f.Subscriptions() != 0 {
		t.Fatalf("calls %d subscriptions %d", e.f.Calls(), e.f.Subscriptions())
	}
	if p, ok := e.reg.Participant("team", joined.Participant.ID); !ok || p.Muted || p.Audio == nil || p.Audio.OnHold {
		t.Fatalf("alice after the strangers: %+v %v", p, ok)
	}
	// The dialog's CSeq did not move: alice's next request (CSeq 2) is in
	// order.
	if res, err := call.Request(ctx, sip.INFO, "", nil); err != nil || res.StatusCode != 200 {
		t.Fatalf("alice's INFO: %v %v", res, err)
	}
	// And the focus's BYE still goes to alice.
	if err := e.reg.Kick(ctx, "team", joined.Participant.ID, conference.Actor{API: true}, conference.OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := call.WaitBye(ctx); err != nil {
		t.Fatalf("alice's BYE: %v", err)
	}
}

// A stranger cannot refresh or end another's subscription either.
func TestInDialogStrangerSubscription(t *testing.T) {
	e := newEnv(t, envOptions{policy: conference.WatchAnyone, rooms: []conference.RoomSpec{{Name: "team"}}})
	ctx := ctxT(t, 10*time.Second)
	watch := e.ua("udp", "watch")
	s, err := watch.Subscribe(ctx, e.target(watch, "udp", "team"), "conference", 600)
	if err != nil || s.Response.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %v %v", s.Response, err)
	}
	mallory, err := sipua.New(sipua.Config{Host: "127.0.0.2", User: "watch", Domain: "example.test", Logger: testLogger(t)})
	if err != nil {
		t.Skip("no 127.0.0.2:", err)
	}
	t.Cleanup(func() { mallory.Close() })
	req := sip.NewRequest(sip.SUBSCRIBE, *s.Response.Contact().Address.Clone())
	req.AppendHeader(sip.HeaderClone(s.Request.From()))
	to := sip.HeaderClone(s.Request.To()).(*sip.ToHeader)
	tag, _ := s.Response.To().Params.Get("tag")
	to.Params.Add("tag", tag)
	req.AppendHeader(to)
	req.AppendHeader(sip.HeaderClone(s.Request.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 50, MethodName: sip.SUBSCRIBE})
	req.AppendHeader(mallory.Contact())
	req.AppendHeader(sip.NewHeader("Event", "conference"))
	req.AppendHeader(sip.NewHeader("Expires", "0"))
	req.SetBody(nil)
	if res, err := mallory.Client().Do(ctx, req); err != nil || res.StatusCode != 481 {
		t.Fatalf("forged unsubscribe: %v %v, want 481", res, err)
	}
	// Nothing happened: an accepted unsubscribe would have sent the
	// terminating NOTIFY at once and ended the subscription within a
	// loopback round trip (milliseconds); 200 ms leaves ample room.
	time.Sleep(200 * time.Millisecond)
	if e.f.Subscriptions() != 1 {
		t.Fatalf("subscriptions %d after a forged unsubscribe", e.f.Subscriptions())
	}
	if res, err := s.Refresh(ctx, 600); err != nil || res.StatusCode != 200 {
		t.Fatalf("the subscriber's own refresh: %v %v", res, err)
	}
}

// A NAT that rebinds the phone's port keeps the IP: the dialog goes on from
// the new port, and the focus's requests follow it there.
func TestInDialogNATRebinding(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := ctxT(t, 10*time.Second)
	_, rtpAddr := e.rtp()
	call := e.dial(e.ua("udp", "alice"), "udp", "team", rtpAddr, "0")
	joined := e.waitEvent(conference.Joined, 2*time.Second)
	// The ACK (from the old port) is in before the phone "moves".
	testwait.Until(t, 2*time.Second, "ACK processed", func() bool {
		c := e.f.calls.participant(joined.Participant.ID)
		return c != nil && closed(c.ackDone)
	})

	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	tag, _ := call.Invite.From().Params.Get("tag")
	info := "INFO " + call.Response.Contact().Address.String() + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(port) + ";branch=z9hG4bK-nat-1;rport\r\n" +
		"From: " + call.Invite.From().Value() + "\r\n" +
		"To: <" + call.Invite.To().Address.String() + ">;tag=" + call.RemoteTag() + "\r\n" +
		"Call-ID: " + call.CallID() + "\r\nCSeq: 7 INFO\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if !strings.Contains(info, "tag="+tag) {
		t.Fatalf("From without tag: %s", info)
	}
	dst, _ := net.ResolveUDPAddr("udp", e.udp)
	if _, err := conn.WriteToUDP([]byte(info), dst); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, _, err := conn.ReadFromUDP(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
		t.Fatalf("INFO from the new port: %q %v", buf[:n], err)
	}
	kctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := e.reg.Kick(kctx, "team", joined.Participant.ID, conference.Actor{API: true}, conference.OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	for {
		conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, _, err = conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no BYE at the new port: %v", err)
		}
		if !strings.HasPrefix(string(buf[:n]), "BYE ") {
			continue
		}
		msg, err := sip.ParseMessage(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		res := sip.NewResponseFromRequest(msg.(*sip.Request), 200, "OK", nil)
		if _, err := conn.WriteToUDP([]byte(res.String()), dst); err != nil {
			t.Fatal(err)
		}
		break
	}
}

// A REFER inside a call lends the call's participant (its moderator role,
// won by PIN) only to that participant's own authenticated identity.
func TestReferInDialogLendsParticipantOnlyToItself(t *testing.T) {
	rooms := []conference.RoomSpec{{Name: "team", PIN: "4321"}}
	accounts := map[string]string{"alice": "secret", "bob": "pw"}
	for _, tt := range []struct {
		name        string
		requireAuth bool
		want        int // REFER status
	}{
		{"unauthenticated call", false, 403},
		{"authenticated call", true, 202},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{rooms: rooms, accounts: accounts, requireAuth: tt.requireAuth, policy: conference.WatchAnyone})
			ctx := ctxT(t, 15*time.Second)
			_, rtp1 := e.rtp()
			_, rtp2 := e.rtp()
			bob := e.ua("udp", "bob")
			var bobCall *sipua.Call
			if tt.requireAuth {
				bobCall = e.dialAuth(bob, "team", rtp1, sipua.Credentials{User: "bob", Password: "pw"})
			} else {
				bobCall = e.dial(bob, "udp", "team", rtp1, "0")
			}
			alice := e.uaAt("udp", "alice", "conf.example.test", false)
			var aliceCall *sipua.Call
			if tt.requireAuth {
				aliceCall = e.dialAuth(alice, "team", rtp2, *aliceCreds)
			} else {
				aliceCall = e.dial(alice, "udp", "team", rtp2, "0")
			}
			for _, d := range "*14321#" {
				body := []byte("Signal=" + string(d) + "\r\nDuration=100\r\n")
				if res, err := aliceCall.Request(ctx, sip.INFO, "application/dtmf-relay", body); err != nil || res.StatusCode != 200 {
					t.Fatalf("INFO %c: %v %v", d, res, err)
				}
			}
			testwait.Until(t, 2*time.Second, "alice moderator by PIN", func() bool {
				ps := e.reg.Find("team", func(p *conference.Participant) bool { return p.AOR == "sip:alice@conf.example.test" })
				return len(ps) == 1 && ps[0].Role == conference.RoleModerator
			})
			bobAOR := "sip:bob@example.test"
			if tt.requireAuth {
				bobAOR = "sip:bob@conf.example.test"
			}
			r, err := aliceCall.Refer(ctx, []string{"<" + bobAOR + ";method=BYE>"}, aliceCreds)
			if err != nil || r.Response.StatusCode != tt.want {
				t.Fatalf("in-dialog REFER: %v %v, want %d", r.Response, err, tt.want)
			}
			if tt.want == 202 {
				if _, err := bobCall.WaitBye(ctx); err != nil {
					t.Fatal(err)
				}
				return
			}
			if n := len(e.participants("team")); n != 2 {
				t.Fatalf("participants %d after a refused REFER", n)
			}
		})
	}
}
