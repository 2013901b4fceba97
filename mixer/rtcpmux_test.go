package mixer

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"cusax.dev/bridge/internal/testwait"
	"cusax.dev/bridge/mixer/audiotest"
)

// openSockets counts the process's socket descriptors (Linux); -1 elsewhere.
func openSockets(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range ents {
		if dst, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(dst, "socket:") {
			n++
		}
	}
	return n
}

// peer is the far end of a leg: one UDP socket for RTP and (muxed) RTCP.
type peer struct {
	t    *testing.T
	conn *net.UDPConn
	buf  []byte
}

func newPeer(t *testing.T) *peer {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{t: t, conn: c, buf: make([]byte, 2048)}
}

func (p *peer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *peer) send(b []byte, to netip.AddrPort) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDPAddrPort(b, to); err != nil {
		p.t.Fatal(err)
	}
}

// nextRTCP returns the next compound RTCP packet (RTP is skipped) and its
// source, or ok false when none arrives within d.
func (p *peer) nextRTCP(d time.Duration) (pkts []rtcp.Packet, from netip.AddrPort, ok bool) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		_ = p.conn.SetReadDeadline(deadline)
		n, from, err := p.conn.ReadFromUDPAddrPort(p.buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, from, false
		}
		if err != nil {
			p.t.Fatal(err)
		}
		if n < 2 || p.buf[1] < 192 || p.buf[1] > 223 {
			continue // RTP
		}
		pkts, err := rtcp.Unmarshal(p.buf[:n])
		if err != nil {
			p.t.Fatalf("malformed RTCP from the leg: %v", err)
		}
		return pkts, from, true
	}
}

func hasBye(pkts []rtcp.Packet) bool {
	for _, p := range pkts {
		if _, ok := p.(*rtcp.Goodbye); ok {
			return true
		}
	}
	return false
}

// TestMuxedLegOneSocket: a leg started with RTCPMux closes its RTCP socket
// (Port()+1 can be bound again, one socket fewer), one without keeps both;
// an Update that muxes RTCP releases the port too, one that stops muxing
// changes nothing, and Close closes the RTP socket only once.
func TestMuxedLegOneSocket(t *testing.T) {
	lo, hi := freeRange(t, 4)
	e := newTestEngine(t, func(c *Config) { c.PortMin, c.PortMax = lo, hi })
	muxed, err := e.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := e.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	before := openSockets(t)
	if err := muxed.Start("r", LegParams{Remote: remote(30000), Codec: PCMU(), RTCPMux: true}, Handlers{}); err != nil {
		t.Fatal(err)
	}
	if err := plain.Start("r", LegParams{Remote: remote(30002), Codec: PCMU()}, Handlers{}); err != nil {
		t.Fatal(err)
	}
	if before >= 0 {
		if after := openSockets(t); after != before-1 {
			t.Errorf("sockets: %d before Start, %d after (want one fewer: the muxed leg's RTCP socket)", before, after)
		}
	}
	if err := canBind(muxed.Port() + 1); err != nil {
		t.Errorf("muxed leg's RTCP port still bound: %v", err)
	}
	if canBind(muxed.Port()) == nil {
		t.Error("muxed leg's RTP port not bound")
	}
	if canBind(plain.Port()+1) == nil || canBind(plain.Port()) == nil {
		t.Error("leg without mux lost one of its sockets")
	}
	if !muxed.RTCPMuxed() || plain.RTCPMuxed() {
		t.Fatalf("RTCPMuxed: muxed %v, plain %v", muxed.RTCPMuxed(), plain.RTCPMuxed())
	}
	if e.PortsInUse() != 2 {
		t.Fatalf("%d ports in use", e.PortsInUse())
	}

	// re-INVITE with a=rtcp-mux: the RTCP port goes, rtcpLoop ends
	if err := plain.Update(LegParams{Remote: remote(30002), Codec: PCMU(), RTCPMux: true}); err != nil {
		t.Fatal(err)
	}
	if err := canBind(plain.Port() + 1); err != nil {
		t.Errorf("RTCP port still bound after the muxing Update: %v", err)
	}
	plain.mu.Lock()
	conn := plain.rtcpConn
	plain.mu.Unlock()
	if conn != nil {
		t.Error("RTCP socket kept after the muxing Update")
	}
	// re-INVITE without it: still muxed, nothing rebound
	if err := muxed.Update(LegParams{Remote: remote(30000), Codec: PCMU()}); err != nil {
		t.Fatal(err)
	}
	if !muxed.RTCPMuxed() {
		t.Fatal("an Update without RTCPMux unmuxed the leg")
	}
	for _, l := range []*Leg{muxed, plain} {
		if err := l.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := canBind(l.Port()); err != nil {
			t.Errorf("RTP port %d still bound after Close: %v", l.Port(), err)
		}
	}
	if e.PortsInUse() != 0 {
		t.Fatalf("%d ports in use after Close", e.PortsInUse())
	}
	// the pairs are free again: both can be allocated once more
	for range 2 {
		l, err := e.Allocate()
		if err != nil {
			t.Fatalf("pair not freed: %v", err)
		}
		defer l.Close()
	}
}

// TestMuxedLegReports: a muxed leg sends SR/RR with CNAME from its RTP
// port to the peer's RTP address, takes the peer's RTCP on the RTP port
// and measures the round trip from the peer's report on its SR.
func TestMuxedLegReports(t *testing.T) {
	lo, hi := freeRange(t, 2)
	e := newTestEngine(t, func(c *Config) { c.PortMin, c.PortMax, c.RTCPInterval = lo, hi, 20*time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx) // RTP to the peer, so that the leg sends SRs
	ph := newPeer(t)
	l, err := e.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Start("r", LegParams{Remote: ph.addr(), Codec: PCMU(), RTCPMux: true}, Handlers{}); err != nil {
		t.Fatal(err)
	}
	legAddr := netip.AddrPortFrom(loopback, uint16(l.Port()))
	ph.send(rtpBytes(t, 0, 1, 160, 0xBEEF, silence(160)), legAddr)

	// the first SR, and a later one
	var first, second *rtcp.SenderReport
	for deadline := time.Now().Add(10 * time.Second); second == nil; {
		pkts, from, ok := ph.nextRTCP(time.Until(deadline))
		if !ok {
			t.Fatal("no SR from the muxed leg")
		}
		if from != legAddr {
			t.Fatalf("RTCP from %v, want the RTP port %v", from, legAddr)
		}
		if len(pkts) < 2 {
			t.Fatalf("compound RTCP of %d packets", len(pkts))
		}
		sd, ok := pkts[1].(*rtcp.SourceDescription)
		if !ok || len(sd.Chunks) != 1 || sd.Chunks[0].Source != l.LocalSSRC() || sd.Chunks[0].Items[0].Text != e.cfg.CNAME {
			t.Fatalf("no SDES CNAME: %#v", pkts[1])
		}
		switch r := pkts[0].(type) {
		case *rtcp.ReceiverReport:
			if r.SSRC != l.LocalSSRC() {
				t.Fatalf("RR of SSRC %#x", r.SSRC)
			}
		case *rtcp.SenderReport:
			if r.SSRC != l.LocalSSRC() {
				t.Fatalf("SR of SSRC %#x", r.SSRC)
			}
			if first == nil {
				first = r
			} else {
				second = r
			}
		default:
			t.Fatalf("report %T", r)
		}
	}
	// the peer's RR about the first SR, sent from its RTP port to the
	// leg's, "held" 0 s: the round trip is at least the time between the
	// two SRs (≥ 10 ms at a 20 ms interval)
	raw, err := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 0xBEEF, Reports: []rtcp.ReceptionReport{{
		SSRC: l.LocalSSRC(), LastSenderReport: uint32(first.NTPTime >> 16)}}}})
	if err != nil {
		t.Fatal(err)
	}
	before := l.Stats().RTCPReceived
	ph.send(raw, legAddr)
	testwait.Until(t, 5*time.Second, "the peer's RTCP counted", func() bool { return l.Stats().RTCPReceived > before })
	if rtt := l.Stats().RoundTrip; rtt < 5*time.Millisecond || rtt > 10*time.Second {
		t.Fatalf("round trip %v", rtt)
	}
}

// TestMuxedCloseByeLast: with reports every millisecond or so, Close lets
// no report follow the RTCP BYE.
func TestMuxedCloseByeLast(t *testing.T) {
	lo, hi := freeRange(t, 2)
	e := newTestEngine(t, func(c *Config) { c.PortMin, c.PortMax, c.RTCPInterval = lo, hi, time.Millisecond })
	for i := range 10 {
		ph := newPeer(t)
		l, err := e.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Start("r", LegParams{Remote: ph.addr(), Codec: PCMU(), RTCPMux: true}, Handlers{}); err != nil {
			t.Fatal(err)
		}
		for n := 0; n < 3; n++ { // the timer runs
			if _, _, ok := ph.nextRTCP(5 * time.Second); !ok {
				t.Fatalf("round %d: %d reports, then none", i, n)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		// The socket is closed: everything the leg sent is queued at the
		// peer already; the deadline only ends the drain.
		var last []rtcp.Packet
		for {
			pkts, _, ok := ph.nextRTCP(100 * time.Millisecond)
			if !ok {
				break
			}
			last = pkts
		}
		if !hasBye(last) {
			t.Fatalf("round %d: the last RTCP after Close is %T…, not a BYE", i, last[0])
		}
	}
}

// TestCloseWaitsForReport: a report in flight when Close begins (built
// before, written after Close marked the leg closed) still leaves before
// the BYE: Close waits for it (repMu) instead of racing it.
func TestCloseWaitsForReport(t *testing.T) {
	lo, hi := freeRange(t, 2)
	e := newTestEngine(t, func(c *Config) { c.PortMin, c.PortMax = lo, hi })
	ph := newPeer(t)
	l, err := e.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start("r", LegParams{Remote: ph.addr(), Codec: PCMU(), RTCPMux: true}, Handlers{}); err != nil {
		t.Fatal(err)
	}
	l.repMu.Lock() // what reportTick holds while it sends
	pkts, dst := l.buildReport(time.Now())
	if pkts == nil {
		t.Fatal("no report built")
	}
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	testwait.Until(t, 5*time.Second, "Close under way", l.isClosed.Load)
	l.writeRTCP(pkts, dst)
	l.repMu.Unlock()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	var got []bool // BYE or not, in arrival order
	for {
		pkts, _, ok := ph.nextRTCP(100 * time.Millisecond)
		if !ok {
			break
		}
		got = append(got, hasBye(pkts))
	}
	if len(got) != 2 || got[0] || !got[1] {
		t.Fatalf("RTCP after Close began (true: BYE): %v, want [false true]", got)
	}
}

// TestReportsNeedNoGoroutine: muxed legs and shared-mode legs add no
// goroutine for their reports. What remains per leg is the goroutine that
// runs its Handlers (dispatch), and without the RTP poller (not Linux) its
// RTP reader; a leg without mux adds its RTCP reader on top.
func TestReportsNeedNoGoroutine(t *testing.T) {
	const n = 50
	perLeg := 1 // dispatch
	if !pollSupported {
		perLeg = 2 // and rtpLoop
	}
	grow := func(t *testing.T, shared, mux bool) int {
		lo, hi := freeRange(t, 2*n+2)
		e := newTestEngine(t, func(c *Config) { c.PortMin, c.PortMax, c.Shared = lo, hi, shared })
		legs := make([]*Leg, n)
		for i := range legs {
			var err error
			if legs[i], err = e.Allocate(); err != nil { // starts the pollers or shared readers
				t.Fatal(err)
			}
		}
		g0 := runtime.NumGoroutine()
		for i, l := range legs {
			if err := l.Start("r", LegParams{Remote: remote(uint16(30000 + 2*i)), Codec: PCMU(), RTCPMux: mux}, Handlers{}); err != nil {
				t.Fatal(err)
			}
		}
		g := runtime.NumGoroutine() - g0
		for _, l := range legs {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}
		testwait.Until(t, 5*time.Second, "the legs' goroutines gone", func() bool { return runtime.NumGoroutine() <= g0 })
		return g
	}
	const margin = 5 // the runtime's and the test framework's own
	if g := grow(t, false, true); g > perLeg*n+margin {
		t.Errorf("%d muxed legs added %d goroutines, want at most %d (%d per leg)", n, g, perLeg*n+margin, perLeg)
	} else {
		t.Logf("%d muxed legs: %d goroutines (dispatch: one per leg)", n, g)
	}
	if g := grow(t, true, false); g > n+margin {
		t.Errorf("%d shared-mode legs added %d goroutines, want at most %d", n, g, n+margin)
	}
	if g := grow(t, false, false); g < (perLeg+1)*n {
		t.Errorf("%d legs without mux added only %d goroutines: the test cannot see an RTCP reader", n, g)
	}
}

// TestUnmuxAfterMux: a re-INVITE that stops muxing leaves the leg muxed on
// its side (the RTCP port stays closed): reports go to the remote's RTCP
// port (its RTP port + 1, the RTCP latch on its RTP port dropped), still
// from the RTP port, and the remote's RTCP from its RTCP port to the leg's
// RTP port is taken.
func TestUnmuxAfterMux(t *testing.T) {
	lo, hi := freeRange(t, 2)
	e := newTestEngine(t, func(c *Config) { c.PortMin, c.PortMax, c.RTCPInterval = lo, hi, 20*time.Millisecond })
	ph, err := audiotest.NewPhone(audiotest.PhoneConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	l, err := e.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	legAddr := netip.AddrPortFrom(loopback, uint16(l.Port()))
	if err := l.Start("r", LegParams{Remote: ph.Addr(), Codec: PCMU(), RTCPMux: true}, Handlers{}); err != nil {
		t.Fatal(err)
	}
	raw, err := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: ph.SSRC()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ph.Conn().WriteToUDPAddrPort(raw, legAddr); err != nil { // RTCP latches to the phone's RTP port
		t.Fatal(err)
	}
	testwait.Until(t, 5*time.Second, "muxed RTCP counted", func() bool { return l.Stats().RTCPReceived == 1 })
	if err := l.Update(LegParams{Remote: ph.Addr(), Codec: PCMU()}); err != nil {
		t.Fatal(err)
	}
	if !l.RTCPMuxed() {
		t.Fatal("unmuxed")
	}
	if err := canBind(l.Port() + 1); err != nil {
		t.Fatalf("RTCP port bound again: %v", err)
	}
	testwait.Until(t, 5*time.Second, "a report at the phone's RTCP port", func() bool { return len(ph.RTCP()) > 0 })
	if err := ph.SendRTCP(legAddr); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 5*time.Second, "RTCP from the phone's RTCP port counted", func() bool { return l.Stats().RTCPReceived == 2 })
}
