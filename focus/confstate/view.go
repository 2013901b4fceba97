package confstate

import (
	"sync"
	"time"

	"cusax.dev/bridge/confinfo"
)

// View is one subscription's side of the conference event package: it
// numbers the documents (RFC 4575 §4.3: version scoped to the subscription,
// +1 per partial), turns changes of its Feed into partial documents,
// throttles them to at most one batch per minimum interval, and cuts them to
// the subscription's byte budget.
//
// The design is "diff against what was sent": the View remembers the full
// rendering the subscriber holds once it has applied everything handed out
// so far, and when it is time to send it hands out confinfo.Diff(held,
// current), numbered last+1. Changes made during a throttle window therefore
// merge into one partial by construction, and a change undone within the
// window sends nothing.
//
// Throttling: a change arriving when the window is over is sent at once
// (leading edge); later ones wait until the window is over. Windows end on a
// grid of multiples of the interval (in Unix time) rather than exactly one
// interval after the last send, so the Views of one conference flush
// together and share the Feed's rendering and diff; the price is that a
// throttled change may wait up to two intervals instead of one.
//
// Every method returns the documents to send, in order, each as the body of
// its own NOTIFY, with consecutive versions continuing the previous call's.
// The caller must send them in that order and not interleave two calls'
// results. The documents share structure with the Feed and other Views:
// treat them as read-only (marshal them, do not modify them). A View is safe
// for concurrent use, but ordering the sends is the caller's job, so the
// focus normally drives each View from one goroutine (events and the flush
// timer alike).
type View struct {
	f        *Feed
	interval time.Duration

	mu      sync.Mutex
	budget  int
	started bool
	version uint32             // version of the last document handed out
	held    *confinfo.Document // rendering the subscriber holds
	gen     uint64             // feed generation held renders (or was found equal to)
	last    time.Time          // when documents were last handed out
}

// NewView returns the view of a new subscription to f's conference, sending
// at most one batch of partial documents per minInterval (0: no
// throttling). The budget starts unlimited (see SetBudget).
func NewView(f *Feed, minInterval time.Duration) *View {
	return &View{f: f, interval: max(minInterval, 0)}
}

// SetBudget sets the largest body, in bytes, of the documents the view hands
// out from now on (see Split); 0 or less means unlimited. The focus sets
// UDPBudget (or a value computed from its real header size) for a subscriber
// it can reach only over UDP, and 0 when it sends over TCP or TLS.
func (v *View) SetBudget(bytes int) {
	v.mu.Lock()
	v.budget = max(bytes, 0)
	v.mu.Unlock()
}

// Version returns the version of the last document handed out (0 before
// Initial).
func (v *View) Version() uint32 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.version
}

// Pending reports whether the feed changed since the subscriber was last
// brought up to date (a later Update may have something to send).
func (v *View) Pending() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.started && v.f.generation() != v.gen
}

// Initial returns the body (or, over budget, the bodies) of the NOTIFY that
// answers the SUBSCRIBE: full state (RFC 4575 §3.2), version 1. A second
// call acts as Refresh. now starts the throttle window.
func (v *View) Initial(now time.Time) []*confinfo.Document {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.fullState(now)
}

// Refresh returns full state for the NOTIFY that answers a refreshing
// SUBSCRIBE, or for resynchronising a subscriber after a failed NOTIFY. It
// always takes a new version (last+1; RFC 4575 §4.3 lets a full document take
// any higher version), so a subscriber that saw a gap accepts it. Changes
// not sent yet are included.
func (v *View) Refresh(now time.Time) []*confinfo.Document {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.fullState(now)
}

// Resync is Refresh for documents that never reached the subscriber: the
// NOTIFYs carrying versions lost and later were not delivered (a
// connection that could not be made), so full state is handed out from
// version lost on, and the subscriber sees no gap. A lost that was never
// handed out (0, or beyond the last version + 1) acts as Refresh.
func (v *View) Resync(now time.Time, lost uint32) []*confinfo.Document {
	v.mu.Lock()
	defer v.mu.Unlock()
	if lost > 0 && lost <= v.version+1 {
		v.version = lost - 1
	}
	return v.fullState(now)
}

func (v *View) fullState(now time.Time) []*confinfo.Document {
	cur, gen, parts := v.f.fullState(v.budget)
	v.held, v.gen = cur, gen
	return v.handOut(now, parts)
}

// Update returns the partial document(s) to send now, if the feed changed
// since the subscriber was last brought up to date and the throttle window
// is over. While the window is open it returns nil and the time at which to
// call Update again (the changes are kept and will be merged with later
// ones). It returns nil and the zero time when there is nothing to send: no
// change, a change invisible in the document, or no Initial yet.
//
// The focus calls it after Feed.Set (for every View of that conference) and
// when the timer it armed for a returned time fires. Called early, it
// returns the same time again; a caller that already has a timer for that
// time need not arm another.
func (v *View) Update(now time.Time) ([]*confinfo.Document, time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.update(now, false)
}

// Final returns the body for the NOTIFY that terminates the subscription
// while the conference goes on (unsubscribe with Expires: 0, expiry, the
// subscriber ejected): the changes not sent yet, ignoring the throttle, or,
// when there are none, a partial document carrying only conference-state so
// that the terminating NOTIFY still has a body. Before Initial it returns
// full state.
func (v *View) Final(now time.Time) []*confinfo.Document {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.started {
		return v.fullState(now)
	}
	if docs, _ := v.update(now, true); docs != nil {
		return docs
	}
	return v.handOut(now, []*confinfo.Document{{
		Entity: v.held.Entity, State: confinfo.StatePartial,
		ConferenceState: v.held.ConferenceState,
	}})
}

// Ended returns the body for the NOTIFY that terminates the subscription
// because the conference ended (Subscription-State: terminated;
// reason=noresource, RFC 4575 §3.3): a root state="deleted" document, which
// makes a subscriber clear its view (§4.6).
func (v *View) Ended(now time.Time) *confinfo.Document {
	v.mu.Lock()
	defer v.mu.Unlock()
	conf := v.f.ConferenceURI()
	if v.held != nil {
		conf = v.held.Entity
	}
	return v.handOut(now, []*confinfo.Document{{Entity: conf, State: confinfo.StateDeleted}})[0]
}

// update sends the difference between what the subscriber holds and the
// feed's current state, when the feed changed and the window is over (or
// force).
func (v *View) update(now time.Time, force bool) ([]*confinfo.Document, time.Time) {
	if !v.started || v.f.generation() == v.gen {
		return nil, time.Time{}
	}
	if due := v.due(); !force && now.Before(due) {
		return nil, due
	}
	cur, gen, parts := v.f.since(v.held, v.budget)
	v.held, v.gen = cur, gen
	if len(parts) == 0 {
		return nil, time.Time{}
	}
	return v.handOut(now, parts), time.Time{}
}

// due is the end of the throttle window: one interval after the last send,
// rounded up to the interval grid.
func (v *View) due() time.Time {
	if v.interval <= 0 {
		return v.last
	}
	t := v.last.Add(v.interval)
	r := time.Duration(t.UnixNano() % int64(v.interval))
	if r < 0 {
		r += v.interval
	}
	if r != 0 {
		t = t.Add(v.interval - r)
	}
	return t
}

// handOut numbers parts (versions counted from 0) after the last version,
// as fresh root copies, and starts a new window.
func (v *View) handOut(now time.Time, parts []*confinfo.Document) []*confinfo.Document {
	out := make([]*confinfo.Document, len(parts))
	for i, p := range parts {
		d := *p
		v.version++
		d.Version = v.version
		out[i] = &d
	}
	v.started, v.last = true, now
	return out
}
