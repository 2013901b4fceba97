package focus

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/internal/testwait"
)

// rawUAS is a hand-written UDP user agent for answers no real UA would
// send.
type rawUAS struct {
	t    *testing.T
	conn *net.UDPConn
}

func newRawUAS(t *testing.T) *rawUAS {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawUAS{t: t, conn: conn}
}

func (u *rawUAS) addr() netip.AddrPort { return u.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// next reads the next request with method (skipping others) and where it
// came from.
func (u *rawUAS) next(method sip.RequestMethod, d time.Duration) (*sip.Request, *net.UDPAddr) {
	u.t.Helper()
	buf := make([]byte, 65536)
	deadline := time.Now().Add(d)
	for {
		u.conn.SetReadDeadline(deadline)
		n, from, err := u.conn.ReadFromUDP(buf)
		if err != nil {
			u.t.Fatalf("no %s: %v", method, err)
		}
		msg, err := sip.ParseMessage(buf[:n])
		if err != nil {
			continue
		}
		if req, ok := msg.(*sip.Request); ok && req.Method == method {
			return req, from
		}
	}
}

// send writes a message to addr.
func (u *rawUAS) send(m sip.Message, to *net.UDPAddr) {
	u.t.Helper()
	if _, err := u.conn.WriteToUDP([]byte(m.String()), to); err != nil {
		u.t.Fatal(err)
	}
}

// A callee that answers the focus's dial-out INVITE with a 2xx lacking To
// (sipgo matches responses by Via and CSeq only) does not crash the
// bridge: the referrer hears of the failure, nothing is left behind and
// the focus goes on serving.
func TestDialOutAnswerWithoutTo(t *testing.T) {
	e := moderated(t, envOptions{dialTimeout: 5 * time.Second})
	ctx := ctxT(t, 20*time.Second)
	alice := e.uaAt("udp", "alice", "conf.example.test", false)
	uas := newRawUAS(t)
	_, rtpAddr := e.rtp()

	var wg sync.WaitGroup
	wg.Go(func() {
		inv, from := uas.next(sip.INVITE, 10*time.Second)
		ok := sip.NewResponseFromRequest(inv, 200, "OK", sipua.Offer(rtpAddr, "0"))
		ok.RemoveHeader("To")
		ok.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "evil", Host: "127.0.0.1", Port: int(uas.addr().Port())}})
		ok.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		uas.send(ok, from)
		// The focus acknowledges and hangs up what it cannot use.
		bye, from := uas.next(sip.BYE, 10*time.Second)
		uas.send(sip.NewResponseFromRequest(bye, 200, "OK", nil), from)
	})
	r, err := alice.Refer(ctx, e.target(alice, "udp", "team"), []string{"<sip:evil@" + uas.addr().String() + ">"}, aliceCreds)
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
	if !strings.HasPrefix(last, "SIP/2.0 502 ") {
		t.Errorf("final refer NOTIFY %q, want 502", last)
	}
	wg.Wait()
	testwait.Until(t, 2*time.Second, "nothing left", func() bool {
		return e.f.Calls() == 0 && e.eng.PortsInUse() == 0 && len(e.participants("team")) == 0
	})
	if res, err := alice.Options(ctx, e.target(alice, "udp", "team")); err != nil || res.StatusCode != 200 {
		t.Fatalf("OPTIONS after the hostile answer: %v %v", res, err)
	}
}

// panicTx is a server transaction that records responses; nothing else of
// it may be used.
type panicTx struct {
	sip.ServerTransaction
	mu  sync.Mutex
	res []*sip.Response
}

func (tx *panicTx) Respond(res *sip.Response) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.res = append(tx.res, res)
	return nil
}

// A panicking handler or background job is logged and contained: the
// request gets a 500 (an ACK nothing), and the focus shuts down cleanly
// (its handler and background counts are released).
func TestPanicsContained(t *testing.T) {
	e := newEnv(t, envOptions{})
	boom := e.f.wrap(func(*sip.Request, sip.ServerTransaction) { panic("boom") })
	for _, m := range []sip.RequestMethod{sip.INFO, sip.ACK} {
		req := sip.NewRequest(m, sip.Uri{Scheme: "sip", User: "team", Host: e.domain})
		req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: m})
		tx := &panicTx{}
		boom(req, tx)
		want := 1
		if m == sip.ACK {
			want = 0
		}
		if len(tx.res) != want || (want == 1 && tx.res[0].StatusCode != 500) {
			t.Errorf("%s: responses %v", m, tx.res)
		}
	}
	done := make(chan struct{})
	e.f.goWork("test", func() {
		defer close(done)
		panic("boom in the background")
	})
	<-done
	e.f.safely("test", func() { panic(nil) })
	e.shutdown() // fails the test if Run does not return
}

// A dial-out still ringing when the focus shuts down is canceled before
// the SIP stack closes, by the REFER's own handler (which shutdown waits
// for), even while the referrer is slow to answer the refer NOTIFY of the
// 180: the CANCEL reaches the callee before Run returns.
func TestShutdownCancelsRingingDialOut(t *testing.T) {
	e := moderated(t, envOptions{dialTimeout: 30 * time.Second, notifyTimeout: 8 * time.Second})
	ctx := ctxT(t, 20*time.Second)
	alice := e.uaAt("udp", "alice", "conf.example.test", false)
	uas := newRawUAS(t)

	gotInvite, ring := make(chan struct{}), make(chan struct{})
	canceled := make(chan *sip.Request, 1)
	var r *sipua.Subscription
	var inv *sip.Request
	var wg sync.WaitGroup
	wg.Go(func() {
		var from *net.UDPAddr
		inv, from = uas.next(sip.INVITE, 10*time.Second)
		close(gotInvite)
		<-ring
		ringing := sip.NewResponseFromRequest(inv, 180, "Ringing", nil)
		ringing.To().Params.Add("tag", "uas-tag")
		uas.send(ringing, from)
		cancelReq, from := uas.next(sip.CANCEL, 10*time.Second)
		canceled <- cancelReq
		r.SetNotifyDelay(0)
		uas.send(sip.NewResponseFromRequest(cancelReq, 200, "OK", nil), from)
		uas.send(sip.NewResponseFromRequest(inv, 487, "Request Terminated", nil), from)
	})
	var err error
	r, err = alice.Refer(ctx, e.target(alice, "udp", "team"), []string{"<sip:ringing@" + uas.addr().String() + ">"}, aliceCreds)
	if err != nil || r.Response.StatusCode != 202 {
		t.Fatalf("REFER: %v %v", r.Response, err)
	}
	<-gotInvite
	r.SetNotifyDelay(6 * time.Second) // longer than the focus waits for its handlers
	close(ring)
	// The 180's refer NOTIFY (after the 100 Trying) is on the wire: the
	// focus now waits for its answer, which the referrer holds back.
	testwait.Until(t, 5*time.Second, "the 180's refer NOTIFY sent", func() bool {
		return testutil.ToFloat64(e.m.NotifySent.WithLabelValues("refer")) >= 2
	})
	e.shutdown()
	var cancelReq *sip.Request
	select {
	case cancelReq = <-canceled:
	default:
		t.Fatal("no CANCEL before Run returned")
	}
	wg.Wait()
	if cancelReq.CallID().Value() != inv.CallID().Value() || cancelReq.CSeq().SeqNo != inv.CSeq().SeqNo || cancelReq.Via().Value() != inv.Via().Value() {
		t.Errorf("CANCEL does not match its INVITE:\n%s\n%s", cancelReq, inv)
	}
	var lines []string
	for _, n := range r.Pending() {
		lines = append(lines, strings.SplitN(string(n.Body()), "\r\n", 2)[0])
	}
	if len(lines) == 0 || lines[len(lines)-1] != "SIP/2.0 408 Request Timeout" {
		t.Errorf("refer NOTIFYs %q, want the last to be 408", lines)
	}
	if e.eng.PortsInUse() != 0 {
		t.Errorf("%d ports in use", e.eng.PortsInUse())
	}
}

// A callee whose 2xx crossed the focus's ACK (or lost it) retransmits the
// 2xx: the dial-out INVITE transaction (sipgo's dialog client, in its
// Accepted state) sends the ACK again, with the same CSeq and dialog.
func TestDialOutReAcksRetransmitted2xx(t *testing.T) {
	e := moderated(t, envOptions{dialTimeout: 5 * time.Second})
	ctx := ctxT(t, 20*time.Second)
	alice := e.uaAt("udp", "alice", "conf.example.test", false)
	uas := newRawUAS(t)
	_, rtpAddr := e.rtp()

	acks := make(chan *sip.Request, 2)
	var wg sync.WaitGroup
	wg.Go(func() {
		inv, from := uas.next(sip.INVITE, 10*time.Second)
		ok := sip.NewResponseFromRequest(inv, 200, "OK", sipua.Offer(rtpAddr, "0"))
		ok.To().Params.Add("tag", "callee-tag")
		ok.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "dave", Host: "127.0.0.1", Port: int(uas.addr().Port())}})
		ok.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		uas.send(ok, from)
		ack, _ := uas.next(sip.ACK, 5*time.Second)
		acks <- ack
		uas.send(ok, from) // as if the first ACK were lost
		ack, _ = uas.next(sip.ACK, 5*time.Second)
		acks <- ack
	})
	r, err := alice.Refer(ctx, e.target(alice, "udp", "team"), []string{"<sip:dave@" + uas.addr().String() + ">"}, aliceCreds)
	if err != nil || r.Response.StatusCode != 202 {
		t.Fatalf("REFER: %v %v", r.Response, err)
	}
	wg.Wait()
	first, second := <-acks, <-acks
	for _, a := range []*sip.Request{first, second} {
		if a.CSeq().SeqNo != 1 || a.CallID().Value() != first.CallID().Value() || !strings.Contains(a.To().Value(), "callee-tag") {
			t.Errorf("ACK %s", a)
		}
	}
	testwait.Until(t, 5*time.Second, "dave in the conference", func() bool { return e.f.Calls() == 1 })
}

// A callee whose 2xx crossed the focus's CANCEL refuses the CANCEL (481)
// and keeps retransmitting its 2xx: sipgo's dialog client has given up on
// the INVITE, so the retransmissions reach the focus as unmatched
// responses. The focus still acknowledges them (the same ACK each time)
// and hangs the call up with a BYE; the referrer hears 408.
func TestDialOutAnswerCrossingCancel(t *testing.T) {
	e := moderated(t, envOptions{dialTimeout: time.Second})
	ctx := ctxT(t, 20*time.Second)
	alice := e.uaAt("udp", "alice", "conf.example.test", false)
	uas := newRawUAS(t)
	_, rtpAddr := e.rtp()

	acks := make(chan *sip.Request, 4)
	bye := make(chan *sip.Request, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		inv, from := uas.next(sip.INVITE, 10*time.Second)
		ringing := sip.NewResponseFromRequest(inv, 180, "Ringing", nil)
		ringing.To().Params.Add("tag", "late-tag")
		uas.send(ringing, from)
		cancelReq, from := uas.next(sip.CANCEL, 10*time.Second)
		uas.send(sip.NewResponseFromRequest(cancelReq, 481, "Call/Transaction Does Not Exist", nil), from)
		ok := sip.NewResponseFromRequest(inv, 200, "OK", sipua.Offer(rtpAddr, "0"))
		ok.To().Params.Add("tag", "late-tag")
		ok.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "late", Host: "127.0.0.1", Port: int(uas.addr().Port())}})
		ok.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		// Retransmit the 2xx (T1 doubling, as RFC 3261 §13.3.1.4 asks)
		// until the BYE comes, seven times at most (6.35 s): the first
		// copies may still find the INVITE transaction of the focus.
		for wait := 50 * time.Millisecond; wait < 7*time.Second; wait *= 2 {
			uas.send(ok, from)
			req, src := uas.nextAny(wait)
			if req == nil {
				continue
			}
			switch req.Method {
			case sip.ACK:
				acks <- req
			case sip.BYE:
				uas.send(sip.NewResponseFromRequest(req, 200, "OK", nil), src)
				bye <- req
				return
			}
		}
		close(bye)
	})
	r, err := alice.Refer(ctx, e.target(alice, "udp", "team"), []string{"<sip:late@" + uas.addr().String() + ">"}, aliceCreds)
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
	if last != "SIP/2.0 408 Request Timeout" {
		t.Errorf("final refer NOTIFY %q, want 408", last)
	}
	wg.Wait()
	b, ok := <-bye
	if !ok || len(acks) == 0 {
		t.Fatalf("the late 2xx got %d ACKs and no BYE", len(acks))
	}
	ack := <-acks
	if ack.CSeq().SeqNo != 1 || !strings.Contains(ack.To().Value(), "late-tag") || b.CallID().Value() != ack.CallID().Value() ||
		!strings.Contains(b.To().Value(), "late-tag") {
		t.Errorf("ACK %s\nBYE %s", ack, b)
	}
	testwait.Until(t, 5*time.Second, "nothing left", func() bool {
		return e.f.Calls() == 0 && e.eng.PortsInUse() == 0 && len(e.participants("team")) == 0
	})
}

// nextAny reads the next request within d, or nil.
func (u *rawUAS) nextAny(d time.Duration) (*sip.Request, *net.UDPAddr) {
	buf := make([]byte, 65536)
	u.conn.SetReadDeadline(time.Now().Add(d))
	for {
		n, from, err := u.conn.ReadFromUDP(buf)
		if err != nil {
			return nil, nil
		}
		if msg, err := sip.ParseMessage(buf[:n]); err == nil {
			if req, ok := msg.(*sip.Request); ok {
				return req, from
			}
		}
	}
}
