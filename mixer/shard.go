package mixer

import (
	"runtime"
	"time"
)

// tickWorker mixes a share of the rooms of each tick on its own goroutine,
// with its own copy of the per-tick mixing state. The clock stays one
// goroutine with absolute deadlines: it hands every tick to the workers,
// takes a share itself and waits for theirs before the next, so that a
// tick's rooms are spread over GOMAXPROCS cores. Rooms are taken one at a
// time from a shared counter (large and small rooms balance themselves);
// a room is prepared (pull, gate, sum) by exactly one goroutine. A room of
// splitAt legs or more then has its fan-out split in a second phase:
// after the shared encodings are made (prepShared), chunks of its legs go
// to all workers, each leg's mix slot still touched by one goroutine only.
// The mix-minus is unchanged.
type tickWorker struct {
	mix   mixer
	start chan struct{}
}

// startWorkers starts GOMAXPROCS-1 tick workers and returns the function
// that stops them. With one P there are none and the clock mixes alone.
func (e *Engine) startWorkers() (stop func()) {
	n := runtime.GOMAXPROCS(0) - 1
	if n <= 0 {
		return func() {}
	}
	quit := make(chan struct{})
	e.workers = make([]*tickWorker, n)
	e.workDone = make(chan struct{}, n)
	done := make(chan struct{}, n)
	for i := range e.workers {
		w := &tickWorker{mix: e.mix, start: make(chan struct{}, 1)}
		w.mix.out = [2]sendBatch{} // its own send batches
		e.workers[i] = w
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-quit:
					return
				case <-w.start:
					e.mixShare(&w.mix)
					e.workDone <- struct{}{}
				}
			}
		}()
	}
	return func() {
		close(quit)
		for range n {
			<-done
		}
		e.workers = nil
	}
}

// A room with at least splitAt legs has its fan-out (mix-minus, encoding,
// sending) split into chunks of fanChunk legs that all workers take, so
// that one very large room uses every core too.
const (
	splitAt  = 128
	fanChunk = 64
)

// chunk is part of a large room's fan-out.
type chunk struct {
	r    *room
	legs []*Leg
}

// mixShare does the current phase's work items until none is left: rooms
// (phase 0; a large room only prepared, its fan-out deferred), or the
// chunks of the large rooms' fan-outs (phase 1).
func (e *Engine) mixShare(m *mixer) {
	m.now, m.sent, m.rxIn, m.rxDrop, m.rxStranger = e.tickAt, 0, 0, 0, 0
	defer m.flush() // shared mode's batched sends
	if e.tickPhase == 1 {
		for {
			i := int(e.nextItem.Add(1)) - 1
			if i >= len(e.chunks) {
				return
			}
			c := e.chunks[i]
			m.fanOut(c.r, c.legs, true)
		}
	}
	rooms := e.tickRooms
	split := len(e.workers) > 0
	for {
		i := int(e.nextItem.Add(1)) - 1
		if i >= len(rooms) {
			return
		}
		r := rooms[i]
		legs := *r.live.Load()
		if e.tickSkipped > 0 {
			m.skip(legs, e.tickSkipped)
		}
		r.tickLegs, r.deferred = legs, split && len(legs) >= splitAt
		if r.deferred {
			m.prepRoom(r, legs)
			m.prepShared(r, legs)
			continue
		}
		m.mixRoom(r, legs)
	}
}

// phase runs the current phase on the clock and up to items-1 workers and
// returns the packets sent, received, dropped and refused for their source
// that it counted.
func (e *Engine) phase(items int) (sent, in, dropped, strangers int) {
	e.nextItem.Store(0)
	helpers := 0
	if items > 1 {
		helpers = min(len(e.workers), items-1)
	}
	for _, w := range e.workers[:helpers] {
		w.start <- struct{}{} // publishes the tick's fields to the worker
	}
	e.mixShare(&e.mix)
	sent, in, dropped, strangers = e.mix.sent, e.mix.rxIn, e.mix.rxDrop, e.mix.rxStranger
	for range helpers {
		<-e.workDone
	}
	for _, w := range e.workers[:helpers] {
		sent, in, dropped = sent+w.mix.sent, in+w.mix.rxIn, dropped+w.mix.rxDrop
		strangers += w.mix.rxStranger
	}
	return sent, in, dropped, strangers
}

// tick mixes every room once, spread over the workers when there are any:
// rooms first, then the fan-out chunks of the large ones.
func (e *Engine) tick(now time.Time, skipped int) {
	rooms := *e.snapshot.Load()
	e.tickAt, e.tickSkipped, e.tickRooms, e.tickPhase = now, skipped, rooms, 0
	sent, in, dropped, strangers := e.phase(len(rooms))
	e.chunks = e.chunks[:0]
	for _, r := range rooms {
		if !r.deferred {
			continue
		}
		for lo := 0; lo < len(r.tickLegs); lo += fanChunk {
			e.chunks = append(e.chunks, chunk{r: r, legs: r.tickLegs[lo:min(lo+fanChunk, len(r.tickLegs))]})
		}
	}
	if len(e.chunks) > 0 {
		e.tickPhase = 1
		s, i, d, st := e.phase(len(e.chunks))
		sent, in, dropped, strangers = sent+s, in+i, dropped+d, strangers+st
	}
	for _, r := range rooms {
		r.tickLegs = nil
	}
	e.tickRooms = nil
	add(e.m.out, sent)
	add(e.m.in, in)
	add(e.m.dropped, dropped)
	add(e.m.stranger, strangers)
}
