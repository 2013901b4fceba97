package xmppserver

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// failLimiter counts failed logins per key (account, source address) in a
// fixed window and says when a key has had too many. The table is bounded:
// when full, expired entries go first, then the oldest.
type failLimiter struct {
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

func newFailLimiter(max int, window time.Duration, capacity int) *failLimiter {
	return &failLimiter{max: max, window: window, cap: capacity, now: time.Now, m: map[string]*failEntry{}}
}

// blocked reports whether key has reached the limit in the current window.
func (l *failLimiter) blocked(key string) bool {
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

// fail records one failure for key.
func (l *failLimiter) fail(key string) {
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

func (l *failLimiter) evict(now time.Time) {
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

// size returns the number of keys tracked (tests).
func (l *failLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// connLimiter bounds connections in total and per source address.
type connLimiter struct {
	mu        sync.Mutex
	total     int
	perSource map[string]int
	maxTotal  int
	maxSource int
}

func newConnLimiter(maxTotal, maxSource int) *connLimiter {
	return &connLimiter{perSource: map[string]int{}, maxTotal: maxTotal, maxSource: maxSource}
}

// acquire takes a slot for src; false when a limit is reached.
func (l *connLimiter) acquire(src string) (ok bool, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.maxTotal {
		return false, "total"
	}
	if l.perSource[src] >= l.maxSource {
		return false, "per_source"
	}
	l.total++
	l.perSource[src]++
	return true, ""
}

func (l *connLimiter) release(src string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.perSource[src]--; l.perSource[src] <= 0 {
		delete(l.perSource, src)
	}
}

// limitConn is the server's view of a client connection: it bounds the
// bytes read for one stanza (the read loop resets the budget after each),
// and it bounds every write with its own deadline while ignoring the write
// deadlines mellium sets (see muc.writeConn for why).
type limitConn struct {
	net.Conn
	budget       atomic.Int64
	writeTimeout time.Duration
}

var errStanzaTooBig = &net.OpError{Op: "read", Err: errTooBig{}}

type errTooBig struct{}

func (errTooBig) Error() string { return "stanza exceeds the size limit" }

func (c *limitConn) Read(b []byte) (int, error) {
	left := c.budget.Load()
	if left <= 0 {
		return 0, errStanzaTooBig
	}
	if int64(len(b)) > left {
		b = b[:left]
	}
	n, err := c.Conn.Read(b)
	c.budget.Add(-int64(n))
	return n, err
}

func (c *limitConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// SetDeadline sets the read deadline only.
func (c *limitConn) SetDeadline(t time.Time) error { return c.Conn.SetReadDeadline(t) }

// SetWriteDeadline is ignored: Write sets its own.
func (c *limitConn) SetWriteDeadline(time.Time) error { return nil }
