package digest

import (
	"errors"
	"strconv"
	"strings"
)

// MaxHeaderLen bounds the Authorization value Verify accepts; longer values
// are Malformed without being parsed.
const MaxHeaderLen = 4096

// credentials are the digest-response parameters of an Authorization value
// (RFC 3261 §25.1 "dig-resp", RFC 7616 §3.4).
type credentials struct {
	username  string
	realm     string
	nonce     string
	uri       string
	response  string
	algorithm string
	cnonce    string
	opaque    string
	qop       string
	nc        string
	userhash  string
}

var (
	errNotDigest = errors.New("digest: not a Digest credential")
	errSyntax    = errors.New("digest: malformed credentials")
)

// parseCredentials parses `Digest k=v, k="v", …`. The scheme and the
// parameter names are case-insensitive; linear white space (space, tab, CR,
// LF) may surround "=" and ","; values are tokens or quoted strings with
// backslash escapes. A repeated known parameter is an error; unknown ones
// (auth-param extensions) are skipped.
func parseCredentials(h string) (*credentials, error) {
	h = trimLWS(h)
	if len(h) < len("Digest") || !strings.EqualFold(h[:len("Digest")], "Digest") {
		return nil, errNotDigest
	}
	rest := h[len("Digest"):]
	if rest != "" && !isLWS(rest[0]) {
		return nil, errNotDigest // e.g. "DigestX"
	}
	c := &credentials{}
	seen := map[string]bool{}
	p := rest
	for {
		p = trimLWSLeft(p)
		for p != "" && p[0] == ',' { // tolerate empty list elements
			p = trimLWSLeft(p[1:])
		}
		if p == "" {
			break
		}
		i := 0
		for i < len(p) && isTokenChar(p[i]) {
			i++
		}
		if i == 0 {
			return nil, errSyntax
		}
		key := strings.ToLower(p[:i])
		p = trimLWSLeft(p[i:])
		if p == "" || p[0] != '=' {
			return nil, errSyntax
		}
		p = trimLWSLeft(p[1:])
		var val string
		if p != "" && p[0] == '"' {
			var b strings.Builder
			j := 1
			closed := false
			for j < len(p) {
				ch := p[j]
				if ch == '\\' && j+1 < len(p) {
					b.WriteByte(p[j+1])
					j += 2
					continue
				}
				if ch == '"' {
					closed = true
					j++
					break
				}
				b.WriteByte(ch)
				j++
			}
			if !closed {
				return nil, errSyntax
			}
			val, p = b.String(), p[j:]
		} else {
			j := 0
			for j < len(p) && p[j] != ',' && !isLWS(p[j]) {
				if p[j] == '"' || p[j] == '=' {
					return nil, errSyntax
				}
				j++
			}
			if j == 0 {
				return nil, errSyntax
			}
			val, p = p[:j], p[j:]
		}
		p = trimLWSLeft(p)
		if p != "" && p[0] != ',' {
			return nil, errSyntax
		}
		dst := c.field(key)
		if dst == nil {
			continue
		}
		if seen[key] {
			return nil, errSyntax
		}
		seen[key] = true
		*dst = val
	}
	return c, nil
}

func (c *credentials) field(key string) *string {
	switch key {
	case "username":
		return &c.username
	case "realm":
		return &c.realm
	case "nonce":
		return &c.nonce
	case "uri":
		return &c.uri
	case "response":
		return &c.response
	case "algorithm":
		return &c.algorithm
	case "cnonce":
		return &c.cnonce
	case "opaque":
		return &c.opaque
	case "qop":
		return &c.qop
	case "nc":
		return &c.nc
	case "userhash":
		return &c.userhash
	}
	return nil
}

// parseNC parses the nonce-count: exactly 8 hex digits (RFC 2617 §3.2.2),
// not zero.
func parseNC(s string) (uint32, bool) {
	if len(s) != 8 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 16, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint32(n), true
}

func isLWS(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

func trimLWSLeft(s string) string {
	for s != "" && isLWS(s[0]) {
		s = s[1:]
	}
	return s
}

func trimLWS(s string) string {
	s = trimLWSLeft(s)
	for s != "" && isLWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// isTokenChar is RFC 3261 §25.1 token: alphanum and -.!%*_+`'~
func isTokenChar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("-.!%*_+`'~", b) >= 0
}
