package confstate

import (
	"testing"
	"time"
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

// benchUpdate measures one change (a mute toggle) in a 200-caller room seen
// by subs subscribers of one feed, throttle off: Set, then every view's
// Update (one render and one diff shared, numbering per view), optionally
// marshalling each partial as the focus would.
func benchUpdate(b *testing.B, subs int, marshal bool) {
	s := room(200)
	muted := clone(s)
	muted.Participants[100].Muted = true
	f := NewFeed(renderer, s)
	views := make([]*View, subs)
	for i := range views {
		views[i] = NewView(f, 0)
		views[i].Initial(t0)
	}
	var buf []byte
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			f.Set(muted)
		} else {
			f.Set(s)
		}
		i++
		for _, v := range views {
			docs, _ := v.Update(t0)
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
}

// BenchmarkUpdate200 is one change in a 200-caller room for one subscriber:
// render, diff against what was sent, number.
func BenchmarkUpdate200(b *testing.B) { benchUpdate(b, 1, false) }

// BenchmarkUpdate200Marshal adds marshalling the partial: everything but
// the SIP send.
func BenchmarkUpdate200Marshal(b *testing.B) { benchUpdate(b, 1, true) }

// BenchmarkUpdate200x200 is one change in a 200-caller room with all 200
// subscribed and in step: the whole cost of the change, marshalling
// included.
func BenchmarkUpdate200x200(b *testing.B) { benchUpdate(b, 200, true) }

// BenchmarkUpdate200Throttled is a change that falls inside the throttle
// window: nothing is rendered.
func BenchmarkUpdate200Throttled(b *testing.B) {
	s := room(200)
	f := NewFeed(renderer, s)
	v := NewView(f, time.Hour)
	v.Initial(t0)
	b.ReportAllocs()
	for b.Loop() {
		f.Set(s)
		v.Update(t0)
	}
}

// BenchmarkInitialUDP200 is full state for a UDP-only subscriber of a
// 200-caller room whose rendering is not cached yet: render and split into
// UDPBudget documents.
func BenchmarkInitialUDP200(b *testing.B) {
	s := room(200)
	b.ReportAllocs()
	for b.Loop() {
		v := NewView(NewFeed(renderer, s), time.Second)
		v.SetBudget(UDPBudget)
		v.Initial(t0)
	}
}
