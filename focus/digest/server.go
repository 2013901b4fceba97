package digest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	icholy "github.com/icholy/digest"
)

// Algorithms this package computes (RFC 7616 §3.2, RFC 8760). The "-sess"
// variants and SHA-512-256 are not offered.
const (
	MD5    = "MD5"
	SHA256 = "SHA-256"
)

// Defaults of Options.
const (
	DefaultTTL       = 5 * time.Minute
	DefaultMaxNonces = 10000
)

// Result is the outcome of Verify and tells the focus how to answer.
type Result int

// Results of Verify.
const (
	// OK: the credentials are right for a nonce this server issued and has
	// not seen replayed. Proceed as the returned user.
	OK Result = iota + 1
	// Missing: no Digest credentials for this realm (no header, another
	// scheme, or credentials for another realm). Answer 401 with
	// Challenges(false) (407 with Proxy-Authenticate for a proxy).
	Missing
	// Malformed: Digest credentials that cannot be checked (syntax, missing
	// parameters, a qop, algorithm or nonce-count this server does not
	// offer). Answer 400 Bad Request, or challenge again.
	Malformed
	// Bad: the response is wrong (wrong password or unknown user), the
	// algorithm does not match the challenge, or the RFC 2069 form was used
	// with RequireQOP. Answer 403 Forbidden (RFC 3261 §22.3 allows a new
	// challenge too; 403 keeps a guessing client from looping).
	Bad
	// Stale: the response is right but the nonce is unknown (expired and
	// forgotten, evicted, or from before a restart). Answer 401 with
	// Challenges(true) so that the client retries with the new nonce without
	// asking its user (RFC 7616 §3.3 stale=true).
	Stale
	// Replayed: the response is right but its nonce-count was not above the
	// last one accepted for the nonce (or a nonce was used twice without
	// qop): a replay or a confused client. Answer as for Stale: whoever
	// knows the password recomputes for a fresh nonce, a replaying attacker
	// cannot.
	Replayed
	// Throttled: too many failures for the claimed user or from the
	// source lately (Guard); the credentials were not looked at. Answer
	// 403 with Retry-After.
	Throttled
)

func (r Result) String() string {
	switch r {
	case OK:
		return "ok"
	case Missing:
		return "missing"
	case Malformed:
		return "malformed"
	case Bad:
		return "bad"
	case Stale:
		return "stale"
	case Replayed:
		return "replayed"
	case Throttled:
		return "throttled"
	}
	return fmt.Sprintf("Result(%d)", int(r))
}

// Lookup returns the password of a digest user, and false for an unknown
// user.
type Lookup func(user string) (password string, ok bool)

// Accounts returns a Lookup over a fixed user → password map (the
// sip.auth.accounts of the configuration). The map is copied.
func Accounts(m map[string]string) Lookup {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return func(user string) (string, bool) {
		p, ok := c[user]
		return p, ok
	}
}

// Options configure a Server.
type Options struct {
	// Realm is the protection realm (sip.auth.realm). Required.
	Realm string
	// TTL is how long an issued nonce stays valid; DefaultTTL if 0.
	TTL time.Duration
	// MaxNonces bounds the nonces remembered at once; when full, the oldest
	// is forgotten (its client gets Stale and a new nonce).
	// DefaultMaxNonces if 0.
	MaxNonces int
	// Algorithms offered, most preferred first (MD5, SHA256). Challenges
	// returns one challenge per algorithm in this order, each with its own
	// nonce (RFC 8760 §2.4: a client uses the first it supports). The
	// default is MD5 alone, because many SIP phones (and sipp) read only
	// the first challenge and know no other; set {SHA256, MD5} to prefer
	// SHA-256 where clients support it.
	Algorithms []string
	// RequireQOP refuses answers in the RFC 2069 form (no qop), which have
	// no nonce-count. By default they are accepted for old phones, and each
	// nonce then serves one request only.
	RequireQOP bool
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Logger gets a debug line per failed verification (never secrets);
	// slog.Default() if nil.
	Logger *slog.Logger
	// HA1 looks up the stored HA1 (hex H(user:realm:password)) of a user
	// for an algorithm (MD5 or SHA256), for accounts kept without their
	// password (the embedded service's shared accounts). It is asked when
	// the Lookup passed to Verify does not know the user. Optional.
	HA1 func(user, algorithm string) (ha1 string, ok bool)
}

// Server issues challenges and verifies credentials for one realm. It is
// safe for concurrent use.
type Server struct {
	realm      string
	ttl        time.Duration
	max        int
	algorithms []string
	requireQOP bool
	now        func() time.Time
	log        *slog.Logger
	ha1        func(user, algorithm string) (string, bool)

	mu     sync.Mutex
	nonces map[string]*nonce
	order  []string // issue order, oldest first, from head
	head   int
}

type nonce struct {
	issued    time.Time
	algorithm string
	lastNC    uint32 // highest nonce-count accepted (qop=auth)
	uses      int    // accepted requests
}

// NewServer returns a server for opts.Realm.
func NewServer(opts Options) (*Server, error) {
	if opts.Realm == "" {
		return nil, errors.New("digest: empty realm")
	}
	s := &Server{
		realm: opts.Realm, ttl: opts.TTL, max: opts.MaxNonces, requireQOP: opts.RequireQOP,
		now: opts.Now, log: opts.Logger, nonces: map[string]*nonce{}, ha1: opts.HA1,
	}
	if s.ttl <= 0 {
		s.ttl = DefaultTTL
	}
	if s.max <= 0 {
		s.max = DefaultMaxNonces
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, a := range opts.Algorithms {
		c, ok := canonicalAlgorithm(a)
		if !ok {
			return nil, fmt.Errorf("digest: unsupported algorithm %q (want %s or %s)", a, MD5, SHA256)
		}
		for _, have := range s.algorithms {
			if have == c {
				return nil, fmt.Errorf("digest: algorithm %s listed twice", c)
			}
		}
		s.algorithms = append(s.algorithms, c)
	}
	if len(s.algorithms) == 0 {
		s.algorithms = []string{MD5}
	}
	return s, nil
}

// Realm returns the server's realm.
func (s *Server) Realm() string { return s.realm }

// Challenge returns one WWW-Authenticate (or Proxy-Authenticate) value for
// the most preferred algorithm, with a fresh nonce and qop="auth":
//
//	Digest realm="example.com", nonce="…", stale=true, algorithm=MD5, qop="auth"
//
// stale=true is added when stale is set (after a Stale or Replayed result).
func (s *Server) Challenge(stale bool) string {
	return s.challenge(s.algorithms[0], stale)
}

// Challenges returns one challenge per configured algorithm, most preferred
// first, each with its own nonce; the focus adds each as its own
// WWW-Authenticate header, in order.
func (s *Server) Challenges(stale bool) []string {
	out := make([]string, len(s.algorithms))
	for i, a := range s.algorithms {
		out[i] = s.challenge(a, stale)
	}
	return out
}

func (s *Server) challenge(algorithm string, stale bool) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms (Go 1.24+
		// crashes the program instead); keep the type honest anyway.
		panic(fmt.Sprintf("digest: crypto/rand: %v", err))
	}
	n := hex.EncodeToString(b[:])
	now := s.now()
	s.mu.Lock()
	s.expire(now)
	for len(s.nonces) >= s.max {
		s.evictOldest()
	}
	s.nonces[n] = &nonce{issued: now, algorithm: algorithm}
	s.order = append(s.order, n)
	s.mu.Unlock()
	c := icholy.Challenge{Realm: s.realm, Nonce: n, Stale: stale, Algorithm: algorithm, QOP: []string{"auth"}}
	return c.String()
}

// expire forgets the nonces past their TTL. Called with s.mu held.
func (s *Server) expire(now time.Time) {
	for s.head < len(s.order) {
		n := s.order[s.head]
		e, ok := s.nonces[n]
		if ok && now.Sub(e.issued) <= s.ttl {
			break
		}
		delete(s.nonces, n)
		s.order[s.head] = ""
		s.head++
	}
	s.compact()
}

// evictOldest forgets the oldest nonce still remembered. Called with s.mu
// held and s.nonces not empty.
func (s *Server) evictOldest() {
	for s.head < len(s.order) {
		n := s.order[s.head]
		s.order[s.head] = ""
		s.head++
		if _, ok := s.nonces[n]; ok {
			delete(s.nonces, n)
			break
		}
	}
	s.compact()
}

func (s *Server) compact() {
	if s.head > 64 && s.head*2 > len(s.order) {
		s.order = append(s.order[:0], s.order[s.head:]...)
		s.head = 0
	}
}

// Nonces returns how many nonces are remembered (for tests and metrics).
func (s *Server) Nonces() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.nonces)
}

// Verify checks one Authorization (or Proxy-Authorization) value of a
// request with the given method (INVITE, REFER, …) against the accounts in
// lookup. user is the username the credentials claim, set for OK, Bad,
// Stale and Replayed; only with OK has it been verified.
//
// The response is recomputed from the claimed parameters (username, realm,
// nonce, digest-uri, algorithm, and with qop=auth the cnonce and nc) and
// compared in constant time. The digest-uri is not compared with the
// Request-URI (proxies may rewrite it); method and nonce-count already bind
// a response to one request. A request with several Authorization values
// should be verified with the one whose realm is Realm(); VerifyAll does
// that.
func (s *Server) Verify(method, authorization string, lookup Lookup) (user string, res Result) {
	if trimLWS(authorization) == "" {
		return "", Missing
	}
	if len(authorization) > MaxHeaderLen {
		return "", Malformed
	}
	c, err := parseCredentials(authorization)
	if errors.Is(err, errNotDigest) {
		return "", Missing
	}
	if err != nil {
		return "", Malformed
	}
	if c.realm != s.realm {
		return "", Missing
	}
	if c.username == "" || c.nonce == "" || c.uri == "" || c.response == "" {
		return "", Malformed
	}
	algorithm, ok := canonicalAlgorithm(c.algorithm)
	if !ok || strings.EqualFold(c.userhash, "true") {
		return "", Malformed
	}
	var nc uint32
	switch strings.ToLower(c.qop) {
	case "":
		if c.nc != "" || c.cnonce != "" {
			return "", Malformed
		}
		if s.requireQOP {
			s.fail(method, c.username, "no qop")
			return c.username, Bad
		}
	case "auth":
		if nc, ok = parseNC(c.nc); !ok || c.cnonce == "" {
			return "", Malformed
		}
	default:
		return "", Malformed
	}

	// The nonce is checked before the password (RFC 7616 §5.5: a server
	// must not reveal whether a response was right for a nonce it did not
	// issue): an unknown, expired or replayed nonce gets Stale or Replayed
	// whatever the response, so that a guesser learns nothing without a
	// fresh challenge, and every guess then counts as a failure.
	now := s.now()
	s.mu.Lock()
	e := s.nonces[c.nonce]
	switch {
	case e == nil || now.Sub(e.issued) > s.ttl:
		s.mu.Unlock()
		return c.username, Stale
	case c.qop == "" && e.uses > 0:
		s.mu.Unlock()
		return c.username, Replayed
	case c.qop != "" && nc <= e.lastNC:
		s.mu.Unlock()
		return c.username, Replayed
	}
	issuedFor := e.algorithm
	s.mu.Unlock()
	if issuedFor != algorithm {
		s.fail(method, c.username, "algorithm differs from the challenge")
		return c.username, Bad
	}

	password, known := lookup(c.username)
	var a1 string
	if !known && s.ha1 != nil {
		a1, known = s.ha1(c.username, algorithm)
	}
	chal := &icholy.Challenge{Realm: c.realm, Nonce: c.nonce, Algorithm: algorithm}
	if c.qop != "" {
		chal.QOP = []string{"auth"}
	}
	want, err := icholy.Digest(chal, icholy.Options{
		Method: method, URI: c.uri, Username: c.username, Password: password,
		Cnonce: c.cnonce, Count: int(nc), A1: a1,
	})
	if err != nil {
		return "", Malformed
	}
	match := subtle.ConstantTimeCompare([]byte(want.Response), []byte(strings.ToLower(c.response))) == 1
	if !known || !match {
		s.fail(method, c.username, "wrong response or unknown user")
		return c.username, Bad
	}

	// Accept under the lock, checking again: a concurrent request with the
	// same nonce may have been accepted (or the nonce evicted) meanwhile.
	s.mu.Lock()
	defer s.mu.Unlock()
	e = s.nonces[c.nonce]
	switch {
	case e == nil || now.Sub(e.issued) > s.ttl:
		return c.username, Stale
	case c.qop == "" && e.uses > 0:
		return c.username, Replayed
	case c.qop != "" && nc <= e.lastNC:
		return c.username, Replayed
	}
	e.uses++
	if c.qop == "" {
		// RFC 2069 form: no nonce-count, so one request per nonce.
		e.lastNC = ^uint32(0)
	} else {
		e.lastNC = nc
	}
	return c.username, OK
}

// VerifyAll is Verify for a request carrying several Authorization values
// (one per realm, RFC 3261 §22.3): it verifies the first whose realm is this
// server's, and returns Missing when none is.
func (s *Server) VerifyAll(method string, authorizations []string, lookup Lookup) (user string, res Result) {
	for _, a := range authorizations {
		if c, err := parseCredentials(a); err == nil && c.realm != s.realm {
			continue
		}
		return s.Verify(method, a, lookup)
	}
	return "", Missing
}

func (s *Server) fail(method, user, why string) {
	s.log.Debug("digest authentication failed", "method", method, "user", user, "realm", s.realm, "why", why)
}

// canonicalAlgorithm maps an algorithm parameter (case-insensitive; empty
// means MD5, RFC 2617 §3.2.1) to MD5 or SHA256.
func canonicalAlgorithm(a string) (string, bool) {
	switch {
	case a == "" || strings.EqualFold(a, MD5):
		return MD5, true
	case strings.EqualFold(a, SHA256):
		return SHA256, true
	}
	return "", false
}
