package muc

import (
	"strings"
	"sync"
)

// Bounds of the stanzas waiting for a handler.
const (
	maxRoomQueue = 256  // per room
	maxQueued    = 4096 // in all
)

// workers runs the stanza handlers off the session's read loop: one
// goroutine per room that has stanzas waiting, handling that room's stanzas
// in arrival order. Handlers may block (the store, waiting for the renderer
// before an IQ result), but the read loop only queues, so it keeps reading,
// and the answers to the service's own pings are taken as they arrive.
// Stanzas to different rooms are handled concurrently; those to the service
// itself share one queue.
type workers struct {
	run func(*node)

	mu     sync.Mutex
	queues map[string][]*node // a key is present while its worker runs
	queued int
	closed bool
	wg     sync.WaitGroup
}

func newWorkers(run func(*node)) *workers {
	return &workers{run: run, queues: map[string][]*node{}}
}

// submit queues n for its room's worker, starting one if needed. It
// reports false when n was not queued: too many stanzas are waiting, or the
// workers are closed.
func (w *workers) submit(n *node) bool {
	key := queueKey(n.attr("to"))
	w.mu.Lock()
	defer w.mu.Unlock()
	q, running := w.queues[key]
	if w.closed || w.queued >= maxQueued || len(q) >= maxRoomQueue {
		return false
	}
	w.queues[key] = append(q, n)
	w.queued++
	if !running {
		w.wg.Add(1)
		go w.work(key)
	}
	return true
}

// work handles key's stanzas until its queue is empty.
func (w *workers) work(key string) {
	defer w.wg.Done()
	for {
		w.mu.Lock()
		q := w.queues[key]
		if len(q) == 0 {
			delete(w.queues, key)
			w.mu.Unlock()
			return
		}
		n := q[0]
		q[0] = nil
		w.queues[key] = q[1:]
		w.mu.Unlock()
		w.run(n)
		w.mu.Lock()
		w.queued--
		w.mu.Unlock()
	}
}

// close refuses further stanzas and waits until the queued ones are handled.
func (w *workers) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.wg.Wait()
}

// queueKey is the room a stanza's 'to' names (its localpart, folded as room
// names are), or "" for the service itself. It only orders stanzas: the
// handler parses the address properly.
func queueKey(to string) string {
	at := strings.IndexByte(to, '@')
	if at < 0 {
		return ""
	}
	if slash := strings.IndexByte(to, '/'); slash >= 0 && slash < at {
		return ""
	}
	return strings.ToLower(to[:at])
}
