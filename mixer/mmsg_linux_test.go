package mixer

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"cusax.dev/bridge/internal/testwait"
)

// TestBatchIORoundTrip: datagrams queued by a batchWriter arrive intact,
// and the batchReader reports each one's exact source, on IPv4 and IPv6;
// after warm-up a round of sendmmsg and recvmmsg allocates nothing.
func TestBatchIORoundTrip(t *testing.T) {
	for _, ip := range []string{"127.0.0.1", "::1"} {
		t.Run(ip, func(t *testing.T) {
			addr := netip.MustParseAddr(ip)
			open := func() (*net.UDPConn, *batchSock) {
				c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
				if err != nil {
					t.Skipf("no %s: %v", ip, err)
				}
				t.Cleanup(func() { c.Close() })
				s, err := newBatchSock(c, addr.Is6())
				if err != nil {
					t.Fatal(err)
				}
				return c, s
			}
			tx, txs := open()
			rx, rxs := open()
			_ = rx.SetReadDeadline(time.Now().Add(10 * time.Second))
			dst := rx.LocalAddr().(*net.UDPAddr).AddrPort()
			src := tx.LocalAddr().(*net.UDPAddr).AddrPort()
			w := newBatchWriter(8)
			r := newBatchReader(8, 2048)
			pkts := make([][]byte, 8)
			for i := range pkts {
				pkts[i] = bytes.Repeat([]byte{byte(i + 1)}, 20+i)
			}
			round := func() {
				for _, p := range pkts {
					w.add(p, dst, addr.Is6())
				}
				if !w.full() {
					t.Fatal("writer not full after 8 adds")
				}
				if failed, err := w.flush(txs); failed != 0 || err != nil {
					t.Fatalf("flush: %d failed, %v", failed, err)
				}
				for got := 0; got < len(pkts); {
					n, err := r.read(rxs)
					if err != nil {
						t.Fatal(err)
					}
					for j := range n {
						b, from := r.msg(j)
						if from != src {
							t.Fatalf("source %v, want %v", from, src)
						}
						if !bytes.Equal(b, pkts[got]) {
							t.Fatalf("datagram %d: % x", got, b)
						}
						got++
					}
					r.mu.Unlock()
				}
			}
			round()
			if a := testing.AllocsPerRun(50, round); a != 0 {
				t.Errorf("%v allocations per round of 8 datagrams, want 0", a)
			}
		})
	}
}

// TestBatchWriterAddressFormats: an IPv4 socket takes an IPv4-mapped
// destination as the IPv4 address.
func TestBatchWriterAddressFormats(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	s, err := newBatchSock(c, false)
	if err != nil {
		t.Fatal(err)
	}
	mapped := netip.AddrPortFrom(netip.AddrFrom16(netip.MustParseAddr("127.0.0.1").As16()), c.LocalAddr().(*net.UDPAddr).AddrPort().Port())
	w := newBatchWriter(2)
	w.add([]byte("x"), mapped, false)
	if failed, err := w.flush(s); failed != 0 || err != nil {
		t.Fatalf("flush to %v: %d failed, %v", mapped, failed, err)
	}
	buf := make([]byte, 8)
	if n, _, err := c.ReadFromUDPAddrPort(buf); err != nil || string(buf[:n]) != "x" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
}

// TestBatchReaderDrain: drain takes what is queued without blocking (none:
// 0), and stands aside while the reader holds the socket.
func TestBatchReaderDrain(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := newBatchSock(c, false)
	if err != nil {
		t.Fatal(err)
	}
	r := newBatchReader(4, 64)
	if n, ok := r.drain(s); !ok || n != 0 {
		t.Fatalf("empty socket: drain %d, %v", n, ok)
	}
	r.mu.Unlock()
	to := c.LocalAddr().(*net.UDPAddr)
	for _, m := range []string{"a", "b"} {
		if _, err := c.WriteToUDP([]byte(m), to); err != nil {
			t.Fatal(err)
		}
	}
	got := ""
	testwait.Until(t, 5*time.Second, "both datagrams drained", func() bool {
		n, ok := r.drain(s)
		if !ok {
			t.Fatal("drain refused with nobody reading")
		}
		for j := range n {
			b, _ := r.msg(j)
			got += string(b)
		}
		r.mu.Unlock()
		return got == "ab"
	})
	r.mu.Lock() // as the reader goroutine does while it handles a batch
	if _, ok := r.drain(s); ok {
		t.Fatal("drain took the socket from its reader")
	}
	r.mu.Unlock()
}
