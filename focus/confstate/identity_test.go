package confstate

import (
	"testing"

	"cusax.dev/bridge/conference"
)

// RFC 7081 §3.4: a caller's Call-Info JID that the core could not verify
// is shown marked "unverified"; a verified binding is not marked.
func TestUnverifiedHintMarked(t *testing.T) {
	p := caller(1)
	p.JIDHint = "alice@example.org"
	u := renderer.user(&p, false)
	if u.AssociatedAORs == nil {
		t.Fatal("no associated-aors")
	}
	var found bool
	for _, e := range u.AssociatedAORs.Entries {
		if e.URI == "xmpp:alice@example.org" {
			found = e.DisplayText == "unverified"
		}
	}
	if !found {
		t.Fatalf("hint not marked unverified: %+v", u.AssociatedAORs.Entries)
	}
	p.Bound, p.JIDHint, p.JID = true, "", "alice@example.org"
	u = renderer.user(&p, true)
	for _, e := range u.AssociatedAORs.Entries {
		if e.DisplayText == "unverified" {
			t.Fatalf("bound caller marked: %+v", u.AssociatedAORs.Entries)
		}
	}
	_ = conference.Everyone
}
