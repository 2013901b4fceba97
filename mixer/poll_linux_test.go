package mixer

import (
	"net"
	"net/netip"
	"testing"
)

// TestPollerDrain: the clock's drain reads what a leg's socket holds, on
// the caller's goroutine, and stands aside while the poller goroutine holds
// the poller.
func TestPollerDrain(t *testing.T) {
	e, l, phone := pollerLeg(t, LegParams{Codec: PCMU()}, Handlers{})
	if l.poll == nil {
		t.Fatal("leg reads without the poller on Linux")
	}
	// the leg's poller, held as while its goroutine reads: nothing it reads
	l.poll.mu.Lock()
	defer l.poll.mu.Unlock()
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(l.Port())))
	for i := range 3 {
		if _, err := phone.WriteToUDP(rtpBytes(t, 0, uint16(i), uint32(160*i), 42, silence(160)), dst); err != nil {
			t.Fatal(err)
		}
	}
	// loopback delivery is done when the write returns
	l.poll.drain()
	if n := l.Stats().PacketsReceived; n != 0 {
		t.Fatalf("drain read %d packets while the poller was busy", n)
	}
	// a second poller over the same socket, as the clock would drain it
	p, err := newPoller(e, len(e.used))
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if err := p.add(l, e.pairIndex(l.Port())); err != nil {
		t.Fatal(err)
	}
	p.drain() // returns once the socket is empty: it never waits for more
	if n := l.Stats().PacketsReceived; n != 3 {
		t.Fatalf("drain read %d of 3 queued packets", n)
	}
}
