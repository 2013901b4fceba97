package muc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/internal/testwait"
	"cusax.dev/bridge/metrics"
	"cusax.dev/bridge/store"
)

// serveChecks answers the component's checks of occupants' clients (pings
// and disco#info queries) until done holds: answer gives, for the nth check
// of a JID, "" for a result, "-" for no answer, or an error condition. It
// returns the kinds of checks each JID got, in order.
func serveChecks(t *testing.T, fc *fakeConn, answer func(to, kind string, nth int) string, done func() bool) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	deadline := time.After(2 * wait)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case n := <-fc.in:
			kind := ""
			switch {
			case n.Name.Local != "iq" || n.attr("type") != "get":
			case n.child(NSPing, "ping") != nil:
				kind = "ping"
			case n.child(NSDiscoInfo, "query") != nil:
				kind = "disco"
			}
			if kind == "" {
				fc.mu.Lock()
				fc.held = append(fc.held, n)
				fc.mu.Unlock()
				continue
			}
			to := n.attr("to")
			got[to] = append(got[to], kind)
			switch a := answer(to, kind, len(got[to])); a {
			case "-":
			case "":
				fc.send(t, `<iq from='%s' to='%s' type='result' id='%s'/>`, to, n.attr("from"), n.attr("id"))
			default:
				fc.send(t, `<iq from='%s' to='%s' type='error' id='%s'><error type='cancel'><%s xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`, to, n.attr("from"), n.attr("id"), a)
			}
		case <-tick.C:
		case <-deadline:
			t.Fatalf("checks not done; got %v", got)
		}
	}
	return got
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
	testwait.Until(t, wait, "disconnected", func() bool { return !r.svc.Connected() })
	if testutil.ToFloat64(r.m.XMPPConnected) != 0 {
		t.Fatal("gauge still 1")
	}
	r.srv.refuse.Store(false)
	fc := r.accept()
	testwait.Until(t, wait, "connected", func() bool { return r.svc.Connected() })
	// After a reconnect every occupant's client is pinged: Alice answers,
	// Bob's server says his is unreachable, twice.
	bobGone := func() bool { _, ok := r.reg.ByNick("team", "Bob"); return !ok }
	got := serveChecks(t, fc, func(to, _ string, _ int) string {
		if to == bob {
			return "remote-server-not-found"
		}
		return ""
	}, bobGone)
	if !slices.Equal(got[bob], []string{"ping", "ping"}) || !slices.Equal(got[alice], []string{"ping"}) {
		t.Fatalf("checks: %v", got)
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

// The answers to a ping are read as XEP-0410 §3.2 reads them; an occupant
// is removed only after two failed checks in a row.
func TestPingVerdicts(t *testing.T) {
	r := newRig(t, func(_ *conference.Options, c *Config) { c.PingTimeout = 300 * time.Millisecond })
	owner := user("owner")
	r.create(owner, "team", "Owner")
	cases := []struct {
		name    string
		answers []string // per check, in order; "" result, "-" none
		removed bool
		checks  []string
	}{
		{"result", []string{""}, false, []string{"ping"}},
		{"no ping support", []string{"feature-not-implemented"}, false, []string{"ping"}},
		{"nick changed", []string{"item-not-found"}, false, []string{"ping"}},
		{"no ping but disco", []string{"service-unavailable", ""}, false, []string{"ping", "disco"}},
		{"resource gone", []string{"service-unavailable", "service-unavailable", "service-unavailable", "service-unavailable"}, true, []string{"ping", "disco", "ping", "disco"}},
		{"unreachable once", []string{"remote-server-not-found", ""}, false, []string{"ping", "ping"}},
		{"unreachable twice", []string{"remote-server-not-found", "remote-server-not-found"}, true, []string{"ping", "ping"}},
		{"not acceptable twice", []string{"not-acceptable", "not-acceptable"}, true, []string{"ping", "ping"}},
		{"silent", []string{"-", "-"}, true, []string{"ping", "ping"}},
	}
	jids := map[string]int{}
	for i := range cases {
		u := user(fmt.Sprintf("u%d", i))
		jids[u] = i
		r.joined(u, "team", fmt.Sprintf("U%d", i))
	}
	r.srv.manualPings.Store(true)
	r.fc.c.Close()
	fc := r.accept()
	present := func(i int) bool { _, ok := r.reg.ByNick("team", fmt.Sprintf("U%d", i)); return ok }
	got := serveChecks(t, fc, func(to, _ string, nth int) string {
		i, ok := jids[to]
		if !ok || nth > len(cases[i].answers) {
			return ""
		}
		return cases[i].answers[nth-1]
	}, func() bool {
		for i, c := range cases {
			if c.removed == present(i) {
				return false
			}
		}
		return true
	})
	for i, c := range cases {
		if g := got[user(fmt.Sprintf("u%d", i))]; !slices.Equal(g, c.checks) {
			t.Errorf("%s: checks %v, want %v", c.name, g, c.checks)
		}
		if present(i) == c.removed {
			t.Errorf("%s: present = %v", c.name, present(i))
		}
	}
}

func TestPingTimeoutRemovesOccupant(t *testing.T) {
	r := newRig(t, func(_ *conference.Options, c *Config) { c.PingTimeout = 100 * time.Millisecond })
	alice := user("alice")
	r.create(alice, "team", "Alice")
	r.srv.manualPings.Store(true)
	r.fc.c.Close()
	fc := r.accept()
	// Never answered: one timeout is not enough, the second removes.
	fc.next(t, "ping", func(n *node) bool { return n.child(NSPing, "ping") != nil })
	if _, ok := r.reg.ByNick("team", "Alice"); !ok {
		t.Fatal("removed before the second check")
	}
	fc.next(t, "second ping", func(n *node) bool { return n.child(NSPing, "ping") != nil })
	testwait.Until(t, wait, "alice removed", func() bool { _, ok := r.reg.ByNick("team", "Alice"); return !ok })
}

// slowStore blocks look-ups of the room "slow" until released.
type slowStore struct {
	store.Store
	release chan struct{}
	entered chan struct{}
}

func (s slowStore) Room(ctx context.Context, name string) (store.Room, bool, error) {
	if name == "slow" {
		s.entered <- struct{}{}
		select {
		case <-s.release:
		case <-ctx.Done():
		}
	}
	return s.Store.Room(ctx, name)
}

// A handler that blocks holds up neither the stanzas to other rooms nor the
// answers to the component's pings: the read loop keeps reading.
func TestSlowHandlerKeepsReadLoop(t *testing.T) {
	slow := slowStore{Store: store.NewMemory(), release: make(chan struct{}), entered: make(chan struct{}, 1)}
	r := newRig(t, func(o *conference.Options, c *Config) {
		o.Store = slow
		c.PingInterval = 50 * time.Millisecond
		c.PingTimeout = 100 * time.Millisecond
	})
	alice := user("alice")
	r.create(alice, "team", "Alice")
	r.fc.send(t, `<iq from='%s' to='slow@%s' type='get' id='slow1'><query xmlns='%s'/></iq>`, alice, testDomain, NSDiscoInfo)
	select {
	case <-slow.entered:
	case <-time.After(wait):
		t.Fatal("the slow handler did not start")
	}
	// Another room is served meanwhile.
	if n := r.iq(alice, roomJID("team"), "get", `<ping xmlns='urn:xmpp:ping'/>`); n.attr("type") != "result" {
		t.Fatalf("ping to another room: %s", n)
	}
	// Many ping rounds go by, each answered by the server at once: read in
	// time, so nobody is taken for a ghost.
	start := r.srv.autoPings.Load()
	testwait.Until(t, wait, "ping rounds", func() bool { return r.srv.autoPings.Load() >= start+10 })
	if _, ok := r.reg.ByNick("team", "Alice"); !ok {
		t.Fatal("a healthy occupant was removed while a handler was blocked")
	}
	close(slow.release)
	if n := r.fc.next(t, "slow answer", func(n *node) bool { return n.attr("id") == "slow1" }); n.attr("type") != "error" {
		t.Fatalf("slow answer: %s", n)
	}
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
	// The server refuses each handshake; the component keeps trying.
	testwait.Until(t, wait, "three handshakes", func() bool { return srv.handshakes.Load() >= 3 })
	if svc.Connected() {
		t.Fatal("connected with a wrong secret")
	}
	select {
	case fc := <-srv.conns:
		t.Fatalf("a session was accepted: %v", fc)
	default:
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
	// No server is fine for RunLocal (embedded), not for Run.
	svc, err := New(Config{Domain: testDomain}, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Run(context.Background()); err == nil {
		t.Error("Run without xmpp.server accepted")
	}
	if err := svc.RunLocal(context.Background(), nil); err == nil {
		t.Error("RunLocal without a connection accepted")
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
