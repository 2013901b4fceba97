package digest

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want credentials
		err  error
	}{
		{
			name: "icholy form",
			in:   `Digest username="alice", realm="example.com", nonce="n1", uri="sip:team@example.com", algorithm=MD5, cnonce="c1", qop=auth, nc=00000001, response="abc"`,
			want: credentials{username: "alice", realm: "example.com", nonce: "n1", uri: "sip:team@example.com", algorithm: "MD5", cnonce: "c1", qop: "auth", nc: "00000001", response: "abc"},
		},
		{
			name: "case, tabs, folding and no spaces",
			in:   "digest\tUserName = \"bob\" ,REALM=\"r\",\r\n nonce=\"n\",URI=\"sip:x\",Response=\"ff\"",
			want: credentials{username: "bob", realm: "r", nonce: "n", uri: "sip:x", response: "ff"},
		},
		{
			name: "escapes and commas in quotes",
			in:   `Digest username="a\"b", realm="x,y", nonce="n", uri="sip:x", response="r", opaque="o\\p"`,
			want: credentials{username: `a"b`, realm: "x,y", nonce: "n", uri: "sip:x", response: "r", opaque: `o\p`},
		},
		{
			name: "unknown parameters skipped, empty elements tolerated",
			in:   `Digest ,username="a",, auts="zz", realm="r" ,`,
			want: credentials{username: "a", realm: "r"},
		},
		{name: "only the scheme", in: "Digest", want: credentials{}},
		{name: "other scheme", in: `Basic abc`, err: errNotDigest},
		{name: "scheme glued", in: `Digestusername="a"`, err: errNotDigest},
		{name: "short", in: `Dig`, err: errNotDigest},
		{name: "duplicate", in: `Digest username="a", username="b"`, err: errSyntax},
		{name: "no value", in: `Digest username=`, err: errSyntax},
		{name: "no equals", in: `Digest username "a"`, err: errSyntax},
		{name: "unterminated", in: `Digest username="a`, err: errSyntax},
		{name: "trailing backslash", in: `Digest username="a\`, err: errSyntax},
		{name: "junk after value", in: `Digest username="a" realm="b"`, err: errSyntax},
		{name: "quote in token", in: `Digest nc=00"1`, err: errSyntax},
		{name: "bad key", in: `Digest =x`, err: errSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCredentials(tc.in)
			if err != tc.err {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && *got != tc.want {
				t.Errorf("got %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestParseNC(t *testing.T) {
	for in, want := range map[string]uint32{"00000001": 1, "0000000a": 10, "0000000A": 10, "ffffffff": 0xffffffff} {
		if n, ok := parseNC(in); !ok || n != want {
			t.Errorf("parseNC(%q) = %d, %v", in, n, ok)
		}
	}
	for _, in := range []string{"", "1", "00000000", "0000000g", "+0000001", "000000001", "-0000001"} {
		if _, ok := parseNC(in); ok {
			t.Errorf("parseNC(%q) accepted", in)
		}
	}
}

func TestFromMatches(t *testing.T) {
	tests := []struct {
		from   string
		user   string
		domain string
		ok     bool
	}{
		{"sip:alice@example.com", "alice", "example.com", true},
		{"sips:alice@Example.COM:5061;transport=tls", "alice", "example.com", true},
		{"sip:al%69ce@example.com", "alice", "example.com", true},
		{"sip:alice@example.com", "alice@example.com", "example.com", true},
		{"sip:alice@example.com", "alice@other.com", "example.com", false},
		{"sip:Alice@example.com", "alice", "example.com", false}, // user parts are case-sensitive
		{"sip:bob@example.com", "alice", "example.com", false},
		{"sip:alice@evil.example.net", "alice", "example.com", false},
		{"sip:example.com", "alice", "example.com", false},
		{"tel:+15551234", "alice", "example.com", false},
		{"sip:al%zzice@example.com", "alice", "example.com", false},
	}
	for _, tc := range tests {
		var u sip.Uri
		if err := sip.ParseUri(tc.from, &u); err != nil {
			t.Fatalf("%s: %v", tc.from, err)
		}
		aor, ok := FromMatches(&u, tc.user, tc.domain)
		if ok != tc.ok {
			t.Errorf("FromMatches(%s, %s, %s) = %v", tc.from, tc.user, tc.domain, ok)
		}
		if ok && aor != "sip:alice@example.com" {
			t.Errorf("aor %q", aor)
		}
	}
	if _, ok := FromMatches(nil, "alice", "example.com"); ok {
		t.Error("nil From matched")
	}
	if got := AOR("alice", "Example.COM"); got != "sip:alice@example.com" {
		t.Errorf("AOR = %q", got)
	}
}
