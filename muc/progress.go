package muc

import (
	"context"
	"sync"
)

// renderProgress records the sequence number of the last core event the
// renderer has turned into stanzas and handed to the link, so that a request
// handler can hold its answer until the room has shown the request's effect
// (XEP-0045 §8.2, §9.1: presences to the occupants, then the IQ result).
// The zero value is an inactive tracker: waits return at once.
type renderProgress struct {
	mu     sync.Mutex
	seq    uint64
	active bool
	wake   chan struct{} // closed and replaced whenever seq or active changes
}

func (p *renderProgress) changedLocked() {
	if p.wake != nil {
		close(p.wake)
	}
	p.wake = make(chan struct{})
}

// reset starts tracking from seq (every event up to it counts as rendered).
func (p *renderProgress) reset(seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq, p.active = seq, true
	p.changedLocked()
}

// advance records that the event numbered seq has been rendered.
func (p *renderProgress) advance(seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if seq > p.seq {
		p.seq = seq
		p.changedLocked()
	}
}

// stop marks the renderer gone; waiters are released.
func (p *renderProgress) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active = false
	p.changedLocked()
}

// wait blocks until the event numbered seq has been rendered, the renderer
// is not running, or ctx ends; it reports false only in the last case.
func (p *renderProgress) wait(ctx context.Context, seq uint64) bool {
	for {
		p.mu.Lock()
		if !p.active || p.seq >= seq {
			p.mu.Unlock()
			return true
		}
		if p.wake == nil {
			p.wake = make(chan struct{})
		}
		w := p.wake
		p.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return false
		}
	}
}

// rendered reports the last rendered sequence number.
func (p *renderProgress) rendered() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seq
}

// sendAfterRendered sends n (an IQ result) once the renderer has rendered
// every event the core had emitted when it was called, so that the presences
// an admin or owner action caused reach the occupants, the requester
// included, before the answer to the request. The handler blocks meanwhile,
// which also keeps the requester's later stanzas behind the answer. If ctx
// ends first, n is sent anyway: a late order is better than no answer.
func (s *Service) sendAfterRendered(ctx context.Context, n *node) {
	if !s.progress.wait(ctx, s.reg.Seq()) {
		s.log.Warn("answering before the room rendered the action", "to", n.attr("to"), "id", n.attr("id"))
	}
	s.send(n)
}
