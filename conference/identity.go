package conference

import (
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// Identities is the one owner of the canonical form of every identity the
// core compares or stores (DESIGN.md §6): bans, affiliations, moderator
// lists and bindings hold only what Canonical returns.
//
//   - sip: and sips: URIs become sip:user@host: the scheme folded to sip,
//     the host lower-cased, URI parameters, headers and the port dropped,
//     %-escapes in the user part decoded, a telephone-number user part
//     (digits, an optional leading +, RFC 3966 visual separators) stripped
//     of its separators, and every host that is the bridge itself (Domain,
//     Aliases, "localhost", loopback addresses) folded to Domain;
//   - tel: URIs become tel:NUMBER without visual separators or parameters;
//   - xmpp: URIs and bare or full JIDs become the bare JID, lower-cased
//     (the PRECIS case mapping of XMPP localparts and domainparts, RFC 7622,
//     which for the identities people use is Unicode lower-casing).
//
// The zero value folds nothing to a domain: hosts are only lower-cased.
type Identities struct {
	// Domain is sip.domain, the name every alias is folded to.
	Domain string
	// Aliases are the other names of the bridge: sip.domain_aliases, the
	// listen and advertised IPs. "localhost" and loopback addresses are
	// always aliases when Domain is set.
	Aliases []string
}

// NewIdentities returns the canonicaliser for domain and its aliases (host
// names or IP addresses, compared case-insensitively).
func NewIdentities(domain string, aliases ...string) Identities {
	id := Identities{Domain: strings.ToLower(domain)}
	for _, a := range aliases {
		if a = normHost(a); a != "" && !slices.Contains(id.Aliases, a) {
			id.Aliases = append(id.Aliases, a)
		}
	}
	return id
}

// identityScheme says what a canonical identity is: "sip", "tel" or
// "xmpp" (a bare JID).
func identityScheme(canonical string) string {
	switch {
	case strings.HasPrefix(canonical, "sip:"):
		return "sip"
	case strings.HasPrefix(canonical, "tel:"):
		return "tel"
	}
	return "xmpp"
}

// Canonical returns the canonical form of a sip:, sips:, tel: or xmpp: URI
// or a JID; "" for an empty or unusable one. Angle brackets around a URI
// (a name-addr) are removed first.
func (id Identities) Canonical(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "<") {
		if i := strings.IndexByte(s, '>'); i > 0 {
			s = s[1:i]
		}
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if ok {
		switch strings.ToLower(scheme) {
		case "sip", "sips":
			return id.canonicalSIP(rest)
		case "tel":
			return canonicalTel(rest)
		case "xmpp":
			return bareJID(strings.TrimPrefix(rest, "//"))
		}
	}
	if strings.ContainsAny(s, ":<>; ") {
		return ""
	}
	return bareJID(s)
}

// Same reports whether a and b name the same identity.
func (id Identities) Same(a, b string) bool {
	ca := id.Canonical(a)
	return ca != "" && ca == id.Canonical(b)
}

func (id Identities) canonicalSIP(rest string) string {
	user, host, found := cutUserHost(rest)
	if !found {
		user, host = "", rest
	}
	if i := strings.IndexAny(host, ";?"); i >= 0 {
		host = host[:i]
	}
	host = normHost(host)
	if host == "" {
		return ""
	}
	if id.self(host) {
		host = id.Domain
	}
	if i := strings.IndexByte(user, ';'); i >= 0 {
		user = user[:i] // user parameters (RFC 3966 phone-context…)
	}
	if u, err := url.PathUnescape(user); err == nil {
		user = u
	}
	if n, ok := phoneNumber(user); ok {
		user = n
	}
	if user == "" {
		return "sip:" + host
	}
	return "sip:" + user + "@" + host
}

// cutUserHost splits user@host at the last @ before any parameter, so that
// a user part with parameters (sip:+1;phone-context=x@host) stays whole.
func cutUserHost(rest string) (user, host string, ok bool) {
	end := len(rest)
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		end = i
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 {
		return "", rest, false
	}
	return rest[:at], rest[at+1:], true
}

// self reports whether host (normalised) is a name of the bridge.
func (id Identities) self(host string) bool {
	if id.Domain == "" || host == id.Domain {
		return false
	}
	if host == "localhost" || slices.Contains(id.Aliases, host) {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.Unmap().IsLoopback()
}

// normHost lower-cases a host, drops a port and a trailing dot, and writes
// IP addresses in their canonical form (IPv6 without brackets).
func normHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[1:i]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.Count(h, ":") == 1 {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().String()
	}
	if strings.ContainsAny(h, " <>\"/\\@") {
		return ""
	}
	return h
}

// visualSeparators are RFC 3966 §5.1.1's, plus white space.
const visualSeparators = "-.() \t"

// phoneNumber reports whether s is a telephone number (an optional "+",
// then digits with visual separators, at least one digit) and returns it
// without separators.
func phoneNumber(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	var b strings.Builder
	digits := 0
	for i, r := range s {
		switch {
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteRune(r)
			digits++
		case strings.ContainsRune(visualSeparators, r):
		default:
			return "", false
		}
	}
	return b.String(), digits > 0
}

// canonicalTel is tel:NUMBER without visual separators and parameters; ""
// when the number is not one.
func canonicalTel(rest string) string {
	if i := strings.IndexByte(rest, ';'); i >= 0 {
		rest = rest[:i]
	}
	n, ok := phoneNumber(rest)
	if !ok {
		return ""
	}
	return "tel:" + n
}

// bareJID is the bare JID of a JID, lower-cased; "" if it has no domain.
func bareJID(j string) string {
	j, _, _ = strings.Cut(j, "/")
	j = strings.ToLower(strings.TrimSpace(j))
	if j == "" || strings.HasSuffix(j, "@") || strings.ContainsAny(j, " <>\"") {
		return ""
	}
	return j
}

// Number returns the telephone number an identity stands for, if any: the
// number of a tel: URI, or the user part of a sip: URI that is a telephone
// number. Used to match vCard TELs, which often hold only a number.
func (id Identities) Number(s string) string {
	c := id.Canonical(s)
	switch {
	case strings.HasPrefix(c, "tel:"):
		return c[len("tel:"):]
	case strings.HasPrefix(c, "sip:"):
		user, _, ok := strings.Cut(c[len("sip:"):], "@")
		if n, isNum := phoneNumber(user); ok && isNum {
			return n
		}
	}
	return ""
}

// TELMatches reports whether a vCard TEL value names the SIP identity aor
// (RFC 7081 §3.3): a sip: URI, a tel: URI wrapping a sip: URI (what a
// server mapping vcard-temp to vCard4 writes: tel:sip:…), a tel: URI or a
// bare number, each compared in canonical form; a number matches the
// number of aor.
func (id Identities) TELMatches(tel, aor string) bool {
	tel = strings.TrimSpace(tel)
	want := id.Canonical(aor)
	if want == "" || tel == "" {
		return false
	}
	if s, rest, ok := strings.Cut(tel, ":"); ok && strings.EqualFold(s, "tel") {
		if s2, _, ok2 := strings.Cut(rest, ":"); ok2 && (strings.EqualFold(s2, "sip") || strings.EqualFold(s2, "sips")) {
			tel = rest // tel:sip:… → sip:…
		}
	}
	if s, _, ok := strings.Cut(tel, ":"); ok && (strings.EqualFold(s, "sip") || strings.EqualFold(s, "sips")) {
		return id.Canonical(tel) == want
	}
	num := id.Number(aor)
	if num == "" {
		return false
	}
	if c := id.Canonical(tel); strings.HasPrefix(c, "tel:") {
		return c[len("tel:"):] == num
	}
	n, ok := phoneNumber(tel)
	return ok && n == num
}

// CanonicalAOR is the canonical form of a SIP URI without any knowledge of
// the bridge's own names (Identities{}.Canonical): scheme sip, host
// lower-cased, port, parameters and headers dropped. A string that is not a
// sip:/sips: URI is returned unchanged. The registry's Canonical also folds
// the bridge's aliases; prefer it wherever a Registry is at hand.
func CanonicalAOR(uri string) string {
	if !isSIPURI(uri) {
		return uri
	}
	return Identities{}.Canonical(uri)
}

// SameAOR reports whether two SIP URIs name the same address of record,
// without alias folding (see CanonicalAOR).
func SameAOR(a, b string) bool { return CanonicalAOR(a) == CanonicalAOR(b) }

// Canonical returns the canonical form of an identity as this registry
// compares it (Options.Identities).
func (r *Registry) Canonical(s string) string { return r.opts.Identities.Canonical(s) }

// SameIdentity reports whether a and b name the same identity for this
// registry (host aliases folded).
func (r *Registry) SameIdentity(a, b string) bool { return r.opts.Identities.Same(a, b) }

// cutScheme splits "scheme:rest", the scheme lower-cased.
func cutScheme(s string) (scheme, rest string, ok bool) {
	scheme, rest, ok = strings.Cut(strings.TrimSpace(s), ":")
	return strings.ToLower(scheme), rest, ok
}
