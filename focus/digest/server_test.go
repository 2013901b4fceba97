package digest

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	icholy "github.com/icholy/digest"
)

const realm = "example.com"

var accounts = Accounts(map[string]string{"alice": "wonderland", "bob": "builder"})

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newServer(t testing.TB, opts Options) (*Server, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 4, 20, 0, 0, 0, time.UTC)}
	if opts.Realm == "" {
		opts.Realm = realm
	}
	opts.Now = c.now
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// answer computes an Authorization value for challenge exactly as sipgo's
// client does (DoDigestAuth: ParseChallenge, upper-case algorithm, Digest,
// Credentials.String).
func answer(t testing.TB, challenge, method, uri, user, pass string, count int) string {
	t.Helper()
	chal, err := icholy.ParseChallenge(challenge)
	if err != nil {
		t.Fatalf("parse challenge %q: %v", challenge, err)
	}
	chal.Algorithm = strings.ToUpper(chal.Algorithm)
	cred, err := icholy.Digest(chal, icholy.Options{Method: method, URI: uri, Username: user, Password: pass, Count: count})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

// rfc2069 answers without qop, as a phone that ignores qop does.
func rfc2069(t testing.TB, challenge, method, uri, user, pass string) string {
	t.Helper()
	chal, err := icholy.ParseChallenge(challenge)
	if err != nil {
		t.Fatal(err)
	}
	chal.QOP = nil
	cred, err := icholy.Digest(chal, icholy.Options{Method: method, URI: uri, Username: user, Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

const uri = "sip:team@example.com"

func TestChallengeFormat(t *testing.T) {
	s, _ := newServer(t, Options{})
	c := s.Challenge(false)
	chal, err := icholy.ParseChallenge(c)
	if err != nil {
		t.Fatal(err)
	}
	if chal.Realm != realm || chal.Algorithm != MD5 || len(chal.QOP) != 1 || chal.QOP[0] != "auth" || chal.Stale || len(chal.Nonce) != 32 {
		t.Errorf("challenge %q parsed as %+v", c, chal)
	}
	if !strings.HasPrefix(c, "Digest ") {
		t.Errorf("challenge %q", c)
	}
	st, _ := icholy.ParseChallenge(s.Challenge(true))
	if !st.Stale || st.Nonce == chal.Nonce {
		t.Errorf("stale challenge %+v", st)
	}
	if s.Nonces() != 2 || s.Realm() != realm {
		t.Errorf("nonces %d realm %q", s.Nonces(), s.Realm())
	}
}

func TestVerify(t *testing.T) {
	s, _ := newServer(t, Options{})
	fresh := func() string { return s.Challenge(false) }

	tests := []struct {
		name   string
		header func() string
		method string
		user   string
		want   Result
	}{
		{"right password", func() string { return answer(t, fresh(), "REFER", uri, "alice", "wonderland", 1) }, "REFER", "alice", OK},
		{"wrong password", func() string { return answer(t, fresh(), "REFER", uri, "alice", "nope", 1) }, "REFER", "alice", Bad},
		{"unknown user", func() string { return answer(t, fresh(), "REFER", uri, "mallory", "x", 1) }, "REFER", "mallory", Bad},
		{"other method", func() string { return answer(t, fresh(), "INVITE", uri, "alice", "wonderland", 1) }, "REFER", "alice", Bad},
		{"no header", func() string { return "" }, "REFER", "", Missing},
		{"blank header", func() string { return " \t" }, "REFER", "", Missing},
		{"basic scheme", func() string { return "Basic YWxpY2U6d29uZGVybGFuZA==" }, "REFER", "", Missing},
		{"other realm", func() string {
			return strings.Replace(answer(t, fresh(), "REFER", uri, "alice", "wonderland", 1), `realm="example.com"`, `realm="other.org"`, 1)
		}, "REFER", "", Missing},
		{"made-up nonce, right password", func() string {
			return answer(t, `Digest realm="example.com", nonce="0123456789abcdef", algorithm=MD5, qop="auth"`, "REFER", uri, "alice", "wonderland", 1)
		}, "REFER", "alice", Stale},
		{"made-up nonce, wrong password", func() string {
			return answer(t, `Digest realm="example.com", nonce="0123456789abcdef", algorithm=MD5, qop="auth"`, "REFER", uri, "alice", "x", 1)
		}, "REFER", "alice", Stale}, // nonce first: no verdict on the password,
		{"missing response", func() string { return `Digest username="alice", realm="example.com", nonce="abc", uri="sip:x"` }, "REFER", "", Malformed},
		{"missing nc with qop", func() string {
			return `Digest username="alice", realm="example.com", nonce="abc", uri="sip:x", response="00", qop=auth, cnonce="c"`
		}, "REFER", "", Malformed},
		{"short nc", func() string {
			return `Digest username="alice", realm="example.com", nonce="abc", uri="sip:x", response="00", qop=auth, cnonce="c", nc=1`
		}, "REFER", "", Malformed},
		{"zero nc", func() string {
			return `Digest username="alice", realm="example.com", nonce="abc", uri="sip:x", response="00", qop=auth, cnonce="c", nc=00000000`
		}, "REFER", "", Malformed},
		{"auth-int", func() string {
			return `Digest username="alice", realm="example.com", nonce="abc", uri="sip:x", response="00", qop=auth-int, cnonce="c", nc=00000001`
		}, "REFER", "", Malformed},
		{"sess algorithm", func() string {
			return `Digest username="alice", realm="example.com", nonce="abc", uri="sip:x", response="00", algorithm=MD5-sess`
		}, "REFER", "", Malformed},
		{"userhash", func() string {
			return `Digest username="alice", realm="example.com", nonce="abc", uri="sip:x", response="00", userhash=true`
		}, "REFER", "", Malformed},
		{"unterminated quote", func() string { return `Digest username="alice, realm="example.com"` }, "REFER", "", Malformed},
		{"too long", func() string { return "Digest username=\"" + strings.Repeat("a", MaxHeaderLen) + "\"" }, "REFER", "", Malformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user, res := s.Verify(tc.method, tc.header(), accounts)
			if res != tc.want || user != tc.user {
				t.Errorf("Verify = %q, %v; want %q, %v", user, res, tc.user, tc.want)
			}
		})
	}
}

func TestReplay(t *testing.T) {
	s, _ := newServer(t, Options{})
	c := s.Challenge(false)
	h1 := answer(t, c, "REFER", uri, "alice", "wonderland", 1)
	if _, res := s.Verify("REFER", h1, accounts); res != OK {
		t.Fatalf("first use: %v", res)
	}
	if _, res := s.Verify("REFER", h1, accounts); res != Replayed {
		t.Fatalf("replay of nc=1: %v", res)
	}
	// The next request on the same nonce with nc=2 is fine, nc may skip.
	if _, res := s.Verify("REFER", answer(t, c, "REFER", uri, "alice", "wonderland", 2), accounts); res != OK {
		t.Fatalf("nc=2: %v", res)
	}
	if _, res := s.Verify("INVITE", answer(t, c, "INVITE", uri, "alice", "wonderland", 5), accounts); res != OK {
		t.Fatalf("nc=5: %v", res)
	}
	if _, res := s.Verify("REFER", answer(t, c, "REFER", uri, "alice", "wonderland", 3), accounts); res != Replayed {
		t.Fatalf("nc going back to 3: %v", res)
	}
	// A failed attempt does not move the counter: a wrong password with
	// nc=9 leaves nc=6 usable.
	if _, res := s.Verify("REFER", answer(t, c, "REFER", uri, "alice", "bad", 9), accounts); res != Bad {
		t.Fatalf("wrong password: %v", res)
	}
	if _, res := s.Verify("REFER", answer(t, c, "REFER", uri, "alice", "wonderland", 6), accounts); res != OK {
		t.Fatalf("nc=6 after a failure: %v", res)
	}
}

func TestExpiry(t *testing.T) {
	s, clk := newServer(t, Options{TTL: time.Minute})
	c := s.Challenge(false)
	clk.advance(time.Minute)
	if _, res := s.Verify("REFER", answer(t, c, "REFER", uri, "alice", "wonderland", 1), accounts); res != OK {
		t.Fatalf("at the TTL: %v", res)
	}
	c2 := s.Challenge(false)
	clk.advance(time.Minute + time.Second)
	if user, res := s.Verify("REFER", answer(t, c2, "REFER", uri, "alice", "wonderland", 1), accounts); res != Stale || user != "alice" {
		t.Fatalf("expired nonce: %q %v", user, res)
	}
	// The nonce is checked first: a wrong password on an expired nonce
	// is answered exactly as a right one, so a guess learns nothing.
	if _, res := s.Verify("REFER", answer(t, c2, "REFER", uri, "alice", "wrong", 1), accounts); res != Stale {
		t.Fatalf("expired nonce, wrong password: %v", res)
	}
	// Issuing a challenge forgets the expired nonces.
	s.Challenge(false)
	if n := s.Nonces(); n != 1 {
		t.Errorf("%d nonces remembered after expiry", n)
	}
}

func TestNonceBound(t *testing.T) {
	s, _ := newServer(t, Options{MaxNonces: 3})
	first := s.Challenge(false)
	for range 200 {
		s.Challenge(false)
	}
	if n := s.Nonces(); n != 3 {
		t.Fatalf("%d nonces remembered, bound 3", n)
	}
	if _, res := s.Verify("REFER", answer(t, first, "REFER", uri, "bob", "builder", 1), accounts); res != Stale {
		t.Fatalf("evicted nonce: %v", res)
	}
	last := s.Challenge(false)
	if _, res := s.Verify("REFER", answer(t, last, "REFER", uri, "bob", "builder", 1), accounts); res != OK {
		t.Fatalf("newest nonce: %v", res)
	}
	if len(s.order)-s.head > 3 || len(s.order) > 200 {
		t.Errorf("order queue not compacted: len %d head %d", len(s.order), s.head)
	}
}

func TestSHA256(t *testing.T) {
	s, _ := newServer(t, Options{Algorithms: []string{"sha-256", "md5"}})
	chals := s.Challenges(false)
	if len(chals) != 2 || !strings.Contains(chals[0], "algorithm=SHA-256") || !strings.Contains(chals[1], "algorithm=MD5") {
		t.Fatalf("challenges %q", chals)
	}
	if !strings.Contains(s.Challenge(false), "algorithm=SHA-256") {
		t.Error("Challenge does not use the preferred algorithm")
	}
	h := answer(t, chals[0], "REFER", uri, "alice", "wonderland", 1)
	if !strings.Contains(h, "algorithm=SHA-256") || len(responseOf(t, h)) != 64 {
		t.Fatalf("not a SHA-256 answer: %s", h)
	}
	if _, res := s.Verify("REFER", h, accounts); res != OK {
		t.Fatalf("SHA-256: %v", res)
	}
	if _, res := s.Verify("REFER", answer(t, chals[1], "REFER", uri, "alice", "wonderland", 1), accounts); res != OK {
		t.Fatalf("MD5: %v", res)
	}
	if _, res := s.Verify("REFER", answer(t, chals[0], "REFER", uri, "alice", "nope", 2), accounts); res != Bad {
		t.Fatalf("SHA-256 wrong password: %v", res)
	}
	// A nonce issued for SHA-256 answered with MD5: refused.
	c := s.Challenge(false)
	md5 := strings.Replace(c, "algorithm=SHA-256", "algorithm=MD5", 1)
	if _, res := s.Verify("REFER", answer(t, md5, "REFER", uri, "alice", "wonderland", 1), accounts); res != Bad {
		t.Fatalf("algorithm switched: %v", res)
	}
	if _, err := NewServer(Options{Realm: "x", Algorithms: []string{"SHA-512"}}); err == nil {
		t.Error("SHA-512 accepted")
	}
	if _, err := NewServer(Options{Realm: "x", Algorithms: []string{"MD5", "md5"}}); err == nil {
		t.Error("duplicate algorithm accepted")
	}
	if _, err := NewServer(Options{}); err == nil {
		t.Error("empty realm accepted")
	}
}

func responseOf(t *testing.T, h string) string {
	c, err := parseCredentials(h)
	if err != nil {
		t.Fatal(err)
	}
	return c.response
}

func TestRFC2069(t *testing.T) {
	s, _ := newServer(t, Options{})
	c := s.Challenge(false)
	h := rfc2069(t, c, "INVITE", uri, "bob", "builder")
	if strings.Contains(h, "qop") || strings.Contains(h, "nc=") {
		t.Fatalf("not an RFC 2069 answer: %s", h)
	}
	if user, res := s.Verify("INVITE", h, accounts); res != OK || user != "bob" {
		t.Fatalf("RFC 2069 answer: %q %v", user, res)
	}
	// Without a nonce-count a nonce serves one request.
	if _, res := s.Verify("INVITE", h, accounts); res != Replayed {
		t.Fatalf("RFC 2069 replay: %v", res)
	}
	if _, res := s.Verify("INVITE", answer(t, c, "INVITE", uri, "bob", "builder", 7), accounts); res != Replayed {
		t.Fatalf("qop after RFC 2069 use of the nonce: %v", res)
	}
	if _, res := s.Verify("INVITE", rfc2069(t, s.Challenge(false), "INVITE", uri, "bob", "wrong"), accounts); res != Bad {
		t.Fatalf("RFC 2069 wrong password: %v", res)
	}

	strict, _ := newServer(t, Options{RequireQOP: true})
	if _, res := strict.Verify("INVITE", rfc2069(t, strict.Challenge(false), "INVITE", uri, "bob", "builder"), accounts); res != Bad {
		t.Fatalf("RFC 2069 answer with RequireQOP: %v", res)
	}
}

func TestVerifyAll(t *testing.T) {
	s, _ := newServer(t, Options{})
	ours := answer(t, s.Challenge(false), "REFER", uri, "alice", "wonderland", 1)
	theirs := strings.Replace(ours, `realm="example.com"`, `realm="proxy.example.net"`, 1)
	if user, res := s.VerifyAll("REFER", []string{theirs, ours}, accounts); res != OK || user != "alice" {
		t.Fatalf("VerifyAll: %q %v", user, res)
	}
	if _, res := s.VerifyAll("REFER", []string{theirs}, accounts); res != Missing {
		t.Fatalf("only another realm: %v", res)
	}
	if _, res := s.VerifyAll("REFER", nil, accounts); res != Missing {
		t.Fatalf("none: %v", res)
	}
	if _, res := s.VerifyAll("REFER", []string{`Digest realm="example.com", username=`}, accounts); res != Malformed {
		t.Fatalf("malformed: %v", res)
	}
}

func TestConcurrentVerify(t *testing.T) {
	s, _ := newServer(t, Options{MaxNonces: 50})
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				c := s.Challenge(false)
				h := answer(t, c, "REFER", uri, "alice", "wonderland", 1)
				if _, res := s.Verify("REFER", h, accounts); res != OK && res != Stale {
					errs <- res.String()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent verify: %s", e)
	}
}

func TestResultString(t *testing.T) {
	for r, want := range map[Result]string{OK: "ok", Missing: "missing", Malformed: "malformed", Bad: "bad", Stale: "stale", Replayed: "replayed", 0: "Result(0)"} {
		if r.String() != want {
			t.Errorf("%d: %q", int(r), r.String())
		}
	}
}

func TestAccounts(t *testing.T) {
	m := map[string]string{"a": "1"}
	l := Accounts(m)
	m["b"] = "2"
	if p, ok := l("a"); !ok || p != "1" {
		t.Error("a missing")
	}
	if _, ok := l("b"); ok {
		t.Error("Accounts did not copy the map")
	}
}

// An account kept as HA1 only (no password) verifies through Options.HA1.
func TestVerifyHA1Lookup(t *testing.T) {
	for _, alg := range []string{MD5, SHA256} {
		ha1 := func(h func() hash.Hash) string {
			d := h()
			d.Write([]byte("alice:localhost:secret"))
			return hex.EncodeToString(d.Sum(nil))
		}
		s, err := NewServer(Options{Realm: "localhost", Algorithms: []string{alg}, HA1: func(user, a string) (string, bool) {
			if user != "alice" {
				return "", false
			}
			if a == SHA256 {
				return ha1(sha256.New), true
			}
			return ha1(md5.New), true
		}})
		if err != nil {
			t.Fatal(err)
		}
		none := func(string) (string, bool) { return "", false }
		for _, tc := range []struct {
			pass string
			want Result
		}{{"secret", OK}, {"wrong", Bad}} {
			chal, err := icholy.ParseChallenge(s.Challenge(false))
			if err != nil {
				t.Fatal(err)
			}
			cred, err := icholy.Digest(chal, icholy.Options{Method: "INVITE", URI: "sip:room@localhost", Username: "alice", Password: tc.pass})
			if err != nil {
				t.Fatal(err)
			}
			if _, got := s.Verify("INVITE", cred.String(), none); got != tc.want {
				t.Errorf("%s password %q: got %v, want %v", alg, tc.pass, got, tc.want)
			}
		}
	}
}
