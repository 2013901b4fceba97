package accounts

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"cusax.dev/bridge/store"
)

func newTestAccounts(t *testing.T) *Accounts {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "a.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := New(Options{Store: st, Host: "example.com", SIPDomain: "example.com", Realm: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAccountLifecycle(t *testing.T) {
	ctx := context.Background()
	a := newTestAccounts(t)
	if err := a.Add(ctx, "alice", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := a.Add(ctx, "alice", "x"); !errors.Is(err, ErrExists) {
		t.Fatalf("second add: %v", err)
	}
	for _, bad := range []string{"", "Alice", "a b", "-a", "a@b", string(make([]byte, 70))} {
		if err := a.Add(ctx, bad, "pw"); !errors.Is(err, ErrInvalidName) {
			t.Errorf("name %q: %v", bad, err)
		}
	}
	if err := a.Add(ctx, "bob", ""); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("empty password: %v", err)
	}
	for _, tc := range []struct {
		user, pass string
		want       bool
	}{{"alice", "pw", true}, {"alice", "PW", false}, {"nobody", "pw", false}} {
		if ok, err := a.Check(ctx, tc.user, tc.pass); err != nil || ok != tc.want {
			t.Errorf("Check(%s, %s) = %v, %v", tc.user, tc.pass, ok, err)
		}
	}
	// HA1 as RFC 7616 defines it, for the realm it was made for only.
	if h, ok := a.DigestHA1(ctx, "alice", "example.com", MD5); !ok || h != HA1(md5.New, "alice", "example.com", "pw") {
		t.Fatalf("HA1 MD5 %q %v", h, ok)
	}
	if h, ok := a.DigestHA1(ctx, "alice", "example.com", SHA256); !ok || h != HA1(sha256.New, "alice", "example.com", "pw") {
		t.Fatalf("HA1 SHA-256 %q %v", h, ok)
	}
	if _, ok := a.DigestHA1(ctx, "alice", "other", MD5); ok {
		t.Fatal("HA1 for another realm")
	}
	if err := a.SetPassword(ctx, "alice", "new"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := a.Check(ctx, "alice", "pw"); ok {
		t.Fatal("old password still valid")
	}
	if err := a.SetPassword(ctx, "nobody", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("passwd of unknown: %v", err)
	}
	if names, err := a.List(ctx); err != nil || len(names) != 1 || names[0] != "alice" {
		t.Fatalf("list %v %v", names, err)
	}
	if err := a.Delete(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, "alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestFailLimiterBounded(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewFailLimiter(2, time.Minute, 3)
	l.now = func() time.Time { return now }
	l.Fail("a")
	l.Fail("a")
	if !l.Blocked("a") || l.Blocked("b") {
		t.Fatal("limit")
	}
	for _, k := range []string{"b", "c", "d", "e"} {
		l.Fail(k)
	}
	if l.Len() > 3 {
		t.Fatalf("table grew to %d", l.Len())
	}
	now = now.Add(2 * time.Minute)
	if l.Blocked("a") {
		t.Fatal("window did not end")
	}
}

func TestProvisionHandler(t *testing.T) {
	a := newTestAccounts(t)
	if err := a.Add(context.Background(), "alice", "pw"); err != nil {
		t.Fatal(err)
	}
	h := a.ProvisionHandler(ProvisionInfo{SIPPort: 5060, SIPTransports: []string{"udp"}, XMPPPort: 5222, TLSPin: "AA:BB",
		MUCDomain: "conference.example.com", MaxFailures: 2})
	do := func(user, pass string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "https://bridge.example.com:8443/provision", nil)
		req.RemoteAddr = "192.0.2.1:1234"
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	w := do("alice", "pw")
	if w.Code != 200 {
		t.Fatalf("good login: %d %s", w.Code, w.Body)
	}
	var p Provision
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.SIP.AOR != "sip:alice@example.com" || p.SIP.Proxy != "bridge.example.com:5060" || p.XMPP.JID != "alice@example.com" ||
		p.XMPP.Host != "bridge.example.com" || p.XMPP.TLSPin != "AA:BB" || !p.RelatedAccounts || p.Features.XMPPAudioVideo {
		t.Fatalf("document: %+v", p)
	}
	if w := do("", ""); w.Code != 401 {
		t.Fatalf("no credentials: %d", w.Code)
	}
	if w := do("alice", "x"); w.Code != 401 {
		t.Fatalf("wrong password: %d", w.Code)
	}
	do("alice", "y")
	if w := do("alice", "pw"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("after too many failures: %d", w.Code)
	}
}

func TestBinding(t *testing.T) {
	ctx := context.Background()
	a := newTestAccounts(t)
	if err := a.Add(ctx, "alice", "pw"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		aor, want string
	}{
		{"sip:alice@example.com", "alice@example.com"}, {"SIP:alice@EXAMPLE.com", "alice@example.com"},
		{"sip:bob@example.com", ""}, {"sip:alice@other.org", ""}, {"sips:alice@example.com", ""}, {"tel:+1555", ""}, {"sip:", ""},
	} {
		got, ok, err := a.Binding(ctx, tc.aor)
		if err != nil || got != tc.want || ok != (tc.want != "") {
			t.Errorf("Binding(%q) = %q, %v, %v; want %q", tc.aor, got, ok, err, tc.want)
		}
	}
}
