package muc

import (
	"slices"
	"testing"
)

const adminNS = "http://jabber.org/protocol/muc#admin"

func admin(items string) string { return `<query xmlns='` + adminNS + `'>` + items + `</query>` }

// threeInRoom: alice owns team, bob and carol are participants.
func threeInRoom(t *testing.T) (*rig, string, string, string) {
	r := newRig(t)
	alice, bob, carol := user("alice"), user("bob"), user("carol")
	r.create(alice, "team", "Alice")
	r.joined(bob, "team", "Bob")
	r.fc.nextTo(t, alice)
	r.joined(carol, "team", "Carol")
	r.fc.nextTo(t, alice)
	r.fc.nextTo(t, bob)
	return r, alice, bob, carol
}

func TestVoiceKickBan(t *testing.T) {
	r, alice, bob, carol := threeInRoom(t)
	room := roomJID("team")

	// Revoke voice: everyone sees Carol as visitor.
	if n := r.iq(alice, room, "set", admin(`<item nick='Carol' role='visitor'><reason>quiet</reason></item>`)); n.attr("type") != "result" {
		t.Fatalf("revoke voice: %s", n)
	}
	for _, to := range []string{alice, bob, carol} {
		n := r.fc.nextTo(t, to)
		if n.attr("from") != room+"/Carol" || mucItem(n).attr("role") != "visitor" {
			t.Fatalf("voice revoked presence to %s: %s", to, n)
		}
	}
	// A participant may not kick.
	wantError(t, r.iq(bob, room, "set", admin(`<item nick='Carol' role='none'/>`)), "forbidden", "auth")
	// Nor list roles.
	wantError(t, r.iq(bob, room, "get", admin(`<item role='participant'/>`)), "forbidden", "auth")

	// Kick: Carol gets 110+307 with actor and reason, the others 307.
	if n := r.iq(alice, room, "set", admin(`<item nick='Carol' role='none'><reason>Avaunt!</reason></item>`)); n.attr("type") != "result" {
		t.Fatalf("kick: %s", n)
	}
	self := r.fc.nextTo(t, carol)
	it := mucItem(self)
	if self.attr("type") != "unavailable" || !slices.Equal(codes(self), []string{"110", "307"}) || it.attr("role") != "none" {
		t.Fatalf("kicked self-presence: %s", self)
	}
	if it.child(NSMUCUser, "actor").attr("nick") != "Alice" || it.child(NSMUCUser, "reason").Text != "Avaunt!" {
		t.Fatalf("kick without actor/reason: %s", self)
	}
	if n := r.fc.nextTo(t, bob); !slices.Equal(codes(n), []string{"307"}) || n.attr("from") != room+"/Carol" {
		t.Fatalf("kick to others: %s", n)
	}
	r.fc.nextTo(t, alice)

	// Ban Bob by JID: 301 to all, then he cannot rejoin.
	if n := r.iq(alice, room, "set", admin(`<item affiliation='outcast' jid='bob@localhost'><reason>spam</reason></item>`)); n.attr("type") != "result" {
		t.Fatalf("ban: %s", n)
	}
	self = r.fc.nextTo(t, bob)
	if !slices.Equal(codes(self), []string{"110", "301"}) || mucItem(self).attr("affiliation") != "outcast" {
		t.Fatalf("banned self-presence: %s", self)
	}
	if mucItem(self).child(NSMUCUser, "actor").attr("nick") != "Alice" {
		t.Fatalf("ban without actor: %s", self)
	}
	if n := r.fc.nextTo(t, alice); !slices.Equal(codes(n), []string{"301"}) {
		t.Fatalf("ban to others: %s", n)
	}
	r.joinRaw(bob, "team", "Bob", "rejoin", "")
	wantError(t, r.fc.nextTo(t, bob), "forbidden", "auth")

	// The outcast list shows Bob.
	n := r.iq(alice, room, "get", admin(`<item affiliation='outcast'/>`))
	items := n.child(NSMUCAdmin, "query").children(NSMUCAdmin, "item")
	if len(items) != 1 || items[0].attr("jid") != "bob@localhost" {
		t.Fatalf("outcast list: %s", n)
	}
	// Self-ban is a conflict; a kick of oneself too.
	wantError(t, r.iq(alice, room, "set", admin(`<item affiliation='outcast' jid='alice@localhost'/>`)), "conflict", "cancel")
	wantError(t, r.iq(alice, room, "set", admin(`<item nick='Alice' role='none'/>`)), "conflict", "cancel")
}

func TestAdminRules(t *testing.T) {
	r, alice, bob, carol := threeInRoom(t)
	room := roomJID("team")

	// Grant membership, then admin (owner only), then moderator status.
	if n := r.iq(alice, room, "set", admin(`<item affiliation='admin' jid='bob@localhost'/>`)); n.attr("type") != "result" {
		t.Fatalf("grant admin: %s", n)
	}
	for _, to := range []string{alice, bob, carol} {
		n := r.fc.nextTo(t, to)
		if mucItem(n).attr("affiliation") != "admin" || mucItem(n).attr("role") != "moderator" {
			t.Fatalf("admin presence to %s: %s", to, n)
		}
	}
	// Bob, now a moderator of a semi-anonymous room, learns real JIDs.
	seen := map[string]string{}
	for range 2 {
		n := r.fc.nextTo(t, bob)
		seen[n.attr("from")] = mucItem(n).attr("jid")
	}
	if seen[room+"/Alice"] != alice || seen[room+"/Carol"] != carol {
		t.Fatalf("new moderator did not learn JIDs: %v", seen)
	}
	// An admin may not touch the owner.
	wantError(t, r.iq(bob, room, "set", admin(`<item nick='Alice' role='none'/>`)), "not-allowed", "cancel")
	wantError(t, r.iq(bob, room, "set", admin(`<item affiliation='outcast' jid='alice@localhost'/>`)), "not-allowed", "cancel")
	// Nor grant admin.
	wantError(t, r.iq(bob, room, "set", admin(`<item affiliation='admin' jid='carol@localhost'/>`)), "not-allowed", "cancel")
	// Admin lists: the admin list includes bob; the owner list is owner-only.
	n := r.iq(alice, room, "get", admin(`<item affiliation='admin'/>`))
	if items := n.child(NSMUCAdmin, "query").children(NSMUCAdmin, "item"); len(items) != 1 || items[0].attr("jid") != "bob@localhost" {
		t.Fatalf("admin list: %s", n)
	}
	wantError(t, r.iq(bob, room, "get", admin(`<item affiliation='owner'/>`)), "forbidden", "auth")
	wantError(t, r.iq(carol, room, "get", admin(`<item affiliation='member'/>`)), "forbidden", "auth")
	// Role list: moderators.
	n = r.iq(bob, room, "get", admin(`<item role='moderator'/>`))
	var nicks []string
	for _, it := range n.child(NSMUCAdmin, "query").children(NSMUCAdmin, "item") {
		nicks = append(nicks, it.attr("nick"))
	}
	if !slices.Equal(nicks, []string{"Alice", "Bob"}) {
		t.Fatalf("moderator list: %v (%s)", nicks, n)
	}
	// Malformed requests.
	for name, c := range map[string]struct{ typ, items, cond string }{
		"role and affiliation": {"set", `<item nick='Carol' role='visitor' affiliation='member'/>`, "bad-request"},
		"no item":              {"set", ``, "bad-request"},
		"role without nick":    {"set", `<item role='visitor'/>`, "bad-request"},
		"unknown role":         {"set", `<item nick='Carol' role='king'/>`, "bad-request"},
		"bad jid":              {"set", `<item affiliation='member' jid='a@b@c'/>`, "jid-malformed"},
		"unknown nick":         {"set", `<item nick='Nobody' role='visitor'/>`, "item-not-found"},
		"list none":            {"get", `<item affiliation='none'/>`, "bad-request"},
	} {
		t.Run(name, func(t *testing.T) { wantError(t, r.iq(alice, room, c.typ, admin(c.items)), c.cond, "") })
	}
	// Unknown room.
	wantError(t, r.iq(alice, roomJID("nowhere"), "get", admin(`<item affiliation='member'/>`)), "item-not-found", "cancel")
}

func TestModeratedRoomVoice(t *testing.T) {
	r := newRig(t)
	alice, bob := user("alice"), user("bob")
	r.create(alice, "mod", "Alice")
	form := `<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>` +
		`<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>` +
		`<field var='muc#roomconfig_moderatedroom'><value>1</value></field></x></query>`
	if n := r.iq(alice, roomJID("mod"), "set", form); n.attr("type") != "result" {
		t.Fatalf("configure: %s", n)
	}
	if n := r.fc.nextTo(t, alice); !slices.Contains(codes(n), "104") {
		t.Fatalf("want 104: %s", n)
	}
	got := r.joined(bob, "mod", "Bob")
	if mucItem(got[1]).attr("role") != "visitor" {
		t.Fatalf("a non-member enters a moderated room as visitor: %s", got[1])
	}
	r.fc.nextTo(t, alice)
	r.fc.send(t, `<message from='%s' to='%s' type='groupchat' id='v1'><body>hello?</body></message>`, bob, roomJID("mod"))
	n := r.fc.nextTo(t, bob)
	wantError(t, n, "forbidden", "auth")
	if n.attr("id") != "v1" {
		t.Fatalf("error must echo id: %s", n)
	}
	// Grant voice; now Bob can speak.
	if n := r.iq(alice, roomJID("mod"), "set", admin(`<item nick='Bob' role='participant'/>`)); n.attr("type") != "result" {
		t.Fatalf("grant voice: %s", n)
	}
	r.fc.nextTo(t, alice)
	if n := r.fc.nextTo(t, bob); mucItem(n).attr("role") != "participant" {
		t.Fatalf("voice granted presence: %s", n)
	}
	r.fc.send(t, `<message from='%s' to='%s' type='groupchat' id='v2'><body>thanks</body></message>`, bob, roomJID("mod"))
	if n := r.fc.nextTo(t, alice); n.attr("id") != "v2" {
		t.Fatalf("message after voice: %s", n)
	}
}

// XEP-0045 §8.2, §9.1, §8.4: the moderator receives the presences its
// action caused before the IQ result, whatever the renderer's timing.
func TestAdminResultAfterPresences(t *testing.T) {
	r, alice, bob, carol := threeInRoom(t)
	room := roomJID("team")
	// upToResult sends an admin or owner set and returns what alice receives up to and
	// including its result, in order.
	upToResult := func(payload string) []*node {
		t.Helper()
		id := newID()
		r.fc.send(t, `<iq from='%s' to='%s' type='set' id='%s'>%s</iq>`, alice, room, id, payload)
		var got []*node
		for {
			n := r.fc.nextTo(t, alice)
			got = append(got, n)
			if n.Name.Local == "iq" && n.attr("id") == id {
				if n.attr("type") != "result" {
					t.Fatalf("%s: %s", payload, n)
				}
				return got
			}
		}
	}
	for _, c := range []struct {
		name, payload, from, typ, code string
	}{
		{"revoke voice", admin(`<item nick='Carol' role='visitor'/>`), room + "/Carol", "", ""},
		{"kick", admin(`<item nick='Carol' role='none'><reason>out</reason></item>`), room + "/Carol", "unavailable", "307"},
		{"ban", admin(`<item affiliation='outcast' jid='bob@localhost'/>`), room + "/Bob", "unavailable", "301"},
	} {
		got := upToResult(c.payload)
		if len(got) != 2 {
			t.Fatalf("%s: want the presence then the result, got %v", c.name, got)
		}
		p := got[0]
		if p.Name.Local != "presence" || p.attr("from") != c.from || p.attr("type") != c.typ || (c.code != "" && !slices.Equal(codes(p), []string{c.code})) {
			t.Fatalf("%s: first stanza to the moderator: %s", c.name, p)
		}
	}
	r.fc.nextTo(t, carol) // visitor
	r.fc.nextTo(t, carol) // kicked
	r.fc.nextTo(t, bob)   // visitor
	r.fc.nextTo(t, bob)   // kicked
	r.fc.nextTo(t, bob)   // banned

	// Affiliation change of a present occupant: presence first, too.
	r.joined(carol, "team", "Carol")
	r.fc.nextTo(t, alice)
	got := upToResult(admin(`<item affiliation='member' jid='carol@localhost'/>`))
	if len(got) != 2 || got[0].Name.Local != "presence" || mucItem(got[0]).attr("affiliation") != "member" {
		t.Fatalf("membership: %v", got)
	}
	r.fc.nextTo(t, carol)

	// The owner's destruction: unavailable with <destroy/> before the result.
	got = upToResult(`<query xmlns='` + ownerNS + `'><destroy/></query>`)
	if len(got) != 2 || got[0].attr("type") != "unavailable" || got[0].child(NSMUCUser, "x").child(NSMUCUser, "destroy") == nil {
		t.Fatalf("destroy: %v", got)
	}
}

// The moderator list is for admins and owners (XEP-0045 §9.8), the voice
// and visitor lists for moderators (§8.5).
func TestRoleListPermissions(t *testing.T) {
	r, alice, bob, carol := threeInRoom(t)
	room := roomJID("team")
	// Bob becomes a moderator by role only (no affiliation).
	if n := r.iq(alice, room, "set", admin(`<item nick='Bob' role='moderator'/>`)); n.attr("type") != "result" {
		t.Fatalf("grant moderator: %s", n)
	}
	for _, to := range []string{alice, bob, carol} {
		if n := r.fc.nextTo(t, to); mucItem(n).attr("role") != "moderator" {
			t.Fatalf("moderator presence to %s: %s", to, n)
		}
	}
	// Bob, a new moderator of a semi-anonymous room, learns the real JIDs.
	r.fc.nextTo(t, bob)
	r.fc.nextTo(t, bob)

	list := func(u, role string) []string {
		t.Helper()
		n := r.iq(u, room, "get", admin(`<item role='`+role+`'/>`))
		if n.attr("type") != "result" {
			t.Fatalf("%s lists %s: %s", u, role, n)
		}
		var nicks []string
		for _, it := range n.child(NSMUCAdmin, "query").children(NSMUCAdmin, "item") {
			nicks = append(nicks, it.attr("nick"))
		}
		return nicks
	}
	for _, c := range []struct {
		who, role string
		want      []string // nil: forbidden
	}{
		{alice, "moderator", []string{"Alice", "Bob"}},
		{alice, "participant", []string{"Carol"}},
		{bob, "moderator", nil},                 // a moderator without admin affiliation
		{bob, "participant", []string{"Carol"}}, // the voice list
		{bob, "visitor", []string{}},            // moderators may see visitors
		{carol, "participant", nil},             // a participant sees no list
		{carol, "moderator", nil},
		{user("eve"), "participant", nil},                               // nor does an outsider
		{"alice@localhost/elsewhere", "participant", []string{"Carol"}}, // the owner, not in the room
	} {
		t.Run(c.who+" "+c.role, func(t *testing.T) {
			if c.want == nil {
				wantError(t, r.iq(c.who, room, "get", admin(`<item role='`+c.role+`'/>`)), "forbidden", "auth")
				return
			}
			if got := list(c.who, c.role); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}
