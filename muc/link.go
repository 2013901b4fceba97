package muc

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/component"
)

// Conn is the room service's connection to the XMPP network: what it sends
// stanzas and IQ requests on. In component mode it is the XEP-0114
// *xmpp.Session; in embedded mode it is the in-process link of the bridge's
// own XMPP server (RunLocal). Both carry whole stanzas as token streams.
type Conn interface {
	// Send writes the first element read from r.
	Send(ctx context.Context, r xml.TokenReader) error
	// SendIQ writes the IQ read from r and returns its response.
	SendIQ(ctx context.Context, r xml.TokenReader) (xmlstream.TokenReadCloser, error)
}

var _ Conn = (*xmpp.Session)(nil)

// link holds the current connection, if any; conn is the network
// connection under a component session (nil for a local link).
type link struct {
	mu   sync.Mutex
	sess Conn
	conn net.Conn
}

var errLinkDown = errors.New("muc: component link is down")

func (l *link) set(s Conn, c net.Conn) {
	l.mu.Lock()
	l.sess, l.conn = s, c
	l.mu.Unlock()
}

func (l *link) get() (Conn, net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sess, l.conn
}

// send writes n on the current session. The connection bounds each write
// (writeConn); the context given to mellium is never cancelled, see
// writeConn. A failed write leaves mellium's encoder broken for good, so it
// closes the connection: the session ends and the link reconnects.
func (l *link) send(n *node) error {
	sess, conn := l.get()
	if sess == nil {
		return errLinkDown
	}
	err := sess.Send(context.Background(), n.tokenReader())
	if err != nil && conn != nil {
		_ = conn.Close()
	}
	return err
}

// writeConn bounds every write on the component connection with its own
// deadline and ignores the write deadlines mellium sets. Mellium (v0.22)
// arms a goroutine per Send that sets the write deadline to the distant past
// when the call's context ends; if that goroutine runs only after the call
// has returned (likely, as callers cancel their context right then), it
// lands on a later write, which fails with a timeout, and the session's
// buffered encoder keeps failing from then on. Read deadlines pass through.
type writeConn struct {
	net.Conn
	timeout time.Duration
}

func (c writeConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// SetDeadline sets the read deadline only.
func (c writeConn) SetDeadline(t time.Time) error { return c.Conn.SetReadDeadline(t) }

// SetWriteDeadline is ignored: Write sets its own.
func (c writeConn) SetWriteDeadline(time.Time) error { return nil }

// backoff returns the delay before reconnect attempt n (0-based): min·2ⁿ
// capped at max, jittered down by up to half.
func backoff(min, max time.Duration, n int) time.Duration {
	d := min
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + rand.N(half+1)
}

// connectLoop keeps the link up until ctx ends.
func (s *Service) connectLoop(ctx context.Context, rendered <-chan struct{}) {
	attempt := 0
	for ctx.Err() == nil {
		up, err := s.connectOnce(ctx, rendered)
		if ctx.Err() != nil {
			return
		}
		if up {
			attempt = 0
		}
		d := backoff(s.cfg.MinBackoff, s.cfg.MaxBackoff, attempt)
		// The first failure is a warning; while the server stays away the
		// retries are logged at debug, with a reminder every 30 attempts
		// (about a minute), so a bridge run without XMPP does not flood
		// its log.
		level := slog.LevelDebug
		if attempt%30 == 0 {
			level = slog.LevelWarn
		}
		attempt++
		s.log.Log(ctx, level, "xmpp component link down", "server", s.cfg.Server, "err", err, "attempt", attempt, "retry_in", d)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// connectOnce dials, handshakes and serves one session. up reports whether
// the handshake succeeded.
func (s *Service) connectOnce(ctx context.Context, rendered <-chan struct{}) (up bool, err error) {
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(dctx, "tcp", s.cfg.Server)
	if err != nil {
		return false, fmt.Errorf("dial %s: %w", s.cfg.Server, err)
	}
	conn := writeConn{Conn: raw, timeout: s.cfg.WriteTimeout}
	sess, err := component.NewSession(dctx, s.domain, []byte(s.cfg.Secret), conn)
	if err != nil {
		_ = conn.Close()
		return false, fmt.Errorf("component handshake with %s as %s: %w", s.cfg.Server, s.domain, err)
	}
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	s.link.set(sess, conn)
	s.setConnected(true)
	s.log.Info("xmpp component connected", "server", s.cfg.Server, "domain", s.domain.String())

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.maintain(sctx, sess)
	}()
	stop := context.AfterFunc(ctx, func() {
		// Let the renderer flush the last events (e.g. shutdown presence).
		select {
		case <-rendered:
		case <-time.After(drainTimeout + time.Second):
		}
		_ = sess.Close()
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	})
	// One handler for whole stanzas: mux.Handle refuses stanza names and
	// mux's own routing calls message and presence handlers once per child.
	err = sess.Serve(s.handler())
	stop()
	s.setConnected(false)
	s.link.set(nil, nil)
	scancel()
	wg.Wait()
	_ = conn.Close()
	if err == nil {
		err = errors.New("stream closed by server")
	}
	return true, err
}

func (s *Service) setConnected(up bool) {
	s.connected.Store(up)
	if s.m != nil {
		v := 0.0
		if up {
			v = 1
		}
		s.m.XMPPConnected.Set(v)
	}
}

// handler returns the whole-stanza handler for the session. It reads the
// stanza and queues it for its room's worker, so the read loop never waits
// for a handler. It never returns an error, so one bad stanza never closes
// the stream.
func (s *Service) handler() xmpp.Handler {
	return xmpp.HandlerFunc(func(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		if start.Name.Space != component.NSAccept {
			return nil // not a stanza (nothing else is expected after the handshake)
		}
		s.accept(t, *start)
		return nil
	})
}

// accept reads the stanza opened by start and queues it for its room's
// worker: the seam where the component session and the embedded server's
// link both hand stanzas in.
func (s *Service) accept(r xml.TokenReader, start xml.StartElement) {
	if start.Name.Local != "presence" && start.Name.Local != "message" && start.Name.Local != "iq" {
		return
	}
	n, err := readNode(r, start)
	if err != nil {
		s.log.Info("unreadable stanza", "kind", start.Name.Local, "err", err)
		return
	}
	w := s.work.Load()
	if w == nil {
		return
	}
	if !w.submit(n) {
		s.overloaded(n)
	}
}

// overloaded answers a stanza that could not be queued: a request gets
// resource-constraint (retry later); anything else is dropped.
func (s *Service) overloaded(n *node) {
	s.log.Info("stanza dropped: too many waiting", "kind", n.Name.Local, "from", n.attr("from"), "to", n.attr("to"))
	st, err := newStanza(n)
	if err != nil || st.typ == "error" || st.typ == "result" || (st.kind == "presence" && st.typ != "") {
		return
	}
	s.send(errorReply(st, condResourceLimit, "too many requests waiting; try again later", ""))
}
