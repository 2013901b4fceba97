package focus

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseReplaces(t *testing.T) {
	tests := []struct {
		in    string
		key   dialogKey
		early bool
		ok    bool
	}{
		{"abc@h;to-tag=L;from-tag=R", dialogKey{"abc@h", "L", "R"}, false, true},
		{" abc ; from-tag = R ; TO-TAG=L ;early-only", dialogKey{"abc", "L", "R"}, true, true},
		{"abc;to-tag=L", dialogKey{"abc", "L", ""}, false, false},
		{";to-tag=L;from-tag=R", dialogKey{"", "L", "R"}, false, false},
		{"", dialogKey{}, false, false},
	}
	for _, tt := range tests {
		k, early, ok := parseReplaces(tt.in)
		if k != tt.key || early != tt.early || ok != tt.ok {
			t.Errorf("parseReplaces(%q) = %+v %v %v, want %+v %v %v", tt.in, k, early, ok, tt.key, tt.early, tt.ok)
		}
	}
}

func TestInfoDigit(t *testing.T) {
	tests := []struct {
		mt, body string
		digit    rune
		ok       bool
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5', true},
		{"application/dtmf-relay", "signal= *\nDuration=100", '*', true},
		{"application/dtmf-relay", "Signal=11\r\n", '#', true},
		{"application/dtmf-relay", "Signal=a\r\n", 'A', true},
		{"application/dtmf-relay", "Duration=160\r\n", 0, false},
		{"application/dtmf-relay", "Signal=55\r\n", 0, false},
		{"application/dtmf", "#", '#', true},
		{"application/dtmf", "x", 0, false},
		{"text/plain", "5", 0, false},
	}
	for _, tt := range tests {
		d, ok := infoDigit(tt.mt, tt.body)
		if d != tt.digit || ok != tt.ok {
			t.Errorf("infoDigit(%q, %q) = %q %v, want %q %v", tt.mt, tt.body, d, ok, tt.digit, tt.ok)
		}
	}
}

// FuzzSmallParsers covers the header and attribute parsers next to SDP:
// Replaces, INFO DTMF bodies, telephone-event lists and a=rtcp.
func FuzzSmallParsers(f *testing.F) {
	f.Add("abc;to-tag=1;from-tag=2;early-only")
	f.Add("Signal=5\r\nDuration=160")
	f.Add("0-15,16,200-255")
	f.Add("5001 IN IP4 192.0.2.1")
	f.Fuzz(func(t *testing.T, s string) {
		if k, _, ok := parseReplaces(s); ok && (k.callID == "" || k.localTag == "" || k.remoteTag == "") {
			t.Fatalf("accepted incomplete Replaces %q", s)
		}
		for _, mt := range []string{"application/dtmf-relay", "application/dtmf"} {
			if d, ok := infoDigit(mt, s); ok && !strings.ContainsRune("0123456789*#ABCD", d) {
				t.Fatalf("digit %q from %q", d, s)
			}
		}
		if ev := formatEvents(parseEvents(s)); parseEvents(ev) != parseEvents(s) && ev != "" {
			t.Fatalf("events %q do not round-trip (%q)", s, ev)
		}
		if a := parseRTCPAttr(s, netip.MustParseAddr("192.0.2.1")); a.IsValid() && (a.Port() == 0 || a.Addr().IsUnspecified()) {
			t.Fatalf("unusable RTCP address %v from %q", a, s)
		}
		if hs := headerSafe(s); strings.ContainsAny(hs, "\"\\\r\n") || len(hs) > 100 {
			t.Fatalf("headerSafe(%q) = %q", s, hs)
		}
	})
}
