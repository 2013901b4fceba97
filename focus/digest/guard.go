package digest

import "time"

// Guard wraps a Server with failure limits per claimed user and per
// source address (RFC 3261 §26.3.2.4 leaves the defence against online
// guessing to the server): a user or a source that failed more than
// FreeFailures times in a row is Throttled for a growing delay, and its
// requests are refused without their credentials being checked. A success
// clears both records.
type Guard struct {
	srv     *Server
	users   *Throttle
	sources *Throttle
}

// NewGuard returns a Guard over srv; opts configure both throttles.
func NewGuard(srv *Server, opts ThrottleOptions) *Guard {
	return &Guard{srv: srv, users: NewThrottle(opts), sources: NewThrottle(opts)}
}

// Server returns the guarded server (for challenges).
func (g *Guard) Server() *Server { return g.srv }

// Verify is Server.VerifyAll for a request from source (an IP address,
// without port), with the failure limits applied first. retry is how long
// a Throttled caller should wait.
func (g *Guard) Verify(method string, authorizations []string, lookup Lookup, source string) (user string, res Result, retry time.Duration) {
	claimed := g.claimedUser(authorizations)
	if d := g.sources.Blocked(source); d > 0 {
		return claimed, Throttled, d
	}
	if claimed != "" {
		if d := g.users.Blocked(claimed); d > 0 {
			return claimed, Throttled, d
		}
	}
	user, res = g.srv.VerifyAll(method, authorizations, lookup)
	switch res {
	case OK:
		g.sources.Reset(source)
		g.users.Reset(user)
	case Bad:
		g.sources.Fail(source)
		if user != "" {
			g.users.Fail(user)
		}
	case Malformed:
		g.sources.Fail(source)
	}
	return user, res, 0
}

// claimedUser is the username of the first credentials for this realm.
func (g *Guard) claimedUser(authorizations []string) string {
	for _, a := range authorizations {
		if len(a) > MaxHeaderLen {
			continue
		}
		if c, err := parseCredentials(a); err == nil && c.realm == g.srv.realm {
			return c.username
		}
	}
	return ""
}

// Tracked returns how many users and sources have failures on record.
func (g *Guard) Tracked() (users, sources int) { return g.users.Len(), g.sources.Len() }
