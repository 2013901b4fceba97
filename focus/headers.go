package focus

import (
	"errors"
	"fmt"
	"math"
	"mime"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Header parsers for the event and REFER side of the focus. They work on
// raw header values from the network and never panic; each is covered by
// FuzzEventHeaders.

// maxHeaderValue bounds the header values these parsers look at.
const maxHeaderValue = 4096

// headerValues returns the values of a header under its long and compact
// names (RFC 3261 §7.3.3), in order.
func headerValues(m sip.Message, long, compact string) []string {
	var out []string
	for _, h := range m.GetHeaders(long) {
		out = append(out, h.Value())
	}
	if compact != "" {
		for _, h := range m.GetHeaders(compact) {
			out = append(out, h.Value())
		}
	}
	return out
}

// splitList splits a header value at the commas that separate list
// elements: commas inside double quotes or angle brackets do not count
// (RFC 3261 §7.3.1). Empty elements are dropped.
func splitList(v string) []string {
	var out []string
	start, quoted, angle := 0, false, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case c == ',' && !angle:
			if s := strings.TrimSpace(v[start:i]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if start <= len(v) {
		if s := strings.TrimSpace(v[start:]); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// eventHeader is a parsed Event header (RFC 6665 §8.2.1): the package and
// its id parameter.
type eventHeader struct {
	pkg string // lower case, with any template (e.g. "conference", "presence.winfo")
	id  string
}

// parseEvent reads an Event header value: "conference" or "conference;id=7".
func parseEvent(v string) (eventHeader, bool) {
	if len(v) > maxHeaderValue {
		return eventHeader{}, false
	}
	parts := strings.Split(v, ";")
	pkg := strings.ToLower(strings.TrimSpace(parts[0]))
	if pkg == "" || !isToken(pkg) {
		return eventHeader{}, false
	}
	ev := eventHeader{pkg: pkg}
	for _, p := range parts[1:] {
		name, val, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(name), "id") {
			ev.id = strings.TrimSpace(val)
			if !isToken(ev.id) {
				return eventHeader{}, false
			}
		}
	}
	return ev, true
}

// String renders the header value.
func (e eventHeader) String() string {
	if e.id == "" {
		return e.pkg
	}
	return e.pkg + ";id=" + e.id
}

// isToken reports whether s is a non-empty RFC 3261 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("-.!%*_+`'~", rune(c)) {
			return false
		}
	}
	return true
}

// parseExpires reads an Expires value (delta-seconds, RFC 3261 §20.19);
// values beyond 32 bits saturate.
func parseExpires(v string) (uint32, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 20 {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > math.MaxUint32 {
		return math.MaxUint32, true
	}
	return uint32(n), true
}

// conferenceInfoType is the body type of the conference event package.
const conferenceInfoType = "application/conference-info+xml"

// acceptsConferenceInfo reports whether the Accept values of a SUBSCRIBE
// admit application/conference-info+xml (RFC 4575 §3.4: no Accept header
// means it does). Media ranges (*/*, application/*) count, a q of 0 refuses,
// and unparsable elements are skipped.
func acceptsConferenceInfo(values []string) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		if len(v) > maxHeaderValue {
			continue
		}
		for _, el := range splitList(v) {
			mt, params, err := mime.ParseMediaType(el)
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			if mt == conferenceInfoType || mt == "application/*" || mt == "*/*" {
				return true
			}
		}
	}
	// A present Accept header without a match (even an empty one, which
	// lists nothing) refuses the type.
	return false
}

// referTarget is a parsed Refer-To header (RFC 3515 §2.1) as the focus
// uses it: the URI without its method parameter and embedded headers, and
// the method the referrer asks for (upper case; empty means INVITE).
type referTarget struct {
	uri    sip.Uri
	method string
}

var errReferTo = errors.New("focus: bad Refer-To")

// parseReferTo reads a single Refer-To value. A comma-separated list, a
// value that is not a URI, or a URI without scheme or host is an error.
func parseReferTo(v string) (referTarget, error) {
	if len(v) > maxHeaderValue {
		return referTarget{}, fmt.Errorf("%w: too long", errReferTo)
	}
	if els := splitList(v); len(els) != 1 {
		return referTarget{}, fmt.Errorf("%w: %d values", errReferTo, len(els))
	}
	var u sip.Uri
	params := sip.NewParams()
	if _, err := sip.ParseAddressValue(v, &u, &params); err != nil {
		return referTarget{}, fmt.Errorf("%w: %w", errReferTo, err)
	}
	if u.Scheme == "" || u.Wildcard {
		return referTarget{}, fmt.Errorf("%w: no URI", errReferTo)
	}
	method, ok := "", false
	if u.UriParams != nil {
		method, ok = u.UriParams.Get("method")
	}
	if !ok {
		// A bare URI (no angle brackets) puts its parameters on the header.
		method, _ = params.Get("method")
	}
	method = strings.ToUpper(strings.TrimSpace(method))
	if method != "" && !isToken(method) {
		return referTarget{}, fmt.Errorf("%w: method %q", errReferTo, method)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "sip" && scheme != "sips" {
		return referTarget{uri: *u.Clone(), method: method}, nil // tel: and the like, kept as they are
	}
	clean := sip.Uri{Scheme: scheme, User: u.User, Password: u.Password, Host: u.Host, Port: u.Port}
	if u.UriParams != nil {
		for _, kv := range u.UriParams {
			if !strings.EqualFold(kv.K, "method") {
				if clean.UriParams == nil {
					clean.UriParams = sip.NewParams()
				}
				clean.UriParams.Add(kv.K, kv.V)
			}
		}
	}
	if clean.Host == "" {
		return referTarget{}, fmt.Errorf("%w: no host", errReferTo)
	}
	return referTarget{uri: clean, method: method}, nil
}

// referSubFalse reports whether a REFER asks for no implicit subscription
// (RFC 4488 Refer-Sub: false).
func referSubFalse(req *sip.Request) bool {
	for _, v := range headerValues(req, "Refer-Sub", "") {
		v, _, _ = strings.Cut(v, ";")
		if strings.EqualFold(strings.TrimSpace(v), "false") {
			return true
		}
	}
	return false
}
