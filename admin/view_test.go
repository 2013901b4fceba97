package admin

import (
	"testing"

	"cusax.dev/bridge/conference"
)

// TestParticipantViewHint: a JID an unbound caller only named is shown as
// an unverified hint and never as its XMPP identity (which the console's
// ban acts on); a bound participant's JID is.
func TestParticipantViewHint(t *testing.T) {
	hinted := participantView(conference.Participant{ID: "p1", AOR: "sip:mallory@example.org", JIDHint: "boss@corp.example"})
	if hinted.Identities.XMPP != "" || hinted.Identities.SIP != "sip:mallory@example.org" ||
		hinted.JIDHint != "xmpp:boss@corp.example" || hinted.Binding != BindingUnverified {
		t.Fatalf("unbound caller with a hint: %+v", hinted)
	}
	bound := participantView(conference.Participant{ID: "p2", AOR: "sip:alice@example.org", JID: "alice@example.org/desk", Bound: true})
	if bound.Identities.XMPP != "xmpp:alice@example.org" || bound.JIDHint != "" || bound.Binding != BindingVerified {
		t.Fatalf("bound participant: %+v", bound)
	}
}
