package muc

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/conference"
)

func TestJoinOrderAndStatusCodes(t *testing.T) {
	r := newRig(t)
	alice, bob := user("alice"), user("bob")

	// Creation: self-presence with 110 and 201, owner/moderator, id echoed.
	r.joinRaw(alice, "team", "Alice", "join-a", "")
	self := r.fc.nextTo(t, alice)
	if got := codes(self); !slices.Equal(got, []string{"110", "201"}) {
		t.Fatalf("creator codes = %v: %s", got, self)
	}
	if it := mucItem(self); it.attr("affiliation") != "owner" || it.attr("role") != "moderator" || it.attr("jid") != alice {
		t.Fatalf("creator item: %s", self)
	}
	if self.attr("id") != "join-a" || self.attr("from") != roomJID("team")+"/Alice" {
		t.Fatalf("self-presence id/from: %s", self)
	}
	if subj := r.fc.nextTo(t, alice); subj.child("", "subject") == nil || subj.attr("type") != "groupchat" {
		t.Fatalf("want subject after self-presence, got %s", subj)
	}
	// The room is locked until configured: others get item-not-found.
	r.joinRaw(bob, "team", "Bob", "join-b0", "")
	wantError(t, r.fc.nextTo(t, bob), "item-not-found", "cancel")
	r.fc.send(t, `<iq from='%s' to='%s' type='set' id='inst'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`, alice, roomJID("team"))
	if res := r.fc.nextTo(t, alice); res.attr("type") != "result" {
		t.Fatalf("instant room: %s", res)
	}

	// Bob: Alice's presence first, then his own with 110 only, then subject.
	got := r.joined(bob, "team", "Bob")
	if len(got) != 3 {
		t.Fatalf("bob got %d stanzas, want 3", len(got))
	}
	if got[0].attr("from") != roomJID("team")+"/Alice" || len(codes(got[0])) != 0 {
		t.Fatalf("first stanza to bob should be Alice's presence: %s", got[0])
	}
	if mucItem(got[0]).attr("jid") != "" {
		t.Fatalf("semi-anonymous room showed a real JID to a participant: %s", got[0])
	}
	if !slices.Equal(codes(got[1]), []string{"110"}) || mucItem(got[1]).attr("role") != "participant" {
		t.Fatalf("bob's self-presence: %s", got[1])
	}
	// Alice (moderator) sees Bob with his real JID.
	bp := r.fc.nextTo(t, alice)
	if bp.attr("from") != roomJID("team")+"/Bob" || mucItem(bp).attr("jid") != bob {
		t.Fatalf("alice should see bob's presence with jid: %s", bp)
	}
}

func TestJoinErrors(t *testing.T) {
	r := newRig(t, withCreators("alice@localhost"))
	alice := user("alice")
	r.create(alice, "team", "Alice")
	ctx := context.Background()
	owner := conference.Actor{JID: alice}
	// A banned user, a password room, a members-only room and a full room.
	if err := r.reg.SetAffiliation(ctx, "team", "mallory@localhost", conference.AffiliationOutcast, owner, conference.OriginXMPP, "spam"); err != nil {
		t.Fatal(err)
	}
	setup := func(room string, mod func(*conference.Config)) {
		r.create(alice, room, "Alice")
		cfg, err := r.reg.Config(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		mod(&cfg)
		if err := r.reg.Configure(ctx, room, cfg, owner, conference.OriginAPI); err != nil {
			t.Fatal(err)
		}
		r.fc.nextTo(t, alice) // 104
	}
	setup("secret", func(c *conference.Config) { c.Password = "pw" })
	setup("club", func(c *conference.Config) { c.MembersOnly = true })
	setup("tiny", func(c *conference.Config) { c.MaxParticipants = 1 })

	cases := []struct {
		name, from, to, extra, cond, typ string
	}{
		{"nick conflict", user("bob"), "team@" + testDomain + "/Alice", "", "conflict", "cancel"},
		{"password missing", user("bob"), "secret@" + testDomain + "/Bob", "", "not-authorized", "auth"},
		{"password wrong", user("bob"), "secret@" + testDomain + "/Bob", "<password>no</password>", "not-authorized", "auth"},
		{"banned", "mallory@localhost/x", "team@" + testDomain + "/M", "", "forbidden", "auth"},
		{"members only", user("bob"), "club@" + testDomain + "/Bob", "", "registration-required", "auth"},
		{"full", user("bob"), "tiny@" + testDomain + "/Bob", "", "service-unavailable", "wait"},
		{"no nick", user("bob"), "team@" + testDomain, "", "jid-malformed", "modify"},
		{"blank nick", user("bob"), "team@" + testDomain + "/ ", "", "jid-malformed", "modify"},
		{"invalid room name", user("bob"), "bad!name@" + testDomain + "/Bob", "", "item-not-found", "cancel"},
		{"creation restricted", user("bob"), "newroom@" + testDomain + "/Bob", "", "not-allowed", "cancel"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := "e" + string(rune('a'+i))
			r.fc.send(t, `<presence from='%s' to='%s' id='%s'><x xmlns='http://jabber.org/protocol/muc'>%s</x></presence>`, c.from, c.to, id, c.extra)
			n := r.fc.nextTo(t, c.from)
			wantError(t, n, c.cond, c.typ)
			if n.attr("id") != id || n.Name.Local != "presence" {
				t.Fatalf("error presence must echo the id: %s", n)
			}
			if n.child(NSMUC, "x") == nil {
				t.Fatalf("error presence should carry the muc x: %s", n)
			}
		})
	}
	// The right password works.
	r.joinRaw(user("bob"), "secret", "Bob", "pw-ok", "<password>pw</password>")
	if n := r.fc.nextTo(t, user("bob")); n.attr("type") == "error" {
		t.Fatalf("join with password: %s", n)
	}
}

func TestNickChangeAndLeave(t *testing.T) {
	r := newRig(t)
	alice, bob := user("alice"), user("bob")
	r.create(alice, "team", "Alice")
	r.joined(bob, "team", "Bob")
	r.fc.nextTo(t, alice) // bob's presence

	// Conflict: Bob may not take Alice's nick.
	r.fc.send(t, `<presence from='%s' to='%s/Alice' id='nc'/>`, bob, roomJID("team"))
	wantError(t, r.fc.nextTo(t, bob), "conflict", "cancel")

	r.fc.send(t, `<presence from='%s' to='%s/Robert'><show>away</show></presence>`, bob, roomJID("team"))
	for _, to := range []string{alice, bob} {
		un := r.fc.nextTo(t, to)
		if un.attr("type") != "unavailable" || un.attr("from") != roomJID("team")+"/Bob" || mucItem(un).attr("nick") != "Robert" || !slices.Contains(codes(un), "303") {
			t.Fatalf("nick change unavailable to %s: %s", to, un)
		}
		if (to == bob) != slices.Contains(codes(un), "110") {
			t.Fatalf("110 only for self: %s", un)
		}
		av := r.fc.nextTo(t, to)
		if av.attr("type") != "" || av.attr("from") != roomJID("team")+"/Robert" {
			t.Fatalf("nick change available to %s: %s", to, av)
		}
		if show, _ := av.childText("show"); show != "away" {
			t.Fatalf("presence payload not reflected: %s", av)
		}
	}

	// Status update is reflected to everyone.
	r.fc.send(t, `<presence from='%s' to='%s/Robert'><status>brb</status></presence>`, bob, roomJID("team"))
	if st, _ := r.fc.nextTo(t, alice).childText("status"); st != "brb" {
		t.Fatal("status update not reflected")
	}
	r.fc.nextTo(t, bob)

	// Leave: the leaver gets 110 and role none; the others get unavailable.
	r.fc.send(t, `<presence from='%s' to='%s/Robert' type='unavailable'><status>bye</status></presence>`, bob, roomJID("team"))
	self := r.fc.nextTo(t, bob)
	if self.attr("type") != "unavailable" || mucItem(self).attr("role") != "none" || !slices.Contains(codes(self), "110") {
		t.Fatalf("leave self: %s", self)
	}
	other := r.fc.nextTo(t, alice)
	if st, _ := other.childText("status"); other.attr("type") != "unavailable" || st != "bye" {
		t.Fatalf("leave to others: %s", other)
	}
	if _, ok := r.reg.ByNick("team", "Robert"); ok {
		t.Fatal("bob still in the core")
	}
}

func TestPresenceErrorRemovesGhost(t *testing.T) {
	r := newRig(t)
	alice, bob := user("alice"), user("bob")
	r.create(alice, "team", "Alice")
	r.joined(bob, "team", "Bob")
	r.fc.nextTo(t, alice)
	r.fc.send(t, `<presence from='%s' to='%s/Bob' type='error'><error type='cancel'><remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>`, bob, roomJID("team"))
	if n := r.fc.nextTo(t, alice); n.attr("type") != "unavailable" || n.attr("from") != roomJID("team")+"/Bob" {
		t.Fatalf("ghost not removed: %s", n)
	}
	// A message bounce removes too.
	carol := user("carol")
	r.joined(carol, "team", "Carol")
	r.fc.nextTo(t, alice)
	r.fc.send(t, `<message from='%s' to='%s/Carol' type='error'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`, carol, roomJID("team"))
	if n := r.fc.nextTo(t, alice); n.attr("type") != "unavailable" || n.attr("from") != roomJID("team")+"/Carol" {
		t.Fatalf("message bounce did not remove: %s", n)
	}
}

func TestSIPOccupantPresented(t *testing.T) {
	r := newRig(t)
	alice := user("alice")
	r.create(alice, "team", "Alice")
	ctx := context.Background()
	res, err := r.reg.Join(ctx, "team", conference.JoinRequest{DisplayName: "Carol Phone", AOR: "sip:carol@example.com",
		Audio: &conference.Audio{AOR: "sip:carol@example.com", CallID: "c1"}, Origin: conference.OriginSIP})
	if err != nil {
		t.Fatal(err)
	}
	p := r.fc.nextTo(t, alice)
	if p.attr("from") != roomJID("team")+"/Carol Phone" || mucItem(p).attr("jid") != "" || mucItem(p).attr("role") != "participant" {
		t.Fatalf("SIP caller presence: %s", p)
	}
	// A late joiner sees the caller among the occupants.
	bob := user("bob")
	got := r.joined(bob, "team", "Bob")
	if got[1].attr("from") != roomJID("team")+"/Carol Phone" {
		t.Fatalf("bob should see the caller: %v", got[1])
	}
	r.fc.nextTo(t, alice)
	// Mute from SIP side shows as visitor.
	if err := r.reg.Mute(ctx, "team", res.Participant.ID, true, conference.Actor{API: true}, conference.OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{alice, bob} {
		if n := r.fc.nextTo(t, to); mucItem(n).attr("role") != "visitor" {
			t.Fatalf("muted caller should be visitor: %s", n)
		}
	}
	// A private message to the caller cannot be delivered.
	r.fc.send(t, `<message from='%s' to='%s/Carol Phone' type='chat' id='pm'><body>hi</body></message>`, bob, roomJID("team"))
	wantError(t, r.fc.nextTo(t, bob), "service-unavailable", "cancel")
	// Kick by nick from the MUC reaches the SIP participant.
	if n := r.iq(alice, roomJID("team"), "set", `<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Carol Phone' role='none'><reason>bye</reason></item></query>`); n.attr("type") != "result" {
		t.Fatalf("kick SIP caller: %s", n)
	}
	n := r.fc.nextTo(t, bob)
	if n.attr("type") != "unavailable" || !slices.Contains(codes(n), "307") {
		t.Fatalf("kick presence: %s", n)
	}
	if _, ok := r.reg.Participant("team", res.Participant.ID); ok {
		t.Fatal("caller still present")
	}
}

func TestHistoryOnJoin(t *testing.T) {
	r := newRig(t)
	alice := user("alice")
	r.create(alice, "team", "Alice")
	for i := range 5 {
		r.fc.send(t, `<message from='%s' to='%s' type='groupchat' id='m%d'><body>msg %d</body></message>`, alice, roomJID("team"), i, i)
		if n := r.fc.nextTo(t, alice); n.attr("id") == "" {
			t.Fatalf("echo: %s", n)
		}
	}
	time.Sleep(5 * time.Millisecond) // the history "seconds" window below is relative to the join
	cases := []struct {
		name, hist string
		want       []string
	}{
		{"all", "", []string{"msg 0", "msg 1", "msg 2", "msg 3", "msg 4"}},
		{"maxstanzas", "<history maxstanzas='2'/>", []string{"msg 3", "msg 4"}},
		{"maxchars zero", "<history maxchars='0'/>", nil},
		{"seconds zero", "<history seconds='0'/>", nil},
		{"since future", "<history since='2999-01-01T00:00:00Z'/>", nil},
		{"since past", "<history since='2000-01-01T00:00:00Z' maxstanzas='1'/>", []string{"msg 4"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := user("h" + string(rune('a'+i)))
			r.joinRaw(u, "team", "H"+string(rune('a'+i)), "h", c.hist)
			var bodies []string
			for {
				n := r.fc.nextTo(t, u)
				if n.Name.Local == "message" && n.child("", "subject") != nil {
					break
				}
				if b, ok := n.childText("body"); ok {
					if n.child(NSDelay, "delay") == nil {
						t.Fatalf("history without delay: %s", n)
					}
					bodies = append(bodies, b)
				}
			}
			if !slices.Equal(bodies, c.want) {
				t.Fatalf("history = %q, want %q", bodies, c.want)
			}
			r.fc.nextTo(t, alice) // the joiner's presence
		})
	}
}

func TestSelectHistoryMaxChars(t *testing.T) {
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var msgs []conference.Message
	for i := range 3 {
		msgs = append(msgs, conference.Message{ID: "x", Nick: "n", Body: "0123456789", At: at.Add(time.Duration(i-3) * time.Minute)})
	}
	render := func(m conference.Message) *node { return el("message", textEl("body", m.Body)) }
	one := len([]rune(render(msgs[0]).String()))
	got := selectHistory(msgs, historyReq{maxStanzas: -1, maxChars: 2*one + 1, seconds: -1}, at, render)
	if len(got) != 2 {
		t.Fatalf("maxchars for two stanzas gave %d", len(got))
	}
	got = selectHistory(msgs, historyReq{maxStanzas: -1, maxChars: -1, seconds: 150}, at, render)
	if len(got) != 2 {
		t.Fatalf("seconds=150 gave %d, want the 2 newest", len(got))
	}
	got = selectHistory(msgs, historyReq{maxStanzas: -1, maxChars: -1, seconds: -1, since: at.Add(-90 * time.Second)}, at, render)
	if len(got) != 1 {
		t.Fatalf("since: got %d, want the newest", len(got))
	}
	if h := parseHistory(el("history").set("maxstanzas", "x").set("since", "nope")); h.maxStanzas != -1 || !h.since.IsZero() {
		t.Fatalf("bad attributes must be ignored: %+v", h)
	}
}

func TestRejoinResendsRoomState(t *testing.T) {
	r := newRig(t)
	alice, bob := user("alice"), user("bob")
	r.create(alice, "team", "Alice")
	r.joined(bob, "team", "Bob")
	r.fc.nextTo(t, alice)
	// Bob's client reconnected unnoticed and joins again with the same nick.
	got := r.joined(bob, "team", "Bob")
	if len(got) != 3 || got[0].attr("from") != roomJID("team")+"/Alice" || !slices.Contains(codes(got[1]), "110") || got[1].attr("id") != "j-Bob" {
		t.Fatalf("rejoin sequence: %v", got)
	}
	if n := r.fc.nextTo(t, alice); n.attr("from") != roomJID("team")+"/Bob" || n.attr("type") != "" {
		t.Fatalf("others see a presence update: %s", n)
	}
	if ps := r.reg.Find("team", func(*conference.Participant) bool { return true }); len(ps) != 2 {
		t.Fatalf("rejoin must not add a participant: %d", len(ps))
	}
	// Too long a message is refused.
	r.fc.send(t, `<message from='%s' to='%s' type='groupchat' id='big'><body>%s</body></message>`, bob, roomJID("team"), strings.Repeat("x", 70000))
	wantError(t, r.fc.nextTo(t, bob), "not-acceptable", "modify")
}

// SIP callers' derived nicks are valid resourceparts (the core drops
// control characters and bounds the length), so every caller is presented;
// the renderer's guard against an invalid nick is checked on its own.
func TestSIPCallerNicksPresented(t *testing.T) {
	r := newRig(t)
	alice := user("alice")
	r.create(alice, "team", "Alice")
	long := strings.Repeat("é", 100)
	for _, c := range []struct{ display, want string }{
		{"bad\u0007name", "badname"},
		{"  two \t words\r\n", "two words"},
		{long, strings.Repeat("é", 64)},
		{"\u200b\u0000", "x"}, // nothing printable: the AOR's user part
	} {
		if _, err := r.reg.Join(context.Background(), "team", conference.JoinRequest{DisplayName: c.display, AOR: "sip:x@example.com", Audio: &conference.Audio{}, Origin: conference.OriginSIP}); err != nil {
			t.Fatal(err)
		}
		n := r.fc.nextTo(t, alice)
		if n.attr("from") != roomJID("team")+"/"+c.want || n.attr("type") != "" {
			t.Fatalf("caller %q presented as %s, want nick %q", c.display, n, c.want)
		}
	}
	// The room still works.
	r.fc.send(t, `<message from='%s' to='%s' type='groupchat' id='ok'><body>x</body></message>`, alice, roomJID("team"))
	if n := r.fc.nextTo(t, alice); n.attr("id") != "ok" {
		t.Fatalf("room broken: %s", n)
	}
}

func TestInvalidNickNotPresented(t *testing.T) {
	svc, err := New(Config{Server: "127.0.0.1:1", Domain: testDomain, Logger: testLogger()}, conference.NewRegistry(conference.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	v := &roomView{whois: "moderators"}
	to := &occView{p: conference.Participant{ID: "p1", Nick: "Alice", JID: user("alice"), Text: true}}
	for _, nick := range []string{"bad\u0007name", strings.Repeat("x", 1024), ""} {
		o := &occView{p: conference.Participant{ID: "p2", Nick: nick}}
		if n := svc.presence("team", v, o, to, presOpts{}); n != nil {
			t.Errorf("nick %q presented: %s", nick, n)
		}
	}
	if n := svc.presence("team", v, to, to, presOpts{}); n == nil {
		t.Fatal("a valid nick must be presented")
	}
}
