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

// A bound caller in a room that shows JIDs is one user: entity xmpp:JID,
// its AOR in associated-aors, its SIP endpoint under it.
func TestBoundCallerOneUser(t *testing.T) {
	p := caller(1)
	p.Bound, p.JID, p.Text = true, "alice@example.org", true
	p.Entity = "xmpp:alice@example.org"
	u := renderer.user(&p, true)
	if u.Entity != "xmpp:alice@example.org" || u.AssociatedAORs == nil || len(u.AssociatedAORs.Entries) != 1 ||
		u.AssociatedAORs.Entries[0].URI != p.AOR || len(u.Endpoints) != 1 || u.Endpoints[0].Media == nil {
		t.Fatalf("bound caller: %+v", u)
	}
}
