package mixer

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/pion/rtp"

	"cusax.dev/bridge/metrics"
)

func newTestEngine(t testing.TB, mod func(*Config)) *Engine {
	t.Helper()
	cfg := Config{BindIP: netip.MustParseAddr("127.0.0.1"), PortMin: 40000, PortMax: 40001, Metrics: metrics.New()}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// newSocketlessLeg is a started leg without sockets or goroutines, for
// driving ingest and the mix by hand.
func newSocketlessLeg(e *Engine, p LegParams) *Leg {
	l := newLeg(e, 0, nil, nil)
	l.mu.Lock()
	l.started, l.room = true, "test"
	l.setParams(p.normalized())
	l.jb.depth = 1 // a frame put before a pop plays at that pop
	l.mu.Unlock()
	return l
}

func remote(port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
}

// capture records what the mixer sends.
type capture struct {
	mu   sync.Mutex
	pkts map[*Leg][]rtp.Packet
	dsts map[*Leg]netip.AddrPort
}

func newCapture() *capture {
	return &capture{pkts: map[*Leg][]rtp.Packet{}, dsts: map[*Leg]netip.AddrPort{}}
}

func (c *capture) write(l *Leg, pkt []byte, dst netip.AddrPort) error {
	var p rtp.Packet
	if err := p.Unmarshal(append([]byte(nil), pkt...)); err != nil {
		return err
	}
	c.mu.Lock()
	c.pkts[l] = append(c.pkts[l], p)
	c.dsts[l] = dst
	c.mu.Unlock()
	return nil
}

func (c *capture) last(l *Leg) (rtp.Packet, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := c.pkts[l]
	if len(ps) == 0 {
		return rtp.Packet{}, false
	}
	return ps[len(ps)-1], true
}

// feed puts one frame of constant value v into the leg's jitter buffer at
// the next timestamp.
func feed(l *Leg, frame int, v int16) {
	pcm := make([]int16, frame)
	for i := range pcm {
		pcm[i] = v
	}
	feedPCM(l, pcm)
}

func feedPCM(l *Leg, pcm []int16) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := uint32(1000)
	if l.jb.started {
		ts = l.jb.highTS
		if int32(ts-l.jb.playTS) < 0 { // the stream paused: resume in time
			ts = l.jb.playTS
		}
	}
	l.jb.put(ts, pcm)
}

func encodeConst(k codecKind, v int16, n int) []byte {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = v
	}
	out := make([]byte, n)
	k.encode(out, pcm)
	return out
}

func histCount(t testing.TB, e *Engine) uint64 {
	t.Helper()
	mfs, err := e.cfg.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "cusax_mixer_tick_duration_seconds" {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("no tick histogram")
	return 0
}

// lead is how far the newest buffered sample is ahead of play-out.
func (jb *jitterBuffer) lead() int32 { return int32(jb.highTS - jb.playTS) }

// flushCounts publishes a leg's packet counts to the metrics as the
// clock's next tick (or Close) would.
func flushCounts(l *Leg) {
	l.mu.Lock()
	in, dropped := l.takeCounts()
	l.mu.Unlock()
	add(l.e.m.in, in)
	add(l.e.m.dropped, dropped)
}
