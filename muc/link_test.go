package muc

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/metrics"
	"cusax.dev/bridge/store"
)

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReconnectKeepsRoomsAndRemovesGhosts(t *testing.T) {
	r := newRig(t)
	alice, bob := user("alice"), user("bob")
	r.create(alice, "team", "Alice")
	r.joined(bob, "team", "Bob")
	r.fc.nextTo(t, alice)
	if !r.svc.Connected() || testutil.ToFloat64(r.m.XMPPConnected) != 1 {
		t.Fatal("not connected")
	}

	// The server goes away (and refuses connections until the test has seen
	// the link down); the component notices and reconnects.
	r.srv.manualPings.Store(true)
	r.srv.refuse.Store(true)
	r.fc.c.Close()
	eventually(t, "disconnected", func() bool { return !r.svc.Connected() })
	if testutil.ToFloat64(r.m.XMPPConnected) != 0 {
		t.Fatal("gauge still 1")
	}
	r.srv.refuse.Store(false)
	fc := r.accept()
	eventually(t, "connected", func() bool { return r.svc.Connected() })
	// After a reconnect every occupant's client is pinged: Alice answers,
	// Bob's server says he is gone.
	for range 2 {
		p := fc.next(t, "ping", func(n *node) bool { return n.child(NSPing, "ping") != nil })
		switch p.attr("to") {
		case alice:
			fc.send(t, `<iq from='%s' to='%s' type='result' id='%s'/>`, alice, p.attr("from"), p.attr("id"))
		case bob:
			fc.send(t, `<iq from='%s' to='%s' type='error' id='%s'><ping xmlns='urn:xmpp:ping'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`, bob, p.attr("from"), p.attr("id"))
		default:
			t.Fatalf("unexpected ping: %s", p)
		}
	}
	n := fc.nextTo(t, alice)
	if n.attr("type") != "unavailable" || n.attr("from") != roomJID("team")+"/Bob" {
		t.Fatalf("ghost should be removed: %s", n)
	}
	// The room is intact and works on the new link.
	r.fc = fc
	r.fc.send(t, `<message from='%s' to='%s' type='groupchat' id='after'><body>still here</body></message>`, alice, roomJID("team"))
	if n := r.fc.nextTo(t, alice); n.attr("id") != "after" {
		t.Fatalf("after reconnect: %s", n)
	}
	if _, ok := r.reg.ByNick("team", "Alice"); !ok {
		t.Fatal("alice lost")
	}
}

func TestPingTimeoutRemovesOccupant(t *testing.T) {
	r := newRig(t, func(_ *conference.Options, c *Config) { c.PingTimeout = 100 * time.Millisecond })
	alice := user("alice")
	r.create(alice, "team", "Alice")
	r.srv.manualPings.Store(true)
	r.fc.c.Close()
	fc := r.accept()
	fc.next(t, "ping", func(n *node) bool { return n.child(NSPing, "ping") != nil }) // never answered
	eventually(t, "alice removed", func() bool { _, ok := r.reg.ByNick("team", "Alice"); return !ok })
}

func TestBadStanzasKeepTheStream(t *testing.T) {
	r := newRig(t)
	alice := user("alice")
	r.create(alice, "team", "Alice")
	garbage := []string{
		`<message to='team@` + testDomain + `' type='groupchat'><body>no from</body></message>`,
		`<presence from='` + alice + `'/>`,
		`<iq from='` + alice + `' type='result' id='zzz' to='` + testDomain + `'/>`,
		`<foo xmlns='urn:example' from='` + alice + `'/>`,
		`<message from='` + alice + `' to='other.domain'><body>x</body></message>`,
		`<presence from='` + alice + `' to='team@` + testDomain + `/Alice' type='subscribe'/>`,
		`<message from='` + alice + `' to='team@` + testDomain + `' type='error'/>`,
		`<iq from='` + alice + `' to='team@` + testDomain + `' type='set' id='d'>` + strings.Repeat("<a>", 80) + strings.Repeat("</a>", 80) + `</iq>`,
	}
	for _, g := range garbage {
		r.fc.send(t, "%s", g)
	}
	// Still serving.
	if n := r.iq(alice, testDomain, "get", `<ping xmlns='urn:xmpp:ping'/>`); n.attr("type") != "result" {
		t.Fatalf("stream broken: %s", n)
	}
	if !r.svc.Connected() {
		t.Fatal("disconnected by bad input")
	}
	if got := testutil.ToFloat64(r.m.MUCStanzas.WithLabelValues("iq", "in")); got < 1 {
		t.Fatalf("stanza metric = %v", got)
	}
}

func TestBadSecretRetries(t *testing.T) {
	srv := newFakeServer(t, "other-secret")
	reg := conference.NewRegistry(conference.Options{Store: store.NewMemory()})
	svc, err := New(Config{Server: srv.addr(), Domain: testDomain, Secret: testSecret, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond, Metrics: metrics.New()}, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(done) }()
	time.Sleep(100 * time.Millisecond)
	if svc.Connected() {
		t.Fatal("connected with a wrong secret")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("Run did not stop")
	}
}

func TestNewValidates(t *testing.T) {
	reg := conference.NewRegistry(conference.Options{})
	for _, c := range []Config{
		{Domain: testDomain},
		{Server: "x:1", Domain: ""},
		{Server: "x:1", Domain: "room@" + testDomain},
	} {
		if _, err := New(c, reg); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	if _, err := New(Config{Server: "x:1", Domain: testDomain}, nil); err == nil {
		t.Error("nil registry accepted")
	}
}

func TestBackoff(t *testing.T) {
	min, max := 250*time.Millisecond, 3*time.Second
	for n := range 12 {
		d := backoff(min, max, n)
		upper := min << n
		if upper > max || upper <= 0 {
			upper = max
		}
		if d < upper/2 || d > upper {
			t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, upper/2, upper)
		}
	}
}
