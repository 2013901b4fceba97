package mixer

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"

	"cusax.dev/bridge/internal/testwait"
	"cusax.dev/bridge/metrics"
	"cusax.dev/bridge/mixer/audiotest"
)

// TestSharedMode: two legs on the shared port hear each other and not
// themselves; a stranger's packets (an address in no SDP) are dropped and
// counted, and the stranger hears nothing.
func TestSharedMode(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time test")
	}
	lo, hi := freeRange(t, 4)
	e, err := New(Config{BindIP: loopback, PortMin: lo, PortMax: hi, Shared: true, Metrics: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)

	const rate = 8000
	freqs := []float64{500, 900}
	var phones []*audiotest.Phone
	var legs []*Leg
	for _, f := range freqs {
		ph, err := audiotest.NewPhone(audiotest.PhoneConfig{Encoding: "PCMU"})
		if err != nil {
			t.Fatal(err)
		}
		defer ph.Close()
		l, err := e.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Start("shared", LegParams{Remote: ph.Addr(), Codec: PCMU()}, Handlers{}); err != nil {
			t.Fatal(err)
		}
		ph.SetSource(audiotest.Tone(f, 6000, rate).Fill)
		ph.Start(netip.AddrPortFrom(loopback, uint16(l.Port())))
		phones, legs = append(phones, ph), append(legs, l)
	}
	if legs[0].Port() != legs[1].Port() || legs[0].Port() != firstEven(lo) {
		t.Fatalf("legs on ports %d and %d, want both on %d", legs[0].Port(), legs[1].Port(), firstEven(lo))
	}
	// a second leg claiming an address already routed is refused
	dup, err := e.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	if err := dup.Start("shared", LegParams{Remote: phones[0].Addr(), Codec: PCMU()}, Handlers{}); err == nil {
		t.Error("a second leg took a routed source address")
	}
	dup.Close()
	// a leg whose RTP address is another's implicit RTCP address (port+1) is accepted
	next, err := e.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	nextAddr := netip.AddrPortFrom(loopback, phones[0].Addr().Port()+1)
	if err := next.Start("other", LegParams{Remote: nextAddr, Codec: PCMU()}, Handlers{}); err != nil {
		t.Errorf("a leg on %v (phone 0's RTCP address): %v", nextAddr, err)
	}
	next.Close()

	// the stranger sends valid RTP, with one phone's SSRC, to the shared port
	stranger, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(legs[0].Port())))
	const sent = 50
	for i := range sent {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i), Timestamp: uint32(160 * i), SSRC: phones[0].SSRC()},
			Payload: encodeConst(kindPCMU, 8000, 160)}
		b, _ := p.Marshal()
		if _, err := stranger.WriteToUDP(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	testwait.Until(t, 5*time.Second, "the stranger's packets counted", func() bool { return e.SharedStrangers() >= sent })

	const window = 8000
	hears := func() bool {
		for i, ph := range phones {
			rec := ph.Tail(window)
			if len(rec) < window {
				return false
			}
			other := audiotest.PowerDB(rec, freqs[1-i], rate)
			own := audiotest.PowerDB(rec, freqs[i], rate)
			if other < -25 || own > other-20 {
				return false
			}
		}
		return true
	}
	for _, ph := range phones {
		ph.ResetRecording()
	}
	testwait.Until(t, 10*time.Second, "each phone hears the other and not itself", hears)
	for i, ph := range phones {
		rec := ph.Tail(window)
		t.Logf("phone %d (%v Hz) hears %v Hz at %.1f dB, itself at %.1f dB", i, freqs[i], freqs[1-i],
			audiotest.PowerDB(rec, freqs[1-i], rate), audiotest.PowerDB(rec, freqs[i], rate))
	}
	if got := e.SharedStrangers(); got < sent {
		t.Errorf("strangers counted %d, want ≥ %d", got, sent)
	}
	_ = stranger.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _, err := stranger.ReadFromUDP(make([]byte, 2048)); err == nil {
		t.Errorf("the stranger received %d bytes", n)
	}
	for _, l := range legs {
		if st := l.Stats(); st.PacketsReceived == 0 || st.PacketsSent == 0 {
			t.Errorf("leg stats %+v", st)
		}
	}
}

// The shared send path (queue and sendmmsg) allocates nothing per packet
// once its batch exists.
func TestSharedSendAllocs(t *testing.T) {
	lo, hi := freeRange(t, 4)
	e := newTestEngine(t, func(c *Config) { c.PortMin, c.PortMax, c.Shared = lo, hi, true })
	l, err := e.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	sink, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	dst := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	pkt := make([]byte, 172)
	var m mixer
	send := func() {
		for range 10 {
			_ = m.writeShared(l, pkt, dst)
		}
		m.flush()
	}
	send()
	if n := testing.AllocsPerRun(100, send); n != 0 {
		t.Errorf("%v allocations per batch of 10 packets", n)
	}
}

// TestSharedRTCPRouteRestored: a caller whose RTP port is another's RTCP
// port takes that address over; when it leaves (or moves), the other
// caller's RTCP is routed to it again.
func TestSharedRTCPRouteRestored(t *testing.T) {
	s := &sharedSet{routes: map[netip.AddrPort]sharedRoute{}, rtcpWant: map[netip.AddrPort]*Leg{}}
	a, b := &Leg{}, &Leg{}
	at := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(loopback, port) }
	pa := LegParams{Remote: at(4000)}
	pb := LegParams{Remote: at(4001)}
	want := func(port uint16, l *Leg, rtcp bool) {
		t.Helper()
		r, ok := s.lookup(at(port))
		if !ok || r.l != l || r.rtcp != rtcp {
			t.Fatalf("route %d: %+v %v, want leg %p rtcp %v", port, r, ok, l, rtcp)
		}
	}
	if err := s.route(a, LegParams{}, pa); err != nil {
		t.Fatal(err)
	}
	want(4001, a, true)
	if err := s.route(b, LegParams{}, pb); err != nil {
		t.Fatal(err)
	}
	want(4001, b, false) // b's RTP displaced a's RTCP
	want(4002, b, true)
	// b moves away: 4001 is a's RTCP source again
	if err := s.route(b, pb, LegParams{Remote: at(5000)}); err != nil {
		t.Fatal(err)
	}
	want(4001, a, true)
	if _, ok := s.lookup(at(4002)); ok {
		t.Fatal("b's old RTCP route kept")
	}
	// back, then gone for good
	if err := s.route(b, LegParams{Remote: at(5000)}, pb); err != nil {
		t.Fatal(err)
	}
	want(4001, b, false)
	s.unroute(b, pb)
	want(4001, a, true)
	s.unroute(a, pa)
	if len(s.routes) != 0 || len(s.rtcpWant) != 0 {
		t.Fatalf("left behind: routes %v, wants %v", s.routes, s.rtcpWant)
	}
}
