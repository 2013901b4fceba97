package digest

import (
	"sync"
	"time"
)

// Defaults of ThrottleOptions.
const (
	DefaultFreeFailures = 3
	DefaultBaseDelay    = time.Second
	DefaultMaxDelay     = time.Minute
	DefaultForget       = 15 * time.Minute
	DefaultMaxKeys      = 4096
)

// ThrottleOptions configure a Throttle.
type ThrottleOptions struct {
	// FreeFailures is how many failures a key may have before it is
	// delayed at all. DefaultFreeFailures if 0; negative means none.
	FreeFailures int
	// BaseDelay is the delay after the first failure beyond FreeFailures;
	// every further failure doubles it, up to MaxDelay.
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// Forget drops a key's record after this long without a failure.
	Forget time.Duration
	// MaxKeys bounds the keys remembered; when full, the one whose last
	// failure is oldest is forgotten first.
	MaxKeys int
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// Throttle limits failed attempts per key (a digest user, a source
// address, a room): after FreeFailures failures each further failure locks
// the key for a growing delay (BaseDelay, doubled per failure, at most
// MaxDelay), during which Blocked says how long to wait. Attempts while
// locked are refused by the caller without being checked, so a guesser
// gets no verdict and no speed. It is safe for concurrent use and holds at
// most MaxKeys records.
type Throttle struct {
	free              int
	base, max, forget time.Duration
	maxKeys           int
	now               func() time.Time

	mu   sync.Mutex
	keys map[string]*strikes
}

type strikes struct {
	fails int
	last  time.Time // last failure
	until time.Time // locked until
}

// NewThrottle returns a Throttle with opts (zero values take the defaults).
func NewThrottle(opts ThrottleOptions) *Throttle {
	t := &Throttle{free: opts.FreeFailures, base: opts.BaseDelay, max: opts.MaxDelay, forget: opts.Forget,
		maxKeys: opts.MaxKeys, now: opts.Now, keys: map[string]*strikes{}}
	switch {
	case t.free == 0:
		t.free = DefaultFreeFailures
	case t.free < 0:
		t.free = 0
	}
	if t.base <= 0 {
		t.base = DefaultBaseDelay
	}
	if t.max <= 0 {
		t.max = DefaultMaxDelay
	}
	if t.max < t.base {
		t.max = t.base
	}
	if t.forget <= 0 {
		t.forget = DefaultForget
	}
	if t.maxKeys <= 0 {
		t.maxKeys = DefaultMaxKeys
	}
	if t.now == nil {
		t.now = time.Now
	}
	return t
}

// Blocked returns how long key must still wait before its next attempt is
// looked at; 0 when it may try now.
func (t *Throttle) Blocked(key string) time.Duration {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.keys[key]
	if s == nil {
		return 0
	}
	if now.Sub(s.last) > t.forget {
		delete(t.keys, key)
		return 0
	}
	if d := s.until.Sub(now); d > 0 {
		return d
	}
	return 0
}

// Fail records a failed attempt by key and returns the delay it now has
// to wait (0 while within FreeFailures).
func (t *Throttle) Fail(key string) time.Duration {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.keys[key]
	if s != nil && now.Sub(s.last) > t.forget {
		s = nil
	}
	if s == nil {
		if len(t.keys) >= t.maxKeys {
			t.evict(now)
		}
		s = &strikes{}
		t.keys[key] = s
	}
	s.fails++
	s.last = now
	over := s.fails - t.free
	if over <= 0 {
		return 0
	}
	d := t.base
	for i := 1; i < over && d < t.max; i++ {
		d *= 2
	}
	d = min(d, t.max)
	s.until = now.Add(d)
	return d
}

// Reset forgets key's failures (after a success).
func (t *Throttle) Reset(key string) {
	t.mu.Lock()
	delete(t.keys, key)
	t.mu.Unlock()
}

// Len returns how many keys are remembered.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys)
}

// evict forgets the records past Forget, and if none was, the one whose
// last failure is oldest. Called with t.mu held.
func (t *Throttle) evict(now time.Time) {
	var oldest string
	var at time.Time
	for k, s := range t.keys {
		if now.Sub(s.last) > t.forget {
			delete(t.keys, k)
			continue
		}
		if oldest == "" || s.last.Before(at) {
			oldest, at = k, s.last
		}
	}
	if len(t.keys) >= t.maxKeys && oldest != "" {
		delete(t.keys, oldest)
	}
}
