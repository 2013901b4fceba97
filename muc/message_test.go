package muc

import (
	"context"
	"testing"
	"time"

	"cusax.dev/bridge/conference"
)

func TestGroupchatAndSubject(t *testing.T) {
	r := newRig(t)
	alice, bob := user("alice"), user("bob")
	room := roomJID("team")
	r.create(alice, "team", "Alice")
	r.joined(bob, "team", "Bob")
	r.fc.nextTo(t, alice)

	// Reflected to everyone, the sender included, with its id.
	r.fc.send(t, `<message from='%s' to='%s' type='groupchat' id='hello1'><body>Hello</body></message>`, bob, room)
	for _, to := range []string{alice, bob} {
		n := r.fc.nextTo(t, to)
		if b, _ := n.childText("body"); b != "Hello" || n.attr("from") != room+"/Bob" || n.attr("id") != "hello1" || n.attr("type") != "groupchat" {
			t.Fatalf("groupchat to %s: %s", to, n)
		}
	}
	// Not an occupant: not-acceptable.
	r.fc.send(t, `<message from='%s' to='%s' type='groupchat' id='x1'><body>hi</body></message>`, user("eve"), room)
	wantError(t, r.fc.nextTo(t, user("eve")), "not-acceptable", "modify")
	// Unknown room: item-not-found.
	r.fc.send(t, `<message from='%s' to='%s' type='groupchat' id='x2'><body>hi</body></message>`, user("eve"), roomJID("ghost"))
	wantError(t, r.fc.nextTo(t, user("eve")), "item-not-found", "cancel")
	// Wrong type to the room: bad-request.
	r.fc.send(t, `<message from='%s' to='%s' type='chat' id='x3'><body>hi</body></message>`, bob, room)
	wantError(t, r.fc.nextTo(t, bob), "bad-request", "modify")

	// Subject: a participant may not change it by default.
	r.fc.send(t, `<message from='%s' to='%s' type='groupchat' id='s1'><subject>mine</subject></message>`, bob, room)
	wantError(t, r.fc.nextTo(t, bob), "forbidden", "auth")
	r.fc.send(t, `<message from='%s' to='%s' type='groupchat' id='s2'><subject>Weekly sync</subject></message>`, alice, room)
	for _, to := range []string{alice, bob} {
		n := r.fc.nextTo(t, to)
		if s, _ := n.childText("subject"); s != "Weekly sync" || n.attr("from") != room+"/Alice" || n.child("", "body") != nil {
			t.Fatalf("subject to %s: %s", to, n)
		}
	}
	// A late joiner gets the history, then the subject.
	carol := user("carol")
	got := r.joined(carol, "team", "Carol")
	last := got[len(got)-1]
	if s, _ := last.childText("subject"); s != "Weekly sync" {
		t.Fatalf("late joiner subject: %s", last)
	}
	if b, _ := got[len(got)-2].childText("body"); b != "Hello" {
		t.Fatalf("late joiner history: %s", got[len(got)-2])
	}
	// A message with only a chat state is not relayed and not an error.
	r.fc.send(t, `<message from='%s' to='%s' type='groupchat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>`, bob, room)
	r.fc.nextTo(t, alice) // carol's join presence
	r.fc.nextTo(t, bob)   // carol's join presence
	// Nothing for bob: the service handles a room's stanzas in order, so
	// had the chat state been relayed it would have gone out before
	// anything the service does next; 100 ms is many loopback round trips.
	r.fc.quiet(t, bob, 100*time.Millisecond)
}

func TestPrivateMessages(t *testing.T) {
	r := newRig(t)
	alice, bob := user("alice"), user("bob")
	room := roomJID("team")
	r.create(alice, "team", "Alice")
	r.joined(bob, "team", "Bob")
	r.fc.nextTo(t, alice)

	r.fc.send(t, `<message from='%s' to='%s/Alice' type='chat' id='pm1'><body>psst</body><thread>t1</thread></message>`, bob, room)
	n := r.fc.nextTo(t, alice)
	if n.attr("from") != room+"/Bob" || n.attr("type") != "chat" || n.attr("id") != "pm1" || n.child(NSMUCUser, "x") == nil {
		t.Fatalf("private message: %s", n)
	}
	if b, _ := n.childText("body"); b != "psst" {
		t.Fatalf("private message body: %s", n)
	}
	if th, _ := n.childText("thread"); th != "t1" {
		t.Fatalf("private message lost its thread: %s", n)
	}
	cases := []struct{ name, from, to, typ, cond string }{
		{"groupchat type", bob, room + "/Alice", "groupchat", "bad-request"},
		{"no such nick", bob, room + "/Nobody", "chat", "item-not-found"},
		{"not an occupant", user("eve"), room + "/Alice", "chat", "not-acceptable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r.fc.send(t, `<message from='%s' to='%s' type='%s' id='e'><body>x</body></message>`, c.from, c.to, c.typ)
			wantError(t, r.fc.nextTo(t, c.from), c.cond, "")
		})
	}
	// Disabled by configuration: not-allowed.
	ctx := context.Background()
	cfg, _ := r.reg.Config(ctx, "team")
	cfg.AllowPrivateMessages = false
	if err := r.reg.Configure(ctx, "team", cfg, conference.Actor{JID: alice}, conference.OriginAPI); err != nil {
		t.Fatal(err)
	}
	r.fc.nextTo(t, alice) // 104
	r.fc.nextTo(t, bob)
	r.fc.send(t, `<message from='%s' to='%s/Alice' type='chat' id='pm2'><body>psst</body></message>`, bob, room)
	wantError(t, r.fc.nextTo(t, bob), "not-allowed", "cancel")
}

func TestInvitations(t *testing.T) {
	r := newRig(t)
	alice := user("alice")
	room := roomJID("team")
	r.create(alice, "team", "Alice")
	r.fc.send(t, `<message from='%s' to='%s' id='inv1'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='dave@localhost'><reason>join us</reason></invite></x></message>`, alice, room)
	n := r.fc.nextTo(t, "dave@localhost")
	inv := n.child(NSMUCUser, "x").child(NSMUCUser, "invite")
	if n.attr("from") != room || inv.attr("from") != alice || inv.child(NSMUCUser, "reason").Text != "join us" {
		t.Fatalf("invitation: %s", n)
	}
	// Decline goes back to the inviter.
	r.fc.send(t, `<message from='dave@localhost/phone' to='%s'><x xmlns='http://jabber.org/protocol/muc#user'><decline to='%s'><reason>busy</reason></decline></x></message>`, room, alice)
	n = r.fc.nextTo(t, alice)
	dec := n.child(NSMUCUser, "x").child(NSMUCUser, "decline")
	if dec.attr("from") != "dave@localhost" || dec.child(NSMUCUser, "reason").Text != "busy" {
		t.Fatalf("decline: %s", n)
	}
	// Only occupants invite; the invitee JID must be valid.
	r.fc.send(t, `<message from='%s' to='%s' id='inv2'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='x@localhost'/></x></message>`, user("eve"), room)
	wantError(t, r.fc.nextTo(t, user("eve")), "not-acceptable", "")
	r.fc.send(t, `<message from='%s' to='%s' id='inv3'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='@@'/></x></message>`, alice, room)
	wantError(t, r.fc.nextTo(t, alice), "jid-malformed", "modify")
}
