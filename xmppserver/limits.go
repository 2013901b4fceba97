package xmppserver

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

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
