package mixer

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"cusax.dev/bridge/mixer/audiotest"
)

func discard(*Leg, []byte, netip.AddrPort) error { return nil }

// benchRoom builds a room of n socketless legs, alternately PCMU and PCMA,
// of which the first three talk (tones) and the rest send quiet noise
// below the speech gate. Each leg has a marshalled packet whose sequence
// number and timestamp the benchmark rewrites in place.
func benchRoom(b *testing.B, n int) (*Engine, *room, []*Leg, [][]byte) {
	e := newTestEngine(b, nil)
	e.mix.write = discard
	r := newRoom("bench", e.frame)
	legs := make([]*Leg, n)
	pkts := make([][]byte, n)
	for i := range n {
		codec := PCMU()
		if i%2 == 1 {
			codec = PCMA()
		}
		src := netip.AddrPortFrom(loopback, uint16(10000+2*(i%20000)))
		legs[i] = newSocketlessLeg(e, LegParams{Remote: src, Codec: codec, DTMFPayloadType: 101})
		pcm := audiotest.Samples(300+float64(i%7)*100, 8000, 8000, e.frame)
		if i >= 3 {
			for j := range pcm {
				pcm[j] = int16((j*7919+i)%41) - 20 // noise around -65 dBov
			}
		}
		payload := make([]byte, e.frame)
		codec.kind().encode(payload, pcm)
		pkts[i] = rtpBytes(b, codec.PayloadType, 0, 0, uint32(i+1), payload)
	}
	r.setMembers(legs)
	return e, r, legs, pkts
}

// tickWithIngest delivers one packet per leg (parse, latch, statistics,
// decode, jitter buffer) and mixes one tick (gate, sum, mix-minus, encode,
// RTP marshal, send into a discard writer).
func tickWithIngest(e *Engine, r *room, legs []*Leg, pkts [][]byte, k int, now time.Time) {
	for j, l := range legs {
		p := pkts[j]
		binary.BigEndian.PutUint16(p[2:], uint16(k))
		binary.BigEndian.PutUint32(p[4:], uint32(k*e.frame))
		l.ingest(p, l.params.Remote, now)
	}
	e.mix.now = now
	e.mix.mixRoom(r, legs)
}

func BenchmarkTick(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("participants=%d", n), func(b *testing.B) {
			e, r, legs, pkts := benchRoom(b, n)
			now := time.Now()
			for k := range 100 { // warm up: latch, grow slices, settle the gate
				tickWithIngest(e, r, legs, pkts, k, now)
				now = now.Add(20 * time.Millisecond)
			}
			b.ReportAllocs()
			b.ResetTimer()
			k := 100
			for b.Loop() {
				tickWithIngest(e, r, legs, pkts, k, now)
				now = now.Add(20 * time.Millisecond)
				k++
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/participant")
			if got := legs[0].Stats().PacketsSent; got < uint64(b.N) {
				b.Fatalf("only %d packets sent", got)
			}
			if !legs[0].mx.contrib || legs[5%n].mx.contrib && n > 5 {
				b.Fatal("gate did not separate talkers from the quiet")
			}
		})
	}
}

// BenchmarkIngest: one packet into a leg's receive path and one frame out
// of its jitter buffer.
func BenchmarkIngest(b *testing.B) {
	e, _, legs, pkts := benchRoom(b, 1)
	l, p := legs[0], pkts[0]
	s := newMixSlot(e.frame)
	now := time.Now()
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		binary.BigEndian.PutUint16(p[2:], uint16(k))
		binary.BigEndian.PutUint32(p[4:], uint32(k*e.frame))
		l.ingest(p, l.params.Remote, now)
		l.pull(&s)
		now = now.Add(20 * time.Millisecond)
		k++
	}
	if st := l.Stats(); st.PacketsDropped != 0 || st.PacketsLost != 0 {
		b.Fatalf("%+v", st)
	}
}

// TestTickAllocs is the zero-allocation guarantee as a test.
func TestTickAllocs(t *testing.T) {
	e := newTestEngine(t, nil)
	e.mix.write = discard
	r := newRoom("a", e.frame)
	var legs []*Leg
	var pkts [][]byte
	for i := range 20 {
		codec := []Codec{PCMU(), PCMA()}[i%2]
		l := newSocketlessLeg(e, LegParams{Remote: remote(uint16(20000 + 2*i)), Codec: codec})
		amp := 0.0 // listeners send silence
		if i%3 == 2 {
			amp = 5000 // every third leg talks
		}
		pcm := audiotest.Samples(500, amp, 8000, e.frame)
		payload := make([]byte, e.frame)
		codec.kind().encode(payload, pcm)
		legs = append(legs, l)
		pkts = append(pkts, rtpBytes(t, codec.PayloadType, 0, 0, uint32(i+1), payload))
	}
	r.setMembers(legs)
	now := time.Now()
	k := 0
	step := func() {
		tickWithIngest(e, r, legs, pkts, k, now)
		k++
		now = now.Add(20 * time.Millisecond)
	}
	for range 50 {
		step()
	}
	if a := testing.AllocsPerRun(200, step); a != 0 {
		t.Fatalf("%v allocations per tick", a)
	}
}

// BenchmarkIngestForeign: a flood from a foreign source after the latched
// one went quiet, each packet in sequence with the stream's SSRC but from
// a new port (no run ever completes), so every packet goes through the
// re-latching checks and is dropped.
func BenchmarkIngestForeign(b *testing.B) {
	e, _, legs, pkts := benchRoom(b, 1)
	l, p := legs[0], pkts[0]
	now := time.Now()
	l.ingest(p, l.params.Remote, now)
	now = now.Add(time.Hour)
	b.ReportAllocs()
	k := 1
	for b.Loop() {
		binary.BigEndian.PutUint16(p[2:], uint16(k))
		binary.BigEndian.PutUint32(p[4:], uint32(k*e.frame))
		l.ingest(p, netip.AddrPortFrom(loopback, uint16(k%2+50000)), now)
		now = now.Add(20 * time.Millisecond)
		k++
	}
	if st := l.Stats(); st.PacketsReceived != 1 || st.Relatches != 0 {
		b.Fatalf("%+v", st)
	}
}
