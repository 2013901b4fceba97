package focus

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/confinfo"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/internal/testwait"
)

// moderated is an env whose room "team" lists alice (digest user of the
// focus's domain) as moderator; carol has an account but no rights.
func moderated(t *testing.T, o envOptions) *env {
	o.rooms = []conference.RoomSpec{{Name: "team", Moderators: []string{"sip:alice@conf.example.test"}}}
	o.accounts = map[string]string{"alice": "secret", "carol": "pw"}
	if o.policy == "" {
		o.policy = conference.WatchAnyone
	}
	return newEnv(t, o)
}

var aliceCreds = &sipua.Credentials{User: "alice", Password: "secret"}

// referNotify reads the next refer NOTIFY and returns its sipfrag status
// line and Subscription-State.
func referNotify(t *testing.T, s *sipua.Subscription) (string, sipua.SubscriptionState) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	n, err := s.NextNotify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ev := n.GetHeader("Event"); ev == nil || strings.Split(ev.Value(), ";")[0] != "refer" {
		t.Errorf("refer NOTIFY Event %v", ev)
	}
	if ct := n.ContentType(); ct == nil || ct.Value() != "message/sipfrag;version=2.0" {
		t.Errorf("refer NOTIFY Content-Type %v", ct)
	}
	st, err := sipua.State(n)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(n.Body()), "\r\n")
	return line, st
}

func TestReferEject(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			e := moderated(t, envOptions{})
			ctx := ctxT(t, 15*time.Second)
			bob := e.ua(transport, "bob")
			_, rtpAddr := e.rtp()
			bobCall := e.dial(bob, transport, "team", rtpAddr, "0")

			watch := e.ua(transport, "watch")
			s, err := watch.Subscribe(ctx, e.target(watch, transport, "team"), "conference", 600)
			if err != nil || s.Response.StatusCode != 200 {
				t.Fatalf("SUBSCRIBE: %v %v", s.Response, err)
			}
			w := newWatcher(t, s)
			w.next(5 * time.Second)

			alice := e.uaAt(transport, "alice", "conf.example.test", false)
			// Without credentials: challenged, nothing happens.
			r, err := alice.Refer(ctx, e.target(alice, transport, "team"), []string{"<sip:bob@example.test;method=BYE>"}, nil)
			if err != nil || r.Response.StatusCode != 401 {
				t.Fatalf("REFER without credentials: %v %v", r.Response, err)
			}
			if h := r.Response.GetHeader("WWW-Authenticate"); h == nil || !strings.Contains(h.Value(), `realm="conf.example.test"`) {
				t.Errorf("challenge %v", h)
			}
			r, err = alice.Refer(ctx, e.target(alice, transport, "team"), []string{"<sip:bob@example.test;method=BYE>"}, aliceCreds)
			if err != nil || r.Response.StatusCode != 202 {
				t.Fatalf("REFER: %v %v", r.Response, err)
			}
			if ct := r.Response.Contact(); ct == nil || !ct.Params.Has("isfocus") {
				t.Errorf("202 Contact %v", r.Response.GetHeader("Contact"))
			}
			line, st := referNotify(t, r)
			if line != "SIP/2.0 100 Trying" || st.State != "active" {
				t.Errorf("first refer NOTIFY %q %+v", line, st)
			}
			if _, err := bobCall.WaitBye(ctx); err != nil {
				t.Fatal(err)
			}
			line, st = referNotify(t, r)
			if line != "SIP/2.0 200 OK" || st.State != "terminated" || st.Reason != "noresource" {
				t.Errorf("final refer NOTIFY %q %+v", line, st)
			}
			w.until(5*time.Second, "bob booted by alice", func(d *confinfo.Document) bool {
				u := d.User("sip:bob@example.test")
				if u == nil || len(u.Endpoints) == 0 {
					return false
				}
				ep := u.Endpoints[0]
				return ep.Status == confinfo.StatusDisconnected && ep.DisconnectionMethod == confinfo.DisconnectBooted &&
					ep.DisconnectionInfo != nil && ep.DisconnectionInfo.By == "sip:alice@conf.example.test" && userCount(d) == 0
			})
			testwait.Until(t, 2*time.Second, "call gone", func() bool { return e.f.Calls() == 0 && e.eng.PortsInUse() == 0 })
		})
	}
}

// A moderator in the call sends REFER inside its dialog; the refer NOTIFYs
// come in that dialog with the REFER's CSeq as id.
func TestReferInDialog(t *testing.T) {
	e := moderated(t, envOptions{})
	ctx := ctxT(t, 15*time.Second)
	bob := e.ua("udp", "bob")
	_, rtpAddr := e.rtp()
	bobCall := e.dial(bob, "udp", "team", rtpAddr, "0")
	alice := e.uaAt("udp", "alice", "conf.example.test", false)
	_, rtpAddr2 := e.rtp()
	aliceCall := e.dial(alice, "udp", "team", rtpAddr2, "0")

	r, err := aliceCall.Refer(ctx, []string{"<sip:bob@example.test;method=BYE>"}, aliceCreds)
	if err != nil || r.Response.StatusCode != 202 {
		t.Fatalf("in-dialog REFER: %v %v", r.Response, err)
	}
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := r.NextNotify(ctx2)
	if err != nil {
		t.Fatal(err)
	}
	want := "refer;id=" + strconv.Itoa(int(r.Request.CSeq().SeqNo))
	if n.CallID().Value() != aliceCall.CallID() || n.GetHeader("Event").Value() != want {
		t.Errorf("refer NOTIFY in %s with Event %s, want %s / %s", n.CallID().Value(), n.GetHeader("Event").Value(), aliceCall.CallID(), want)
	}
	if _, err := bobCall.WaitBye(ctx); err != nil {
		t.Fatal(err)
	}
	if line, st := referNotify(t, r); line != "SIP/2.0 200 OK" || st.State != "terminated" {
		t.Errorf("final %q %+v", line, st)
	}
	// Alice's own call goes on.
	if e.f.Calls() != 1 {
		t.Errorf("calls %d", e.f.Calls())
	}
	if res, err := aliceCall.Bye(ctx); err != nil || res.StatusCode != 200 {
		t.Errorf("alice BYE %v %v", res, err)
	}
}

func TestReferRefusals(t *testing.T) {
	e := moderated(t, envOptions{})
	ctx := ctxT(t, 20*time.Second)
	bob := e.ua("udp", "bob")
	_, rtpAddr := e.rtp()
	e.dial(bob, "udp", "team", rtpAddr, "0")
	alice := e.uaAt("udp", "alice", "conf.example.test", false)
	carol := e.uaAt("udp", "carol", "conf.example.test", false)
	aliceElsewhere := e.uaAt("udp", "alice", "example.test", false)
	eject := "<sip:bob@example.test;method=BYE>"
	tests := []struct {
		name    string
		ua      *sipua.UA
		referTo []string
		creds   *sipua.Credentials
		opts    []sipua.Option
		code    int
	}{
		{name: "no Refer-To", ua: alice, creds: aliceCreds, code: 400},
		{name: "two Refer-To", ua: alice, referTo: []string{eject, "<sip:carol@example.test;method=BYE>"}, creds: aliceCreds, code: 400},
		{name: "a list in one Refer-To", ua: alice, referTo: []string{eject + ", <sip:carol@example.test;method=BYE>"}, creds: aliceCreds, code: 400},
		{name: "tel URI", ua: alice, referTo: []string{"<tel:+15551234>"}, creds: aliceCreds, code: 400},
		{name: "unsupported method", ua: alice, referTo: []string{"<sip:bob@example.test;method=OPTIONS>"}, creds: aliceCreds, code: 400},
		{name: "garbage", ua: alice, referTo: []string{"<sip:bob@"}, creds: aliceCreds, code: 400},
		{name: "no credentials", ua: alice, referTo: []string{eject}, code: 401},
		{name: "wrong password", ua: alice, referTo: []string{eject}, creds: &sipua.Credentials{User: "alice", Password: "nope"}, code: 403},
		{name: "not a moderator", ua: carol, referTo: []string{eject}, creds: &sipua.Credentials{User: "carol", Password: "pw"}, code: 403},
		{name: "From is not the digest user", ua: aliceElsewhere, referTo: []string{eject}, creds: aliceCreds, code: 403},
		{name: "another room", ua: alice, referTo: []string{eject}, creds: aliceCreds, code: 404,
			opts: []sipua.Option{func(r *sip.Request) { r.Recipient.User = "nowhere" }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.ua.Refer(ctx, e.target(tt.ua, "udp", "team"), tt.referTo, tt.creds, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if r.Response.StatusCode != tt.code {
				t.Fatalf("got %s, want %d", r.Response.StartLine(), tt.code)
			}
			if n := len(e.participants("team")); n != 1 {
				t.Errorf("%d participants, want bob alone", n)
			}
		})
	}

	t.Run("unknown participant", func(t *testing.T) {
		r, err := alice.Refer(ctx, e.target(alice, "udp", "team"), []string{"<sip:nobody@example.test;method=BYE>"}, aliceCreds)
		if err != nil || r.Response.StatusCode != 202 {
			t.Fatalf("REFER: %v %v", r.Response, err)
		}
		if line, _ := referNotify(t, r); line != "SIP/2.0 100 Trying" {
			t.Errorf("first %q", line)
		}
		if line, st := referNotify(t, r); line != "SIP/2.0 404 Not Found" || st.State != "terminated" {
			t.Errorf("final %q %+v", line, st)
		}
	})
	t.Run("moderator ejecting itself", func(t *testing.T) {
		_, rtp2 := e.rtp()
		call := e.dial(alice, "udp", "team", rtp2, "0")
		defer call.Bye(ctx)
		r, err := alice.Refer(ctx, e.target(alice, "udp", "team"), []string{"<sip:alice@conf.example.test;method=BYE>"}, aliceCreds)
		if err != nil || r.Response.StatusCode != 202 {
			t.Fatalf("REFER: %v %v", r.Response, err)
		}
		referNotify(t, r)
		// Not in the call's dialog, so the core sees an authenticated
		// moderator ejecting the participant with its AOR: allowed, as a
		// moderator may hang up its own phone. (Inside its own dialog it
		// would be a conflict.)
		if line, _ := referNotify(t, r); line != "SIP/2.0 200 OK" {
			t.Errorf("final %q", line)
		}
	})
	t.Run("Refer-Sub false", func(t *testing.T) {
		r, err := alice.Refer(ctx, e.target(alice, "udp", "team"), []string{"<sip:nobody@example.test;method=BYE>"}, aliceCreds,
			sipua.WithHeader("Refer-Sub", "false"))
		if err != nil || r.Response.StatusCode != 202 {
			t.Fatalf("REFER: %v %v", r.Response, err)
		}
		if h := r.Response.GetHeader("Refer-Sub"); h == nil || h.Value() != "false" {
			t.Errorf("202 Refer-Sub %v", h)
		}
		ctx2, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		if n, err := r.NextNotify(ctx2); err == nil {
			t.Errorf("NOTIFY despite Refer-Sub: false: %s", n.Body())
		}
	})
}

// answerWith makes u answer the focus's INVITEs with code (and, for 2xx,
// an SDP answer from addr).
func answerWith(u *sipua.UA, code int, addr netip.AddrPort) {
	u.OnInvite(func(*sip.Request) (int, []byte) {
		// Ring a moment: sipgo hands responses to transactions on
		// goroutines of their own, so a 180 right before the final
		// response can arrive after it.
		time.Sleep(50 * time.Millisecond)
		if code/100 == 2 {
			return code, sipua.Offer(addr, "0")
		}
		return code, nil
	})
}

func TestReferDialOut(t *testing.T) {
	e := moderated(t, envOptions{dialTimeout: time.Second})
	ctx := ctxT(t, 20*time.Second)
	alice := e.uaAt("udp", "alice", "conf.example.test", false)

	dave := e.ua("udp", "dave")
	_, daveRTP := e.rtp()
	answerWith(dave, 200, daveRTP)
	daveURI := "<sip:dave@" + dave.Addr().String() + ">"
	r, err := alice.Refer(ctx, e.target(alice, "udp", "team"), []string{daveURI}, aliceCreds)
	if err != nil || r.Response.StatusCode != 202 {
		t.Fatalf("REFER: %v %v", r.Response, err)
	}
	var lines []string
	for {
		line, st := referNotify(t, r)
		lines = append(lines, line)
		if st.State == "terminated" {
			break
		}
	}
	if strings.Join(lines, "|") != "SIP/2.0 100 Trying|SIP/2.0 180 Ringing|SIP/2.0 200 OK" {
		t.Errorf("refer NOTIFYs %q", lines)
	}
	ps := e.participants("team")
	if len(ps) != 1 || ps[0].AOR != "sip:dave@127.0.0.1" || ps[0].Audio == nil || ps[0].Audio.JoiningMethod != "dialed-out" {
		t.Fatalf("participants %+v", ps)
	}
	inc := dave.Incoming(ps[0].Audio.CallID)
	if inc == nil {
		t.Fatal("dave has no incoming call")
	}
	inv := inc.Invite
	if ct := inv.Contact(); ct == nil || !ct.Params.Has("isfocus") || ct.Address.User != "team" {
		t.Errorf("INVITE Contact %v", inv.GetHeader("Contact"))
	}
	if from := inv.From(); from.Address.User != "team" || from.Address.Host != "conf.example.test" {
		t.Errorf("INVITE From %v", from)
	}
	if !strings.Contains(string(inv.Body()), "m=audio ") {
		t.Errorf("INVITE offer:\n%s", inv.Body())
	}
	if e.f.Calls() != 1 || e.eng.PortsInUse() != 1 {
		t.Errorf("calls %d ports %d", e.f.Calls(), e.eng.PortsInUse())
	}
	// Dave hangs up: the focus knows the dialog.
	if res, err := inc.Bye(ctx); err != nil || res.StatusCode != 200 {
		t.Fatalf("dave BYE: %v %v", res, err)
	}
	testwait.Until(t, 2*time.Second, "dave gone", func() bool { return e.f.Calls() == 0 && e.eng.PortsInUse() == 0 && len(e.participants("team")) == 0 })

	// Refused and unanswered dial-outs report their outcome and leave
	// nothing behind.
	erin := e.ua("udp", "erin")
	answerWith(erin, 486, netip.AddrPort{})
	frank := e.ua("udp", "frank")
	frank.OnInvite(func(*sip.Request) (int, []byte) { time.Sleep(2 * time.Second); return 480, nil })
	for _, tc := range []struct {
		ua   *sipua.UA
		want string
	}{{erin, "SIP/2.0 486 Busy Here"}, {frank, "SIP/2.0 408 Request Timeout"}} {
		r, err := alice.Refer(ctx, e.target(alice, "udp", "team"), []string{"<sip:x@" + tc.ua.Addr().String() + ">"}, aliceCreds)
		if err != nil || r.Response.StatusCode != 202 {
			t.Fatalf("REFER: %v %v", r.Response, err)
		}
		var last string
		for {
			line, st := referNotify(t, r)
			last = line
			if st.State == "terminated" {
				break
			}
		}
		if last != tc.want {
			t.Errorf("final %q, want %q", last, tc.want)
		}
	}
	testwait.Until(t, 2*time.Second, "ports free", func() bool { return e.eng.PortsInUse() == 0 && e.f.Calls() == 0 })
}

func TestInviteDigest(t *testing.T) {
	e := moderated(t, envOptions{requireAuth: true})
	ctx := ctxT(t, 10*time.Second)
	alice := e.uaAt("udp", "alice", "conf.example.test", false)
	_, rtpAddr := e.rtp()
	c, err := alice.Invite(ctx, e.target(alice, "udp", "team"), sipua.Offer(rtpAddr, "0"))
	if err != nil || c.Response.StatusCode != 401 {
		t.Fatalf("INVITE without credentials: %v %v", c.Response, err)
	}
	if e.eng.PortsInUse() != 0 || len(e.participants("team")) != 0 {
		t.Error("a challenged INVITE took a port or a seat")
	}
	c, err = alice.InviteAuth(ctx, e.target(alice, "udp", "team"), sipua.Offer(rtpAddr, "0"), sipua.Credentials{User: "alice", Password: "nope"})
	if err != nil || c.Response.StatusCode != 403 {
		t.Fatalf("INVITE with a wrong password: %v %v", c.Response, err)
	}
	c, err = alice.InviteAuth(ctx, e.target(alice, "udp", "team"), sipua.Offer(rtpAddr, "0"), *aliceCreds)
	if err != nil || c.Response.StatusCode != 200 {
		t.Fatalf("INVITE with credentials: %v %v", c.Response, err)
	}
	if err := c.Ack(nil); err != nil {
		t.Fatal(err)
	}
	ps := e.participants("team")
	if len(ps) != 1 || ps[0].AOR != "sip:alice@conf.example.test" || !ps[0].Authenticated || ps[0].Role != conference.RoleModerator {
		t.Fatalf("participant %+v", ps)
	}
	// The authenticated moderator may moderate from inside its call.
	if !e.reg.CanModerate("team", conference.Actor{ParticipantID: ps[0].ID}) {
		t.Error("authenticated listed moderator cannot moderate")
	}
	if res, err := c.Bye(ctx); err != nil || res.StatusCode != 200 {
		t.Fatal(res, err)
	}
}

// With the participants-only policy an ejected participant's own
// subscription ends (reason=rejected) with a last document showing it
// booted; other subscriptions go on.
func TestEjectedSubscriberRejected(t *testing.T) {
	e := moderated(t, envOptions{policy: conference.WatchParticipants})
	ctx := ctxT(t, 15*time.Second)
	bob := e.ua("udp", "bob")
	_, rtpAddr := e.rtp()
	bobCall := e.dial(bob, "udp", "team", rtpAddr, "0")
	s, err := bob.Subscribe(ctx, e.target(bob, "udp", "team"), "conference", 600)
	if err != nil || s.Response.StatusCode != 200 {
		t.Fatalf("bob SUBSCRIBE: %v %v", s.Response, err)
	}
	w := newWatcher(t, s)
	w.next(5 * time.Second)

	alice := e.uaAt("udp", "alice", "conf.example.test", false)
	r, err := alice.Refer(ctx, e.target(alice, "udp", "team"), []string{"<sip:bob@example.test;method=BYE>"}, aliceCreds)
	if err != nil || r.Response.StatusCode != 202 {
		t.Fatalf("REFER: %v %v", r.Response, err)
	}
	if _, err := bobCall.WaitBye(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		_, st, _ := w.next(5 * time.Second)
		if st.State == "active" {
			continue
		}
		if st.State != "terminated" || st.Reason != "rejected" {
			t.Errorf("bob's last NOTIFY %+v", st)
		}
		break
	}
	if ep := endpointStatus(w.st.Document(), "sip:bob@example.test"); ep != confinfo.StatusDisconnected {
		t.Errorf("bob's last view of himself: %q", ep)
	}
	testwait.Until(t, 2*time.Second, "subscription gone", func() bool { return e.f.Subscriptions() == 0 })
}
