package client

import (
	"encoding/json"
	"testing"

	"cusax.dev/bridge/confinfo"
)

func audioUser(entity, name, callID string, status confinfo.EndpointStatus, aors ...string) confinfo.User {
	u := confinfo.User{Entity: entity, DisplayText: name, Roles: []string{"participant"},
		Endpoints: []confinfo.Endpoint{{Entity: entity, Status: status,
			Media:    []confinfo.Media{{ID: "1", Type: "audio", Status: confinfo.MediaSendRecv}},
			CallInfo: &confinfo.CallInfo{SIP: &confinfo.SIPDialogID{CallID: callID}}}}}
	if len(aors) > 0 {
		u.AssociatedAORs = &confinfo.URIs{}
		for _, a := range aors {
			u.AssociatedAORs.Entries = append(u.AssociatedAORs.Entries, confinfo.URIEntry{URI: a})
		}
	}
	return u
}

func textUser(entity, name string) confinfo.User {
	return confinfo.User{Entity: entity, DisplayText: name, Roles: []string{"participant"}}
}

func doc(users ...confinfo.User) *confinfo.Document {
	return &confinfo.Document{Entity: "sip:team@example.com", Users: &confinfo.Users{Users: users}}
}

func TestMerge(t *testing.T) {
	self := selfIDs{CallID: "me-call", Nick: "alice (chat)", JID: "alice@example.com", AOR: "sip:alice@example.com"}
	for _, tc := range []struct {
		name string
		doc  *confinfo.Document
		occs []occupant
		want []Row
	}{
		{
			name: "today: own legs are one row, another client's legs two, a phone one",
			doc: doc(
				audioUser("sip:alice@example.com", "alice", "me-call", confinfo.StatusConnected),
				textUser("sip:anonymous2@anonymous.invalid", "alice (chat)"),
				textUser("sip:anonymous3@anonymous.invalid", "bob"),
				audioUser("sip:bob@example.com", "bob", "bob-call", confinfo.StatusConnected),
				audioUser("sip:phone@example.com", "Desk Phone", "p-call", confinfo.StatusMutedViaFocus),
			),
			occs: []occupant{
				{Nick: "alice", Role: "participant"},
				{Nick: "alice (chat)", Role: "moderator", Self: true},
				{Nick: "bob", Role: "participant", JID: "bob@example.com"},
				{Nick: "bob (2)", Role: "participant"},
				{Nick: "Desk Phone", Role: "visitor"},
			},
			want: []Row{
				{Name: "alice (chat)", JID: "alice@example.com", SIP: "sip:alice@example.com", Level: "both", Role: "moderator", Verified: true, Self: true},
				{Name: "bob", JID: "bob@example.com", Level: "text", Role: "participant"},
				{Name: "bob (2)", SIP: "sip:bob@example.com", Level: "audio", Role: "participant"},
				{Name: "Desk Phone", SIP: "sip:phone@example.com", Level: "audio", Muted: true, Role: "visitor"},
			},
		},
		{
			name: "bound by the bridge: one row, verified, both",
			doc: doc(
				audioUser("sip:bob@example.com", "bob", "bob-call", confinfo.StatusConnected, "xmpp:bob@example.com"),
			),
			occs: []occupant{{Nick: "bob", Role: "participant", JID: "bob@example.com", HasLevel: true, Text: true, Audio: true}},
			want: []Row{{Name: "bob", JID: "bob@example.com", SIP: "sip:bob@example.com", Level: "both", Role: "participant", Verified: true}},
		},
		{
			name: "an unverified Call-Info JID binds nothing",
			doc: doc(
				func() confinfo.User {
					u := audioUser("sip:eve@example.com", "eve", "e", confinfo.StatusConnected)
					u.AssociatedAORs = &confinfo.URIs{Entries: []confinfo.URIEntry{{URI: "xmpp:bob@example.com", DisplayText: "unverified"}}}
					return u
				}(),
				textUser("xmpp:bob@example.com", "bob"),
			),
			occs: []occupant{{Nick: "bob", JID: "bob@example.com", Role: "participant"}, {Nick: "eve", Role: "participant"}},
			want: []Row{
				{Name: "bob", JID: "bob@example.com", Level: "text", Role: "participant"},
				{Name: "eve", SIP: "sip:eve@example.com", Level: "audio", Role: "participant"},
			},
		},
		{
			name: "bound, entity xmpp: where JIDs are public, muted by participation",
			doc: doc(
				audioUser("xmpp:bob@example.com", "bob", "bob-call", confinfo.StatusConnected, "sip:bob@example.com"),
			),
			occs: []occupant{{Nick: "bob", Role: "participant", JID: "bob@example.com", HasLevel: true, Text: true, Audio: true, Muted: true}},
			want: []Row{{Name: "bob", JID: "bob@example.com", SIP: "sip:bob@example.com", Level: "both", Muted: true, Role: "participant", Verified: true}},
		},
		{
			name: "two people with one name stay two rows",
			doc: doc(
				textUser("xmpp:sam@example.com", "sam"),
				audioUser("sip:sam@example.net", "sam", "c1", confinfo.StatusConnected),
			),
			occs: []occupant{{Nick: "sam", JID: "sam@example.com", Role: "participant"}, {Nick: "sam (2)", Role: "participant"}},
			want: []Row{
				{Name: "sam", JID: "sam@example.com", Level: "text", Role: "participant"},
				{Name: "sam (2)", SIP: "sip:sam@example.net", Level: "audio", Role: "participant"},
			},
		},
		{
			name: "departed callers are gone; chat only without conference state",
			doc:  doc(audioUser("sip:gone@example.com", "gone", "g", confinfo.StatusDisconnected)),
			occs: []occupant{{Nick: "carol", Role: "participant"}},
			want: []Row{{Name: "carol", Level: "text", Role: "participant"}},
		},
		{
			name: "nothing: an empty list",
			doc:  nil,
			occs: nil,
			want: []Row{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Merge(tc.doc, tc.occs, self)
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tc.want)
			if string(g) != string(w) {
				t.Errorf("got  %s\nwant %s", g, w)
			}
		})
	}
}

func TestMergeUniqueNames(t *testing.T) {
	rows := Merge(doc(audioUser("sip:a@x", "same", "1", confinfo.StatusConnected), audioUser("sip:b@x", "same", "2", confinfo.StatusConnected)), nil, selfIDs{})
	if len(rows) != 2 || rows[0].Name == rows[1].Name {
		t.Fatalf("rows %+v", rows)
	}
}

func FuzzMerge(f *testing.F) {
	f.Add([]byte(`<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:a@b" state="full" version="1"><users><user entity="sip:x@y"><display-text>x</display-text><endpoint entity="sip:x@y"><status>connected</status></endpoint></user></users></conference-info>`), "x", "x@y")
	f.Fuzz(func(t *testing.T, body []byte, nick, jid string) {
		d, err := confinfo.Parse(body)
		if err != nil {
			return
		}
		rows := Merge(d, []occupant{{Nick: nick, JID: jid}, {Nick: nick + " (2)"}}, selfIDs{CallID: "c", Nick: nick})
		seen := map[string]bool{}
		for _, r := range rows {
			if seen[r.Name] {
				t.Fatalf("duplicate name %q in %+v", r.Name, rows)
			}
			seen[r.Name] = true
		}
	})
}
