package focus

import (
	"strings"
	"testing"

	"cusax.dev/bridge/conference"
)

func TestSplitList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a, b ,c", []string{"a", "b", "c"}},
		{`<sip:a@b;x=1,2>, "Doe, John" <sip:j@d>`, []string{"<sip:a@b;x=1,2>", `"Doe, John" <sip:j@d>`}},
		{`"a\",b", c`, []string{`"a\",b"`, "c"}},
		{" , ,", nil},
		{"", nil},
	}
	for _, tt := range tests {
		got := splitList(tt.in)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("splitList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		in     string
		pkg    string
		id     string
		ok     bool
		render string
	}{
		{"conference", "conference", "", true, "conference"},
		{" Conference ;id=7", "conference", "7", true, "conference;id=7"},
		{"conference;ID=x.y;other=1", "conference", "x.y", true, "conference;id=x.y"},
		{"presence.winfo", "presence.winfo", "", true, "presence.winfo"},
		{"", "", "", false, ""},
		{"conf erence", "", "", false, ""},
		{"conference;id=a b", "", "", false, ""},
		{"conference;id=", "", "", false, ""},
	}
	for _, tt := range tests {
		ev, ok := parseEvent(tt.in)
		if ok != tt.ok || ev.pkg != tt.pkg || ev.id != tt.id || (ok && ev.String() != tt.render) {
			t.Errorf("parseEvent(%q) = %+v %v", tt.in, ev, ok)
		}
	}
}

func TestParseExpires(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"3600", 3600, true},
		{" 0 ", 0, true},
		{"99999999999", 1<<32 - 1, true},
		{"-1", 0, false},
		{"1h", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseExpires(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseExpires(%q) = %d %v", tt.in, got, ok)
		}
	}
}

func TestAcceptsConferenceInfo(t *testing.T) {
	tests := []struct {
		in   []string
		want bool
	}{
		{nil, true},
		{[]string{"application/conference-info+xml"}, true},
		{[]string{"application/pidf+xml, application/conference-info+xml;q=0.5"}, true},
		{[]string{"application/pidf+xml", "*/*"}, true},
		{[]string{"application/*;q=0.1"}, true},
		{[]string{"application/pidf+xml"}, false},
		{[]string{"application/conference-info+xml;q=0"}, false},
		{[]string{""}, false},
		{[]string{"garbage;;;"}, false},
	}
	for _, tt := range tests {
		if got := acceptsConferenceInfo(tt.in); got != tt.want {
			t.Errorf("acceptsConferenceInfo(%q) = %v", tt.in, got)
		}
	}
}

func TestParseReferTo(t *testing.T) {
	tests := []struct {
		in     string
		uri    string
		method string
		ok     bool
	}{
		{"<sip:carol@chicago.example.com;method=BYE>", "sip:carol@chicago.example.com", "BYE", true},
		{"<sip:carol@chicago.example.com;method=bye;transport=tcp>", "sip:carol@chicago.example.com;transport=tcp", "BYE", true},
		{`"Carol" <sips:carol@[::1]:5061>`, "sips:carol@[::1]:5061", "", true},
		{"sip:carol@example.com;method=BYE", "sip:carol@example.com", "BYE", true},
		{"<sip:dave@example.com?Replaces=abc>", "sip:dave@example.com", "", true},
		{"<tel:+15551234>", "tel:+15551234", "", true},
		{"<sip:a@b>, <sip:c@d>", "", "", false},
		{"<sip:a@b", "", "", false},
		{"nothing", "", "", false},
		{"<sip:a@b;method=BY{E>", "", "", false},
		{"<sip:@;method=BYE>", "", "", false},
	}
	for _, tt := range tests {
		rt, err := parseReferTo(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("parseReferTo(%q): err %v", tt.in, err)
			continue
		}
		if tt.ok && (rt.uri.String() != tt.uri || rt.method != tt.method) {
			t.Errorf("parseReferTo(%q) = %q %q, want %q %q", tt.in, rt.uri.String(), rt.method, tt.uri, tt.method)
		}
	}
}

// FuzzEventHeaders covers the header parsers of the event and REFER side:
// Event, Expires, Accept, Refer-To, list splitting, and the AOR the focus
// derives from a Refer-To as the core compares it.
func FuzzEventHeaders(f *testing.F) {
	for _, s := range []string{
		"conference;id=7", "3600", "application/conference-info+xml;q=0.5, */*",
		"<sip:carol@chicago.example.com;method=BYE>", `"a,b" <sip:x@y>, <sip:z@w>`,
		"sip:a@b;method=INVITE", "<sips:[::1]:5061>", "<sip:a@b?h=1&g=2>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, el := range splitList(s) {
			if el == "" || strings.TrimSpace(el) != el {
				t.Fatalf("splitList(%q) gave %q", s, el)
			}
		}
		if ev, ok := parseEvent(s); ok {
			if !isToken(ev.pkg) || (ev.id != "" && !isToken(ev.id)) {
				t.Fatalf("parseEvent(%q) = %+v", s, ev)
			}
			if again, ok := parseEvent(ev.String()); !ok || again != ev {
				t.Fatalf("Event %q does not round-trip: %+v", s, again)
			}
		}
		if n, ok := parseExpires(s); ok && strings.TrimSpace(s) == "0" && n != 0 {
			t.Fatalf("parseExpires(%q) = %d", s, n)
		}
		_ = acceptsConferenceInfo([]string{s})
		if rt, err := parseReferTo(s); err == nil {
			if rt.uri.Scheme == "" || (rt.method != "" && !isToken(rt.method)) || rt.method != strings.ToUpper(rt.method) {
				t.Fatalf("parseReferTo(%q) = %+v", s, rt)
			}
			if (rt.uri.Scheme == "sip" || rt.uri.Scheme == "sips") && rt.uri.Host == "" {
				t.Fatalf("parseReferTo(%q): sip URI without host", s)
			}
			if (rt.uri.Scheme == "sip" || rt.uri.Scheme == "sips") && rt.uri.UriParams != nil && rt.uri.UriParams.Has("method") {
				t.Fatalf("parseReferTo(%q) kept the method parameter", s)
			}
			a := aor(rt.uri)
			if !conference.SameAOR(a, a) {
				t.Fatalf("SameAOR(%q) not reflexive", a)
			}
		}
	})
}
