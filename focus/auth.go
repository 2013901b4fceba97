package focus

import (
	"math"
	"net/netip"
	"strconv"

	"github.com/emiago/sipgo/sip"

	"cusax.dev/bridge/focus/digest"
	"cusax.dev/bridge/metrics"
)

// identity is who a request comes from, as far as the focus can tell.
type identity struct {
	// aor is the authenticated address of record (digest.AOR of the digest
	// user) when authenticated, else the From AOR as claimed.
	aor           string
	authenticated bool
	// fromMatches says the From is the authenticated user's own AOR.
	fromMatches bool
}

// authenticate checks a request's digest credentials (RFC 3261 §22) against
// the configured accounts. When they are missing, stale or wrong it answers
// the request itself (401 with challenges, 403, or 400) and returns false.
// The digest user's AOR (digest.AOR(user, Domain)) is the identity; the From
// is trusted only when digest.FromMatches says it is that AOR.
func (f *Focus) authenticate(req *sip.Request, tx sip.ServerTransaction) (identity, bool) {
	var auths []string
	for _, h := range req.GetHeaders("Authorization") {
		auths = append(auths, h.Value())
	}
	lookup := f.cfg.Accounts
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	user, res, retry := f.guard.Verify(req.Method.String(), auths, lookup, sourceIP(req))
	if f.m != nil {
		f.m.Security.AuthResults.WithLabelValues(res.String()).Inc()
	}
	switch res {
	case digest.OK:
		id := identity{aor: digest.AOR(user, f.cfg.Domain), authenticated: true}
		if from := req.From(); from != nil {
			_, id.fromMatches = digest.FromMatches(&from.Address, user, f.cfg.Domain)
		}
		return id, true
	case digest.Missing, digest.Stale, digest.Replayed:
		f.challenge(req, tx, res != digest.Missing)
	case digest.Bad:
		f.log.Info("digest authentication failed", "method", req.Method, "user", user, "call-id", callID(req))
		f.reply(tx, req, 403, "Forbidden", nil, f.warning(399, "Authentication failed"))
	case digest.Throttled:
		f.m.Refuse(metrics.RefuseAuthThrottled)
		f.log.Info("digest authentication throttled", "method", req.Method, "user", user, "source", req.Source(), "retry-after", retry)
		f.reply(tx, req, 403, "Forbidden", nil, f.warning(399, "Too many failed authentication attempts"),
			sip.NewHeader("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds())))))
	default:
		f.reply(tx, req, 400, "Bad Request", nil, f.warning(399, "Malformed Authorization header"))
	}
	return identity{}, false
}

// challenge answers 401 with one WWW-Authenticate per offered algorithm.
func (f *Focus) challenge(req *sip.Request, tx sip.ServerTransaction, stale bool) {
	res := f.response(req, 401, "Unauthorized", nil)
	for _, c := range f.auth.Challenges(stale) {
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", c))
	}
	f.send(tx, req, res)
}

// assertedIdentity returns the identity a trusted peer asserts for req
// (RFC 3325 §9.1): the P-Asserted-Identity of a request whose source is in
// sip.trusted_peers. From any other source the header is ignored.
func (f *Focus) assertedIdentity(req *sip.Request) (identity, bool) {
	if len(f.cfg.TrustedPeers) == 0 {
		return identity{}, false
	}
	pai := parsePAI(headerValues(req, "P-Asserted-Identity", ""))
	if pai == "" || !f.fromTrustedPeer(req) {
		return identity{}, false
	}
	id := identity{aor: pai, authenticated: true}
	if from := req.From(); from != nil {
		id.fromMatches = f.reg.SameIdentity(aor(from.Address), pai)
	}
	return id, true
}

// sourceIP is the IP address a request came from (its transport source,
// without port), the key of per-source limits.
func sourceIP(req *sip.Request) string {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return req.Source()
	}
	return ap.Addr().Unmap().String()
}
