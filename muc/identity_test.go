package muc

import (
	"context"
	"slices"
	"strings"
	"testing"

	"cusax.dev/bridge/conference"
)

// Issue 8 defect 7: a reflected groupchat keeps the sender's id and
// origin-id and carries the room's stanza-id; the room advertises
// urn:xmpp:sid:0.
func TestReflectionKeepsOriginIDAddsStanzaID(t *testing.T) {
	r := newRig(t)
	alice, bob := user("alice"), user("bob")
	room := roomJID("team")
	r.create(alice, "team", "Alice")
	r.joined(bob, "team", "Bob")
	r.fc.nextTo(t, alice)
	r.fc.send(t, `<message from='%s' to='%s' type='groupchat' id='m1'><body>Hi</body><origin-id xmlns='urn:xmpp:sid:0' id='o-123'/>`+
		`<stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='%s'/></message>`, bob, room, room)
	var ids []string
	for _, to := range []string{alice, bob} {
		n := r.fc.nextTo(t, to)
		o := n.child(NSSID, "origin-id")
		sid := n.child(NSSID, "stanza-id")
		if n.attr("id") != "m1" || o == nil || o.attr("id") != "o-123" || sid == nil || sid.attr("by") != room || sid.attr("id") == "" || sid.attr("id") == "forged" {
			t.Fatalf("reflection to %s: %s", to, n)
		}
		if len(n.children(NSSID, "stanza-id")) != 1 {
			t.Fatalf("more than one stanza-id: %s", n)
		}
		ids = append(ids, sid.attr("id"))
	}
	if ids[0] != ids[1] {
		t.Fatalf("one message, two stanza-ids: %v", ids)
	}
	info := r.iq(alice, room, "get", `<query xmlns='http://jabber.org/protocol/disco#info'/>`)
	found := false
	for _, f := range info.child(NSDiscoInfo, "query").children(NSDiscoInfo, "feature") {
		found = found || f.attr("var") == NSSID
	}
	if !found {
		t.Fatalf("urn:xmpp:sid:0 not advertised: %s", info)
	}
}

// Issue 8 defect 8: a caller whose display name is no valid resourcepart
// is shown in the room all the same (under a derived nick), and every
// occupant presence says what the person takes part in (status text and
// the participation element).
func TestCallerWithInvalidDisplayNameIsShown(t *testing.T) {
	r := newRig(t)
	alice := user("alice")
	r.create(alice, "team", "Alice")
	ctx := context.Background()
	for i, display := range []string{"\u0378", "\uFFFF", "\uE000"} {
		aor := "sip:" + string(rune('a'+i)) + "caller@example.com"
		if _, err := r.reg.Join(ctx, "team", conference.JoinRequest{DisplayName: display, AOR: aor, Audio: &conference.Audio{}, Origin: conference.OriginSIP}); err != nil {
			t.Fatal(err)
		}
		n := r.fc.nextTo(t, alice)
		from := n.attr("from")
		if !strings.HasPrefix(from, roomJID("team")+"/") || n.attr("type") != "" {
			t.Fatalf("%q: presence %s", display, n)
		}
		p := n.child(NSParticipation, "participation")
		if st, _ := n.childText("status"); p == nil || p.attr("audio") != "true" || p.attr("text") != "false" || p.attr("muted") != "false" || st != "on the call only" {
			t.Fatalf("%q: participation: %s", display, n)
		}
	}
}

// Issue 8 defect 3: an ejection by a SIP moderator (a REFER, origin sip)
// shows in the MUC as 307 with the moderator as actor and the reason.
func TestSIPEjectionShowsActorAndReason(t *testing.T) {
	r := newRig(t)
	alice := user("alice")
	r.create(alice, "team", "Alice")
	ctx := context.Background()
	if err := r.reg.Configure(ctx, "team", conference.Config{Persistent: true, Moderators: nil}, conference.Actor{API: true}, conference.OriginAPI); err != nil {
		t.Fatal(err)
	}
	r.fc.nextTo(t, alice) // 104
	bob, err := r.reg.Join(ctx, "team", conference.JoinRequest{DisplayName: "Bob", AOR: "sip:bob@example.com", Audio: &conference.Audio{}, Origin: conference.OriginSIP})
	if err != nil {
		t.Fatal(err)
	}
	r.fc.nextTo(t, alice)
	mod := conference.Actor{AOR: "sip:boss@example.com", Authenticated: true, Name: "sip:boss@example.com", API: true}
	if err := r.reg.Kick(ctx, "team", bob.Participant.ID, mod, conference.OriginSIP, "ejected by sip:boss@example.com"); err != nil {
		t.Fatal(err)
	}
	n := r.fc.nextTo(t, alice)
	item := mucItem(n)
	if n.attr("type") != "unavailable" || !strings.Contains(strings.Join(codes(n), ","), "307") {
		t.Fatalf("kick: %s", n)
	}
	actor := item.child(NSMUCUser, "actor")
	reason := item.child(NSMUCUser, "reason")
	if actor == nil || actor.attr("nick") != "sip:boss@example.com" || reason == nil || reason.Text == "" {
		t.Fatalf("307 without actor or reason: %s", n)
	}
}

// One person, two legs in the MUC: a bound caller whose JID is not in the
// room is presented under the JID's nick (its real JID to moderators);
// when the JID's client joins, the others see a nick change (303) to the
// client's nick and one occupant on both legs; when the client leaves, it
// gets its unavailable self-presence and the others see the caller stay.
func TestBoundCallerAndItsChatClient(t *testing.T) {
	r := newRig(t, func(o *conference.Options, _ *Config) {
		o.Identities = conference.NewIdentities("example.com")
		o.Bindings = []conference.Binding{{JID: "alice@localhost", AOR: "sip:alice@example.com"}}
	})
	bob, alice := user("bob"), user("alice")
	room := roomJID("team")
	r.create(bob, "team", "Bob")
	ctx := context.Background()
	res, err := r.reg.Join(ctx, "team", conference.JoinRequest{DisplayName: "Alice Phone", AOR: "sip:alice@example.com", Authenticated: true,
		Audio: &conference.Audio{}, Origin: conference.OriginSIP})
	if err != nil || !res.Participant.Bound {
		t.Fatalf("bound caller: %+v %v", res.Participant, err)
	}
	n := r.fc.nextTo(t, bob)
	if n.attr("from") != room+"/alice" || mucItem(n).attr("jid") != "alice@localhost" {
		t.Fatalf("bound caller presented to the owner (a moderator): %s", n)
	}
	got := r.joined(alice, "team", "Alice")
	var self *node
	for _, g := range got {
		if slices.Contains(codes(g), "110") {
			self = g
		}
	}
	if p := self.child(NSParticipation, "participation"); self == nil || p == nil || p.attr("text") != "true" || p.attr("audio") != "true" {
		t.Fatalf("alice's self-presence: %v", self)
	}
	change := r.fc.nextTo(t, bob)
	if change.attr("from") != room+"/alice" || change.attr("type") != "unavailable" || !slices.Contains(codes(change), "303") ||
		mucItem(change).attr("nick") != "Alice" {
		t.Fatalf("nick change: %s", change)
	}
	now := r.fc.nextTo(t, bob)
	if p := now.child(NSParticipation, "participation"); now.attr("from") != room+"/Alice" || p == nil || p.attr("text") != "true" || p.attr("audio") != "true" {
		t.Fatalf("alice on both legs: %s", now)
	}
	if n := len(r.reg.Find("team", func(*conference.Participant) bool { return true })); n != 2 {
		t.Fatalf("%d participants, want bob and alice", n)
	}
	r.fc.send(t, `<presence from='%s' to='%s/Alice' type='unavailable'/>`, alice, room)
	bye := r.fc.nextTo(t, alice)
	if bye.attr("type") != "unavailable" || !slices.Contains(codes(bye), "110") {
		t.Fatalf("alice's client leaving: %s", bye)
	}
	stays := r.fc.nextTo(t, bob)
	if p := stays.child(NSParticipation, "participation"); stays.attr("type") != "" || p == nil || p.attr("text") != "false" || p.attr("audio") != "true" {
		t.Fatalf("the caller stays: %s", stays)
	}
}
