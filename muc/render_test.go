package muc

import (
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"cusax.dev/bridge/conference"
)

// renderRig is a Service whose renderer is fed events by hand; nothing is
// in its registry, so whatever it shows comes from the events.
func renderRig(t *testing.T) (*Service, func() []*node) {
	t.Helper()
	svc, err := New(Config{Server: "127.0.0.1:1", Domain: testDomain, Logger: testLogger()}, conference.NewRegistry(conference.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out []*node
	svc.sendFn = func(n *node) { mu.Lock(); out = append(out, n); mu.Unlock() }
	return svc, func() []*node {
		mu.Lock()
		defer mu.Unlock()
		got := out
		out = nil
		return got
	}
}

func textPart(id, nick string) conference.Participant {
	return conference.Participant{ID: id, Nick: nick, JID: user(nick), Text: true, Role: conference.RoleParticipant, Affiliation: conference.AffiliationNone}
}

// The joiner gets the history and subject captured with its join, not what
// the room holds when the renderer gets to the event: a message posted
// right after the join arrives once, live.
func TestJoinHistoryFromEvent(t *testing.T) {
	svc, sent := renderRig(t)
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	svc.renderEvent(conference.Event{Kind: conference.ConferenceCreated, Conference: "team"})
	alice := textPart("p1", "alice")
	svc.renderEvent(conference.Event{Kind: conference.Joined, Conference: "team", Participant: alice, At: at,
		History: []conference.Message{{ID: "m1", Nick: "bob", Body: "before", At: at}}, Subject: "S", SubjectBy: "bob"})
	got := sent()
	if len(got) != 3 {
		t.Fatalf("join sequence: %v", got)
	}
	if b, _ := got[1].childText("body"); b != "before" || got[1].child(NSDelay, "delay") == nil {
		t.Fatalf("history: %s", got[1])
	}
	if s, _ := got[2].childText("subject"); s != "S" || got[2].attr("from") != roomJID("team") {
		t.Fatalf("subject (bob is not in the room: from the room): %s", got[2])
	}
	// A message posted in the same millisecond as the join: live only.
	svc.renderEvent(conference.Event{Kind: conference.MessagePosted, Conference: "team", Participant: alice,
		Message: &conference.Message{ID: "m2", Nick: "alice", Body: "after", At: at}})
	if got := sent(); len(got) != 1 || got[0].child(NSDelay, "delay") != nil {
		t.Fatalf("live message: %v", got)
	}
}

// A room live before the renderer followed it: events about occupants the
// view never showed send nothing, and the next join brings the view in
// sync from the event.
func TestUnsyncedViewSkipsUnknownOccupants(t *testing.T) {
	svc, sent := renderRig(t)
	bob, carol := textPart("p2", "bob"), textPart("p3", "carol")
	for _, ev := range []conference.Event{
		{Kind: conference.Left, Conference: "team", Participant: carol},
		{Kind: conference.Kicked, Conference: "team", Participant: carol, Cause: conference.CauseModerator},
		{Kind: conference.Muted, Conference: "team", Participant: bob},
		{Kind: conference.NickChanged, Conference: "team", Participant: bob, Old: "robert"},
		{Kind: conference.MessagePosted, Conference: "team", Participant: bob, Message: &conference.Message{ID: "x", Nick: "bob", Body: "hi"}},
	} {
		svc.renderEvent(ev)
		if got := sent(); len(got) != 0 {
			t.Fatalf("%v on an unknown occupant sent %v", ev.Kind, got)
		}
	}
	alice := textPart("p4", "alice")
	svc.renderEvent(conference.Event{Kind: conference.Joined, Conference: "team", Participant: alice, Others: []conference.Participant{bob}})
	var to []string
	for _, n := range sent() {
		to = append(to, n.attr("to")+" "+n.attr("from"))
	}
	want := []string{
		user("alice") + " " + roomJID("team") + "/bob",   // bob's presence first
		user("alice") + " " + roomJID("team") + "/alice", // self-presence
		user("bob") + " " + roomJID("team") + "/alice",   // bob learns of alice
		user("alice") + " " + roomJID("team"),            // subject
	}
	if !slices.Equal(to, want) {
		t.Fatalf("join after sync:\n%v\nwant\n%v", to, want)
	}
}

// 104, 172 and 173 come from the configurations the event carries.
func TestConfigCodesFromEvent(t *testing.T) {
	svc, sent := renderRig(t)
	svc.renderEvent(conference.Event{Kind: conference.ConferenceCreated, Conference: "team"})
	svc.renderEvent(conference.Event{Kind: conference.Joined, Conference: "team", Participant: textPart("p1", "alice")})
	sent()
	anyone, mods := conference.Config{Whois: "anyone"}, conference.Config{Whois: "moderators"}
	for _, c := range []struct {
		name      string
		prev, now conference.Config
		locked    bool
		want      []string
	}{
		{"first configuration", mods, anyone, true, nil},
		{"to semi-anonymous", anyone, mods, false, []string{"104", "173"}},
		{"unchanged whois", mods, mods, false, []string{"104"}},
		{"to non-anonymous", mods, anyone, false, []string{"104", "172"}},
	} {
		svc.renderEvent(conference.Event{Kind: conference.ConfigChanged, Conference: "team", Previous: &c.prev, Config: &c.now, WasLocked: c.locked})
		got := reparsed(t, sent())
		if c.want == nil {
			if len(got) != 0 {
				t.Fatalf("%s: %v", c.name, got)
			}
			continue
		}
		if len(got) != 1 || !slices.Equal(codes(got[0]), c.want) {
			t.Fatalf("%s: %v", c.name, got)
		}
	}
}

// A destroyed room names its alternate venue, from the event.
func TestEndedAlternateFromEvent(t *testing.T) {
	svc, sent := renderRig(t)
	alice := textPart("p1", "alice")
	svc.renderEvent(conference.Event{Kind: conference.ConferenceCreated, Conference: "team"})
	svc.renderEvent(conference.Event{Kind: conference.Joined, Conference: "team", Participant: alice})
	sent()
	svc.renderEvent(conference.Event{Kind: conference.ConferenceEnded, Conference: "team", Others: []conference.Participant{alice},
		Cause: conference.CauseDestroyed, Alternate: "new@" + testDomain, Reason: "moved"})
	got := reparsed(t, sent())
	if len(got) != 1 {
		t.Fatalf("ended: %v", got)
	}
	d := got[0].child(NSMUCUser, "x").child(NSMUCUser, "destroy")
	if d == nil || d.attr("jid") != "new@"+testDomain || d.child(NSMUCUser, "reason").Text != "moved" {
		t.Fatalf("destroy: %s", got[0])
	}
}

// reparsed turns built stanzas into what a peer reads (namespaces
// inherited by the children).
func reparsed(t *testing.T, ns []*node) []*node {
	t.Helper()
	var out []*node
	for _, n := range ns {
		p, err := parseNode([]byte(n.String()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestQueueKey(t *testing.T) {
	for in, want := range map[string]string{
		"team@conference.localhost":        "team",
		"Team@conference.localhost/Nick@x": "team",
		"conference.localhost":             "",
		"conference.localhost/a@b":         "",
		"":                                 "",
	} {
		if got := queueKey(in); got != want {
			t.Errorf("queueKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// Stanzas wait in per-room queues, in order; a full queue refuses.
func TestWorkersOrderAndBounds(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var order []string
	w := newWorkers(func(n *node) {
		if n.attr("id") == "block" {
			close(entered)
			<-release
		}
		mu.Lock()
		order = append(order, n.attr("id"))
		mu.Unlock()
	})
	stanza := func(to, id string) *node { return el("message").set("to", to).set("id", id) }
	if !w.submit(stanza("a@d", "block")) {
		t.Fatal("first refused")
	}
	<-entered
	var want []string
	for i := range maxRoomQueue {
		id := strconv.Itoa(i)
		want = append(want, id)
		if !w.submit(stanza("a@d", id)) {
			t.Fatalf("stanza %d refused", i)
		}
	}
	if w.submit(stanza("a@d", "over")) {
		t.Fatal("a full room queue accepted a stanza")
	}
	// Another room is not held up.
	if !w.submit(stanza("b@d", "b1")) {
		t.Fatal("other room refused")
	}
	deadline := time.Now().Add(wait)
	for {
		mu.Lock()
		done := slices.Contains(order, "b1")
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("other room waited for the blocked one")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	w.close()
	if want = append([]string{"b1", "block"}, want...); !slices.Equal(order, want) {
		t.Fatalf("order: %v", order)
	}
	if w.submit(stanza("a@d", "late")) {
		t.Fatal("closed workers accepted a stanza")
	}
}

// A stanza that cannot be queued: a request is told to retry later, the
// rest is dropped.
func TestOverloadedAnswers(t *testing.T) {
	svc, sent := renderRig(t)
	for _, c := range []struct {
		xml, cond string
	}{
		{`<iq from='a@localhost/r' to='team@conference.localhost' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>`, "resource-constraint"},
		{`<message from='a@localhost/r' to='team@conference.localhost' type='groupchat'><body>x</body></message>`, "resource-constraint"},
		{`<presence from='a@localhost/r' to='team@conference.localhost/A'/>`, "resource-constraint"},
		{`<presence from='a@localhost/r' to='team@conference.localhost/A' type='unavailable'/>`, ""},
		{`<iq from='a@localhost/r' to='team@conference.localhost' type='result' id='2'/>`, ""},
		{`<message from='a@localhost/r' to='team@conference.localhost' type='error'/>`, ""},
	} {
		n, err := parseNode([]byte(c.xml))
		if err != nil {
			t.Fatal(err)
		}
		svc.overloaded(n)
		got := reparsed(t, sent())
		if c.cond == "" {
			if len(got) != 0 {
				t.Fatalf("%s answered: %v", c.xml, got)
			}
			continue
		}
		if len(got) != 1 {
			t.Fatalf("%s: %v", c.xml, got)
		}
		wantError(t, got[0], c.cond, "wait")
	}
}
