package confstate

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/confinfo"
)

func TestURIs(t *testing.T) {
	if got := renderer.ConferenceURI("team"); got != "sip:team@conf.example.com" {
		t.Errorf("ConferenceURI = %q", got)
	}
	if got := renderer.ChatURI("team"); got != "xmpp:team@conference.example.com?join" {
		t.Errorf("ChatURI = %q", got)
	}
	if got := (Renderer{SIPDomain: "x"}).ChatURI("team"); got != "" {
		t.Errorf("ChatURI without MUC domain = %q, want empty", got)
	}
}

// richSnapshot has one of every kind of participant.
func richSnapshot() conference.Snapshot {
	s := conference.Snapshot{Name: "team", Subject: "Agenda: sprint", Locked: false, CreatedAt: t0,
		Config: conference.Config{Title: "Team call", MaxParticipants: 50, Whois: "anyone"}}
	alice := caller(1) // plain caller
	bob := caller(2)   // bound to a JID, muted by a moderator
	bob.JID = "bob@example.org/phone"
	bob.Muted, bob.MutedByModerator, bob.Role = true, true, conference.RoleVisitor
	carol := caller(3) // on hold, moderator
	carol.Audio.OnHold = true
	carol.Role = conference.RoleModerator
	dan := occupant("dan") // MUC only
	s.Participants = []conference.Participant{alice, bob, carol, dan}

	eve := caller(5) // kicked
	eve.Left = &conference.Leave{Method: conference.Booted, At: t0.Add(time.Hour), By: "xmpp:admin@example.org", Reason: "spam"}
	frank := occupant("frank") // MUC-only, left: shown disconnected (issue 8 defect 6)
	frank.Left = &conference.Leave{Method: conference.Departed, At: t0}
	oldAlice := caller(1) // an earlier visit of alice: hidden by the present one
	oldAlice.ID = "p1-old"
	oldAlice.Left = &conference.Leave{Method: conference.Failed, At: t0}
	g1 := caller(7) // left twice: the latest departure wins
	g1.Left = &conference.Leave{Method: conference.Failed, At: t0}
	g2 := caller(7)
	g2.ID = "p7-again"
	g2.Left = &conference.Leave{Method: conference.Departed, At: t0.Add(2 * time.Hour)}
	s.Departed = []conference.Participant{oldAlice, g1, eve, frank, g2}
	return s
}

func TestFull(t *testing.T) {
	d := renderer.Full(richSnapshot())
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p, err := confinfo.Parse(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if p.Entity != "sip:team@conf.example.com" || p.State != confinfo.StateFull || p.Version != 0 {
		t.Errorf("root: entity %q state %q version %d", p.Entity, p.State, p.Version)
	}
	// The grouptextchat entry, byte for byte (RFC 7106 §1 shape).
	const chat = `<service-uris><entry><uri>xmpp:team@conference.example.com?join</uri><purpose>grouptextchat</purpose></entry></service-uris>`
	if !bytes.Contains(b, []byte(chat)) {
		t.Errorf("no grouptextchat entry %s in\n%s", chat, b)
	}
	const conf = `<conf-uris><entry><uri>sip:team@conf.example.com</uri><purpose>participation</purpose></entry></conf-uris>`
	if !bytes.Contains(b, []byte(conf)) {
		t.Errorf("no conf-uris entry %s in\n%s", conf, b)
	}
	desc := p.Description
	if desc.DisplayText != "Team call" || desc.Subject != "Agenda: sprint" || desc.MaximumUserCount == nil || *desc.MaximumUserCount != 50 {
		t.Errorf("description: %+v", desc)
	}
	if len(desc.AvailableMedia) != 1 || desc.AvailableMedia[0].Type != "audio" || desc.AvailableMedia[0].Status != confinfo.MediaSendRecv {
		t.Errorf("available-media: %+v", desc.AvailableMedia)
	}
	cs := p.ConferenceState
	if *cs.UserCount != 4 || !*cs.Active || *cs.Locked {
		t.Errorf("conference-state: count %d active %v locked %v", *cs.UserCount, *cs.Active, *cs.Locked)
	}

	var entities []string
	for _, u := range p.Users.Users {
		entities = append(entities, u.Entity)
	}
	wantEntities := []string{"sip:user1@example.com", "sip:user2@example.com", "sip:user3@example.com",
		"xmpp:dan@chat.example.com", "sip:user5@example.com", "xmpp:frank@chat.example.com", "sip:user7@example.com"}
	if strings.Join(entities, " ") != strings.Join(wantEntities, " ") {
		t.Fatalf("users %v, want %v", entities, wantEntities)
	}

	type want struct {
		roles      string
		aors       string
		status     confinfo.EndpointStatus
		media      confinfo.MediaStatus
		disc       confinfo.DisconnectionMethod
		noEndpoint bool
		noMedia    bool // a chat-only user who left: an endpoint without media
	}
	wants := map[string]want{
		"sip:user1@example.com":       {roles: "participant", status: confinfo.StatusConnected, media: confinfo.MediaSendRecv},
		"sip:user2@example.com":       {roles: "visitor", aors: "xmpp:bob@example.org", status: confinfo.StatusMutedViaFocus, media: confinfo.MediaRecvOnly},
		"sip:user3@example.com":       {roles: "moderator", status: confinfo.StatusOnHold, media: confinfo.MediaInactive},
		"xmpp:dan@chat.example.com":   {roles: "participant", noEndpoint: true},
		"sip:user5@example.com":       {roles: "participant", status: confinfo.StatusDisconnected, media: confinfo.MediaInactive, disc: confinfo.DisconnectBooted},
		"sip:user7@example.com":       {roles: "participant", status: confinfo.StatusDisconnected, media: confinfo.MediaInactive, disc: confinfo.DisconnectDeparted},
		"xmpp:frank@chat.example.com": {roles: "participant", status: confinfo.StatusDisconnected, disc: confinfo.DisconnectDeparted, noMedia: true},
	}
	for _, u := range p.Users.Users {
		w := wants[u.Entity]
		var aors []string
		if u.AssociatedAORs != nil {
			for _, e := range u.AssociatedAORs.Entries {
				aors = append(aors, e.URI)
			}
		}
		if strings.Join(u.Roles, ",") != w.roles || strings.Join(aors, ",") != w.aors {
			t.Errorf("%s: roles %v aors %v, want %s / %s", u.Entity, u.Roles, aors, w.roles, w.aors)
		}
		if w.noEndpoint {
			if len(u.Endpoints) != 0 {
				t.Errorf("%s: text-only user has endpoints %+v", u.Entity, u.Endpoints)
			}
			continue
		}
		if w.noMedia {
			if len(u.Endpoints) != 1 || len(u.Endpoints[0].Media) != 0 || u.Endpoints[0].Status != w.status ||
				u.Endpoints[0].DisconnectionMethod != w.disc || u.Endpoints[0].Entity != u.Entity {
				t.Errorf("%s: endpoints %+v", u.Entity, u.Endpoints)
			}
			continue
		}
		if len(u.Endpoints) != 1 || len(u.Endpoints[0].Media) != 1 {
			t.Fatalf("%s: endpoints %+v", u.Entity, u.Endpoints)
		}
		ep := u.Endpoints[0]
		if ep.Status != w.status || ep.Media[0].Status != w.media || ep.DisconnectionMethod != w.disc {
			t.Errorf("%s: status %s media %s disconnection %q, want %s %s %q", u.Entity, ep.Status, ep.Media[0].Status,
				ep.DisconnectionMethod, w.status, w.media, w.disc)
		}
	}

	// Alice in detail.
	a := p.User("sip:user1@example.com")
	ep := a.Endpoint("sip:user1@192.0.2.2:5060")
	if a.DisplayText != "User 1" || ep == nil {
		t.Fatalf("alice: %+v", a)
	}
	if ep.JoiningMethod != confinfo.JoinDialedIn || ep.JoiningInfo == nil || ep.JoiningInfo.When != "2026-03-04T20:00:01Z" {
		t.Errorf("alice joining: %q %+v", ep.JoiningMethod, ep.JoiningInfo)
	}
	m := ep.Media[0]
	if m.ID != MediaID || m.Type != "audio" || m.SrcID != "100001" {
		t.Errorf("alice media: %+v", m)
	}
	if ep.CallInfo == nil || *ep.CallInfo.SIP != (confinfo.SIPDialogID{CallID: "call-1@192.0.2.1", FromTag: "ua1", ToTag: "focus1"}) {
		t.Errorf("alice call-info: %+v", ep.CallInfo)
	}
	// The kicked one.
	e := p.User("sip:user5@example.com").Endpoints[0]
	if e.DisconnectionInfo == nil || *e.DisconnectionInfo != (confinfo.Execution{When: "2026-03-04T21:00:00Z", By: "xmpp:admin@example.org", Reason: "spam"}) {
		t.Errorf("booted: %+v", e.DisconnectionInfo)
	}
	// The latest departure of user7 wins.
	g := p.User("sip:user7@example.com").Endpoints[0]
	if g.DisconnectionInfo == nil || g.DisconnectionInfo.When != "2026-03-04T22:00:00Z" {
		t.Errorf("user7 departure: %+v", g.DisconnectionInfo)
	}
}

func TestFullStableAndIndependent(t *testing.T) {
	s := richSnapshot()
	a, _ := renderer.Full(s).Marshal()
	b, _ := renderer.Full(clone(s)).Marshal()
	if !bytes.Equal(a, b) {
		t.Fatalf("two renders differ:\n%s\n%s", a, b)
	}
	// Rendering must not alias the snapshot.
	d := renderer.Full(s)
	s.Participants[0].Audio.SSRC = 7
	s.Participants[0].DisplayName = "changed"
	if c, _ := d.Marshal(); !bytes.Equal(a, c) {
		t.Error("document changed with the snapshot")
	}
}

func TestFullEmptyAndNoChat(t *testing.T) {
	r := Renderer{SIPDomain: "localhost"}
	d := r.Full(conference.Snapshot{Name: "lobby", Locked: true})
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p, err := confinfo.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Description.ServiceURIs != nil || p.Description.DisplayText != "lobby" || p.Description.MaximumUserCount != nil {
		t.Errorf("description %+v", p.Description)
	}
	if *p.ConferenceState.UserCount != 0 || *p.ConferenceState.Active || !*p.ConferenceState.Locked {
		t.Errorf("state %+v", p.ConferenceState)
	}
	// A full document MUST include users (RFC 4575 §5.2), even empty.
	if p.Users == nil || len(p.Users.Users) != 0 || !bytes.Contains(b, []byte("<users")) {
		t.Errorf("users %+v in %s", p.Users, b)
	}
}

func TestEndpointMapping(t *testing.T) {
	tests := []struct {
		name          string
		muted, hold   bool
		left          *conference.Leave
		method        string
		status        confinfo.EndpointStatus
		media         confinfo.MediaStatus
		joining       confinfo.JoiningMethod
		disconnection confinfo.DisconnectionMethod
	}{
		{name: "connected", status: confinfo.StatusConnected, media: confinfo.MediaSendRecv, joining: confinfo.JoinDialedIn},
		{name: "muted", muted: true, status: confinfo.StatusMutedViaFocus, media: confinfo.MediaRecvOnly, joining: confinfo.JoinDialedIn},
		{name: "hold", hold: true, status: confinfo.StatusOnHold, media: confinfo.MediaInactive, joining: confinfo.JoinDialedIn},
		{name: "hold beats mute", hold: true, muted: true, status: confinfo.StatusOnHold, media: confinfo.MediaInactive, joining: confinfo.JoinDialedIn},
		{name: "dialed out", method: "dialed-out", status: confinfo.StatusConnected, media: confinfo.MediaSendRecv, joining: confinfo.JoinDialedOut},
		{name: "unknown joining method", method: "teleported", status: confinfo.StatusConnected, media: confinfo.MediaSendRecv, joining: confinfo.JoinDialedIn},
		{name: "departed", muted: true, left: &conference.Leave{Method: conference.Departed}, status: confinfo.StatusDisconnected,
			media: confinfo.MediaInactive, joining: confinfo.JoinDialedIn, disconnection: confinfo.DisconnectDeparted},
		{name: "failed", left: &conference.Leave{Method: conference.Failed}, status: confinfo.StatusDisconnected,
			media: confinfo.MediaInactive, joining: confinfo.JoinDialedIn, disconnection: confinfo.DisconnectFailed},
		{name: "booted", hold: true, left: &conference.Leave{Method: conference.Booted, By: "sip:mod@example.com"}, status: confinfo.StatusDisconnected,
			media: confinfo.MediaInactive, joining: confinfo.JoinDialedIn, disconnection: confinfo.DisconnectBooted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := caller(9)
			p.Muted, p.Audio.OnHold, p.Left, p.Audio.JoiningMethod = tc.muted, tc.hold, tc.left, tc.method
			ep := Endpoint(&p)
			if ep.Status != tc.status || ep.Media[0].Status != tc.media || ep.JoiningMethod != tc.joining || ep.DisconnectionMethod != tc.disconnection {
				t.Errorf("got %s/%s/%s/%q", ep.Status, ep.Media[0].Status, ep.JoiningMethod, ep.DisconnectionMethod)
			}
			switch {
			case tc.left == nil && ep.DisconnectionInfo != nil:
				t.Errorf("present participant has disconnection-info %+v", ep.DisconnectionInfo)
			case tc.left != nil && tc.left.By != "" && (ep.DisconnectionInfo == nil || ep.DisconnectionInfo.By != tc.left.By):
				t.Errorf("disconnection-info %+v, want by %s", ep.DisconnectionInfo, tc.left.By)
			}
		})
	}
}

func TestEndpointFallbacks(t *testing.T) {
	p := caller(4)
	p.Audio.Endpoint, p.Audio.SSRC, p.Audio.CallID = "", 0, ""
	ep := Endpoint(&p)
	if ep.Entity != "sip:user4@example.com" || ep.Media[0].SrcID != "" || ep.CallInfo != nil {
		t.Errorf("fallbacks: %+v", ep)
	}
	p.Audio.AOR, p.AOR = "", ""
	if ep := Endpoint(&p); ep.Entity != p.Entity {
		t.Errorf("entity fallback %q", ep.Entity)
	}
}

func TestAssociatedAORs(t *testing.T) {
	// A caller whose entity was made unique by the core: the AOR is listed.
	p := caller(1)
	p.Entity = p.AOR + ";cusax-id=p1"
	p.JID = "alice@example.org/x"
	u := renderer.user(&p, true)
	if u.AssociatedAORs == nil || len(u.AssociatedAORs.Entries) != 2 ||
		u.AssociatedAORs.Entries[0].URI != "xmpp:alice@example.org" || u.AssociatedAORs.Entries[1].URI != "sip:user1@example.com" {
		t.Errorf("aors %+v", u.AssociatedAORs)
	}
	// A semi-anonymous room hides the JID and keeps the AOR.
	if u := renderer.user(&p, false); u.AssociatedAORs == nil || len(u.AssociatedAORs.Entries) != 1 ||
		u.AssociatedAORs.Entries[0].URI != "sip:user1@example.com" {
		t.Errorf("anonymous-room aors %+v", u.AssociatedAORs)
	}
	// A MUC occupant whose entity is its JID: nothing to repeat.
	o := occupant("zed")
	if u := renderer.user(&o, true); u.AssociatedAORs != nil {
		t.Errorf("occupant aors %+v", u.AssociatedAORs)
	}
}

// In a room whose whois is not "anyone" no document carries a real JID
// (the core gives chat users anonymous entities there; the renderer keeps
// JIDs out of associated-aors).
func TestNoJIDsInSemiAnonymousRooms(t *testing.T) {
	s := richSnapshot()
	for _, whois := range []string{"", "moderators"} {
		s.Config.Whois = whois
		b, err := renderer.Full(s).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "bob@example.org") {
			t.Errorf("whois %q: bound JID published:\n%s", whois, b)
		}
	}
}

func TestClamp(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"}, // é is two bytes: cut before it
		{"€€", 4, "€"},
		{"€", 0, ""},
	}
	for _, tc := range tests {
		if got := clamp(tc.in, tc.n); got != tc.want {
			t.Errorf("clamp(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
	s := room(1)
	s.Subject = strings.Repeat("ü", 400)
	s.Participants[0].DisplayName = strings.Repeat("x", 1000)
	d := renderer.Full(s)
	if len(d.Description.Subject) > MaxSubject || len(d.Users.Users[0].DisplayText) != MaxDisplayText {
		t.Errorf("not clamped: %d %d", len(d.Description.Subject), len(d.Users.Users[0].DisplayText))
	}
}

func TestAffects(t *testing.T) {
	for _, k := range []conference.Kind{conference.Speaking, conference.DTMF, conference.MessagePosted} {
		if Affects(k) {
			t.Errorf("Affects(%v) = true", k)
		}
	}
	for _, k := range []conference.Kind{conference.Joined, conference.Left, conference.Kicked, conference.Muted,
		conference.Unmuted, conference.RoleChanged, conference.MediaChanged, conference.SubjectChanged, conference.ConfigChanged} {
		if !Affects(k) {
			t.Errorf("Affects(%v) = false", k)
		}
	}
}
