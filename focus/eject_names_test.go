package focus

import (
	"context"
	"testing"

	"cusax.dev/bridge/conference"
)

// A REFER names a participant as conference-info shows it: an xmpp: JID
// only where JIDs are shown to everyone, the anonymous entity, or a SIP
// AOR under any of the bridge's names.
func TestReferNames(t *testing.T) {
	reg := conference.NewRegistry(conference.Options{Identities: conference.NewIdentities("bridge.example")})
	f := &Focus{reg: reg}
	res, err := reg.Join(context.Background(), "r", conference.JoinRequest{JID: "Bob@x.org/phone", Nick: "bob", Text: true})
	if err != nil {
		t.Fatal(err)
	}
	bob := res.Participant
	caller := conference.Participant{AOR: "sip:carol@bridge.example", Entity: "sip:carol@bridge.example"}
	for _, tc := range []struct {
		p       conference.Participant
		target  string
		reveals bool
		want    bool
	}{
		{bob, "xmpp:bob@x.org", true, true},
		{bob, "xmpp:bob@x.org/other", true, true},
		{bob, "xmpp:bob@x.org", false, false},
		{bob, bob.Entity, false, true},
		{caller, "sip:carol@127.0.0.1", false, true},
		{caller, "sip:carol@elsewhere", false, false},
	} {
		if got := f.names(&tc.p, tc.target, tc.reveals); got != tc.want {
			t.Errorf("names(%s, %q, %v) = %v", tc.p.Entity, tc.target, tc.reveals, got)
		}
	}
}
