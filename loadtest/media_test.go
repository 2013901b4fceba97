package loadtest

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"cusax.dev/bridge/internal/testwait"
)

// TestDistinctAddrs: in distinct-address mode three callers share one
// generator socket yet reach a peer from three addresses of their own, and
// what the peer sends back to each address is credited to its caller.
func TestDistinctAddrs(t *testing.T) {
	if c, err := listenLoopbackAny(); err != nil {
		t.Skipf("no wildcard socket on the loopback device here: %v", err)
	} else {
		c.Close()
	}
	echo, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	var mu sync.Mutex
	sources := map[netip.AddrPort]bool{}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, src, err := echo.ReadFromUDPAddrPort(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			mu.Lock()
			sources[src] = true
			mu.Unlock()
			_, _ = echo.WriteToUDPAddrPort(buf[:n], src)
		}
	}()
	callers := make([]*caller, 3)
	for i := range callers {
		callers[i] = &caller{id: i, talker: -1}
	}
	m, err := newMedia(netip.MustParseAddr("127.0.0.1"), 1, callers, true)
	if err != nil {
		t.Fatal(err)
	}
	m.winStart.Store(time.Now().UnixNano())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dst := echo.LocalAddr().(*net.UDPAddr).AddrPort()
	for _, c := range callers {
		if got, want := m.addr(c).Addr(), callerAddr(c.id); got != want {
			t.Fatalf("caller %d offers %v, want %v", c.id, got, want)
		}
		m.activate(c, dst)
	}
	m.run(ctx)
	testwait.Until(t, 10*time.Second, "30 echoes credited", func() bool { return m.credited.Load() >= 30 })
	cancel()
	m.wait() // the readers are done: their counts may be read
	for _, c := range callers {
		if c.rxPackets == 0 {
			t.Errorf("caller %d was credited nothing", c.id)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, c := range callers {
		if !sources[m.addr(c)] {
			t.Errorf("the peer never heard caller %d from %v (heard %v)", c.id, m.addr(c), sources)
		}
	}
	if s := m.stray.Load(); s != 0 {
		t.Errorf("%d stray packets", s)
	}
}

func TestCallerAddr(t *testing.T) {
	for _, id := range []int{0, 1, 254, 255, 256, 65534, 65535, 70000} {
		a := callerAddr(id)
		if got := callerOf(a); got != id {
			t.Errorf("callerOf(callerAddr(%d) = %v) = %d", id, a, got)
		}
	}
	for _, a := range []string{"127.0.0.1", "10.1.0.1", "::1"} {
		if got := callerOf(netip.MustParseAddr(a)); got != -1 {
			t.Errorf("callerOf(%s) = %d, want -1", a, got)
		}
	}
}
