package confstate

import (
	"sync"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/confinfo"
)

// Feed is one conference's published state, shared by the Views of all
// subscriptions to that conference. The focus keeps one Feed per conference
// that has subscribers and calls Set with a fresh snapshot whenever the core
// emits an event for which Affects is true; Views take what they need from
// it when they send.
//
// The Feed renders lazily (at most once per Set, when a View asks) and
// remembers, for the current rendering, the partial document from each
// earlier rendering a View still holds and its split per byte budget. Views
// that are in step, which the grid-aligned throttle of View makes the common
// case, therefore share one Full and one Diff per change instead of paying
// for them per subscriber. A Feed is safe for concurrent use.
type Feed struct {
	r Renderer

	mu     sync.Mutex
	snap   conference.Snapshot
	gen    uint64             // incremented by Set
	cur    *confinfo.Document // rendering of snap; nil until asked for
	curGen uint64             // generation cur renders
	deltas map[*confinfo.Document]*delta
	full   map[int][]*confinfo.Document // cur split per budget, versions from 0
}

// delta is the way from a held rendering to the current one.
type delta struct {
	doc   *confinfo.Document           // nil: no visible difference
	split map[int][]*confinfo.Document // by budget, versions from 0
}

// NewFeed returns the feed of the conference whose current state is snap.
func NewFeed(r Renderer, snap conference.Snapshot) *Feed {
	return &Feed{r: r, snap: snap, gen: 1}
}

// Set records the conference's new state. It is cheap: nothing is rendered
// until a View sends. The feed keeps snap; the caller must not modify it
// afterwards (conference.Registry.Snapshot returns a fresh copy each time).
func (f *Feed) Set(snap conference.Snapshot) {
	f.mu.Lock()
	f.snap = snap
	f.gen++
	f.mu.Unlock()
}

// Renderer returns the renderer the feed was made with.
func (f *Feed) Renderer() Renderer { return f.r }

// ConferenceURI returns the conference URI, the entity of every document.
func (f *Feed) ConferenceURI() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.r.ConferenceURI(f.snap.Name)
}

// Current returns the full document of the current state (Version 0). It is
// shared: treat it as read-only.
func (f *Feed) Current() *confinfo.Document {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.current()
}

func (f *Feed) current() *confinfo.Document {
	if f.cur == nil || f.curGen != f.gen {
		f.cur, f.curGen = f.r.Full(f.snap), f.gen
		f.deltas, f.full = nil, nil
	}
	return f.cur
}

// generation returns the number of the latest Set.
func (f *Feed) generation() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gen
}

// fullState returns the current rendering and its split for budget, with
// versions counted from 0.
func (f *Feed) fullState(budget int) (cur *confinfo.Document, gen uint64, parts []*confinfo.Document) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur = f.current()
	parts, ok := f.full[budget]
	if !ok {
		parts = Split(cur, budget) // cur has Version 0
		if f.full == nil {
			f.full = map[int][]*confinfo.Document{}
		}
		f.full[budget] = parts
	}
	return cur, f.gen, parts
}

// since returns the current rendering and the documents (versions from 0,
// split for budget) that take a subscriber holding held to it; none when
// there is no visible difference.
func (f *Feed) since(held *confinfo.Document, budget int) (cur *confinfo.Document, gen uint64, parts []*confinfo.Document) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur = f.current()
	if held == cur {
		return cur, f.gen, nil
	}
	d := f.deltas[held]
	if d == nil {
		d = &delta{doc: confinfo.Diff(held, cur)}
		if d.doc != nil {
			d.doc.Version = 0
		}
		if f.deltas == nil {
			f.deltas = map[*confinfo.Document]*delta{}
		}
		f.deltas[held] = d
	}
	if d.doc == nil {
		return cur, f.gen, nil
	}
	parts, ok := d.split[budget]
	if !ok {
		parts = Split(d.doc, budget)
		if d.split == nil {
			d.split = map[int][]*confinfo.Document{}
		}
		d.split[budget] = parts
	}
	return cur, f.gen, parts
}
