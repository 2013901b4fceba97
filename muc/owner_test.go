package muc

import (
	"context"
	"slices"
	"testing"
	"time"

	"cusax.dev/bridge/conference"
)

const ownerNS = "http://jabber.org/protocol/muc#owner"

func submit(fields ...[2]string) string {
	s := `<query xmlns='` + ownerNS + `'><x xmlns='jabber:x:data' type='submit'>` +
		`<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>`
	for _, f := range fields {
		s += `<field var='` + f[0] + `'><value>` + f[1] + `</value></field>`
	}
	return s + `</x></query>`
}

func formValues(q *node) map[string]string {
	out := map[string]string{}
	for _, f := range q.child(NSData, "x").children(NSData, "field") {
		if v := f.child(NSData, "value"); v != nil {
			out[f.attr("var")] = v.Text
		} else {
			out[f.attr("var")] = ""
		}
	}
	return out
}

func TestOwnerForm(t *testing.T) {
	r := newRig(t)
	alice, bob := user("alice"), user("bob")
	room := roomJID("team")
	r.create(alice, "team", "Alice")
	r.joined(bob, "team", "Bob")
	r.fc.nextTo(t, alice)

	n := r.iq(alice, room, "get", `<query xmlns='`+ownerNS+`'/>`)
	vals := formValues(n.child(NSMUCOwner, "query"))
	if vals["FORM_TYPE"] != NSRoomCfg || vals[fPersistent] != "0" || vals[fWhois] != "moderators" {
		t.Fatalf("config form: %s", n)
	}
	wantError(t, r.iq(bob, room, "get", `<query xmlns='`+ownerNS+`'/>`), "forbidden", "auth")
	wantError(t, r.iq(bob, room, "set", submit()), "forbidden", "auth")

	n = r.iq(alice, room, "set", submit([2]string{fRoomName, "The Team"}, [2]string{fRoomDesc, "weekly"},
		[2]string{fWhois, "anyone"}, [2]string{fMaxUsers, "20"}, [2]string{fHistory, "10"},
		[2]string{fSubject, "Agenda"}, [2]string{fAllowPM, "none"}))
	if n.attr("type") != "result" {
		t.Fatalf("submit: %s", n)
	}
	cfg, err := r.reg.Config(context.Background(), "team")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Title != "The Team" || cfg.Description != "weekly" || cfg.Whois != "anyone" || cfg.MaxParticipants != 20 || cfg.HistoryLength != 10 || cfg.AllowPrivateMessages {
		t.Fatalf("config not applied: %+v", cfg)
	}
	// 104 and 172 (now non-anonymous), then the new subject.
	for _, to := range []string{alice, bob} {
		m := r.fc.nextTo(t, to)
		if got := codes(m); !slices.Equal(got, []string{"104", "172"}) || m.attr("from") != room {
			t.Fatalf("config change notice to %s: %s", to, m)
		}
		if s, _ := r.fc.nextTo(t, to).childText("subject"); s != "Agenda" {
			t.Fatalf("subject from form not set for %s", to)
		}
	}
	// Bad values: not-acceptable; a wrong FORM_TYPE or form type: bad-request.
	for name, c := range map[string]struct{ payload, cond string }{
		"bad boolean":       {submit([2]string{fModerated, "maybe"}), "not-acceptable"},
		"bad maxusers":      {submit([2]string{fMaxUsers, "-3"}), "not-acceptable"},
		"bad whois":         {submit([2]string{fWhois, "everyone"}), "not-acceptable"},
		"history too long":  {submit([2]string{fHistory, "5000"}), "not-acceptable"},
		"password no value": {submit([2]string{fPwProtected, "1"}), "not-acceptable"},
		"wrong FORM_TYPE":   {`<query xmlns='` + ownerNS + `'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:other</value></field></x></query>`, "bad-request"},
		"form type form":    {`<query xmlns='` + ownerNS + `'><x xmlns='jabber:x:data' type='form'/></query>`, "bad-request"},
		"empty query":       {`<query xmlns='` + ownerNS + `'/>`, "bad-request"},
	} {
		t.Run(name, func(t *testing.T) { wantError(t, r.iq(alice, room, "set", c.payload), c.cond, "") })
	}

	// Password protection via the form.
	if n := r.iq(alice, room, "set", submit([2]string{fPwProtected, "1"}, [2]string{fSecret, "pw"})); n.attr("type") != "result" {
		t.Fatalf("password: %s", n)
	}
	if cfg, _ := r.reg.Config(context.Background(), "team"); cfg.Password != "pw" {
		t.Fatalf("password not set: %+v", cfg)
	}
	r.fc.nextTo(t, alice)
	r.fc.nextTo(t, bob)

	// Destroy: every occupant gets unavailable with <destroy/>.
	n = r.iq(alice, room, "set", `<query xmlns='`+ownerNS+`'><destroy jid='other@`+testDomain+`'><reason>moved</reason></destroy></query>`)
	if n.attr("type") != "result" {
		t.Fatalf("destroy: %s", n)
	}
	for _, to := range []string{alice, bob} {
		p := r.fc.nextTo(t, to)
		d := p.child(NSMUCUser, "x").child(NSMUCUser, "destroy")
		if p.attr("type") != "unavailable" || d == nil || d.attr("jid") != "other@"+testDomain || d.child(NSMUCUser, "reason").Text != "moved" {
			t.Fatalf("destroy presence to %s: %s", to, p)
		}
	}
	if ok, _ := r.reg.Exists(context.Background(), "team"); ok {
		t.Fatal("room still exists")
	}
}

func TestCancelCreationDestroysRoom(t *testing.T) {
	r := newRig(t)
	alice := user("alice")
	r.joined(alice, "fresh", "Alice")
	n := r.iq(alice, roomJID("fresh"), "set", `<query xmlns='`+ownerNS+`'><x xmlns='jabber:x:data' type='cancel'/></query>`)
	if n.attr("type") != "result" {
		t.Fatalf("cancel: %s", n)
	}
	p := r.fc.nextTo(t, alice)
	if p.attr("type") != "unavailable" {
		t.Fatalf("creator should be removed: %s", p)
	}
	if ok, _ := r.reg.Exists(context.Background(), "fresh"); ok {
		t.Fatal("cancelled room still exists")
	}
}

func TestShutdownPresence(t *testing.T) {
	r := newRig(t)
	alice := user("alice")
	r.create(alice, "team", "Alice")
	r.reg.Close(context.Background())
	p := r.fc.nextTo(t, alice)
	if p.attr("type") != "unavailable" || !slices.Equal(codes(p), []string{"110", "332"}) {
		t.Fatalf("shutdown presence: %s", p)
	}
	// Joins after the registry closed are refused.
	r.joinRaw(user("bob"), "team", "Bob", "late", "")
	wantError(t, r.fc.nextTo(t, user("bob")), "service-unavailable", "")
}

// The owner form goes by the requester's effective affiliation: an owner
// who is not in the room may configure it; a JID the room lists as a
// moderator (an admin) may not.
func TestOwnerFormAuthority(t *testing.T) {
	r := newRig(t, func(o *conference.Options, _ *Config) {
		o.Rooms = []conference.RoomSpec{{Name: "team", Moderators: []string{"xmpp:mod@localhost"}}}
	})
	alice := user("alice")
	room := roomJID("team")
	if err := r.reg.SetAffiliation(context.Background(), "team", "alice@localhost", conference.AffiliationOwner, conference.Actor{API: true}, conference.OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	// Alice, from a client that is not in the room.
	if n := r.iq(alice, room, "get", `<query xmlns='`+ownerNS+`'/>`); n.attr("type") != "result" {
		t.Fatalf("absent owner: %s", n)
	}
	// The listed moderator is an admin in the room, not an owner.
	mod := user("mod")
	r.joined(mod, "team", "Mod")
	if a, moderator := r.reg.Authority("team", conference.Actor{JID: mod}); a != conference.AffiliationAdmin || !moderator {
		t.Fatalf("listed moderator's authority = %s, %v", a, moderator)
	}
	wantError(t, r.iq(mod, room, "get", `<query xmlns='`+ownerNS+`'/>`), "forbidden", "auth")
	wantError(t, r.iq(mod, room, "set", submit()), "forbidden", "auth")
	// …but may list the moderators.
	if n := r.iq(mod, room, "get", admin(`<item role='moderator'/>`)); n.attr("type") != "result" {
		t.Fatalf("admin lists moderators: %s", n)
	}
}

// As on a bridge shutdown: the registry ends the conferences and the
// service's context ends right after. Every occupant still gets the 332
// presence, before the component closes its stream.
func TestShutdownPresenceBeforeStreamCloses(t *testing.T) {
	r := newRig(t)
	alice, bob := user("alice"), user("bob")
	r.create(alice, "team", "Alice")
	r.joined(bob, "team", "Bob")
	r.fc.nextTo(t, alice)
	r.create(alice, "other", "Al")
	r.reg.Close(context.Background())
	r.cancel()
	select {
	case <-r.fc.closed:
	case <-time.After(wait):
		t.Fatal("the component did not close its stream")
	}
	for _, to := range []string{alice, alice, bob} {
		p := r.fc.nextTo(t, to)
		if p.attr("type") != "unavailable" || !slices.Equal(codes(p), []string{"110", "332"}) {
			t.Fatalf("shutdown presence to %s: %s", to, p)
		}
	}
}
