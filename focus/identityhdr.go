package focus

import (
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Parsers and builders for the identity headers of the focus (issue 8):
// Call-Info with purpose=impp (RFC 6993, RFC 7081 §3.4), P-Asserted-Identity
// (RFC 3325) and Reason (RFC 3326). They take raw header values from the
// network, never panic and bound what they look at; FuzzIdentityHeaders
// covers them.

// nameAddr splits one header element "display <uri>;params" or
// "uri;params" into the URI and the header parameters after it. Quoted
// display names may hold '<'. ok is false when there is no URI.
func nameAddr(el string) (uri, params string, ok bool) {
	el = strings.TrimSpace(el)
	quoted := false
	for i := 0; i < len(el); i++ {
		switch c := el[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '<':
			end := strings.IndexByte(el[i+1:], '>')
			if end < 0 {
				return "", "", false
			}
			uri = strings.TrimSpace(el[i+1 : i+1+end])
			return uri, el[i+2+end:], uri != ""
		}
	}
	if quoted {
		return "", "", false
	}
	uri, params, _ = strings.Cut(el, ";")
	uri = strings.TrimSpace(uri)
	if strings.ContainsAny(uri, " \t\"") {
		return "", "", false
	}
	return uri, params, uri != ""
}

// headerParam returns the value of parameter name in ";a=b;c" (quotes
// removed), and whether it is there.
func headerParam(params, name string) (string, bool) {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), name) {
			v = strings.TrimSpace(v)
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}

// parseCallInfoIMPP returns the JID of the first Call-Info element with
// purpose=impp and an xmpp: URI (RFC 6993 §2: "Call-Info:
// <xmpp:juliet@example.com>;purpose=impp"), without the xmpp: scheme, an
// authority, a resource's query or fragment; "" when there is none. It is
// only a hint: the core verifies it.
func parseCallInfoIMPP(values []string) string {
	for _, v := range values {
		if len(v) > maxHeaderValue {
			continue
		}
		for _, el := range splitList(v) {
			uri, params, ok := nameAddr(el)
			if !ok {
				continue
			}
			if p, _ := headerParam(params, "purpose"); !strings.EqualFold(p, "impp") {
				continue
			}
			scheme, rest, ok := strings.Cut(uri, ":")
			if !ok || !strings.EqualFold(scheme, "xmpp") {
				continue
			}
			if strings.HasPrefix(rest, "//") { // xmpp://auth@host/jid (RFC 5122 §2.3)
				if i := strings.IndexByte(rest[2:], '/'); i >= 0 {
					rest = rest[2+i+1:]
				} else {
					continue
				}
			}
			if i := strings.IndexAny(rest, "?#"); i >= 0 {
				rest = rest[:i]
			}
			if j := strings.TrimSpace(rest); j != "" && strings.Contains(j, "@") && !strings.ContainsAny(j, " <>\"") {
				return j
			}
		}
	}
	return ""
}

// parsePAI returns the identity a P-Asserted-Identity header asserts
// (RFC 3325 §9.1): its sip: or sips: URI, else its tel: URI; "" when it has
// neither. Only requests from sip.trusted_peers are asked.
func parsePAI(values []string) string {
	tel := ""
	for _, v := range values {
		if len(v) > maxHeaderValue {
			continue
		}
		for _, el := range splitList(v) {
			uri, _, ok := nameAddr(el)
			if !ok {
				continue
			}
			scheme, _, _ := strings.Cut(uri, ":")
			switch strings.ToLower(scheme) {
			case "sip", "sips":
				var u sip.Uri
				if err := sip.ParseUri(uri, &u); err != nil || u.Host == "" {
					continue
				}
				return uri
			case "tel":
				if tel == "" && len(uri) > len("tel:") {
					tel = uri
				}
			}
		}
	}
	return tel
}

// maxReasonText bounds the text of a Reason header the focus writes.
const maxReasonText = 256

// reasonValue is a Reason header value (RFC 3326 §2): protocol SIP, a
// status code as cause and the moderator's text, quoted and escaped,
// without control characters, at most maxReasonText bytes.
func reasonValue(cause int, text string) string {
	var b strings.Builder
	b.WriteString("SIP;cause=")
	b.WriteString(strconv.Itoa(cause))
	clean := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(text, ""))
	if len(clean) > maxReasonText {
		clean = strings.ToValidUTF8(clean[:maxReasonText], "")
	}
	b.WriteString(`;text="`)
	for _, r := range clean {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// reasonHeader is the Reason header for a BYE or a refusal.
func reasonHeader(cause int, text string) sip.Header {
	return sip.NewHeader("Reason", reasonValue(cause, text))
}

// sipReason is one parsed Reason value.
type sipReason struct {
	protocol string // "SIP", "Q.850", …
	cause    int
	text     string
}

// parseReason reads a Reason header value (RFC 3326 §2): protocol, cause
// and text; ok is false without a protocol token or a numeric cause.
func parseReason(v string) (sipReason, bool) {
	if len(v) > maxHeaderValue {
		return sipReason{}, false
	}
	proto, params, _ := strings.Cut(v, ";")
	proto = strings.TrimSpace(proto)
	if !isToken(proto) {
		return sipReason{}, false
	}
	r := sipReason{protocol: proto}
	c, ok := headerParam(params, "cause")
	if !ok {
		return sipReason{}, false
	}
	n, err := strconv.Atoi(c)
	if err != nil || n < 0 || n > 65535 {
		return sipReason{}, false
	}
	r.cause = n
	if i := strings.Index(strings.ToLower(params), "text="); i >= 0 {
		t := strings.TrimSpace(params[i+len("text="):])
		if strings.HasPrefix(t, `"`) {
			var b strings.Builder
			for j := 1; j < len(t); j++ {
				switch t[j] {
				case '\\':
					if j+1 < len(t) {
						j++
						b.WriteByte(t[j])
					}
				case '"':
					r.text = b.String()
					return r, true
				default:
					b.WriteByte(t[j])
				}
			}
			return sipReason{}, false // unterminated
		}
		r.text, _, _ = strings.Cut(t, ";")
	}
	return r, true
}
