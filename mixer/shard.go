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
// a room is mixed by exactly one goroutine, so its scratch and its legs'
// mix slots stay single-owner and the mix-minus is unchanged.
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

// mixShare mixes rooms of the current tick until none is left.
func (e *Engine) mixShare(m *mixer) {
	m.now, m.sent, m.rxIn, m.rxDrop = e.tickAt, 0, 0, 0
	rooms := e.tickRooms
	for {
		i := int(e.nextRoom.Add(1)) - 1
		if i >= len(rooms) {
			return
		}
		r := rooms[i]
		legs := *r.live.Load()
		if e.tickSkipped > 0 {
			m.skip(legs, e.tickSkipped)
		}
		m.mixRoom(r, legs)
	}
}

// tick mixes every room once, spread over the workers when there are any
// and more than one room.
func (e *Engine) tick(now time.Time, skipped int) {
	rooms := *e.snapshot.Load()
	e.tickAt, e.tickSkipped, e.tickRooms = now, skipped, rooms
	e.nextRoom.Store(0)
	helpers := 0
	if len(rooms) > 1 {
		helpers = min(len(e.workers), len(rooms)-1)
	}
	for _, w := range e.workers[:helpers] {
		w.start <- struct{}{} // publishes the tick's fields to the worker
	}
	e.mixShare(&e.mix)
	sent, in, dropped := e.mix.sent, e.mix.rxIn, e.mix.rxDrop
	for range helpers {
		<-e.workDone
	}
	for _, w := range e.workers[:helpers] {
		sent, in, dropped = sent+w.mix.sent, in+w.mix.rxIn, dropped+w.mix.rxDrop
	}
	e.tickRooms = nil
	add(e.m.out, sent)
	add(e.m.in, in)
	add(e.m.dropped, dropped)
}
