package mixer

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"cusax.dev/bridge/internal/testwait"
	"cusax.dev/bridge/mixer/audiotest"
)

// Addresses of the re-latching tests: the phone's old NAT mapping A, its
// new one B, and strangers.
var (
	natA     = netip.MustParseAddrPort("127.0.0.2:41000")
	natB     = netip.MustParseAddrPort("127.0.0.3:52000")
	stranger = netip.MustParseAddrPort("127.0.0.4:60000")
	other    = netip.MustParseAddrPort("127.0.0.5:60002")
)

// stream is a phone's outgoing RTP stream: one 20 ms PCMU packet of the
// constant value v per call of next.
type stream struct {
	ssrc uint32
	pt   uint8
	seq  uint16
	ts   uint32
	v    int16
}

func (s *stream) next(t testing.TB) []byte {
	b := rtpBytes(t, s.pt, s.seq, s.ts, s.ssrc, encodeConst(kindPCMU, s.v, 160))
	s.seq++
	s.ts += 160
	return b
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// relatchRig is a room of two socketless legs driven by hand: leg x (the
// phone under test, SDP address sdp) and leg y, a listener. tick advances
// the clock by one ptime and mixes; what the legs are sent is captured.
type relatchRig struct {
	t    *testing.T
	e    *Engine
	r    *room
	x, y *Leg
	cap  *capture
	now  time.Time
	logs *syncBuffer
}

func newRelatchRig(t *testing.T, mod func(*Config)) *relatchRig {
	logs := &syncBuffer{}
	e := newTestEngine(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		if mod != nil {
			mod(c)
		}
	})
	cp := newCapture()
	e.mix.write = cp.write
	x := newSocketlessLeg(e, LegParams{Remote: remote(30000), Codec: PCMU(), DTMFPayloadType: 101})
	y := newSocketlessLeg(e, LegParams{Remote: remote(30100), Codec: PCMU()})
	r := newRoom("test", e.frame)
	r.setMembers([]*Leg{x, y})
	return &relatchRig{t: t, e: e, r: r, x: x, y: y, cap: cp, now: time.Unix(1e9, 0), logs: logs}
}

func (g *relatchRig) tick() {
	g.now = g.now.Add(20 * time.Millisecond)
	g.e.mix.now = g.now
	g.e.mix.mixRoom(g.r, []*Leg{g.x, g.y})
}

// send delivers one datagram to leg x at the current time.
func (g *relatchRig) send(b []byte, from netip.AddrPort) { g.x.ingest(b, from, g.now) }

// dstX is where the last packet the bridge sent to leg x went.
func (g *relatchRig) dstX() netip.AddrPort {
	g.cap.mu.Lock()
	defer g.cap.mu.Unlock()
	return g.cap.dsts[g.x]
}

// heardByY is the decoded level of the last packet leg y was sent.
func (g *relatchRig) heardByY() int16 {
	p, ok := g.cap.last(g.y)
	if !ok || len(p.Payload) == 0 {
		return 0
	}
	pcm := make([]int16, len(p.Payload))
	kindPCMU.decode(pcm, p.Payload)
	return pcm[len(pcm)/2]
}

func (g *relatchRig) rtcpDst() netip.AddrPort {
	g.x.mu.Lock()
	defer g.x.mu.Unlock()
	return g.x.rtcpDst()
}

// latchToA runs a second of the phone talking from A: leg x latches to A.
func (g *relatchRig) latchToA(s *stream) {
	g.t.Helper()
	for range 50 {
		g.send(s.next(g.t), natA)
		g.tick()
	}
	if st := g.x.Stats(); !st.Latched || st.Remote != natA || st.PacketsReceived != 50 || g.dstX() != natA {
		g.t.Fatalf("not latched to A: %+v, sent to %v", st, g.dstX())
	}
	if lvl := g.heardByY(); lvl < s.v-200 || lvl > s.v+200 {
		g.t.Fatalf("y hears %d from x, want about %d", lvl, s.v)
	}
	nextEvent(g.t, g.x, evSSRC)
}

func rtcpRR(t testing.TB, ssrc uint32) []byte {
	b, err := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: ssrc}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRelatchAfterQuiet: the phone's NAT mapping changes from A to B; the
// phone goes on with its stream. B's packets are dropped while A might
// still be alive, then after RelatchPackets in-sequence packets the leg
// takes them and the mix goes to B. Statistics continue, RTCP follows.
func TestRelatchAfterQuiet(t *testing.T) {
	tests := []struct {
		name   string
		quiet  time.Duration
		k      int
		rtcpMu bool // the phone multiplexes RTCP on its RTP port
	}{
		{name: "defaults", k: 4},
		{name: "defaults rtcp-mux", k: 4, rtcpMu: true},
		{name: "quiet 200ms k 2", quiet: 200 * time.Millisecond, k: 2},
		{name: "quiet 3s k 10", quiet: 3 * time.Second, k: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newRelatchRig(t, func(c *Config) { c.RelatchQuiet, c.RelatchPackets = tt.quiet, tt.k })
			quiet := g.e.cfg.RelatchQuiet
			if g.e.cfg.RelatchPackets != tt.k {
				t.Fatalf("RelatchPackets %d", g.e.cfg.RelatchPackets)
			}
			s := &stream{ssrc: 0x5EED, seq: 65500, ts: 1 << 30, v: 4000} // wraps on the way
			g.latchToA(s)
			rtcpA := netip.AddrPortFrom(natA.Addr(), natA.Port()+1)
			if tt.rtcpMu {
				rtcpA = natA
				g.send(rtcpRR(t, s.ssrc), natA)
			} else {
				g.x.handleRTCP(rtcpRR(t, s.ssrc), rtcpA, g.now)
			}
			if d := g.rtcpDst(); d != rtcpA {
				t.Fatalf("RTCP to %v, want %v", d, rtcpA)
			}
			g.send(s.next(t), natA) // A's last packet
			g.tick()
			before := g.x.Stats()

			// the mapping changes: the same stream now arrives from B, a
			// packet every 20 ms; the first quiet+20ms after A's last
			q := int(quiet / (20 * time.Millisecond)) // B's first packet that finds A quiet
			need := q + tt.k - 1                      // the packet that re-latches
			for i := 1; i < need; i++ {
				g.send(s.next(t), natB)
				g.tick()
				if st := g.x.Stats(); st.Remote != natA || st.Relatches != 0 || st.PacketsReceived != before.PacketsReceived {
					t.Fatalf("B's packet %d of %d moved the latch: %+v", i, need, st)
				}
				if g.dstX() != natA {
					t.Fatalf("mix sent to %v before the re-latch", g.dstX())
				}
			}
			if strings.Contains(g.logs.String(), "re-latched") {
				t.Fatal("re-latch logged early")
			}
			g.send(s.next(t), natB)
			st := g.x.Stats()
			if st.Remote != natB || !st.Latched || st.Relatches != 1 || st.PacketsReceived != before.PacketsReceived+1 {
				t.Fatalf("packet %d did not re-latch: %+v", need, st)
			}
			if st.PacketsDropped != before.PacketsDropped+uint64(need-1) {
				t.Fatalf("dropped %d, want %d", st.PacketsDropped-before.PacketsDropped, need-1)
			}
			// the same stream goes on: no new SSRC, the skipped packets count as lost
			if st.RemoteSSRC != s.ssrc || st.PacketsLost != int64(need-1) {
				t.Fatalf("continuity: ssrc %#x lost %d, want %d", st.RemoteSSRC, st.PacketsLost, need-1)
			}
			noEvent(t, g.x, evSSRC)
			if logs := g.logs.String(); !strings.Contains(logs, `level=INFO msg="RTP source moved: leg re-latched"`) ||
				!strings.Contains(logs, " from="+natA.String()+" to="+natB.String()) {
				t.Fatalf("no info log of the re-latch:\n%s", g.logs)
			}
			// the mix goes to B, and B's audio reaches the room
			g.tick()
			if g.dstX() != natB {
				t.Fatalf("mix sent to %v, want %v", g.dstX(), natB)
			}
			s.v = -6000
			heard := false
			for range 5 {
				g.send(s.next(t), natB)
				g.tick()
				if lvl := g.heardByY(); lvl < s.v+300 && lvl > s.v-300 {
					heard = true
				}
			}
			if !heard {
				t.Fatalf("y does not hear x's new audio (last %d)", g.heardByY())
			}
			// A is foreign now
			g.send(s.next(t), natA)
			if st := g.x.Stats(); st.Remote != natB || st.PacketsDropped != before.PacketsDropped+uint64(need) {
				t.Fatalf("A after the move: %+v", st)
			}

			// RTCP
			recv := g.x.Stats().RTCPReceived
			if tt.rtcpMu {
				if d := g.rtcpDst(); d != natB {
					t.Fatalf("muxed RTCP to %v, want %v", d, natB)
				}
				g.send(rtcpRR(t, s.ssrc), natB)
				if g.x.Stats().RTCPReceived != recv+1 {
					t.Fatal("muxed RTCP from B not taken")
				}
				return
			}
			if d, want := g.rtcpDst(), netip.AddrPortFrom(natB.Addr(), natB.Port()+1); d != want {
				t.Fatalf("RTCP to %v, want %v", d, want)
			}
			g.x.handleRTCP(rtcpRR(t, s.ssrc), rtcpA, g.now)                                              // the old mapping
			g.x.handleRTCP(rtcpRR(t, s.ssrc), stranger, g.now)                                           // someone else
			g.x.handleRTCP(rtcpRR(t, s.ssrc), netip.AddrPortFrom(stranger.Addr(), natB.Port()+1), g.now) // ditto
			if g.x.Stats().RTCPReceived != recv {
				t.Fatal("RTCP from outside B's address taken")
			}
			rtcpB := netip.AddrPortFrom(natB.Addr(), 52017) // NATs need not keep port pairs
			g.x.handleRTCP(rtcpRR(t, s.ssrc), rtcpB, g.now)
			if d := g.rtcpDst(); d != rtcpB || g.x.Stats().RTCPReceived != recv+1 {
				t.Fatalf("RTCP from B's address: to %v, received %d", d, g.x.Stats().RTCPReceived-recv)
			}
			g.x.handleRTCP(rtcpRR(t, s.ssrc), netip.AddrPortFrom(natB.Addr(), 52019), g.now)
			if d := g.rtcpDst(); d != rtcpB {
				t.Fatalf("RTCP latch moved again to %v", d)
			}
		})
	}
}

// TestRelatchNotWhileActive: while the latched source is alive, another
// one never takes the latch, however good its packets are.
func TestRelatchNotWhileActive(t *testing.T) {
	tests := []struct {
		name string
		// step runs tick i (0, 1, …) of 5 s: a is the phone, b the intruder's copy
		step func(g *relatchRig, i int, a, b *stream)
	}{
		{"B duplicates A's packets", func(g *relatchRig, i int, a, b *stream) {
			pa := a.next(g.t)
			g.send(pa, natA)
			g.send(pa, natB)
		}},
		{"B runs ahead of A in sequence", func(g *relatchRig, i int, a, b *stream) {
			g.send(a.next(g.t), natA)
			g.send(b.next(g.t), natB)
			g.send(b.next(g.t), natB)
		}},
		{"A sends every 900 ms", func(g *relatchRig, i int, a, b *stream) {
			pa := a.next(g.t)
			if i%45 == 0 {
				g.send(pa, natA)
			}
			g.send(b.next(g.t), natB)
		}},
		{"A sends only comfort noise", func(g *relatchRig, i int, a, b *stream) {
			g.send(rtpBytes(g.t, 13, uint16(i), 0, a.ssrc, []byte{40}), natA)
			g.send(b.next(g.t), natB)
		}},
		{"A sends only muxed RTCP, twice a second", func(g *relatchRig, i int, a, b *stream) {
			if i%25 == 0 {
				g.send(rtcpRR(g.t, a.ssrc), natA)
			}
			g.send(b.next(g.t), natB)
		}},
		{"A sends garbage", func(g *relatchRig, i int, a, b *stream) {
			if i%10 == 0 {
				g.send([]byte{1, 2, 3}, natA)
			}
			g.send(b.next(g.t), natB)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newRelatchRig(t, nil)
			a := &stream{ssrc: 77, seq: 1000, ts: 5000, v: 3000}
			g.latchToA(a)
			b := &stream{ssrc: a.ssrc, seq: a.seq, ts: a.ts, v: -9000}
			for i := range 250 {
				tt.step(g, i, a, b)
				g.tick()
				if st := g.x.Stats(); st.Remote != natA || st.Relatches != 0 || g.dstX() != natA {
					t.Fatalf("tick %d: latch stolen: %+v, mix to %v", i, st, g.dstX())
				}
			}
			if lvl := g.heardByY(); lvl < -1000 {
				t.Fatalf("B's audio reached the room (%d)", lvl)
			}
		})
	}
}

// TestRelatchRunResetByA: A goes quiet, B gets one packet short of the
// run, A speaks once: B must wait out a new quiet interval and send a
// whole new run, whether it kept sending meanwhile or paused.
func TestRelatchRunResetByA(t *testing.T) {
	for _, pause := range []bool{false, true} {
		t.Run(fmt.Sprintf("B pauses %v", pause), func(t *testing.T) {
			g := newRelatchRig(t, nil)
			s := &stream{ssrc: 9, seq: 100, ts: 0, v: 2000}
			g.latchToA(s)
			k := g.e.cfg.RelatchPackets
			for range 49 + k - 1 { // packets 1-49 during the quiet second, 50… on the run
				g.send(s.next(t), natB)
				g.tick()
			}
			if g.x.Stats().Remote != natA {
				t.Fatal("latch moved early")
			}
			a := *s
			g.send(a.next(t), natA) // A is back for one packet (B's run goes on from s)
			g.tick()
			for i := range 49 {
				if !pause {
					g.send(s.next(t), natB)
				} else {
					s.ts += 160 // the phone's clock runs on while it is silent
				}
				g.tick()
				if st := g.x.Stats(); st.Remote != natA {
					t.Fatalf("B's packet %d after A's took the latch", i)
				}
			}
			// A's packet had the sequence number B sends next: after a
			// pause that one is not ahead of the stream, and the run starts
			// with the one after.
			want := k
			if pause {
				want = k + 1
			}
			for j := 1; j <= want; j++ {
				g.send(s.next(t), natB)
				if st := g.x.Stats(); (st.Remote == natB) != (j == want) || st.Relatches > 1 {
					t.Fatalf("B's packet %d of the new run (re-latch expected at %d): %+v", j, want, st)
				}
				g.tick()
			}
		})
	}
}

// TestRelatchRejects: after A went quiet, packets from elsewhere that are
// not a run of the stream never take the latch; a proper run does.
func TestRelatchRejects(t *testing.T) {
	const n = 20 // packets each case sends (several runs' worth)
	tests := []struct {
		name  string
		quiet time.Duration
		// pkt is the i-th datagram of the case, given the phone's stream s
		// at A's last packet (its next() continues the stream).
		pkt  func(t *testing.T, i int, s *stream) ([]byte, netip.AddrPort)
		take bool // the case is a valid run (the control)
	}{
		{name: "control: in-sequence run", take: true, pkt: func(t *testing.T, i int, s *stream) ([]byte, netip.AddrPort) {
			return s.next(t), natB
		}},
		{name: "control: run of telephone-events", take: true, pkt: func(t *testing.T, i int, s *stream) ([]byte, netip.AddrPort) {
			b := rtpBytes(t, 101, s.seq, s.ts, s.ssrc, []byte{1, 10, 0, byte(160 * (i + 1))})
			s.seq++
			return b, natB
		}},
		{name: "single stray packet", pkt: func(t *testing.T, i int, s *stream) ([]byte, netip.AddrPort) {
			if i > 0 {
				return nil, natB
			}
			return s.next(t), natB
		}},
		{name: "one packet from each of many sources", pkt: func(t *testing.T, i int, s *stream) ([]byte, netip.AddrPort) {
			return s.next(t), netip.AddrPortFrom(natB.Addr(), uint16(52000+2*i))
		}},
		{name: "wrong SSRC", pkt: func(t *testing.T, i int, s *stream) ([]byte, netip.AddrPort) {
			b := rtpBytes(t, 0, s.seq, s.ts, s.ssrc+1, silence(160))
			s.seq, s.ts = s.seq+1, s.ts+160
			return b, natB
		}},
		{name: "run broken by a wrong SSRC", pkt: func(t *testing.T, i int, s *stream) ([]byte, netip.AddrPort) {
			if i%3 == 2 {
				return rtpBytes(t, 0, s.seq, s.ts, s.ssrc^0xFFFF, silence(160)), natB
			}
			return s.next(t), natB
		}},
		{name: "payload type not negotiated", pkt: func(t *testing.T, i int, s *stream) ([]byte, netip.AddrPort) {
			s.pt = 8
			return s.next(t), natB
		}},
		{name: "run broken by a payload type not negotiated", pkt: func(t *testing.T, i int, s *stream) ([]byte, netip.AddrPort) {
			if i%3 == 2 { // a G.729 packet between PCMU ones, of the stream's SSRC
				return rtpBytes(t, 18, s.seq, s.ts, s.ssrc, make([]byte, 20)), natB
			}
			return s.next(t), natB
		}},
		{name: "every other sequence number", pkt: func(t *testing.T, i int, s *stream) ([]byte, netip.AddrPort) {
			s.seq++
			return s.next(t), natB
		}},
		{name: "descending sequence numbers", pkt: func(t *testing.T, i int, s *stream) ([]byte, netip.AddrPort) {
			b := rtpBytes(t, 0, s.seq+uint16(n-i), s.ts, s.ssrc, silence(160))
			return b, natB
		}},
		{name: "the same packet repeated", pkt: func(t *testing.T, i int, s *stream) ([]byte, netip.AddrPort) {
			return rtpBytes(t, 0, s.seq, s.ts, s.ssrc, silence(160)), natB
		}},
		{name: "replay of old packets", pkt: func(t *testing.T, i int, s *stream) ([]byte, netip.AddrPort) {
			b := rtpBytes(t, 0, s.seq-150+uint16(i), s.ts, s.ssrc, silence(160)) // A's last was s.seq-101
			return b, natB
		}},
		{name: "far ahead of the stream", pkt: func(t *testing.T, i int, s *stream) ([]byte, netip.AddrPort) {
			b := rtpBytes(t, 0, s.seq+maxDropout+uint16(i), s.ts, s.ssrc, silence(160))
			return b, natB
		}},
		{name: "two sources interleaved", pkt: func(t *testing.T, i int, s *stream) ([]byte, netip.AddrPort) {
			from := natB
			if i%2 == 1 {
				from = other
			}
			return s.next(t), from
		}},
		{name: "re-latching disabled", quiet: -1, pkt: func(t *testing.T, i int, s *stream) ([]byte, netip.AddrPort) {
			return s.next(t), natB
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newRelatchRig(t, func(c *Config) { c.RelatchQuiet = tt.quiet })
			s := &stream{ssrc: 0xFEED, seq: 3000, ts: 1234, v: 1000}
			g.latchToA(s)
			for range 100 { // A has been quiet for 2 s; the phone's counters ran on
				s.seq, s.ts = s.seq+1, s.ts+160
				g.tick()
			}
			before := g.x.Stats()
			sent := 0
			for i := range n {
				b, from := tt.pkt(t, i, s)
				if b != nil {
					g.send(b, from)
					sent++
				}
				g.tick()
			}
			st := g.x.Stats()
			moved := st.Remote != natA || st.Relatches != 0 || st.PacketsReceived != before.PacketsReceived
			if moved != tt.take {
				t.Fatalf("latch moved %v, want %v: %+v", moved, tt.take, st)
			}
			if tt.take {
				k := g.e.cfg.RelatchPackets
				if st.Remote != natB || st.PacketsReceived != before.PacketsReceived+uint64(n-k+1) || g.dstX() != natB {
					t.Fatalf("control run: %+v, mix to %v", st, g.dstX())
				}
				return
			}
			if st.PacketsDropped != before.PacketsDropped+uint64(sent) || g.dstX() != natA {
				t.Fatalf("dropped %d of %d, mix to %v", st.PacketsDropped-before.PacketsDropped, sent, g.dstX())
			}
		})
	}
}

// TestRelatchUpdateResets: a re-INVITE with a new address drops the latch
// and any run in progress, as before.
func TestRelatchUpdateResets(t *testing.T) {
	g := newRelatchRig(t, nil)
	s := &stream{ssrc: 5, seq: 1, ts: 0, v: 100}
	g.latchToA(s)
	for range 51 { // quiet, and one packet of a run
		g.send(s.next(t), natB)
		g.tick()
	}
	if err := g.x.Update(LegParams{Remote: remote(30004), Codec: PCMU()}); err != nil {
		t.Fatal(err)
	}
	g.x.mu.Lock()
	run := g.x.run
	g.x.mu.Unlock()
	if run != (relatchRun{}) {
		t.Fatalf("run survived Update: %+v", run)
	}
	g.send(s.next(t), stranger) // unlatched: the first packet latches, as ever
	if st := g.x.Stats(); st.Remote != stranger || st.Relatches != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestRelatchConfig(t *testing.T) {
	for _, c := range []Config{
		{RelatchQuiet: 30 * time.Millisecond}, // < 2 ptime
		{RelatchQuiet: 100 * time.Millisecond, Ptime: 60 * time.Millisecond},
		{RelatchPackets: 1},
		{RelatchPackets: -3},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	e, err := New(Config{RelatchQuiet: -1})
	if err != nil {
		t.Fatal(err)
	}
	if e.cfg.RelatchQuiet != -1 || e.cfg.RelatchPackets != 4 {
		t.Fatalf("%v %d", e.cfg.RelatchQuiet, e.cfg.RelatchPackets)
	}
	if e, _ := New(Config{}); e.cfg.RelatchQuiet != time.Second {
		t.Fatalf("default quiet %v", e.cfg.RelatchQuiet)
	}
}

// TestRelatchLoopback: a phone on real sockets whose "NAT mapping" changes
// (Rebind: new ports, same stream) keeps hearing the room at its new
// address and is heard again.
func TestRelatchLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time test")
	}
	lo, hi := freeRange(t, 4)
	e, err := New(Config{BindIP: loopback, PortMin: lo, PortMax: hi, RelatchQuiet: 200 * time.Millisecond, RTCPInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)

	var phones [2]*audiotest.Phone
	var legs [2]*Leg
	for i, freq := range []float64{500, 1300} {
		ph, err := audiotest.NewPhone(audiotest.PhoneConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer ph.Close()
		l, err := e.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Start("nat", LegParams{Remote: ph.Addr(), Codec: PCMU()}, Handlers{}); err != nil {
			t.Fatal(err)
		}
		ph.SetSource(audiotest.Tone(freq, 6000, 8000).Fill)
		ph.Start(netip.AddrPortFrom(loopback, uint16(l.Port())))
		phones[i], legs[i] = ph, l
	}
	hears := func(p *audiotest.Phone, freq float64) bool {
		rec := p.Tail(1600)
		return len(rec) == 1600 && audiotest.PowerDB(rec, freq, 8000) > -25
	}
	testwait.Until(t, 10*time.Second, "the phones hearing each other", func() bool {
		return hears(phones[0], 1300) && hears(phones[1], 500)
	})
	old := phones[0].Addr()
	if err := phones[0].Rebind(); err != nil {
		t.Fatal(err)
	}
	moved := phones[0].Addr()
	if moved == old {
		t.Fatal("Rebind kept the address")
	}
	testwait.Until(t, 10*time.Second, "the leg re-latching to the new address", func() bool {
		st := legs[0].Stats()
		return st.Remote == moved && st.Relatches == 1
	})
	phones[0].ResetRecording() // from here on only what came after the move
	phones[1].ResetRecording()
	testwait.Until(t, 10*time.Second, "the phones hearing each other again", func() bool {
		return hears(phones[0], 1300) && hears(phones[1], 500)
	})
	for _, p := range phones[0].Packets() {
		if p.SSRC != legs[0].LocalSSRC() {
			t.Fatalf("packet from SSRC %#x at the new address", p.SSRC)
		}
	}
	st := legs[0].Stats()
	if st.RemoteSSRC != phones[0].SSRC() || st.PacketsDropped == 0 {
		t.Fatalf("%+v", st)
	}
	// the phone's RTCP port moved too: reports go to the new RTP port + 1
	// (the old socket is closed, so new reports arrived at the new one)
	n := len(phones[0].RTCP())
	testwait.Until(t, 5*time.Second, "RTCP at the new address", func() bool { return len(phones[0].RTCP()) > n })
	t.Logf("re-latched %v → %v: %d packets dropped, %d lost", old, moved, st.PacketsDropped, st.PacketsLost)
}
