package focus

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"cusax.dev/bridge/fdlimit"
	"cusax.dev/bridge/metrics"
)

// Defaults of the SIP TCP limits (Config.TCPMaxPerSource, TCPIdleTimeout).
const (
	DefaultTCPMaxPerSource = 32
	DefaultTCPIdleTimeout  = 5 * time.Minute
	// acceptBackoffMin and acceptBackoffMax bound the pause after a failed
	// accept (EMFILE, ENFILE, ENOBUFS, ECONNABORTED …) before the next try;
	// the pending connection waits in the kernel's backlog meanwhile.
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// tcpGuard is the SIP TCP listener the focus hands to sipgo (ServeTCP):
// sipgo returns from its accept loop on the first error, which would end
// the whole focus when descriptors run out. The guard never returns an
// accept error but net.ErrClosed: every other one is counted, logged and
// retried after a growing pause. It also closes at once connections over
// the per-source or the total limit, and gives every accepted connection
// an idle timeout (a read that waits longer fails, and sipgo closes the
// connection).
type tcpGuard struct {
	net.Listener
	perSource int
	total     int // 0: no total limit
	idle      time.Duration
	log       *slog.Logger
	m         *metrics.Metrics

	mu       sync.Mutex
	bySource map[netip.Addr]int
	open     int

	done      chan struct{}
	closeOnce sync.Once
}

func newTCPGuard(ln net.Listener, perSource, total int, idle time.Duration, log *slog.Logger, m *metrics.Metrics) *tcpGuard {
	return &tcpGuard{Listener: ln, perSource: perSource, total: total, idle: idle, log: log, m: m,
		bySource: map[netip.Addr]int{}, done: make(chan struct{})}
}

// Accept returns the next connection within the limits; its only error is
// net.ErrClosed (wrapped as the listener returns it) once Close was called.
func (g *tcpGuard) Accept() (net.Conn, error) {
	backoff := acceptBackoffMin
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			select {
			case <-g.done:
				return nil, err
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			if g.m != nil {
				g.m.Security.AcceptErrors.Inc()
			}
			g.log.Warn("SIP TCP accept failed; retrying", "err", err, "after", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-g.done:
				t.Stop()
				return nil, net.ErrClosed
			case <-t.C:
			}
			backoff = min(backoff*2, acceptBackoffMax)
			continue
		}
		backoff = acceptBackoffMin
		if gc := g.admit(c); gc != nil {
			return gc, nil
		}
	}
}

// admit counts c against the limits and wraps it, or closes it and
// returns nil.
func (g *tcpGuard) admit(c net.Conn) net.Conn {
	var src netip.Addr
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		src = ta.AddrPort().Addr().Unmap()
	}
	g.mu.Lock()
	reason := ""
	switch {
	case g.total > 0 && g.open >= g.total:
		reason = metrics.RefuseTCPTotal
	case g.perSource > 0 && g.bySource[src] >= g.perSource:
		reason = metrics.RefuseTCPPerSource
	default:
		g.open++
		g.bySource[src]++
	}
	open := g.open
	g.mu.Unlock()
	if reason != "" {
		_ = c.Close()
		g.m.Refuse(reason)
		g.log.Debug("SIP TCP connection refused", "source", c.RemoteAddr(), "reason", reason, "open", open)
		return nil
	}
	if g.m != nil {
		g.m.Security.TCPConnections.Inc()
	}
	return &guardedConn{Conn: c, g: g, src: src}
}

// release returns a connection's place.
func (g *tcpGuard) release(src netip.Addr) {
	g.mu.Lock()
	g.open--
	if g.bySource[src]--; g.bySource[src] <= 0 {
		delete(g.bySource, src)
	}
	g.mu.Unlock()
	if g.m != nil {
		g.m.Security.TCPConnections.Dec()
	}
}

// Open returns the number of accepted connections still open.
func (g *tcpGuard) Open() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}

// Close closes the listener; a pending Accept returns.
func (g *tcpGuard) Close() error {
	g.closeOnce.Do(func() { close(g.done) })
	return g.Listener.Close()
}

// guardedConn is an accepted connection: each Read may wait at most the
// idle timeout, and Close gives its place back once.
type guardedConn struct {
	net.Conn
	g    *tcpGuard
	src  netip.Addr
	once sync.Once
}

func (c *guardedConn) Read(b []byte) (int, error) {
	if c.g.idle > 0 {
		if err := c.Conn.SetReadDeadline(time.Now().Add(c.g.idle)); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(b)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.g.m.Refuse(metrics.RefuseTCPIdle)
		c.g.log.Debug("SIP TCP connection idle; closing", "source", c.RemoteAddr(), "idle", c.g.idle)
		// sipgo logs a read error and closes; make it an ordinary close.
		_ = c.Close()
		return n, net.ErrClosed
	}
	return n, err
}

func (c *guardedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.g.release(c.src) })
	return err
}

// lowOnDescriptors reports whether fewer than FDReserve descriptors (plus
// the RTP/RTCP pair a call takes) are left below RLIMIT_NOFILE.
func (f *Focus) lowOnDescriptors() bool {
	if f.cfg.FDReserve < 0 {
		return false
	}
	h := fdlimit.Headroom()
	return h >= 0 && h < f.cfg.FDReserve+2
}
