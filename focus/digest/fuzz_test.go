package digest

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzVerify feeds arbitrary Authorization values (and methods) to Verify.
// It must never panic; whatever it returns must be a known Result, and OK
// only for credentials that parse, name a known account and carry the
// realm. The seeds include real answers, so the fuzzer also mutates valid
// credentials around the nonces the server issued.
func FuzzVerify(f *testing.F) {
	s, _ := newServer(f, Options{Algorithms: []string{SHA256, MD5}, MaxNonces: 64})
	for _, c := range s.Challenges(false) {
		f.Add("REFER", answer(f, c, "REFER", uri, "alice", "wonderland", 1))
		f.Add("INVITE", rfc2069(f, c, "INVITE", uri, "bob", "builder"))
	}
	f.Add("REFER", `Digest username="alice", realm="example.com", nonce="abc", uri="sip:x", response="00", qop=auth, cnonce="c", nc=00000001`)
	f.Add("REFER", "Digest\tusername=\"a\\\"\",,realm=example.com")
	f.Add("", "Basic Zm9v")
	f.Add("REFER", "")
	f.Fuzz(func(t *testing.T, method, header string) {
		user, res := s.Verify(method, header, accounts)
		if res < OK || res > Replayed {
			t.Fatalf("unknown result %d", res)
		}
		if res == OK {
			c, err := parseCredentials(header)
			if err != nil || c.realm != realm || c.username != user {
				t.Fatalf("OK for %q: %v %+v", header, err, c)
			}
			if _, known := accounts(user); !known {
				t.Fatalf("OK for unknown user %q", user)
			}
		}
		if (res == Missing || res == Malformed) && user != "" {
			t.Fatalf("%v with user %q", res, user)
		}
		// Splitting the header into several values must not panic either.
		s.VerifyAll(method, strings.Split(header, "\n"), accounts)
		// Nor may the From check on whatever sipgo parses out of the input.
		var from sip.Uri
		if sip.ParseUri(header, &from) == nil {
			if aor, ok := FromMatches(&from, method, "example.com"); ok {
				if u, _, _ := strings.Cut(method, "@"); aor != AOR(u, "example.com") {
					t.Fatalf("FromMatches(%q, %q) = %q", header, method, aor)
				}
			}
		}
	})
}
