package xmppserver

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"cusax.dev/bridge/accounts"
	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/muc"
	"cusax.dev/bridge/store"
)

const testMUC = "conference.localhost"

// rig is a running Server on a loopback listener with a SQLite store and
// the muc room service attached in process.
type rig struct {
	t     testing.TB
	srv   *Server
	addr  string
	accts *accounts.Accounts
	st    *store.SQLite
	stop  func()
}

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newRig(t testing.TB, tune func(*Config)) *rig {
	t.Helper()
	dir := t.TempDir()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "b.db"), testLogger())
	if err != nil {
		t.Fatal(err)
	}
	a, err := accounts.New(accounts.Options{Store: st, Host: "localhost", SIPDomain: "localhost", Realm: "localhost", Iterations: 4096})
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := LoadCertificate("", "", dir, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Host: "localhost", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, AllowPlaintextLoopback: true,
		Accounts: a, Store: st, Logger: testLogger()}
	if tune != nil {
		tune(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := conference.NewRegistry(conference.Options{Store: store.NewMemory(), Logger: testLogger(), HistoryLength: -1})
	svc, err := muc.New(muc.Config{Domain: testMUC, SIPDomain: "localhost", Logger: testLogger(), PingInterval: -1}, reg)
	if err != nil {
		t.Fatal(err)
	}
	link := srv.AttachComponent(testMUC, svc)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = svc.RunLocal(ctx, link) }()
	go func() { defer wg.Done(); _ = srv.Serve(ctx, ln) }()
	r := &rig{t: t, srv: srv, addr: ln.Addr().String(), accts: a, st: st}
	r.stop = func() {
		cctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		reg.Close(cctx)
		c()
		cancel()
		wg.Wait()
		st.Close()
	}
	t.Cleanup(r.stop)
	return r
}

func (r *rig) add(name, pass string) {
	r.t.Helper()
	if err := r.accts.Add(context.Background(), name, pass); err != nil {
		r.t.Fatal(err)
	}
}

// client is a mellium test client that queues what it receives.
type client struct {
	t    testing.TB
	sess *xmpp.Session
	jid  jid.JID
	in   chan *elem
	done chan struct{}
}

// dial logs name in with SCRAM over plain-text loopback.
func (r *rig) dial(name, pass string) (*client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := net.Dial("tcp", r.addr)
	if err != nil {
		return nil, err
	}
	origin := jid.MustParse(name + "@localhost")
	sess, err := xmpp.NewSession(ctx, origin.Domain(), origin, conn, xmpp.Secure, xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
		return xmpp.StreamConfig{Features: []xmpp.StreamFeature{xmpp.SASL("", pass, sasl.ScramSha256), xmpp.BindResource()}}
	}))
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &client{t: r.t, sess: sess, jid: sess.LocalAddr(), in: make(chan *elem, 10000), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		_ = sess.Serve(xmpp.HandlerFunc(func(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			e, err := readElem(t, *start)
			if err == nil {
				c.in <- e
			}
			return nil
		}))
	}()
	return c, nil
}

func (r *rig) login(name, pass string) *client {
	r.t.Helper()
	c, err := r.dial(name, pass)
	if err != nil {
		r.t.Fatalf("login %s: %v", name, err)
	}
	r.t.Cleanup(func() { c.close() })
	return c
}

func (c *client) close() {
	_ = c.sess.Close()
	_ = c.sess.Conn().Close()
	<-c.done
}

func (c *client) send(format string, args ...any) {
	c.t.Helper()
	s := fmt.Sprintf(format, args...)
	e, err := parseElem(s)
	if err != nil {
		c.t.Fatalf("bad test stanza %s: %v", s, err)
	}
	if err := c.sess.Send(context.Background(), e.tokenReader()); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// next returns the next stanza that matches f, within 5 s.
func (c *client) next(what string, f func(*elem) bool) *elem {
	c.t.Helper()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case e := <-c.in:
			if f(e) {
				return e
			}
		case <-t.C:
			c.t.Fatalf("%s: no %s within 5s", c.jid, what)
			return nil
		}
	}
}

func kind(k string) func(*elem) bool {
	return func(e *elem) bool { return e.Name.Local == k }
}

func (e *elem) has(s string) bool { return strings.Contains(e.String(), s) }
