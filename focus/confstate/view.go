package confstate

import (
	"sync"
	"time"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/confinfo"
)

// View is one subscription's side of the conference event package: it
// numbers the documents (RFC 4575 §4.3: version scoped to the subscription,
// +1 per partial), turns conference changes into partial documents, throttles
// them to at most one batch per minimum interval, and cuts them to the
// subscription's byte budget.
//
// The design is "diff against what was sent": the View keeps the full
// document the subscriber holds once it has applied everything handed out so
// far, renders Full(snapshot) when it is time to send, and sends
// confinfo.Diff(held, now). Changes made during a throttle window therefore
// merge into one partial by construction, and a change undone within the
// window sends nothing.
//
// Every method returns the documents to send, in order, each as the body of
// its own NOTIFY; their versions are consecutive and continue the previous
// call's. The caller must send them in that order (and not interleave two
// calls' results). A View is safe for concurrent use, but ordering the sends
// is the caller's job, so the focus normally drives each View from one
// goroutine per subscription (events and the flush timer alike). The
// returned documents belong to the caller.
type View struct {
	mu       sync.Mutex
	r        Renderer
	interval time.Duration
	budget   int

	started bool
	version uint32             // version of the last document handed out
	held    *confinfo.Document // full state the subscriber holds
	last    time.Time          // when documents were last handed out
	pending bool               // a change arrived that is not sent yet
}

// NewView returns the view of a new subscription rendered by r, sending at
// most one batch of partial documents per minInterval (0: no throttling).
// The budget starts unlimited (see SetBudget).
func NewView(r Renderer, minInterval time.Duration) *View {
	return &View{r: r, interval: max(minInterval, 0)}
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

// Pending reports whether a change is waiting for the throttle window to
// end (a Flush is due).
func (v *View) Pending() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.pending
}

// Initial returns the body (or, over budget, the bodies) of the NOTIFY that
// answers the SUBSCRIBE: full state (RFC 4575 §3.2), version 1. A second
// call acts as Refresh. now starts the throttle window.
func (v *View) Initial(now time.Time, snap conference.Snapshot) []*confinfo.Document {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.full(now, snap)
}

// Refresh returns full state for the NOTIFY that answers a refreshing
// SUBSCRIBE, or for resynchronising a subscriber after a failed NOTIFY. It
// always takes a new version (last+1; RFC 4575 §4.3 allows a full document
// to take any higher version), so a subscriber that detected a gap accepts
// it. Pending changes are included.
func (v *View) Refresh(now time.Time, snap conference.Snapshot) []*confinfo.Document {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.full(now, snap)
}

func (v *View) full(now time.Time, snap conference.Snapshot) []*confinfo.Document {
	doc := v.r.Full(snap)
	v.held = doc
	send := doc.Clone()
	send.Version = v.version + 1
	return v.handOut(now, send)
}

// Update tells the view that the conference changed (an event for which
// Affects is true) and passes its current snapshot. It returns either the
// partial document(s) to send now, or nil and the time at which the caller
// must call Flush because the throttle window is still open (the change is
// remembered and will be merged with any later ones). It returns nil and the
// zero time when the change is invisible to the subscriber (Diff is empty)
// or before Initial.
//
// A caller that gets a flush time while a flush is already scheduled for
// that time need not schedule another.
func (v *View) Update(now time.Time, snap conference.Snapshot) ([]*confinfo.Document, time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.started {
		return nil, time.Time{}
	}
	v.pending = true
	return v.flush(now, snap, false)
}

// Flush is Update for the timer: it sends the changes remembered during the
// throttle window, if any, with the conference's current snapshot. Called
// early it returns nil and the (unchanged) time it is due; with nothing
// pending it returns nil and the zero time.
func (v *View) Flush(now time.Time, snap conference.Snapshot) ([]*confinfo.Document, time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.started {
		return nil, time.Time{}
	}
	return v.flush(now, snap, false)
}

// Final returns the body for the NOTIFY that terminates the subscription
// while the conference goes on (unsubscribe with Expires: 0, expiry, the
// subscriber ejected): the changes not sent yet, ignoring the throttle, or,
// when there are none, a partial document carrying only conference-state so
// that the terminating NOTIFY still has a body. Before Initial it returns
// full state.
func (v *View) Final(now time.Time, snap conference.Snapshot) []*confinfo.Document {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.started {
		return v.full(now, snap)
	}
	v.pending = true
	docs, _ := v.flush(now, snap, true)
	if docs != nil {
		return docs
	}
	return v.handOut(now, &confinfo.Document{
		Entity: v.held.Entity, State: confinfo.StatePartial, Version: v.version + 1,
		ConferenceState: v.held.ConferenceState.Clone(),
	})
}

// Ended returns the body for the NOTIFY that terminates the subscription
// because the conference ended (Subscription-State: terminated;
// reason=noresource, RFC 4575 §3.3): a root state="deleted" document, which
// makes a subscriber clear its view (§4.6). conf is the conference URI
// (Renderer.ConferenceURI); it is used only if Initial was never called.
func (v *View) Ended(now time.Time, conf string) *confinfo.Document {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.held != nil {
		conf = v.held.Entity
	}
	d := &confinfo.Document{Entity: conf, State: confinfo.StateDeleted, Version: v.version + 1}
	v.version = d.Version
	v.started, v.pending, v.last = true, false, now
	return d
}

// flush sends the difference between what the subscriber holds and the
// current state, when a change is pending and the window is over (or force).
func (v *View) flush(now time.Time, snap conference.Snapshot, force bool) ([]*confinfo.Document, time.Time) {
	if !v.pending {
		return nil, time.Time{}
	}
	if due := v.last.Add(v.interval); !force && v.interval > 0 && now.Before(due) {
		return nil, due
	}
	v.pending = false
	doc := v.r.Full(snap)
	diff := confinfo.Diff(v.held, doc)
	if diff == nil {
		return nil, time.Time{}
	}
	v.held = doc
	diff.Version = v.version + 1
	return v.handOut(now, diff), time.Time{}
}

// handOut splits d to the budget and advances the version and the window.
func (v *View) handOut(now time.Time, d *confinfo.Document) []*confinfo.Document {
	docs := Split(d, v.budget)
	v.version = docs[len(docs)-1].Version
	v.started, v.pending, v.last = true, false, now
	return docs
}
