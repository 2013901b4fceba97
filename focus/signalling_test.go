package focus

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/internal/testwait"
	"cusax.dev/bridge/mixer"
)

// A caller gives up while the focus rings: its CANCEL (sipgo's dialog
// client sends it when the wait for the answer is called off) gets 200, the
// INVITE 487, and nothing of the call is left.
func TestCancelBeforeAnswer(t *testing.T) {
	e := newEnv(t, envOptions{answerDelay: 3 * time.Second})
	u := e.ua("udp", "alice")
	_, rtpAddr := e.rtp()
	ctx := ctxT(t, 10*time.Second)
	caller := &sipgo.DialogUA{Client: u.Client(), ContactHDR: *u.Contact()}
	sess, err := caller.Invite(ctx, e.target(u, "udp", "team"), sipua.Offer(rtpAddr, "0"), sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	giveUp, cancel := context.WithCancel(ctx)
	defer cancel()
	var ring *sip.Response
	ports := -1
	err = sess.WaitAnswer(giveUp, sipgo.AnswerOptions{OnResponse: func(r *sip.Response) error {
		if r.StatusCode == 180 && ring == nil {
			ring, ports = r, e.eng.PortsInUse()
			cancel()
		}
		return nil
	}})
	if ring == nil {
		t.Fatalf("no 180 before the answer: %v", err)
	}
	if ct := ring.Contact(); ct == nil || !ct.Params.Has("isfocus") {
		t.Errorf("180 Contact %v", ring.GetHeader("Contact"))
	}
	if ports != 1 {
		t.Errorf("ports in use while ringing: %d", ports)
	}
	// context.Canceled: the CANCEL got its 200.
	if !errors.Is(err, context.Canceled) || sess.InviteResponse == nil || sess.InviteResponse.StatusCode != 487 {
		t.Fatalf("CANCEL: %v; INVITE final %v", err, sess.InviteResponse)
	}
	testwait.Until(t, 2*time.Second, "port released", func() bool { return e.eng.PortsInUse() == 0 })
	if n := len(e.participants("team")); n != 0 || e.f.Calls() != 0 {
		t.Errorf("participants %d calls %d after CANCEL", n, e.f.Calls())
	}
	if e.requests("CANCEL") != 1 || e.responses("CANCEL", "2xx") != 1 || e.responses("INVITE", "4xx") != 1 {
		t.Errorf("metrics: CANCEL %v, 200 %v, 487 %v", e.requests("CANCEL"), e.responses("CANCEL", "2xx"), e.responses("INVITE", "4xx"))
	}
}

func TestOptions(t *testing.T) {
	e := newEnv(t, envOptions{})
	u := e.ua("udp", "alice")
	ctx := ctxT(t, 5*time.Second)

	res, err := u.Options(ctx, u.Target("Team", e.udp))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("OPTIONS room: %v %v", res, err)
	}
	if ct := res.Contact(); ct == nil || !ct.Params.Has("isfocus") || ct.Address.User != "team" {
		t.Errorf("Contact %v", res.GetHeader("Contact"))
	}
	if h := res.GetHeader("Accept"); h == nil || !strings.Contains(h.Value(), "application/sdp") || !strings.Contains(h.Value(), "application/conference-info+xml") {
		t.Errorf("Accept %v", h)
	}
	if h := res.GetHeader("Allow"); h == nil || !strings.Contains(h.Value(), "INVITE") || !strings.Contains(h.Value(), "OPTIONS") {
		t.Errorf("Allow %v", h)
	}

	hostOnly := sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: u.Target("x", e.udp).Port}
	res, err = u.Options(ctx, hostOnly)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("OPTIONS host: %v %v", res, err)
	}
	if ct := res.Contact(); ct == nil || ct.Params.Has("isfocus") {
		t.Errorf("host-only OPTIONS Contact %v", res.GetHeader("Contact"))
	}

	if res, err = u.Options(ctx, u.Target("bad!room", e.udp)); err != nil || res.StatusCode != 404 {
		t.Errorf("OPTIONS to an invalid room: %v %v, want 404", res, err)
	}
	// Sent to the focus, addressed to another domain.
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", User: "team", Host: "elsewhere.example"})
	req.SetDestination(e.udp)
	if res, err = u.Client().Do(ctx, req); err != nil || res.StatusCode != 404 {
		t.Errorf("OPTIONS to another domain: %v %v, want 404", res, err)
	}
	if e.requests("OPTIONS") != 4 || e.responses("OPTIONS", "2xx") != 2 || e.responses("OPTIONS", "4xx") != 2 {
		t.Errorf("metrics %v %v %v", e.requests("OPTIONS"), e.responses("OPTIONS", "2xx"), e.responses("OPTIONS", "4xx"))
	}
}

// Every refusal leaves no port, no participant and no call behind.
func TestInviteRefusals(t *testing.T) {
	e := newEnv(t, envOptions{})
	u := e.ua("udp", "alice")
	_, rtpAddr := e.rtp()
	good := sipua.Offer(rtpAddr, "0")
	tests := []struct {
		name string
		room string
		body []byte
		opts []sipua.Option
		code int
		warn string // expected prefix of the Warning header
		hdr  string // header that must be present
	}{
		{name: "invalid room name", room: "no%20spaces", body: good, code: 404},
		{name: "room name too long", room: strings.Repeat("a", 65), body: good, code: 404},
		{name: "malformed SDP", room: "team", body: []byte("v=0\r\nthis is not sdp\r\n"), code: 400, warn: "399 "},
		{name: "no audio m-line", room: "team", body: []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"), code: 488, warn: "304 "},
		{name: "no common codec", room: "team", body: sipua.Offer(rtpAddr, "9 18", "a=rtpmap:9 G722/8000", "a=rtpmap:18 G729/8000"), code: 488, warn: "305 "},
		{name: "SRTP only", room: "team", body: []byte(strings.Replace(string(good), "RTP/AVP", "RTP/SAVP", 1)), code: 488, warn: "302 "},
		{name: "IPv6 to IPv4 focus", room: "team", body: sipua.Offer(netip.MustParseAddrPort("[::1]:4000"), "0"), code: 488, warn: "301 "},
		{name: "body not SDP", room: "team", body: []byte("hello"), opts: []sipua.Option{sipua.WithContentType("text/plain")}, code: 415, hdr: "Accept"},
		{name: "unsupported extension", room: "team", body: good, opts: []sipua.Option{sipua.WithHeader("Require", "100rel")}, code: 420, hdr: "Unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := u.Invite(ctxT(t, 5*time.Second), e.target(u, "udp", tt.room), tt.body, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if c.Response.StatusCode != tt.code {
				t.Fatalf("got %s, want %d", c.Response.StartLine(), tt.code)
			}
			if tt.warn != "" {
				w := c.Response.GetHeader("Warning")
				if w == nil || !strings.HasPrefix(w.Value(), tt.warn+"127.0.0.1 \"") {
					t.Errorf("Warning %v, want %q…", w, tt.warn)
				}
			}
			if tt.hdr != "" && c.Response.GetHeader(tt.hdr) == nil {
				t.Errorf("no %s header", tt.hdr)
			}
			if e.eng.PortsInUse() != 0 || e.f.Calls() != 0 || len(e.participants("team")) != 0 {
				t.Errorf("leak: ports %d calls %d participants %d", e.eng.PortsInUse(), e.f.Calls(), len(e.participants("team")))
			}
		})
	}
	// Another domain, another scheme.
	for _, tt := range []struct {
		uri  sip.Uri
		code int
	}{
		{sip.Uri{Scheme: "sip", User: "team", Host: "other.example"}, 404},
		{sip.Uri{Scheme: "tel", User: "team", Host: "conf.example.test"}, 416},
	} {
		req := sip.NewRequest(sip.INVITE, tt.uri)
		from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "example.test"}, Params: sip.NewParams()}
		from.Params.Add("tag", "abc")
		req.AppendHeader(from)
		req.AppendHeader(u.Contact())
		req.SetBody(nil)
		req.SetDestination(e.udp)
		res, err := u.Client().Do(ctxT(t, 5*time.Second), req)
		if err != nil || res.StatusCode != tt.code {
			t.Errorf("INVITE %s: %v %v, want %d", tt.uri.String(), res, err, tt.code)
		}
	}
}

func TestRoomFull(t *testing.T) {
	e := newEnv(t, envOptions{rooms: []conference.RoomSpec{{Name: "small", MaxParticipants: 1}}})
	_, rtp1 := e.rtp()
	_, rtp2 := e.rtp()
	first := e.dial(e.ua("udp", "alice"), "udp", "small", rtp1, "0")
	u2 := e.ua("udp", "bob")
	c, err := u2.Invite(ctxT(t, 5*time.Second), e.target(u2, "udp", "small"), sipua.Offer(rtp2, "0"))
	if err != nil || c.Response.StatusCode != 486 {
		t.Fatalf("second caller: %v %v, want 486", c.Response, err)
	}
	if e.eng.PortsInUse() != 1 || e.f.Calls() != 1 {
		t.Errorf("ports %d calls %d", e.eng.PortsInUse(), e.f.Calls())
	}
	first.Bye(ctxT(t, 5*time.Second))
}

func TestPortsExhausted(t *testing.T) {
	e := newEnv(t, envOptions{pairs: 1})
	_, rtp1 := e.rtp()
	_, rtp2 := e.rtp()
	alice := e.ua("udp", "alice")
	first := e.dial(alice, "udp", "team", rtp1, "0")
	bob := e.ua("udp", "bob")
	c, err := bob.Invite(ctxT(t, 5*time.Second), e.target(bob, "udp", "team"), sipua.Offer(rtp2, "0"))
	if err != nil || c.Response.StatusCode != 503 {
		t.Fatalf("second caller: %v %v, want 503", c.Response, err)
	}
	if ra := c.Response.GetHeader("Retry-After"); ra == nil || ra.Value() != "5" {
		t.Errorf("Retry-After %v", ra)
	}
	if n := len(e.participants("team")); n != 1 {
		t.Errorf("%d participants", n)
	}
	if res, err := first.Bye(ctxT(t, 5*time.Second)); err != nil || res.StatusCode != 200 {
		t.Fatalf("BYE %v %v", res, err)
	}
	// The freed pair serves the next caller.
	e.dial(bob, "udp", "team", rtp2, "0").Bye(ctxT(t, 5*time.Second))
}

func TestUnknownDialog481(t *testing.T) {
	e := newEnv(t, envOptions{})
	u := e.ua("udp", "alice")
	_, rtpAddr := e.rtp()
	c := e.dial(u, "udp", "team", rtpAddr, "0")
	ctx := ctxT(t, 5*time.Second)

	// A request with the call's Call-ID but a wrong To-tag matches nothing.
	for _, m := range []sip.RequestMethod{sip.BYE, sip.INFO, sip.INVITE, sip.OPTIONS} {
		req := sip.NewRequest(m, *c.Response.Contact().Address.Clone())
		req.AppendHeader(sip.HeaderClone(c.Invite.From()))
		to := sip.HeaderClone(c.Invite.To()).(*sip.ToHeader)
		to.Params.Add("tag", "not-the-focus-tag")
		req.AppendHeader(to)
		req.AppendHeader(sip.HeaderClone(c.Invite.CallID()))
		req.AppendHeader(&sip.CSeqHeader{SeqNo: 10, MethodName: m})
		req.AppendHeader(u.Contact())
		req.SetBody(nil)
		res, err := u.Client().Do(ctx, req)
		if err != nil || res.StatusCode != 481 {
			t.Errorf("%s on unknown dialog: %v %v, want 481", m, res, err)
		}
	}
	// An unmatched CANCEL.
	req := sip.NewRequest(sip.CANCEL, e.target(u, "udp", "team"))
	req.AppendHeader(u.Contact())
	req.SetBody(nil)
	if res, err := u.Client().Do(ctx, req); err != nil || res.StatusCode != 481 {
		t.Errorf("unmatched CANCEL: %v %v", res, err)
	}
	// The call itself is untouched.
	if e.f.Calls() != 1 {
		t.Fatalf("calls %d", e.f.Calls())
	}
	if res, err := c.Bye(ctx); err != nil || res.StatusCode != 200 {
		t.Fatalf("BYE %v %v", res, err)
	}
	// A second BYE on the ended dialog.
	if res, err := c.Bye(ctx); err != nil || res.StatusCode != 481 {
		t.Errorf("second BYE: %v %v", res, err)
	}
}

// sdpVersion returns the o= session version of an SDP body.
func sdpVersion(t *testing.T, body []byte) uint64 {
	t.Helper()
	for _, l := range strings.Split(string(body), "\r\n") {
		if strings.HasPrefix(l, "o=") {
			f := strings.Fields(l)
			v, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no o= line in\n%s", body)
	return 0
}

func TestReInvite(t *testing.T) {
	e := newEnv(t, envOptions{})
	u := e.ua("udp", "alice")
	_, rtpAddr := e.rtp()
	_, rtp2 := e.rtp()
	c := e.dial(u, "udp", "team", rtpAddr, "0 8 101")
	joined := e.waitEvent(conference.Joined, 2*time.Second)
	port, err := sipua.AudioPort(c.Response.Body())
	if err != nil {
		t.Fatal(err)
	}
	version := sdpVersion(t, c.Response.Body())
	call := e.f.calls.participant(joined.Participant.ID)

	steps := []struct {
		name     string
		offer    []byte
		dir      string // a= in the answer
		codec    string
		hold     bool
		mixer    mixer.Direction
		remote   netip.AddrPort
		refused  int // expected non-2xx status, 0 = accepted
		unchange bool
	}{
		{name: "hold", offer: sipua.Offer(rtpAddr, "0 101", "a=sendonly"), dir: "a=recvonly", codec: "PCMU", hold: true, mixer: mixer.Inactive, remote: rtpAddr},
		{name: "inactive", offer: sipua.Offer(rtpAddr, "0 101", "a=inactive"), dir: "a=inactive", codec: "PCMU", hold: true, mixer: mixer.Inactive, remote: rtpAddr},
		{name: "resume", offer: sipua.Offer(rtpAddr, "0 101", "a=sendrecv"), dir: "a=sendrecv", codec: "PCMU", mixer: mixer.SendRecv, remote: rtpAddr},
		{name: "old-style hold", offer: []byte(strings.Replace(string(sipua.Offer(rtpAddr, "0")), "c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0", 1)), dir: "a=recvonly", codec: "PCMU", hold: true, mixer: mixer.Inactive},
		{name: "codec change", offer: sipua.Offer(rtpAddr, "8 101"), dir: "a=sendrecv", codec: "PCMA", mixer: mixer.SendRecv, remote: rtpAddr},
		{name: "new address", offer: sipua.Offer(rtp2, "8 101"), dir: "a=sendrecv", codec: "PCMA", mixer: mixer.SendRecv, remote: rtp2},
		{name: "refused offer keeps the call", offer: sipua.Offer(rtp2, "9", "a=rtpmap:9 G722/8000"), refused: 488},
	}
	for _, s := range steps {
		ctx := ctxT(t, 5*time.Second)
		res, err := c.ReInvite(ctx, s.offer)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.refused != 0 {
			if res.StatusCode != s.refused {
				t.Fatalf("%s: %s, want %d", s.name, res.StartLine(), s.refused)
			}
			if call.codec() != "PCMA" || e.f.Calls() != 1 {
				t.Errorf("%s: call changed: codec %s calls %d", s.name, call.codec(), e.f.Calls())
			}
			continue
		}
		if res.StatusCode != 200 {
			t.Fatalf("%s: %s", s.name, res.StartLine())
		}
		if err := c.Ack(nil); err != nil {
			t.Fatal(err)
		}
		body := string(res.Body())
		if p, _ := sipua.AudioPort(res.Body()); p != port {
			t.Errorf("%s: answer port %v, want %v", s.name, p, port)
		}
		if v := sdpVersion(t, res.Body()); v != version+1 {
			t.Errorf("%s: o= version %d, want %d", s.name, v, version+1)
		} else {
			version = v
		}
		if !strings.Contains(body, s.dir+"\r\n") {
			t.Errorf("%s: answer lacks %s:\n%s", s.name, s.dir, body)
		}
		// The core's view follows once the ACK is processed.
		testwait.Until(t, 2*time.Second, s.name+": core audio", func() bool {
			p, _ := e.reg.Participant("team", joined.Participant.ID)
			return p.Audio.OnHold == s.hold && p.Audio.Codec == s.codec
		})
		call.mu.Lock()
		neg := call.neg
		call.mu.Unlock()
		if neg.Mixer() != s.mixer || neg.Codec.Name != s.codec || neg.Remote != s.remote {
			t.Errorf("%s: media %v %s %v, want %v %s %v", s.name, neg.Mixer(), neg.Codec.Name, neg.Remote, s.mixer, s.codec, s.remote)
		}
		if s.remote.IsValid() {
			if st := call.leg.Stats(); st.Remote != s.remote && !st.Latched {
				t.Errorf("%s: leg sends to %v, want %v", s.name, st.Remote, s.remote)
			}
		}
	}
	c.Bye(ctxT(t, 5*time.Second))
}

func TestLateOfferCall(t *testing.T) {
	e := newEnv(t, envOptions{})
	u := e.ua("udp", "alice")
	_, rtpAddr := e.rtp()
	ctx := ctxT(t, 5*time.Second)
	c, err := u.Invite(ctx, e.target(u, "udp", "team"), nil)
	if err != nil || c.Response.StatusCode != 200 {
		t.Fatalf("INVITE: %v %v", c.Response, err)
	}
	offer := string(c.Response.Body())
	if !strings.Contains(offer, "m=audio ") || !strings.Contains(offer, " RTP/AVP 0 8 101\r\n") || !strings.Contains(offer, "a=sendrecv") {
		t.Fatalf("focus offer:\n%s", offer)
	}
	joined := e.waitEvent(conference.Joined, 2*time.Second)
	if err := c.Ack(sipua.Offer(rtpAddr, "8 101")); err != nil {
		t.Fatal(err)
	}
	ev := e.waitEvent(conference.MediaChanged, 2*time.Second)
	if ev.Participant.ID != joined.Participant.ID || ev.Participant.Audio.Codec != "PCMA" {
		t.Errorf("media changed %+v", ev.Participant.Audio)
	}
	call := e.f.calls.participant(joined.Participant.ID)
	if call == nil || call.codec() != "PCMA" || call.remote() != rtpAddr.String() {
		t.Fatalf("call media %v", call)
	}
	c.Bye(ctx)
}

func TestLateOfferCallBadAnswer(t *testing.T) {
	for _, tt := range []struct {
		name   string
		answer func(netip.AddrPort) []byte
	}{
		{"no answer", func(netip.AddrPort) []byte { return nil }},
		{"no common codec", func(a netip.AddrPort) []byte { return sipua.Offer(a, "9", "a=rtpmap:9 G722/8000") }},
		{"garbage", func(netip.AddrPort) []byte { return []byte("v=0\r\nnonsense\r\n") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			u := e.ua("udp", "alice")
			_, rtpAddr := e.rtp()
			ctx := ctxT(t, 5*time.Second)
			c, err := u.Invite(ctx, e.target(u, "udp", "team"), nil)
			if err != nil || c.Response.StatusCode != 200 {
				t.Fatalf("INVITE: %v %v", c.Response, err)
			}
			if err := c.Ack(tt.answer(rtpAddr)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.WaitBye(ctx); err != nil {
				t.Fatal(err)
			}
			left := e.waitEvent(conference.Left, 2*time.Second)
			if left.Participant.Left.Method != conference.Failed {
				t.Errorf("left %+v", left.Participant.Left)
			}
			testwait.Until(t, time.Second, "port freed", func() bool { return e.eng.PortsInUse() == 0 })
		})
	}
}

func TestNoAckHangsUp(t *testing.T) {
	e := newEnv(t, envOptions{ackTimeout: 700 * time.Millisecond})
	u := e.ua("udp", "alice")
	_, rtpAddr := e.rtp()
	ctx := ctxT(t, 10*time.Second)
	c, err := u.Invite(ctx, e.target(u, "udp", "team"), sipua.Offer(rtpAddr, "0"))
	if err != nil || c.Response.StatusCode != 200 {
		t.Fatalf("INVITE: %v %v", c.Response, err)
	}
	// No ACK.
	bye, err := c.WaitBye(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tag, _ := bye.From().Params.Get("tag"); tag != c.RemoteTag() {
		t.Errorf("BYE From tag %q, want the focus's %q", tag, c.RemoteTag())
	}
	left := e.waitEvent(conference.Left, 2*time.Second)
	if left.Participant.Left.Method != conference.Failed {
		t.Errorf("left %+v", left.Participant.Left)
	}
	testwait.Until(t, time.Second, "port freed", func() bool { return e.eng.PortsInUse() == 0 && e.f.Calls() == 0 })
}

func TestKickSendsBye(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			u := e.ua(transport, "alice")
			_, rtpAddr := e.rtp()
			c := e.dial(u, transport, "team", rtpAddr, "0")
			joined := e.waitEvent(conference.Joined, 2*time.Second)
			ctx := ctxT(t, 5*time.Second)
			if err := e.reg.Kick(ctx, "team", joined.Participant.ID, conference.Actor{API: true}, conference.OriginAPI, "test"); err != nil {
				t.Fatal(err)
			}
			bye, err := c.WaitBye(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if bye.CallID().Value() != c.CallID() || bye.Recipient.Port != int(u.Addr().Port()) {
				t.Errorf("BYE %s", bye.StartLine())
			}
			want, _ := c.Invite.From().Params.Get("tag")
			if tag, _ := bye.To().Params.Get("tag"); tag != want {
				t.Errorf("BYE To tag %q, want %q", tag, want)
			}
			if bye.CSeq().MethodName != sip.BYE {
				t.Errorf("CSeq %v", bye.CSeq())
			}
			testwait.Until(t, 2*time.Second, "call gone", func() bool { return e.f.Calls() == 0 && e.eng.PortsInUse() == 0 })
			if n := len(e.participants("team")); n != 0 {
				t.Errorf("%d participants", n)
			}
		})
	}
}

func TestConferenceDestroyedByesEveryone(t *testing.T) {
	e := newEnv(t, envOptions{})
	var calls []*sipua.Call
	for _, name := range []string{"alice", "bob"} {
		_, a := e.rtp()
		calls = append(calls, e.dial(e.ua("udp", name), "udp", "team", a, "0"))
	}
	ctx := ctxT(t, 5*time.Second)
	if err := e.reg.Destroy(ctx, "team", conference.Actor{API: true}, conference.OriginAPI, "done", ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range calls {
		if _, err := c.WaitBye(ctx); err != nil {
			t.Fatal(err)
		}
	}
	testwait.Until(t, 2*time.Second, "calls gone", func() bool { return e.f.Calls() == 0 && e.eng.PortsInUse() == 0 })
}

func TestShutdownByesEveryCall(t *testing.T) {
	e := newEnv(t, envOptions{})
	var calls []*sipua.Call
	for i, tr := range []string{"udp", "tcp", "udp"} {
		_, a := e.rtp()
		calls = append(calls, e.dial(e.ua(tr, "user"+strconv.Itoa(i)), tr, "team", a, "0"))
	}
	if e.eng.PortsInUse() != 3 {
		t.Fatalf("ports %d", e.eng.PortsInUse())
	}
	e.shutdown()
	for i, c := range calls {
		if _, err := c.WaitBye(ctxT(t, 2*time.Second)); err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if e.eng.PortsInUse() != 0 || len(e.participants("team")) != 0 {
		t.Errorf("after shutdown: ports %d participants %d", e.eng.PortsInUse(), len(e.participants("team")))
	}
}

func TestMuteFollowsCore(t *testing.T) {
	e := newEnv(t, envOptions{})
	u := e.ua("udp", "alice")
	_, rtpAddr := e.rtp()
	c := e.dial(u, "udp", "team", rtpAddr, "0 101")
	joined := e.waitEvent(conference.Joined, 2*time.Second)
	call := e.f.calls.participant(joined.Participant.ID)
	ctx := ctxT(t, 5*time.Second)
	if err := e.reg.Mute(ctx, "team", joined.Participant.ID, true, conference.Actor{API: true}, conference.OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 2*time.Second, "leg muted", call.leg.Muted)
	if err := e.reg.Mute(ctx, "team", joined.Participant.ID, false, conference.Actor{API: true}, conference.OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 2*time.Second, "leg unmuted", func() bool { return !call.leg.Muted() })

	// *6 by SIP INFO toggles the caller's own mute through the core.
	for _, d := range []string{"*", "6"} {
		res, err := c.Request(ctx, sip.INFO, "application/dtmf-relay", []byte("Signal="+d+"\r\nDuration=160\r\n"))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("INFO: %v %v", res, err)
		}
	}
	e.waitEventWhere(conference.Muted, 2*time.Second, func(ev conference.Event) bool { return ev.Origin == conference.OriginDTMF })
	testwait.Until(t, 2*time.Second, "leg muted by *6", call.leg.Muted)
	if res, err := c.Request(ctx, sip.INFO, "text/plain", []byte("hi")); err != nil || res.StatusCode != 415 {
		t.Errorf("INFO text/plain: %v %v", res, err)
	}
	if res, err := c.Request(ctx, sip.INFO, "", nil); err != nil || res.StatusCode != 200 {
		t.Errorf("empty INFO: %v %v", res, err)
	}
	c.Bye(ctx)
}

// NAT: a request whose Via names an unreachable port but asks for rport is
// answered to its source port, and the Via tells the sender what was seen.
func TestRport(t *testing.T) {
	e := newEnv(t, envOptions{})
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	msg := "OPTIONS sip:team@" + e.domain + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.1:9;branch=z9hG4bK-rport-test;rport\r\n" +
		"From: <sip:nat@example.test>;tag=n1\r\nTo: <sip:team@" + e.domain + ">\r\n" +
		"Call-ID: rport-test\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	dst, _ := net.ResolveUDPAddr("udp", e.udp)
	if _, err := conn.WriteToUDP([]byte(msg), dst); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 4096)
	n, _, err := conn.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no response at the source port: %v", err)
	}
	res := string(buf[:n])
	if !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("response:\n%s", res)
	}
	if !strings.Contains(res, "rport="+strconv.Itoa(port)) || !strings.Contains(res, "received=127.0.0.1") {
		t.Errorf("Via lacks rport/received:\n%s", res)
	}
}

// A second INVITE on a dialog while the first is pending, and a CSeq that
// does not grow, get 500 (RFC 3261 §14.2, §12.2.2).
func TestReInviteOrdering(t *testing.T) {
	e := newEnv(t, envOptions{})
	u := e.ua("udp", "alice")
	_, rtpAddr := e.rtp()
	c := e.dial(u, "udp", "team", rtpAddr, "0")
	focusTarget := *c.Response.Contact().Address.Clone()
	ctx := ctxT(t, 5*time.Second)
	// Re-INVITE without ACK keeps the transaction pending …
	res, err := c.ReInvite(ctx, sipua.Offer(rtpAddr, "0", "a=sendonly"))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("re-INVITE: %v %v", res, err)
	}
	// … so the next one is refused with Retry-After.
	res, err = c.ReInvite(ctx, sipua.Offer(rtpAddr, "0"))
	if err != nil {
		t.Fatalf("overlapping re-INVITE: %v", err)
	}
	if res.StatusCode != 500 || res.GetHeader("Retry-After") == nil {
		t.Fatalf("overlapping re-INVITE: %v", res)
	}
	// A stale CSeq.
	req := sip.NewRequest(sip.INFO, focusTarget)
	req.AppendHeader(sip.HeaderClone(c.Invite.From()))
	to := sip.HeaderClone(c.Invite.To()).(*sip.ToHeader)
	to.Params.Add("tag", c.RemoteTag())
	req.AppendHeader(to)
	req.AppendHeader(sip.HeaderClone(c.Invite.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INFO})
	req.SetBody(nil)
	if res, err := u.Client().Do(ctx, req); err != nil || res.StatusCode != 500 {
		t.Errorf("stale CSeq: %v %v", res, err)
	}
	c.Bye(ctx)
}

// Over TCP the focus's BYE reuses the caller's connection, also after
// several transactions on it (sipgo reference-counts TCP connections).
func TestTCPByeAfterTransactions(t *testing.T) {
	e := newEnv(t, envOptions{})
	u := e.ua("tcp", "alice")
	_, rtpAddr := e.rtp()
	c := e.dial(u, "tcp", "team", rtpAddr, "0")
	joined := e.waitEvent(conference.Joined, 2*time.Second)
	ctx := ctxT(t, 10*time.Second)
	for i := 0; i < 3; i++ {
		res, err := c.ReInvite(ctx, sipua.Offer(rtpAddr, "0"))
		if err != nil || res.StatusCode != 200 {
			t.Fatal(res, err)
		}
		c.Ack(nil)
		if res, err := c.Request(ctx, sip.INFO, "", nil); err != nil || res.StatusCode != 200 {
			t.Fatal(res, err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if err := e.reg.Kick(ctx, "team", joined.Participant.ID, conference.Actor{API: true}, conference.OriginAPI, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitBye(ctx); err != nil {
		t.Fatal(err)
	}
}

// replacesOf is the Replaces value that names call c at the focus.
func replacesOf(c *sipua.Call) string {
	tag, _ := c.Invite.From().Params.Get("tag")
	return c.CallID() + ";to-tag=" + c.RemoteTag() + ";from-tag=" + tag
}

// dialAuth is dial with digest credentials (answering one 401).
func (e *env) dialAuth(u *sipua.UA, room string, rtpAddr netip.AddrPort, creds sipua.Credentials, opts ...sipua.Option) *sipua.Call {
	e.t.Helper()
	ctx := ctxT(e.t, 10*time.Second)
	c, err := u.InviteAuth(ctx, e.target(u, "udp", room), sipua.Offer(rtpAddr, "0"), creds, opts...)
	if err != nil || c.Response.StatusCode != 200 {
		e.t.Fatalf("INVITE as %s: %v %v", creds.User, c.Response, err)
	}
	if err := c.Ack(nil); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// Replaces needs authorisation (RFC 3891 §6): the Call-ID and tags it names
// are published in conference-info, so knowing them proves nothing. Without
// accounts nobody can be authorised: every Replaces is refused.
func TestReplaces(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, rtp1 := e.rtp()
	_, rtp2 := e.rtp()
	alice := e.dial(e.ua("udp", "alice"), "udp", "team", rtp1, "0")
	if h := alice.Response.GetHeader("Supported"); h == nil || !strings.Contains(h.Value(), "replaces") {
		t.Errorf("Supported %v", h)
	}
	first := e.waitEvent(conference.Joined, 2*time.Second)
	bob := e.ua("udp", "bob")
	ctx := ctxT(t, 5*time.Second)
	aliceTag, _ := alice.Invite.From().Params.Get("tag")

	for _, tt := range []struct {
		value string
		code  int
	}{
		{alice.CallID() + ";from-tag=" + aliceTag, 400},
		{alice.CallID() + ";to-tag=wrong;from-tag=" + aliceTag, 403},
		{replacesOf(alice), 403},
		{replacesOf(alice) + ";early-only", 403},
	} {
		c, err := bob.Invite(ctx, e.target(bob, "udp", "team"), sipua.Offer(rtp2, "0"),
			sipua.WithHeader("Replaces", tt.value), sipua.WithHeader("Require", "replaces"))
		if err != nil || c.Response.StatusCode != tt.code {
			t.Errorf("Replaces %q: %v %v, want %d", tt.value, c.Response, err, tt.code)
		}
	}
	// Alice's call is untouched: still in, no BYE, nothing taken.
	if e.eng.PortsInUse() != 1 || e.f.Calls() != 1 {
		t.Fatalf("ports %d calls %d after refused Replaces", e.eng.PortsInUse(), e.f.Calls())
	}
	if ps := e.participants("team"); len(ps) != 1 || ps[0].ID != first.Participant.ID {
		t.Fatalf("participants %+v", ps)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if r, err := alice.NextRequest(short); err == nil {
		t.Fatalf("alice got %s", r.StartLine())
	}
	if res, err := alice.Bye(ctx); err != nil || res.StatusCode != 200 {
		t.Fatalf("alice BYE %v %v", res, err)
	}
}

// With accounts, an INVITE with Replaces is challenged even when calls are
// not; then only the replaced participant's own authenticated identity or a
// moderator who may kick it is allowed.
func TestReplacesAuthorised(t *testing.T) {
	rooms := []conference.RoomSpec{{Name: "team", Moderators: []string{"sip:mod@conf.example.test"}}}
	accounts := map[string]string{"alice": "secret", "bob": "pw", "mod": "mpw"}
	bobCreds := sipua.Credentials{User: "bob", Password: "pw"}
	modCreds := sipua.Credentials{User: "mod", Password: "mpw"}

	t.Run("unauthenticated participant", func(t *testing.T) {
		e := newEnv(t, envOptions{rooms: rooms, accounts: accounts})
		_, rtp1 := e.rtp()
		_, rtp2 := e.rtp()
		alice := e.dial(e.ua("udp", "alice"), "udp", "team", rtp1, "0") // From alice, not authenticated
		ctx := ctxT(t, 10*time.Second)
		bob := e.ua("udp", "bob")
		target := e.target(bob, "udp", "team")
		hdr := sipua.WithHeader("Replaces", replacesOf(alice))
		c, err := bob.Invite(ctx, target, sipua.Offer(rtp2, "0"), hdr)
		if err != nil || c.Response.StatusCode != 401 {
			t.Fatalf("Replaces without credentials: %v %v, want 401", c.Response, err)
		}
		c, err = bob.InviteAuth(ctx, target, sipua.Offer(rtp2, "0"), bobCreds, hdr)
		if err != nil || c.Response.StatusCode != 403 {
			t.Errorf("Replaces by bob: %v %v, want 403", c.Response, err)
		}
		// Even alice's own account: the call's From was never verified.
		c, err = bob.InviteAuth(ctx, target, sipua.Offer(rtp2, "0"), *aliceCreds, hdr)
		if err != nil || c.Response.StatusCode != 403 {
			t.Errorf("Replaces by digest alice of an unverified alice: %v %v, want 403", c.Response, err)
		}
		// Authenticated, but naming no call, or an early one only.
		aliceTag, _ := alice.Invite.From().Params.Get("tag")
		for _, tt := range []struct {
			value string
			code  int
		}{
			{alice.CallID() + ";to-tag=wrong;from-tag=" + aliceTag, 481},
			{replacesOf(alice) + ";early-only", 486},
		} {
			c, err = bob.InviteAuth(ctx, target, sipua.Offer(rtp2, "0"), modCreds, sipua.WithHeader("Replaces", tt.value))
			if err != nil || c.Response.StatusCode != tt.code {
				t.Errorf("Replaces %q: %v %v, want %d", tt.value, c.Response, err, tt.code)
			}
		}
		if e.eng.PortsInUse() != 1 || e.f.Calls() != 1 || len(e.participants("team")) != 1 {
			t.Fatalf("ports %d calls %d participants %d after refused Replaces", e.eng.PortsInUse(), e.f.Calls(), len(e.participants("team")))
		}
		// A moderator may.
		c, err = bob.InviteAuth(ctx, target, sipua.Offer(rtp2, "0"), modCreds, hdr)
		if err != nil || c.Response.StatusCode != 200 {
			t.Fatalf("Replaces by the moderator: %v %v", c.Response, err)
		}
		c.Ack(nil)
		if _, err := alice.WaitBye(ctx); err != nil {
			t.Fatalf("replaced call: %v", err)
		}
		testwait.Until(t, 2*time.Second, "only the moderator left", func() bool {
			ps := e.participants("team")
			return len(ps) == 1 && ps[0].AOR == "sip:mod@conf.example.test" && ps[0].Authenticated
		})
	})

	t.Run("same identity", func(t *testing.T) {
		e := newEnv(t, envOptions{rooms: rooms, accounts: accounts, requireAuth: true})
		_, rtp1 := e.rtp()
		_, rtp2 := e.rtp()
		_, rtp3 := e.rtp()
		desk := e.dialAuth(e.ua("udp", "alice"), "team", rtp1, *aliceCreds)
		joined := e.waitEvent(conference.Joined, 2*time.Second)
		ctx := ctxT(t, 10*time.Second)

		// Bob, authenticated but neither alice nor a moderator.
		bob := e.ua("udp", "bob")
		c, err := bob.InviteAuth(ctx, e.target(bob, "udp", "team"), sipua.Offer(rtp2, "0"), bobCreds,
			sipua.WithHeader("Replaces", replacesOf(desk)))
		if err != nil || c.Response.StatusCode != 403 {
			t.Fatalf("Replaces by bob: %v %v, want 403", c.Response, err)
		}
		// Alice's mobile takes the call over.
		mobile := e.dialAuth(e.ua("udp", "alice"), "team", rtp3, *aliceCreds, sipua.WithHeader("Replaces", replacesOf(desk)))
		if _, err := desk.WaitBye(ctx); err != nil {
			t.Fatalf("replaced call: %v", err)
		}
		testwait.Until(t, 2*time.Second, "only the mobile left", func() bool {
			ps := e.participants("team")
			return len(ps) == 1 && ps[0].ID != joined.Participant.ID && ps[0].AOR == "sip:alice@conf.example.test" && ps[0].Authenticated
		})
		if res, err := mobile.Bye(ctx); err != nil || res.StatusCode != 200 {
			t.Fatalf("BYE %v %v", res, err)
		}
	})
}

// An IPv6 focus answers an IPv6 caller with an IP6 answer and an IPv6
// Contact.
func TestIPv6Call(t *testing.T) {
	probe, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	probe.Close()
	log := testLogger(t)
	reg := conference.NewRegistry(conference.Options{Logger: log})
	lo, hi := freePairs(t, 2)
	eng, err := mixer.New(mixer.Config{BindIP: netip.IPv6Loopback(), PortMin: lo, PortMax: hi, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	f, err := New(Config{Listen: []string{"udp:[::1]:0"}, Domain: "conf.example.test", Logger: log}, reg, eng)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		if eng.PortsInUse() != 0 {
			t.Errorf("ports in use after shutdown: %d", eng.PortsInUse())
		}
	}()
	<-f.Ready()
	if f.AdvertisedAddr() != netip.IPv6Loopback() {
		t.Fatalf("advertised %v", f.AdvertisedAddr())
	}
	_, addr, _ := strings.Cut(f.Addrs()[0], ":")
	u, err := sipua.New(sipua.Config{Host: "::1", User: "alice", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	rtp, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer rtp.Close()
	c, err := u.Invite(ctxT(t, 5*time.Second), u.Target("team", addr), sipua.Offer(rtp.LocalAddr().(*net.UDPAddr).AddrPort(), "0"))
	if err != nil {
		t.Fatalf("INVITE: %v", err)
	}
	if c.Response.StatusCode != 200 {
		t.Fatalf("INVITE: %v", c.Response)
	}
	if !strings.Contains(string(c.Response.Body()), "c=IN IP6 ::1\r\n") {
		t.Errorf("answer:\n%s", c.Response.Body())
	}
	if ct := c.Response.Contact(); ct == nil || !strings.Contains(ct.Value(), "[::1]") {
		t.Errorf("Contact %v", c.Response.GetHeader("Contact"))
	}
	c.Ack(nil)
	if res, err := c.Bye(ctxT(t, 5*time.Second)); err != nil || res.StatusCode != 200 {
		t.Fatalf("BYE %v %v", res, err)
	}
}

// sip.advertised_ip goes into the SDP (c=, o=), the Contact and the
// Warning agent, and is accepted as a Request-URI host.
func TestAdvertisedIP(t *testing.T) {
	e := newEnv(t, envOptions{advertised: "198.51.100.7"})
	u := e.ua("udp", "alice")
	_, rtpAddr := e.rtp()
	uri := e.target(u, "udp", "team")
	uri.Host = "198.51.100.7" // addressed to the public address, sent to the listener
	ctx := ctxT(t, 5*time.Second)
	c, err := u.Invite(ctx, uri, sipua.Offer(rtpAddr, "0"), sipua.WithOutbound(e.udp))
	if err != nil {
		t.Fatal(err)
	}
	if c.Response.StatusCode != 200 {
		t.Fatalf("INVITE: %s", c.Response.StartLine())
	}
	body := string(c.Response.Body())
	if !strings.Contains(body, "c=IN IP4 198.51.100.7\r\n") || !strings.Contains(body, " IN IP4 198.51.100.7\r\n") {
		t.Errorf("answer:\n%s", body)
	}
	if ct := c.Response.Contact(); ct == nil || ct.Address.Host != "198.51.100.7" {
		t.Errorf("Contact %v", c.Response.GetHeader("Contact"))
	}
	if err := c.Ack(nil); err != nil {
		t.Fatal(err)
	}
	// The focus's BYE at shutdown goes to where the caller's requests came
	// from, not to an address in the SDP.
	e.shutdown()
	if _, err := c.WaitBye(ctx); err != nil {
		t.Fatal(err)
	}
}

// A re-INVITE without SDP gets the focus's offer (same port, next o=
// version) in the 200; the answer comes in the ACK.
func TestReInviteWithoutOffer(t *testing.T) {
	e := newEnv(t, envOptions{})
	u := e.ua("udp", "alice")
	_, rtpAddr := e.rtp()
	_, rtp2 := e.rtp()
	c := e.dial(u, "udp", "team", rtpAddr, "0")
	joined := e.waitEvent(conference.Joined, 2*time.Second)
	port, _ := sipua.AudioPort(c.Response.Body())
	version := sdpVersion(t, c.Response.Body())
	ctx := ctxT(t, 5*time.Second)
	res, err := c.ReInvite(ctx, nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("re-INVITE: %v %v", res, err)
	}
	if p, _ := sipua.AudioPort(res.Body()); p != port || sdpVersion(t, res.Body()) != version+1 ||
		!strings.Contains(string(res.Body()), " RTP/AVP 0 8 101\r\n") {
		t.Fatalf("offer in 200:\n%s", res.Body())
	}
	if err := c.Ack(sipua.Offer(rtp2, "8")); err != nil {
		t.Fatal(err)
	}
	call := e.f.calls.participant(joined.Participant.ID)
	testwait.Until(t, 2*time.Second, "answer applied", func() bool { return call.codec() == "PCMA" && call.remote() == rtp2.String() })
	c.Bye(ctx)
}

// With a Record-Route in the INVITE, the focus's BYE carries it as Route,
// goes to that hop, and still names the caller's Contact in its
// Request-URI (loose routing, RFC 3261 §12.2.1.1).
func TestByeFollowsRecordRoute(t *testing.T) {
	e := newEnv(t, envOptions{})
	proxy, proxyAddr := e.rtp() // any UDP socket will do as the recorded hop
	u := e.ua("udp", "alice")
	_, rtpAddr := e.rtp()
	ctx := ctxT(t, 5*time.Second)
	rr := "<sip:" + proxyAddr.String() + ";lr>"
	c, err := u.Invite(ctx, e.target(u, "udp", "team"), sipua.Offer(rtpAddr, "0"), sipua.WithHeader("Record-Route", rr))
	if err != nil || c.Response.StatusCode != 200 {
		t.Fatalf("INVITE: %v %v", c.Response, err)
	}
	if h := c.Response.GetHeader("Record-Route"); h == nil || h.Value() != rr {
		t.Errorf("200 Record-Route %v", h)
	}
	c.Ack(nil)
	joined := e.waitEvent(conference.Joined, 2*time.Second)
	if err := e.reg.Kick(ctx, "team", joined.Participant.ID, conference.Actor{API: true}, conference.OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	proxy.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 4096)
	n, from, err := proxy.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no BYE at the recorded hop: %v", err)
	}
	msg := string(buf[:n])
	if from.String() != e.udp {
		t.Errorf("BYE sent from %v, not from the focus's listener %s", from, e.udp)
	}
	// Answer it, as the proxy would relay the caller's 200.
	res := "SIP/2.0 200 OK\r\n"
	for _, l := range strings.Split(msg, "\r\n") {
		for _, h := range []string{"Via:", "From:", "To:", "Call-ID:", "CSeq:"} {
			if strings.HasPrefix(l, h) {
				res += l + "\r\n"
			}
		}
	}
	proxy.WriteToUDP([]byte(res+"Content-Length: 0\r\n\r\n"), from)
	wantRURI := "BYE sip:alice@" + u.Addr().String() + " SIP/2.0\r\n"
	if !strings.HasPrefix(msg, wantRURI) || !strings.Contains(msg, "\r\nRoute: "+rr+"\r\n") {
		t.Errorf("BYE at the hop:\n%s\nwant start %q and Route %s", msg, wantRURI, rr)
	}
	if !strings.Contains(msg, "\r\nContact: <sip:team@127.0.0.1:") {
		t.Errorf("BYE lacks the focus Contact:\n%s", msg)
	}
}
