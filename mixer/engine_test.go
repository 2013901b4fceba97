package mixer

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// freeRange finds n consecutive free loopback UDP ports starting at an even
// port, so that tests of a small range are not disturbed by other tests.
func freeRange(t testing.TB, n int) (int, int) {
	t.Helper()
	for range 200 {
		base := 20000 + 2*rand.IntN(20000)
		var conns []*net.UDPConn
		ok := true
		for p := base; p < base+n; p++ {
			c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(p))))
			if err != nil {
				ok = false
				break
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Close()
		}
		if ok {
			return base, base + n - 1
		}
	}
	t.Fatal("no free port range")
	return 0, 0
}

func canBind(port int) error {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(port))))
	if err != nil {
		return err
	}
	return c.Close()
}

func TestPortAllocation(t *testing.T) {
	lo, hi := freeRange(t, 4)
	e := newTestEngine(t, func(c *Config) { c.PortMin, c.PortMax = lo, hi })
	a, err := e.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	ports := []int{a.Port(), b.Port()}
	slices.Sort(ports)
	if !slices.Equal(ports, []int{lo, lo + 2}) {
		t.Fatalf("ports %v, want [%d %d]", ports, lo, lo+2)
	}
	if _, err := e.Allocate(); !errors.Is(err, ErrPortsExhausted) {
		t.Fatalf("third Allocate: %v", err)
	}
	if e.PortsInUse() != 2 || testutil.ToFloat64(e.cfg.Metrics.RTPPortsInUse) != 2 {
		t.Fatalf("in use %d", e.PortsInUse())
	}
	for _, p := range []int{a.Port(), a.Port() + 1} {
		if canBind(p) == nil {
			t.Fatalf("port %d not held", p)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{a.Port(), a.Port() + 1} {
		if err := canBind(p); err != nil {
			t.Fatalf("port %d not rebindable after Close: %v", p, err)
		}
	}
	c, err := e.Allocate()
	if err != nil {
		t.Fatalf("Allocate after Close: %v", err)
	}
	if c.Port() != a.Port() {
		t.Fatalf("got port %d, want the freed %d", c.Port(), a.Port())
	}
	b.Close()
	c.Close()
	if e.PortsInUse() != 0 || testutil.ToFloat64(e.cfg.Metrics.RTPPortsInUse) != 0 {
		t.Fatalf("in use %d after closing all", e.PortsInUse())
	}
	for p := lo; p <= hi; p++ {
		if err := canBind(p); err != nil {
			t.Fatalf("port %d: %v", p, err)
		}
	}
}

func TestPortAllocationSkipsBusyPorts(t *testing.T) {
	lo, hi := freeRange(t, 6)
	// another process holds the middle pair's RTCP port
	busy, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(lo+3))))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	e := newTestEngine(t, func(c *Config) { c.PortMin, c.PortMax = lo, hi })
	var got []int
	for range 2 {
		l, err := e.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l.Port())
	}
	slices.Sort(got)
	if !slices.Equal(got, []int{lo, lo + 4}) {
		t.Fatalf("ports %v", got)
	}
	if _, err := e.Allocate(); !errors.Is(err, ErrPortsExhausted) {
		t.Fatal(err)
	}
	// the half-bound RTP port of the busy pair was released again
	if err := canBind(lo + 2); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{PortMin: 10, PortMax: 5},
		{PortMin: 10001, PortMax: 10001},
		{PortMin: 10001, PortMax: 10002},
		{PortMin: 0, PortMax: 70000},
		{SampleRate: 16000},
		{Ptime: 25 * time.Millisecond},
		{Ptime: 5 * time.Millisecond},
		{MaxSpeakers: -1},
		{SpeechThreshold: 3},
		{RTCPInterval: time.Microsecond},
	}
	for _, c := range bad {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.cfg.PortMin != 10000 || e.cfg.PortMax != 20000 || e.FrameSamples() != 160 || e.cfg.BindIP != netip.IPv4Unspecified() {
		t.Fatalf("defaults %+v", e.cfg)
	}
	if n := pairCount(10001, 10004); n != 1 {
		t.Fatalf("pairCount(10001,10004) = %d", n)
	}
	if n := pairCount(10000, 20000); n != 5000 {
		t.Fatalf("pairCount(10000,20000) = %d", n)
	}
}

func TestRoomsAppearAndVanish(t *testing.T) {
	lo, hi := freeRange(t, 6)
	e := newTestEngine(t, func(c *Config) { c.PortMin, c.PortMax = lo, hi })
	var legs []*Leg
	for i, room := range []string{"a", "a", "b"} {
		l, err := e.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Start(room, LegParams{Remote: remote(uint16(30000 + 2*i)), Codec: PCMU()}, Handlers{}); err != nil {
			t.Fatal(err)
		}
		legs = append(legs, l)
	}
	rooms := e.Rooms()
	slices.Sort(rooms)
	if !slices.Equal(rooms, []string{"a", "b"}) {
		t.Fatalf("rooms %v", rooms)
	}
	if n := len(*e.snapshot.Load()); n != 2 {
		t.Fatalf("clock sees %d rooms", n)
	}
	legs[2].Close()
	legs[0].Close()
	if rooms := e.Rooms(); !slices.Equal(rooms, []string{"a"}) {
		t.Fatalf("rooms %v", rooms)
	}
	if m := *e.rooms["a"].live.Load(); len(m) != 1 || m[0] != legs[1] {
		t.Fatalf("members %v", m)
	}
	legs[1].Close()
	if len(e.Rooms()) != 0 || len(*e.snapshot.Load()) != 0 {
		t.Fatal("rooms left")
	}
}

func TestEngineCloseStopsEverything(t *testing.T) {
	lo, hi := freeRange(t, 4)
	e, err := New(Config{BindIP: loopback, PortMin: lo, PortMax: hi})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := e.Allocate()
	l.Start("r", LegParams{Remote: remote(30000), Codec: PCMU()}, Handlers{})
	_, _ = e.Allocate() // never started
	ran := make(chan error, 1)
	go func() { ran <- e.Run(context.Background()) }()
	// Close may come before Run starts or while it ticks; both must end
	// Run with ErrClosed. 50 ms (2.5 ticks) makes the latter the usual case.
	time.Sleep(50 * time.Millisecond)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ran:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return")
	}
	if e.PortsInUse() != 0 {
		t.Fatal("ports left")
	}
	for p := lo; p <= hi; p++ {
		if err := canBind(p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Allocate(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Allocate after Close: %v", err)
	}
	if err := e.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRunContextAndTicks(t *testing.T) {
	e := newTestEngine(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	time.Sleep(120 * time.Millisecond) // six ticks of the running clock
	if err := e.Run(ctx); err == nil {
		t.Fatal("second Run accepted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(e.cfg.Metrics.MixerTick); n != 1 {
		t.Fatalf("tick histogram series %d", n)
	}
	if c := histCount(t, e); c < 2 {
		t.Fatalf("only %d ticks in 120 ms", c)
	}
}

func TestSchedule(t *testing.T) {
	const p = 20 * time.Millisecond
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name    string
		now     time.Duration // after the deadline
		skipped int
		late    time.Duration
		due     time.Duration // next deadline, after t0
	}{
		{"on time", 0, 0, 0, p},
		{"early wake-up counts as on time", -time.Millisecond, 0, 0, p},
		{"a little late keeps the grid", 3 * time.Millisecond, 0, 3 * time.Millisecond, p},
		{"one tick behind skips one", p + 5*time.Millisecond, 1, 5 * time.Millisecond, 2 * p},
		{"several behind", 3*p + time.Millisecond, 3, time.Millisecond, 4 * p},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, l, d := schedule(t0, t0.Add(tc.now), p)
			if s != tc.skipped || l != tc.late || !d.Equal(t0.Add(tc.due)) {
				t.Fatalf("schedule = (%d, %v, +%v), want (%d, %v, +%v)", s, l, d.Sub(t0), tc.skipped, tc.late, tc.due)
			}
		})
	}
}

// TestCloseFromHandler: a handler may close its own leg without deadlock.
func TestCloseFromHandler(t *testing.T) {
	lo, hi := freeRange(t, 4)
	e := newTestEngine(t, func(c *Config) { c.PortMin, c.PortMax = lo, hi })
	l, err := e.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	h := Handlers{SSRC: func(uint32) { closed <- l.Close() }}
	if err := l.Start("r", LegParams{Remote: remote(30000), Codec: PCMU()}, h); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(l.Port()))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(rtpBytes(t, 0, 1, 160, 42, silence(160)))
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close from a handler did not return")
	}
	if e.PortsInUse() != 0 {
		t.Fatal("port not released")
	}
}
