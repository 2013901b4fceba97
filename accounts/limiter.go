package accounts

import (
	"sync"
	"time"
)

// FailLimiter counts failed logins (or any event) per key (account, source
// address) in a fixed window and says when a key has had too many. It is
// safe for concurrent use. The table is bounded:
// when full, expired entries go first, then the oldest.
type FailLimiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	cap    int
	now    func() time.Time
	m      map[string]*failEntry
}

type failEntry struct {
	n     int
	start time.Time
}

// NewFailLimiter allows max events per key per window, tracking at most
// capacity keys.
func NewFailLimiter(max int, window time.Duration, capacity int) *FailLimiter {
	return &FailLimiter{max: max, window: window, cap: capacity, now: time.Now, m: map[string]*failEntry{}}
}

// Blocked reports whether key has reached the limit in the current window.
func (l *FailLimiter) Blocked(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[key]
	if e == nil {
		return false
	}
	if l.now().Sub(e.start) > l.window {
		delete(l.m, key)
		return false
	}
	return e.n >= l.max
}

// Fail records one failure for key.
func (l *FailLimiter) Fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.m[key]
	if e != nil && now.Sub(e.start) > l.window {
		e = nil
	}
	if e == nil {
		if len(l.m) >= l.cap {
			l.evict(now)
		}
		e = &failEntry{start: now}
		l.m[key] = e
	}
	e.n++
}

func (l *FailLimiter) evict(now time.Time) {
	var oldestK string
	var oldest time.Time
	for k, e := range l.m {
		if now.Sub(e.start) > l.window {
			delete(l.m, k)
			continue
		}
		if oldestK == "" || e.start.Before(oldest) {
			oldestK, oldest = k, e.start
		}
	}
	if len(l.m) >= l.cap && oldestK != "" {
		delete(l.m, oldestK)
	}
}

// Len returns the number of keys tracked.
func (l *FailLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
