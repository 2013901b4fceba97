package focus

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/internal/testwait"
	"cusax.dev/bridge/mixer"
	"cusax.dev/bridge/mixer/audiotest"
)

func TestMediaClock(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		reset   bool   // reset at ms instead of observing
		ms      int    // time of the step
		rx      uint64 // packet count observed
		quiet   time.Duration
		watched bool
	}
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"not armed before the answer", []step{
			{ms: 0, rx: 0, watched: false},
			{ms: 5000, rx: 3, watched: false},
		}},
		{"silent since the answer", []step{
			{reset: true, ms: 100},
			{ms: 600, rx: 0, quiet: 500 * time.Millisecond, watched: true},
			{ms: 2100, rx: 0, quiet: 2 * time.Second, watched: true},
		}},
		{"packets restart the spell at the sweep that sees them", []step{
			{reset: true, ms: 0},
			{ms: 1000, rx: 50, quiet: 0, watched: true},
			{ms: 2000, rx: 100, quiet: 0, watched: true},
			{ms: 3000, rx: 100, quiet: time.Second, watched: true},
			{ms: 4500, rx: 100, quiet: 2500 * time.Millisecond, watched: true},
		}},
		{"RTCP alone keeps it alive too (any change of the count)", []step{
			{reset: true, ms: 0},
			{ms: 1000, rx: 1, quiet: 0, watched: true},
			{ms: 6000, rx: 2, quiet: 0, watched: true},
		}},
		{"a re-INVITE restarts the spell", []step{
			{reset: true, ms: 0},
			{ms: 1500, rx: 0, quiet: 1500 * time.Millisecond, watched: true},
			{reset: true, ms: 1800},
			{ms: 2000, rx: 0, quiet: 200 * time.Millisecond, watched: true},
		}},
		{"a counter that went back (new leg stats) counts as traffic", []step{
			{reset: true, ms: 0},
			{ms: 1000, rx: 10, quiet: 0, watched: true},
			{ms: 2000, rx: 3, quiet: 0, watched: true},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var m mediaClock
			for i, s := range tt.steps {
				if s.reset {
					m.reset(at(s.ms))
					continue
				}
				quiet, watched := m.observe(s.rx, at(s.ms))
				if quiet != s.quiet || watched != s.watched {
					t.Errorf("step %d: quiet %v watched %v, want %v %v", i, quiet, watched, s.quiet, s.watched)
				}
			}
		})
	}
}

func TestSweepInterval(t *testing.T) {
	for _, tt := range []struct {
		timeout, hold, want time.Duration
	}{
		{0, 0, 0},
		{30 * time.Second, 0, time.Second},
		{2 * time.Second, 0, 500 * time.Millisecond},
		{0, 2 * time.Second, 500 * time.Millisecond},
		{30 * time.Second, 2 * time.Second, 500 * time.Millisecond},
		{time.Second, 10 * time.Minute, 250 * time.Millisecond},
		{time.Millisecond, 0, minSweepInterval},
	} {
		if got := sweepInterval(tt.timeout, tt.hold); got != tt.want {
			t.Errorf("sweepInterval(%v, %v) = %v, want %v", tt.timeout, tt.hold, got, tt.want)
		}
	}
}

func TestRTPLimit(t *testing.T) {
	f := &Focus{cfg: Config{RTPTimeout: 30 * time.Second, RTPHoldTimeout: time.Hour}}
	for _, tt := range []struct {
		peer mixer.Direction
		want time.Duration
		held bool
	}{
		{mixer.SendRecv, 30 * time.Second, false},
		{mixer.SendOnly, time.Hour, true}, // hold (also c=0.0.0.0)
		{mixer.Inactive, time.Hour, true},
		{mixer.RecvOnly, time.Hour, true}, // listen-only: sends nothing
	} {
		limit, held := f.rtpLimit(negotiated{Peer: tt.peer})
		if limit != tt.want || held != tt.held {
			t.Errorf("peer %v: limit %v held %v, want %v %v", tt.peer, limit, held, tt.want, tt.held)
		}
	}
}

func TestNegativeRTPTimeoutRefused(t *testing.T) {
	for _, c := range []Config{{RTPTimeout: -time.Second}, {RTPHoldTimeout: -time.Second}} {
		c.Listen, c.Domain = []string{"udp:127.0.0.1:0"}, "example.test"
		if _, err := c.withDefaults(); err == nil || !strings.Contains(err.Error(), "RTP timeout") {
			t.Errorf("%+v: err %v", c, err)
		}
	}
}

// callOf returns the focus's call for a UA's call.
func (e *env) callOf(c *sipua.Call) *call {
	e.t.Helper()
	for _, fc := range e.f.calls.appendAll(nil) {
		if fc.dlg.key.callID == c.CallID() {
			return fc
		}
	}
	e.t.Fatalf("no focus call for %s", c.CallID())
	return nil
}

// talker dials room with a phone that sends a packet every 20 ms to the
// focus (it answers the focus's SDP with its own, PCMU).
func (e *env) talker(user, room string, extra ...string) (*sipua.Call, *audiotest.Phone) {
	e.t.Helper()
	phone, err := audiotest.NewPhone(audiotest.PhoneConfig{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { phone.Close() })
	u := e.ua("udp", user)
	ctx := ctxT(e.t, 10*time.Second)
	c, err := u.Invite(ctx, e.target(u, "udp", room), sipua.Offer(phone.Addr(), "0 101", extra...))
	if err != nil || c.Response.StatusCode != 200 {
		e.t.Fatalf("INVITE: %v %v", c.Response, err)
	}
	if err := c.Ack(nil); err != nil {
		e.t.Fatal(err)
	}
	dst, err := sipua.AudioPort(c.Response.Body())
	if err != nil {
		e.t.Fatal(err)
	}
	phone.Start(dst)
	return c, phone
}

// silence stops a phone's RTP without hanging up: the phone vanished.
func silence(p *audiotest.Phone) { p.Start(netip.AddrPort{}) }

// waitTimeoutBye waits for the focus's BYE on c and the core's Left event
// for participant pid with disconnection-method failed; it returns when
// the BYE came.
func (e *env) waitTimeoutBye(c *sipua.Call, pid string, within time.Duration) time.Time {
	e.t.Helper()
	if _, err := c.WaitBye(ctxT(e.t, within)); err != nil {
		e.t.Fatalf("%s: %v", c.CallID(), err)
	}
	at := time.Now()
	left := e.waitEventWhere(conference.Left, 2*time.Second, func(ev conference.Event) bool { return ev.Participant.ID == pid })
	if left.Participant.Left == nil || left.Participant.Left.Method != conference.Failed {
		e.t.Errorf("%s left %+v, want disconnection-method failed", pid, left.Participant.Left)
	}
	if left.Origin != conference.OriginSystem {
		e.t.Errorf("%s left with origin %v, want system", pid, left.Origin)
	}
	if _, ok := e.reg.Participant("team", pid); ok {
		e.t.Errorf("%s still in the conference after the timeout", pid)
	}
	return at
}

// noRequest asserts that the focus sends nothing in c's dialog for d.
func noRequest(t *testing.T, c *sipua.Call, d time.Duration, what string) {
	t.Helper()
	if r, err := c.NextRequest(ctxT(t, d)); err == nil {
		t.Fatalf("%s: focus sent %s", what, r.Method)
	}
}

// A call whose phone never sends RTP is hung up after the timeout with
// disconnection-method failed, its port freed; a call that sends RTP keeps
// going, and is hung up in turn once its phone falls silent (counted from
// its last packet, not from its answer).
func TestRTPTimeoutHangsUpSilentCall(t *testing.T) {
	const timeout = time.Second
	e := newEnv(t, envOptions{rtpTimeout: timeout})

	bob, bobPhone := e.talker("bob", "team")
	bobCall := e.callOf(bob)

	u := e.ua("udp", "alice")
	_, mute := e.rtp() // a socket that never sends
	aliceStart := time.Now()
	alice := e.dial(u, "udp", "team", mute, "0 101")
	aliceCall := e.callOf(alice)
	if e.eng.PortsInUse() != 2 {
		t.Fatalf("%d ports in use, want 2", e.eng.PortsInUse())
	}

	byeAt := e.waitTimeoutBye(alice, aliceCall.pid, 10*time.Second)
	if quiet := byeAt.Sub(aliceStart); quiet < timeout {
		t.Errorf("silent call hung up after %v, before the %v timeout", quiet, timeout)
	}
	testwait.Until(t, 2*time.Second, "alice's port freed", func() bool { return e.eng.PortsInUse() == 1 })

	// Bob talked all along, longer than the timeout by now, and stays.
	noRequest(t, bob, 2*timeout, "talking call")
	if e.f.calls.participant(bobCall.pid) != bobCall {
		t.Fatal("talking call was ended")
	}
	if st := bobCall.leg.Stats(); st.PacketsReceived == 0 {
		t.Fatal("bob's phone sent nothing: the test proves nothing")
	}

	stopped := time.Now()
	silence(bobPhone)
	byeAt = e.waitTimeoutBye(bob, bobCall.pid, 10*time.Second)
	// The last packet may have left up to one ptime before stopped.
	if quiet := byeAt.Sub(stopped); quiet < timeout-20*time.Millisecond {
		t.Errorf("call hung up %v after its last packet, before the %v timeout", quiet, timeout)
	}
	testwait.Until(t, 2*time.Second, "every port freed", func() bool { return e.eng.PortsInUse() == 0 && e.f.Calls() == 0 })
}

// The clock starts once the caller's answer (late offer: SDP in the ACK)
// is in force.
func TestRTPTimeoutLateOffer(t *testing.T) {
	e := newEnv(t, envOptions{rtpTimeout: time.Second})
	u := e.ua("udp", "alice")
	_, mute := e.rtp()
	ctx := ctxT(t, 10*time.Second)
	c, err := u.Invite(ctx, e.target(u, "udp", "team"), nil)
	if err != nil || c.Response.StatusCode != 200 {
		t.Fatalf("INVITE: %v %v", c.Response, err)
	}
	if err := c.Ack(sipua.Offer(mute, "0")); err != nil {
		t.Fatal(err)
	}
	e.waitTimeoutBye(c, e.callOf(c).pid, 10*time.Second)
	testwait.Until(t, 2*time.Second, "port freed", func() bool { return e.eng.PortsInUse() == 0 })
}

// A held call (the phone's sendonly) sends nothing and is kept while
// hold_timeout is 0; once resumed without RTP, the normal timeout applies
// again, counted from the resuming re-INVITE.
func TestRTPTimeoutSparesHeldCall(t *testing.T) {
	const timeout = time.Second
	e := newEnv(t, envOptions{rtpTimeout: timeout})
	c, phone := e.talker("alice", "team")
	fc := e.callOf(c)

	res, err := c.ReInvite(ctxT(t, 5*time.Second), sipua.Offer(phone.Addr(), "0 101", "a=sendonly"))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("hold re-INVITE: %v %v", res, err)
	}
	if err := c.Ack(nil); err != nil {
		t.Fatal(err)
	}
	silence(phone)
	testwait.Until(t, 2*time.Second, "hold recorded", func() bool {
		p, _ := e.reg.Participant("team", fc.pid)
		return p.Audio != nil && p.Audio.OnHold
	})
	noRequest(t, c, 3*timeout, "held call")
	if e.f.calls.participant(fc.pid) != fc {
		t.Fatal("held call was ended")
	}

	resumed := time.Now()
	res, err = c.ReInvite(ctxT(t, 5*time.Second), sipua.Offer(phone.Addr(), "0 101", "a=sendrecv"))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("resume re-INVITE: %v %v", res, err)
	}
	if err := c.Ack(nil); err != nil {
		t.Fatal(err)
	}
	byeAt := e.waitTimeoutBye(c, fc.pid, 10*time.Second)
	if quiet := byeAt.Sub(resumed); quiet < timeout {
		t.Errorf("resumed call hung up %v after the re-INVITE, before the %v timeout", quiet, timeout)
	}
}

// rtp.timeout 0 disables the timeout for calls in conversation, while a
// non-zero hold_timeout still ends a held call that stays silent.
func TestRTPTimeoutZeroDisables(t *testing.T) {
	const holdTimeout = time.Second
	e := newEnv(t, envOptions{rtpTimeout: 0, holdTimeout: holdTimeout})

	u := e.ua("udp", "alice")
	_, mute := e.rtp()
	alice := e.dial(u, "udp", "team", mute, "0 101")
	aliceCall := e.callOf(alice)

	// Bob calls in on hold (sendonly) and never sends.
	b := e.ua("udp", "bob")
	_, bobMute := e.rtp()
	bobStart := time.Now()
	bob, err := b.Invite(ctxT(t, 5*time.Second), e.target(b, "udp", "team"), sipua.Offer(bobMute, "0", "a=sendonly"))
	if err != nil || bob.Response.StatusCode != 200 {
		t.Fatalf("INVITE: %v %v", bob.Response, err)
	}
	if err := bob.Ack(nil); err != nil {
		t.Fatal(err)
	}
	byeAt := e.waitTimeoutBye(bob, e.callOf(bob).pid, 10*time.Second)
	if quiet := byeAt.Sub(bobStart); quiet < holdTimeout {
		t.Errorf("held call hung up after %v, before the %v hold timeout", quiet, holdTimeout)
	}

	// Alice has been silent for longer than that, and stays.
	noRequest(t, alice, 2*holdTimeout, "silent call with rtp.timeout 0")
	if e.f.calls.participant(aliceCall.pid) != aliceCall {
		t.Fatal("silent call ended although rtp.timeout is 0")
	}
	alice.Bye(ctxT(t, 5*time.Second))
}

// Re-INVITEs (session refreshes) keep a call without RTP alive.
func TestRTPTimeoutReInviteResetsClock(t *testing.T) {
	const timeout = 2 * time.Second
	e := newEnv(t, envOptions{rtpTimeout: timeout})
	u := e.ua("udp", "alice")
	_, mute := e.rtp()
	c := e.dial(u, "udp", "team", mute, "0 101")
	fc := e.callOf(c)
	for range 8 { // 4 s: twice the timeout
		time.Sleep(500 * time.Millisecond)
		res, err := c.ReInvite(ctxT(t, 5*time.Second), sipua.Offer(mute, "0 101"))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("re-INVITE: %v %v", res, err)
		}
		if err := c.Ack(nil); err != nil {
			t.Fatal(err)
		}
	}
	if e.f.calls.participant(fc.pid) != fc {
		t.Fatal("call ended although re-INVITEs kept coming")
	}
	e.waitTimeoutBye(c, fc.pid, 10*time.Second)
}
