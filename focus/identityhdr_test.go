package focus

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseCallInfoIMPP(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"<xmpp:juliet@example.com>;purpose=impp"}, "juliet@example.com"},
		{[]string{`<http://wwww.example.com/alice/photo.jpg> ;purpose=icon, <xmpp:alice@example.com/phone?message>; Purpose="IMPP"`}, "alice@example.com/phone"},
		{[]string{"<xmpp:alice@example.com>;purpose=info"}, ""},
		{[]string{"<sip:alice@example.com>;purpose=impp"}, ""},
		{[]string{"<xmpp://me@host/alice@example.com>;purpose=impp"}, "alice@example.com"},
		{[]string{"<xmpp:example.com>;purpose=impp"}, ""},
		{[]string{"<xmpp:alice@example.com;purpose=impp"}, ""},
		{nil, ""},
	} {
		if got := parseCallInfoIMPP(tc.in); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParsePAI(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{`"Cullen Jennings" <sip:fluffy@cisco.com>`}, "sip:fluffy@cisco.com"},
		{[]string{"<tel:+14085264000>", "<sip:fluffy@cisco.com;user=phone>"}, "sip:fluffy@cisco.com;user=phone"},
		{[]string{"tel:+14085264000"}, "tel:+14085264000"},
		{[]string{`"a <b>" <sip:x@y>`}, "sip:x@y"},
		{[]string{"<mailto:x@y>"}, ""},
		{[]string{"<sip:>"}, ""},
	} {
		if got := parsePAI(tc.in); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestReasonRoundTrip(t *testing.T) {
	v := reasonValue(403, "spam \"again\"\r\nBYE x\\y")
	if strings.ContainsAny(v, "\r\n") {
		t.Fatalf("control characters: %q", v)
	}
	r, ok := parseReason(v)
	if !ok || r.protocol != "SIP" || r.cause != 403 || r.text != `spam "again"  BYE x\y` {
		t.Fatalf("%q → %+v %v", v, r, ok)
	}
	if v := reasonValue(200, strings.Repeat("é", 300)); len(v) > maxReasonText+40 || !utf8.ValidString(v) {
		t.Fatalf("long text: %d bytes", len(v))
	}
	for _, bad := range []string{"", ";cause=1", "SIP", "SIP;cause=x", `SIP;cause=1;text="open`} {
		if _, ok := parseReason(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	if r, ok := parseReason(`Q.850;cause=16;text="Terminated"`); !ok || r.cause != 16 || r.text != "Terminated" {
		t.Errorf("Q.850: %+v", r)
	}
}

// FuzzIdentityHeaders: the Call-Info, P-Asserted-Identity and Reason
// parsers never panic, return bounded, well-formed results, and what
// reasonValue writes parses back.
func FuzzIdentityHeaders(f *testing.F) {
	for _, s := range []string{
		"<xmpp:juliet@example.com>;purpose=impp",
		`"Cullen" <sip:fluffy@cisco.com>, <tel:+1408>`,
		`SIP;cause=200;text="Call completed elsewhere"`,
		`"a\"<" <xmpp://x/y@z?m#f>;purpose=IMPP`,
		"<", `"`, ";;;", "tel:", "<sip:a@b;x=\">",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if j := parseCallInfoIMPP([]string{s}); j != "" && (!strings.Contains(j, "@") || strings.ContainsAny(j, " <>\"") || len(j) > len(s)) {
			t.Fatalf("Call-Info %q → %q", s, j)
		}
		if p := parsePAI([]string{s}); len(p) > len(s) {
			t.Fatalf("PAI %q → %q", s, p)
		}
		parseReason(s)
		v := reasonValue(480, s)
		r, ok := parseReason(v)
		if !ok || r.cause != 480 || strings.ContainsAny(v, "\r\n\x00") {
			t.Fatalf("reasonValue(%q) = %q → %+v %v", s, v, r, ok)
		}
	})
}

func TestXMPPReferTarget(t *testing.T) {
	for in, want := range map[string][2]string{
		"xmpp:alice@example.org;method=BYE":     {"xmpp:alice@example.org", "BYE"},
		"xmpp:alice@example.org/res?method=bye": {"xmpp:alice@example.org/res", "BYE"},
		"xmpp:alice@example.org":                {"xmpp:alice@example.org", ""},
	} {
		got := xmppReferTarget(in)
		if got.uri.String() != want[0] || got.method != want[1] {
			t.Errorf("%q: %q %q", in, got.uri.String(), got.method)
		}
	}
}
