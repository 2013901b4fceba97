package muc

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/metrics"
	"cusax.dev/bridge/store"
)

const (
	testDomain = "conference.localhost"
	testSecret = "s3cret"
	testSIP    = "sip.example.com"
	wait       = 10 * time.Second
)

// fakeServer is the accept side of XEP-0114 (component.ReceiveSession is not
// implemented in mellium): it checks the handshake and then lets a test
// write raw stanzas and read what the component sends.
type fakeServer struct {
	ln     net.Listener
	secret string
	conns  chan *fakeConn
	// manualPings stops the server from answering the component's pings to
	// occupants by itself.
	manualPings atomic.Bool
	// refuse makes the server drop new connections, so a test can watch the
	// component while its link is down.
	refuse atomic.Bool
	// handshakes counts the handshakes the component attempted; autoPings
	// the pings the server answered by itself.
	handshakes, autoPings atomic.Int32
}

func newFakeServer(t *testing.T, secret string) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{ln: ln, secret: secret, conns: make(chan *fakeConn, 4)}
	go fs.acceptLoop()
	t.Cleanup(func() { ln.Close() })
	return fs
}

func (fs *fakeServer) addr() string { return fs.ln.Addr().String() }

func (fs *fakeServer) acceptLoop() {
	n := 0
	for {
		c, err := fs.ln.Accept()
		if err != nil {
			return
		}
		if fs.refuse.Load() {
			c.Close()
			continue
		}
		n++
		fc, err := handshake(c, fs, fmt.Sprintf("stream%d", n))
		if err != nil {
			c.Close()
			continue
		}
		fs.conns <- fc
	}
}

// handshake runs the server side of XEP-0114 §3.
func handshake(c net.Conn, fs *fakeServer, id string) (*fakeConn, error) {
	secret := fs.secret
	_ = c.SetDeadline(time.Now().Add(wait))
	d := xml.NewDecoder(c)
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "stream" {
				return nil, fmt.Errorf("expected stream, got %v", se.Name)
			}
			break
		}
	}
	fmt.Fprintf(c, `<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' from='%s' id='%s'>`, testDomain, id)
	var hs struct {
		XMLName xml.Name `xml:"handshake"`
		Digest  string   `xml:",chardata"`
	}
	if err := d.Decode(&hs); err != nil {
		return nil, err
	}
	fs.handshakes.Add(1)
	sum := sha1.Sum([]byte(id + secret))
	if strings.TrimSpace(hs.Digest) != hex.EncodeToString(sum[:]) {
		fmt.Fprint(c, `<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`)
		return nil, fmt.Errorf("bad handshake")
	}
	fmt.Fprint(c, `<handshake/>`)
	_ = c.SetDeadline(time.Time{})
	fc := &fakeConn{c: c, in: make(chan *node, 1024), closed: make(chan struct{}), srv: fs}
	go fc.readLoop(d)
	return fc, nil
}

// fakeConn is one accepted component stream.
type fakeConn struct {
	c      net.Conn
	in     chan *node
	closed chan struct{}
	srv    *fakeServer
	mu     sync.Mutex
	held   []*node // read but not yet consumed
}

func (fc *fakeConn) readLoop(d *xml.Decoder) {
	defer close(fc.closed)
	for {
		tok, err := d.Token()
		if err != nil {
			return
		}
		switch t := tok.(type) {
		case xml.EndElement: // </stream:stream>
			fc.c.Close()
			return
		case xml.StartElement:
			n, err := readNode(d, t)
			if err != nil {
				return
			}
			if n.Name.Local == "iq" && n.attr("type") == "get" && n.child(NSPing, "ping") != nil && !fc.srv.manualPings.Load() {
				fmt.Fprintf(fc.c, `<iq type='result' id='%s' from='%s' to='%s'/>`, n.attr("id"), n.attr("to"), n.attr("from"))
				fc.srv.autoPings.Add(1)
				continue
			}
			fc.in <- n
		}
	}
}

// send writes raw XML to the component.
func (fc *fakeConn) send(t *testing.T, format string, args ...any) {
	t.Helper()
	if _, err := fmt.Fprintf(fc.c, format, args...); err != nil {
		t.Fatalf("write to component: %v", err)
	}
}

// next returns the first stanza (held or new) for which match is true.
func (fc *fakeConn) next(t *testing.T, what string, match func(*node) bool) *node {
	t.Helper()
	fc.mu.Lock()
	for i, n := range fc.held {
		if match(n) {
			fc.held = slices.Delete(fc.held, i, i+1)
			fc.mu.Unlock()
			return n
		}
	}
	fc.mu.Unlock()
	deadline := time.After(wait)
	for {
		select {
		case n := <-fc.in:
			if match(n) {
				return n
			}
			fc.mu.Lock()
			fc.held = append(fc.held, n)
			fc.mu.Unlock()
		case <-deadline:
			fc.mu.Lock()
			var held []string
			for _, h := range fc.held {
				held = append(held, h.String())
			}
			fc.mu.Unlock()
			t.Fatalf("timed out waiting for %s; unconsumed:\n%s", what, strings.Join(held, "\n"))
			return nil
		}
	}
}

// nextTo returns the next stanza addressed to jid, in the order sent.
func (fc *fakeConn) nextTo(t *testing.T, jid string) *node {
	t.Helper()
	return fc.next(t, "a stanza to "+jid, func(n *node) bool { return n.attr("to") == jid })
}

// quiet asserts that nothing addressed to jid arrives within d.
func (fc *fakeConn) quiet(t *testing.T, jid string, d time.Duration) {
	t.Helper()
	fc.mu.Lock()
	for _, n := range fc.held {
		if n.attr("to") == jid {
			fc.mu.Unlock()
			t.Fatalf("unexpected stanza to %s: %s", jid, n)
		}
	}
	fc.mu.Unlock()
	timer := time.After(d)
	for {
		select {
		case n := <-fc.in:
			if n.attr("to") == jid {
				t.Fatalf("unexpected stanza to %s: %s", jid, n)
			}
			fc.mu.Lock()
			fc.held = append(fc.held, n)
			fc.mu.Unlock()
		case <-timer:
			return
		}
	}
}

// rig is a Service connected to a fake server, over a registry.
type rig struct {
	t      *testing.T
	reg    *conference.Registry
	st     store.Store
	svc    *Service
	srv    *fakeServer
	fc     *fakeConn
	m      *metrics.Metrics
	cancel context.CancelFunc
	done   chan struct{}
}

type rigOpt func(*conference.Options, *Config)

func newRig(t *testing.T, opts ...rigOpt) *rig {
	t.Helper()
	ropts := conference.Options{Store: store.NewMemory(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	m := metrics.New()
	cfg := Config{Server: "", Domain: testDomain, Secret: testSecret, SIPDomain: testSIP, Metrics: m,
		Logger: testLogger(), PingInterval: -1, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	for _, o := range opts {
		o(&ropts, &cfg)
	}
	srv := newFakeServer(t, testSecret)
	cfg.Server = srv.addr()
	reg := conference.NewRegistry(ropts)
	return startRig(t, reg, ropts.Store, srv, cfg, m)
}

func startRig(t *testing.T, reg *conference.Registry, st store.Store, srv *fakeServer, cfg Config, m *metrics.Metrics) *rig {
	t.Helper()
	svc, err := New(cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{t: t, reg: reg, st: st, svc: svc, srv: srv, m: m, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := svc.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	r.fc = r.accept()
	t.Cleanup(r.stop)
	return r
}

func (r *rig) accept() *fakeConn {
	r.t.Helper()
	select {
	case fc := <-r.srv.conns:
		return fc
	case <-time.After(wait):
		r.t.Fatal("component did not connect")
		return nil
	}
}

func (r *rig) stop() {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.t.Error("Run did not return")
	}
}

func withCreators(jids ...string) rigOpt {
	return func(o *conference.Options, _ *Config) { o.Creators = jids }
}

// user returns the full JID of test user name.
func user(name string) string { return name + "@localhost/res" }

func roomJID(room string) string { return room + "@" + testDomain }

// join sends a join presence from u to room/nick with extra children.
func (r *rig) joinRaw(u, room, nick, id, extra string) {
	r.fc.send(r.t, `<presence from='%s' to='%s/%s' id='%s'><x xmlns='http://jabber.org/protocol/muc'>%s</x></presence>`, u, roomJID(room), nick, id, extra)
}

// joined joins u and consumes u's join sequence up to the subject; it returns
// the stanzas u received, self-presence included.
func (r *rig) joined(u, room, nick string) []*node {
	r.t.Helper()
	r.joinRaw(u, room, nick, "j-"+nick, "")
	var got []*node
	for {
		n := r.fc.nextTo(r.t, u)
		got = append(got, n)
		if n.attr("type") == "error" {
			r.t.Fatalf("join of %s failed: %s", u, n)
		}
		if n.Name.Local == "message" && n.child("", "subject") != nil {
			return got
		}
	}
}

// create makes u the owner of a new instant room.
func (r *rig) create(u, room, nick string) {
	r.t.Helper()
	got := r.joined(u, room, nick)
	if !slices.Contains(codes(got[len(got)-2]), "201") {
		r.t.Fatalf("no 201 in creator's self-presence: %s", got[len(got)-2])
	}
	r.fc.send(r.t, `<iq from='%s' to='%s' type='set' id='cfg1'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`, u, roomJID(room))
	if res := r.fc.nextTo(r.t, u); res.attr("type") != "result" || res.attr("id") != "cfg1" {
		r.t.Fatalf("instant room not accepted: %s", res)
	}
}

// iq sends an IQ and returns the answer to u.
func (r *rig) iq(u, to, typ, payload string) *node {
	r.t.Helper()
	id := newID()
	r.fc.send(r.t, `<iq from='%s' to='%s' type='%s' id='%s'>%s</iq>`, u, to, typ, id, payload)
	return r.fc.next(r.t, "iq answer "+id, func(n *node) bool { return n.Name.Local == "iq" && n.attr("id") == id })
}

// codes returns the muc#user status codes of a stanza.
func codes(n *node) []string {
	var out []string
	for _, s := range n.child(NSMUCUser, "x").children(NSMUCUser, "status") {
		out = append(out, s.attr("code"))
	}
	return out
}

// mucItem returns the muc#user item of a presence.
func mucItem(n *node) *node { return n.child(NSMUCUser, "x").child(NSMUCUser, "item") }

// errCond returns the error condition and type of an error stanza.
func errCond(n *node) (string, string) {
	if n.attr("type") != "error" {
		return "", ""
	}
	return errorCondition(n), n.child("", "error").attr("type")
}

func wantError(t *testing.T, n *node, cond, typ string) {
	t.Helper()
	c, ty := errCond(n)
	if c != cond || (typ != "" && ty != typ) {
		t.Fatalf("want error %s/%s, got %s/%s: %s", cond, typ, c, ty, n)
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("MUC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
