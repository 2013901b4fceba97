package confstate

import (
	"testing"
	"time"

	"cusax.dev/bridge/conference"
)

func benchFull(b *testing.B, n int) {
	s := room(n)
	b.ReportAllocs()
	for b.Loop() {
		renderer.Full(s)
	}
}

// BenchmarkFull60 renders the document of a 60-caller room.
func BenchmarkFull60(b *testing.B) { benchFull(b, 60) }

// BenchmarkFull200 renders the document of a 200-caller room.
func BenchmarkFull200(b *testing.B) { benchFull(b, 200) }

// BenchmarkUpdate200 is one subscriber's cost of one change (a mute toggle)
// in a 200-caller room: render, diff against what was sent, number. The
// throttle is off so every call produces a partial.
func BenchmarkUpdate200(b *testing.B) {
	benchUpdate(b, 0, false)
}

// BenchmarkUpdate200Marshal adds marshalling the partial, i.e. everything
// but the SIP send.
func BenchmarkUpdate200Marshal(b *testing.B) {
	benchUpdate(b, 0, true)
}

// BenchmarkUpdate200Throttled is the cost of a change that falls inside the
// throttle window: nothing is rendered.
func BenchmarkUpdate200Throttled(b *testing.B) {
	s := room(200)
	v := NewView(NewFeed(renderer, conference.Snapshot{Name: "team"}), time.Hour)
	initial(v, t0, s)
	b.ReportAllocs()
	for b.Loop() {
		upd(v, t0, s)
	}
}

func benchUpdate(b *testing.B, budget int, marshal bool) {
	s := room(200)
	muted := clone(s)
	muted.Participants[100].Muted = true
	v := NewView(NewFeed(renderer, conference.Snapshot{Name: "team"}), 0)
	v.SetBudget(budget)
	initial(v, t0, s)
	var buf []byte
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		snap := s
		if i%2 == 0 {
			snap = muted
		}
		i++
		docs, _ := upd(v, t0, snap)
		if len(docs) != 1 {
			b.Fatalf("%d documents", len(docs))
		}
		if marshal {
			var err error
			if buf, err = docs[0].AppendTo(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkInitialUDP200 is full state for a UDP-only subscriber of a
// 200-caller room: render and split into UDPBudget documents.
func BenchmarkInitialUDP200(b *testing.B) {
	s := room(200)
	b.ReportAllocs()
	for b.Loop() {
		v := NewView(NewFeed(renderer, conference.Snapshot{Name: "team"}), time.Second)
		v.SetBudget(UDPBudget)
		initial(v, t0, s)
	}
}
