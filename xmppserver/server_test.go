package xmppserver

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cusax.dev/bridge/accounts"
)

// A message is routed between local users, with the sender's 'from'
// stamped by the server whatever the client wrote.
func TestMessageRoutingStampsFrom(t *testing.T) {
	r := newRig(t, nil)
	r.add("alice", "pa")
	r.add("bob", "pb")
	alice, bob := r.login("alice", "pa"), r.login("bob", "pb")
	bob.send(`<presence/>`)
	bob.next("own presence", kind("presence"))
	alice.send(`<message to='bob@localhost' from='mallory@localhost/x' type='chat'><body>hi</body></message>`)
	m := bob.next("message", kind("message"))
	if m.attr("from") != alice.jid.String() || m.kid("", "body").Text != "hi" {
		t.Fatalf("message: %s", m)
	}
	// To a user without an available resource: service-unavailable.
	alice.send(`<message to='nobody@localhost' type='chat' id='m2'><body>x</body></message>`)
	if e := alice.next("error", kind("message")); e.attr("type") != "error" || !e.has("service-unavailable") {
		t.Fatalf("bounce: %s", e)
	}
	// To another domain: remote-server-not-found (no federation).
	alice.send(`<message to='x@example.org' type='chat' id='m3'><body>x</body></message>`)
	if e := alice.next("error", kind("message")); !e.has("remote-server-not-found") {
		t.Fatalf("s2s bounce: %s", e)
	}
	// Ping and disco of the server.
	alice.send(`<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if e := alice.next("pong", kind("iq")); e.attr("type") != "result" || e.attr("id") != "p1" {
		t.Fatalf("ping: %s", e)
	}
	alice.send(`<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`)
	if e := alice.next("disco", kind("iq")); !e.has(testMUC) {
		t.Fatalf("disco#items: %s", e)
	}
}

// Roster set and push, then a mutual subscription (RFC 6121 §3) with the
// presence it brings.
func TestRosterAndSubscription(t *testing.T) {
	r := newRig(t, nil)
	r.add("alice", "pa")
	r.add("bob", "pb")
	alice, bob := r.login("alice", "pa"), r.login("bob", "pb")
	for _, c := range []*client{alice, bob} {
		c.send(`<iq type='get' id='r0'><query xmlns='jabber:iq:roster'/></iq>`)
		c.next("roster", kind("iq"))
		c.send(`<presence/>`)
		c.next("own presence", kind("presence"))
	}
	alice.send(`<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob'><group>Friends</group></item></query></iq>`)
	push := alice.next("push", func(e *elem) bool { return e.Name.Local == "iq" && e.attr("type") == "set" })
	if !push.has(`name="Bob"`) || !push.has("Friends") || !push.has(`subscription="none"`) {
		t.Fatalf("push: %s", push)
	}
	alice.send(`<presence to='bob@localhost' type='subscribe'/>`)
	if e := bob.next("subscribe", func(e *elem) bool { return e.attr("type") == "subscribe" }); e.attr("from") != "alice@localhost" {
		t.Fatalf("subscribe: %s", e)
	}
	bob.send(`<presence to='alice@localhost' type='subscribed'/>`)
	alice.next("subscription=to push", func(e *elem) bool { return e.Name.Local == "iq" && e.has(`subscription="to"`) })
	if e := alice.next("bob's presence", func(e *elem) bool { return e.Name.Local == "presence" && e.attr("from") == bob.jid.String() }); e.attr("type") != "" {
		t.Fatalf("presence: %s", e)
	}
	items, err := r.st.Roster(context.Background(), "bob")
	if err != nil || len(items) != 1 || items[0].Subscription != "from" {
		t.Fatalf("bob's stored roster: %+v %v", items, err)
	}
	// Bob goes away: Alice sees it.
	bob.close()
	alice.next("unavailable", func(e *elem) bool { return e.attr("from") == bob.jid.String() && e.attr("type") == "unavailable" })
}

// The vCard TEL holding the AOR survives any set by its owner.
func TestVCardLockedTEL(t *testing.T) {
	r := newRig(t, nil)
	r.add("alice", "pa")
	alice := r.login("alice", "pa")
	alice.send(`<iq type='set' id='v1'><vCard xmlns='vcard-temp'><FN>A</FN><TEL><NUMBER>sip:alice@localhost</NUMBER><VIDEO/></TEL></vCard></iq>`)
	alice.next("set result", kind("iq"))
	alice.send(`<iq type='get' id='v2' to='alice@localhost'><vCard xmlns='vcard-temp'/></iq>`)
	v := alice.next("vcard", kind("iq"))
	if strings.Count(v.String(), "sip:alice@localhost") != 1 || strings.Contains(v.String(), "VIDEO") || !v.has("<FN") {
		t.Fatalf("vcard: %s", v)
	}
}

// Connections per source and stanza size are bounded; a stanza over the
// limit ends the stream with policy-violation.
func TestLimits(t *testing.T) {
	r := newRig(t, func(c *Config) { c.MaxConnsPerIP = 2; c.MaxStanzaBytes = 8192; c.MaxRosterItems = 1 })
	r.add("alice", "pa")
	a1 := r.login("alice", "pa")
	_ = r.login("alice", "pa")
	conn, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(bufio.NewReader(conn))
	if !strings.Contains(string(got), "policy-violation") {
		t.Fatalf("third connection from one source: %q", got)
	}
	// Roster full.
	a1.send(`<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='x@localhost'/></query></iq>`)
	a1.next("r1", kind("iq"))
	a1.send(`<iq type='set' id='r2'><query xmlns='jabber:iq:roster'><item jid='y@localhost'/></query></iq>`)
	if e := a1.next("r2", func(e *elem) bool { return e.attr("id") == "r2" }); !e.has("resource-constraint") {
		t.Fatalf("roster over the limit: %s", e)
	}
	// A huge stanza ends the stream.
	_ = a1.sess.Send(context.Background(), el("message", el("body").text(strings.Repeat("x", 20000))).set("to", "bob@localhost").tokenReader())
	select {
	case <-a1.done:
	case <-time.After(5 * time.Second):
		t.Fatal("stream not closed after an oversized stanza")
	}
}

// Failed logins are limited per account: after MaxAuthFailures the right
// password is refused too, for a while.
func TestLoginRateLimit(t *testing.T) {
	r := newRig(t, func(c *Config) { c.MaxAuthFailures = 2 })
	r.add("alice", "pa")
	for i := 0; i < 2; i++ {
		if _, err := r.dial("alice", "wrong"); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	if _, err := r.dial("alice", "pa"); err == nil {
		t.Fatal("login allowed after too many failures")
	}
	if r.srv.failAccount.Len() != 1 {
		t.Fatalf("failure table: %d keys", r.srv.failAccount.Len())
	}
}

// A client joins a room of the in-process MUC and chats.
func TestRoomInProcess(t *testing.T) {
	r := newRig(t, nil)
	r.add("alice", "pa")
	r.add("bob", "pb")
	alice, bob := r.login("alice", "pa"), r.login("bob", "pb")
	alice.send(`<presence to='room@` + testMUC + `/A'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	alice.next("self presence", func(e *elem) bool { return e.has(`code="110"`) })
	alice.send(`<iq type='set' id='inst' to='room@` + testMUC + `'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`)
	alice.next("instant room", func(e *elem) bool { return e.attr("id") == "inst" && e.attr("type") == "result" })
	bob.send(`<presence to='room@` + testMUC + `/B'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	bob.next("self presence", func(e *elem) bool { return e.has(`code="110"`) })
	bob.send(`<message type='groupchat' to='room@` + testMUC + `'><body>hello</body></message>`)
	if m := alice.next("groupchat", kind("message")); m.attr("from") != "room@"+testMUC+"/B" || m.kid("", "body").Text != "hello" {
		t.Fatalf("groupchat: %s", m)
	}
	// Bob's connection drops: the room sees him leave.
	bob.close()
	alice.next("bob leaves", func(e *elem) bool { return e.attr("from") == "room@"+testMUC+"/B" && e.attr("type") == "unavailable" })
}

// SCRAM does not tell an unknown account from a wrong password: both get
// a challenge with a salt, and fail at the proof.
func TestScramUnknownAccount(t *testing.T) {
	r := newRig(t, nil)
	r.add("alice", "pa")
	first := func(user string) string {
		conn, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(conn, clientHeaderForTest)
		rd := bufio.NewReader(conn)
		buf := make([]byte, 4096)
		var got strings.Builder
		for !strings.Contains(got.String(), "</stream:features>") {
			n, err := rd.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				t.Fatalf("features: %v %q", err, got.String())
			}
		}
		msg := "n,,n=" + user + ",r=abcdefgh"
		_, _ = io.WriteString(conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>"+base64.StdEncoding.EncodeToString([]byte(msg))+"</auth>")
		got.Reset()
		for !strings.Contains(got.String(), "</challenge>") && !strings.Contains(got.String(), "</failure>") {
			n, err := rd.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return got.String()
	}
	for _, u := range []string{"alice", "nobody"} {
		if got := first(u); !strings.Contains(got, "<challenge") {
			t.Fatalf("%s: %q", u, got)
		}
	}
	if _, err := r.dial("nobody", "x"); err == nil {
		t.Fatal("unknown account logged in")
	}
}

// A subscription request to a contact who is offline is kept and delivered
// at the contact's next login, until answered (RFC 6121 §3.1.3).
func TestSubscriptionToOfflineContact(t *testing.T) {
	r := newRig(t, nil)
	r.add("alice", "pa")
	r.add("bob", "pb")
	alice := r.login("alice", "pa")
	alice.send(`<iq type='get' id='r0'><query xmlns='jabber:iq:roster'/></iq>`)
	alice.next("roster", kind("iq"))
	alice.send(`<presence to='bob@localhost' type='subscribe'/>`)
	WaitForTest(t, func() bool {
		p, _ := r.st.PendingSubscriptions(context.Background(), "bob")
		return len(p) == 1
	})
	for i := 0; i < 2; i++ { // delivered at every login until answered
		bob := r.login("bob", "pb")
		bob.send(`<presence/>`)
		if e := bob.next("subscribe", func(e *elem) bool { return e.attr("type") == "subscribe" }); e.attr("from") != "alice@localhost" {
			t.Fatalf("login %d: %s", i, e)
		}
		if i == 1 {
			bob.send(`<presence to='alice@localhost' type='subscribed'/>`)
			alice.next("subscription=to push", func(e *elem) bool { return e.has(`subscription="to"`) })
		}
		bob.close()
	}
	if p, _ := r.st.PendingSubscriptions(context.Background(), "bob"); len(p) != 0 {
		t.Fatalf("still pending after the answer: %v", p)
	}
}

// WaitForTest polls cond for up to 5 s.
func WaitForTest(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A stream for another domain is refused with host-unknown.
func TestHostUnknown(t *testing.T) {
	r := newRig(t, nil)
	conn, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(conn, strings.Replace(clientHeaderForTest, "to='localhost'", "to='example.org'", 1))
	got, _ := io.ReadAll(conn)
	if !strings.Contains(string(got), "host-unknown") {
		t.Fatalf("got %q", got)
	}
}

// With accounts.video the locked TEL carries the video type.
func TestVCardVideoTEL(t *testing.T) {
	r := newRig(t, nil)
	a, err := accounts.New(accounts.Options{Store: r.st, Host: "localhost", SIPDomain: "example.com", Realm: "example.com", Video: true})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: Config{Accounts: a, Store: r.st}}
	v, err := s.vcard(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got := v.String(); !strings.Contains(got, "<VIDEO") || !strings.Contains(got, ">sip:alice@example.com</NUMBER>") {
		t.Fatalf("vcard %s", got)
	}
}

// The local vCard source for bindings: the locked AOR and the user's TELs
// of a local account; nothing for others.
func TestVCardTELs(t *testing.T) {
	r := newRig(t, nil)
	r.add("alice", "pa")
	alice := r.login("alice", "pa")
	alice.send(`<iq type='set' id='v1'><vCard xmlns='vcard-temp'><TEL><NUMBER>+1 555 0100</NUMBER></TEL></vCard></iq>`)
	alice.next("set", kind("iq"))
	ctx := context.Background()
	tels, err := r.srv.VCardTELs(ctx, "alice@localhost")
	if err != nil || len(tels) != 2 || tels[0] != "+1 555 0100" || tels[1] != "sip:alice@localhost" {
		t.Fatalf("tels %q %v", tels, err)
	}
	for _, j := range []string{"bob@localhost", "alice@example.org", "alice", "alice@localhost/r"} {
		if tels, err := r.srv.VCardTELs(ctx, j); err != nil || len(tels) != 0 {
			t.Errorf("%s: %q %v", j, tels, err)
		}
	}
}

// An approval nobody asked for is ignored (RFC 6121 §3.1.5): Mallory's
// unsolicited "subscribed" puts nothing into Bob's roster or hers.
func TestUnsolicitedSubscribedIgnored(t *testing.T) {
	r := newRig(t, nil)
	r.add("mallory", "pm")
	r.add("bob", "pb")
	mallory := r.login("mallory", "pm")
	mallory.send(`<presence to='bob@localhost' type='subscribed'/>`)
	// stanzas of one stream are handled in order: once this answer is
	// back, the presence before it has been handled
	mallory.send(`<iq type='get' id='sync'><query xmlns='jabber:iq:roster'/></iq>`)
	mallory.next("roster", func(e *elem) bool { return e.Name.Local == "iq" && e.attr("id") == "sync" })
	for _, user := range []string{"bob", "mallory"} {
		if items, err := r.st.Roster(context.Background(), user); err != nil || len(items) != 0 {
			t.Fatalf("%s's roster after an unsolicited approval: %+v %v", user, items, err)
		}
	}
}

// flakyListener fails its first n accepts the way a descriptor shortage
// does (EMFILE), then accepts.
type flakyListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// A failing accept (file descriptors exhausted) is retried: Serve neither
// returns nor stops serving.
func TestServeSurvivesAcceptErrors(t *testing.T) {
	r := newRig(t, nil)
	r.add("alice", "pa")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	flaky := &flakyListener{Listener: ln}
	flaky.fails.Store(5)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.srv.Serve(ctx, flaky) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	}()
	r.addr = ln.Addr().String()
	alice := r.login("alice", "pa") // only after the five failures
	alice.send(`<iq type='get' id='r0'><query xmlns='jabber:iq:roster'/></iq>`)
	alice.next("roster", kind("iq"))
	if n := flaky.fails.Load(); n >= 0 {
		t.Fatalf("%d failures left unconsumed", n+1)
	}
}
