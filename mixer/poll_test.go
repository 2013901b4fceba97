package mixer

import (
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"cusax.dev/bridge/mixer/audiotest"
)

// TestPollerDTMFTimeout sends a telephone-event whose end packets are
// lost to a leg over a real socket: the reader's timer (the poller's on
// Linux) must end the event and report the digit; then RTP keeps flowing
// into the leg, and a closed leg's socket is read no more.
func TestPollerDTMFTimeout(t *testing.T) {
	digits := make(chan rune, 4)
	e, l, phone := pollerLeg(t, LegParams{Codec: PCMU(), DTMFPayloadType: 101}, Handlers{DTMF: func(d rune) { digits <- d }})
	if runtime.GOOS == "linux" && l.poll == nil {
		t.Fatal("leg reads without the poller on Linux")
	}
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(l.Port())))
	for i := range 3 { // digit 5, never ended
		pkt := rtpBytes(t, 101, uint16(10+i), 8000, 42, audiotest.DTMFPayload('5', false, uint16(160*(i+1))))
		if _, err := phone.WriteToUDP(pkt, dst); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case d := <-digits:
		if d != '5' {
			t.Fatalf("digit %q, want '5'", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the telephone-event was never ended by the timeout")
	}
	for i := range 5 {
		if _, err := phone.WriteToUDP(rtpBytes(t, 0, uint16(20+i), 16000+uint32(160*i), 42, silence(160)), dst); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for l.Stats().PacketsReceived < 8 {
		if time.Now().After(deadline) {
			t.Fatalf("received %d packets, want 8", l.Stats().PacketsReceived)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.poll != nil && l.poll.legs[e.pairIndex(l.Port())].Load() != nil {
		t.Fatal("closed leg still registered with its poller")
	}
}

// pollerLeg is a started leg of a new engine (closed with the test) and
// the UDP socket of its phone, whose address is the leg's remote.
func pollerLeg(t *testing.T, p LegParams, h Handlers) (*Engine, *Leg, *net.UDPConn) {
	t.Helper()
	lo, hi := freeRange(t, 4)
	e, err := New(Config{BindIP: loopback, PortMin: lo, PortMax: hi})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	phone, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phone.Close() })
	l, err := e.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	p.Remote = phone.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := l.Start("r", p, h); err != nil {
		t.Fatal(err)
	}
	return e, l, phone
}

// TestAllocateFor: a dual-stack engine binds a leg in its peer's family
// (IPv4-mapped peers count as IPv4); a one-family engine refuses the other
// with ErrFamily; two bind addresses of one family are a configuration
// error.
func TestAllocateFor(t *testing.T) {
	lo, hi := freeRange(t, 4)
	if _, err := New(Config{BindIP: loopback, BindIPAlt: netip.MustParseAddr("127.0.0.2"), PortMin: lo, PortMax: hi}); err == nil {
		t.Fatal("two IPv4 bind addresses accepted")
	}
	one, err := New(Config{BindIP: loopback, PortMin: lo, PortMax: hi})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := one.AllocateFor(netip.IPv6Loopback()); err != ErrFamily {
		t.Fatalf("IPv6 peer on an IPv4 engine: %v", err)
	}
	one.Close()
	e, err := New(Config{BindIP: loopback, BindIPAlt: netip.IPv6Loopback(), PortMin: lo, PortMax: hi})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	l6, err := e.AllocateFor(netip.MustParseAddr("::1"))
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer l6.Close()
	if a := l6.rtpConn.LocalAddr().(*net.UDPAddr).AddrPort().Addr(); a != netip.IPv6Loopback() {
		t.Errorf("IPv6 peer's leg bound to %v", a)
	}
	l4, err := e.AllocateFor(netip.MustParseAddr("::ffff:127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer l4.Close()
	if a := l4.rtpConn.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(); a != loopback {
		t.Errorf("IPv4-mapped peer's leg bound to %v", a)
	}
}

// TestRTCPMuxReports: with RTCPMux the leg's RTCP reports arrive on the
// peer's RTP port, from the leg's RTP port (RFC 5761).
func TestRTCPMuxReports(t *testing.T) {
	lo, hi := freeRange(t, 4)
	e, err := New(Config{BindIP: loopback, PortMin: lo, PortMax: hi, RTCPInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	phone, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	l, err := e.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	src := phone.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := l.Start("r", LegParams{Remote: src, Codec: PCMU(), RTCPMux: true, Direction: Inactive}, Handlers{}); err != nil {
		t.Fatal(err)
	}
	_ = phone.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 1500)
	for {
		n, from, err := phone.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("no RTCP on the RTP port: %v", err)
		}
		if n >= 2 && buf[1] >= 200 && buf[1] <= 204 {
			if int(from.Port()) != l.Port() {
				t.Fatalf("RTCP from port %d, want the RTP port %d", from.Port(), l.Port())
			}
			return
		}
	}
}
