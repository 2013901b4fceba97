package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/config"
	"cusax.dev/bridge/confinfo"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/mixer/audiotest"
	"cusax.dev/bridge/store"
)

// Issue 8 through the real binary, a real Prosody (vCards stored through
// it by the test's own clients) and Go callers with audio.

const nsParticipation = "urn:cusax:participation:0"

// identityBridge is the bridge binary with its MUC component on p and SIP
// digest accounts for alice, mallory and dave.
func identityBridge(t *testing.T, p *Prosody, mutate func(*config.Config)) *Bridge {
	t.Helper()
	return StartBridge(t, func(c *config.Config) {
		c.XMPP = config.XMPP{Mode: "component", Server: p.ComponentAddr(), Domain: p.MUCDomain, Secret: p.Secret,
			RoomCreation: "anyone", HistoryLength: 50}
		c.SIP.Auth.Realm = "cusax-test"
		c.SIP.Auth.Accounts = []config.Account{{User: "alice", Password: "alice-sip"}, {User: "mallory", Password: "mallory-sip"},
			{User: "dave", Password: "dave-sip"}}
		if mutate != nil {
			mutate(c)
		}
	})
}

// storeVCard publishes a vcard-temp with one TEL per value through the
// client's own server (XEP-0054 §3.2).
func storeVCard(t *testing.T, c *XMPPClient, tels ...string) {
	t.Helper()
	var b strings.Builder
	for _, tel := range tels {
		fmt.Fprintf(&b, "<TEL><VOICE/><NUMBER>%s</NUMBER></TEL>", tel)
	}
	if res := c.IQ(c.Bare, "set", "<vCard xmlns='vcard-temp'><FN>"+c.Bare+"</FN>"+b.String()+"</vCard>"); res.Attr("type") != "result" {
		t.Fatalf("vCard of %s not stored: %s", c.Bare, res)
	}
}

// createRoom has c create room as an instant room under nick.
func createRoom(t *testing.T, c *XMPPClient, room, nick string) {
	t.Helper()
	got := c.Join(room, nick, "")
	if self := got[len(got)-2]; self.Item().Attr("affiliation") != "owner" {
		t.Fatalf("creator self-presence: %s", self)
	}
	if res := c.IQ(room, "set", `<query xmlns='`+nsMUCOwner+`'><x xmlns='`+nsData+`' type='submit'/></query>`); res.Attr("type") != "result" {
		t.Fatalf("instant room: %s", res)
	}
}

// phoneCall is a Go caller sending a tone.
type phoneCall struct {
	ua    *sipua.UA
	call  *sipua.Call
	phone *audiotest.Phone
	freq  float64
}

// dial calls sip:team@bridge as user from host (a loopback address), with
// a digest password when pass is not empty, sending a tone of freq Hz once
// answered. It returns the call whatever its final status.
func dial(t *testing.T, ctx context.Context, b *Bridge, user, display, pass, host string, freq float64, opts ...sipua.Option) *phoneCall {
	t.Helper()
	phone, err := audiotest.NewPhone(audiotest.PhoneConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phone.Close() })
	phone.SetSource(audiotest.Tone(freq, 8000, 8000).Fill)
	ua, err := sipua.New(sipua.Config{User: user, DisplayName: display, Host: host, Domain: b.Config.SIP.Domain})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	target := ua.Target("team", b.SIPAddr)
	offer := sipua.Offer(phone.Addr(), "0 101")
	var call *sipua.Call
	if pass != "" {
		call, err = ua.InviteAuth(ctx, target, offer, sipua.Credentials{User: user, Password: pass}, opts...)
	} else {
		call, err = ua.Invite(ctx, target, offer, opts...)
	}
	if err != nil {
		t.Fatalf("%s INVITE: %v", user, err)
	}
	pc := &phoneCall{ua: ua, call: call, phone: phone, freq: freq}
	if call.Response.StatusCode == 200 {
		if err := call.Ack(nil); err != nil {
			t.Fatal(err)
		}
		dst, err := sipua.AudioPort(call.Response.Body())
		if err != nil {
			t.Fatalf("%s answer: %v", user, err)
		}
		phone.Start(dst)
	}
	return pc
}

// hears reports the level (dBFS) of freq in the last second c received.
func (c *phoneCall) hears(t *testing.T, freq float64) float64 {
	t.Helper()
	c.phone.ResetRecording()
	time.Sleep(1200 * time.Millisecond) // record a second of the mix
	rec := c.phone.Tail(8000)
	if len(rec) < 7000 {
		t.Fatalf("only %d samples received", len(rec))
	}
	return audiotest.PowerDB(rec, freq, 8000)
}

// participation returns a presence's participation element.
func participation(e *Elem) (text, audio, muted string, ok bool) {
	p := e.Child(nsParticipation, "participation")
	if p == nil {
		return "", "", "", false
	}
	return p.Attr("text"), p.Attr("audio"), p.Attr("muted"), true
}

// RFC 7081 §3.4 end to end. alice (XMPP owner of the room, vCard TEL
// sip:alice@DOMAIN stored through Prosody) calls in authenticated with
// Call-Info <xmpp:alice@localhost>;purpose=impp: one participant (no second
// occupant), level "both", and owner rights on the call (her REFER ejects).
// mallory, authenticated as herself, sends the same Call-Info: a separate,
// unbound occupant with no rights (her REFER is refused). Both hear each
// other. A reflected groupchat keeps its origin-id and gets a stanza-id.
func TestVerifiedBindingThroughProsody(t *testing.T) {
	p := StartProsody(t, e2eUsers)
	b := identityBridge(t, p, func(c *config.Config) { c.SIP.Auth.RequireForCalls = true })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	room := "team@" + p.MUCDomain
	domain := b.Config.SIP.Domain

	alice := login(t, p, "alice")
	waitComponent(t, alice, p.MUCDomain, 10*time.Second)
	storeVCard(t, alice, "+1 555 0100", "sip:alice@"+domain)
	createRoom(t, alice, room, "Alice")

	hint := sipua.WithHeader("Call-Info", "<xmpp:alice@localhost>;purpose=impp")
	ac := dial(t, ctx, b, "alice", "Alice Phone", "alice-sip", "127.0.0.1", 600, hint)
	if ac.call.Response.StatusCode != 200 {
		t.Fatalf("alice's call: %s", ac.call.Response.StartLine())
	}
	// Her own occupant now says she is on the call too: no new occupant.
	self := alice.Next("alice's level both", func(e *Elem) bool {
		txt, audio, _, ok := participation(e)
		return e.XMLName.Local == "presence" && e.Attr("from") == room+"/Alice" && ok && txt == "true" && audio == "true"
	})
	if st := self.Child("", "status"); st == nil || !strings.Contains(st.Text, "chat and on the call") {
		t.Errorf("status of a person in both: %s", self)
	}
	WaitFor(t, 5*time.Second, "one participant with both legs", func() bool {
		return b.Metric("cusax_participants_active", `protocol="both"`) == 1 && b.Metric("cusax_participants_active") == 1
	})

	mc := dial(t, ctx, b, "mallory", "Mallory", "mallory-sip", "127.0.0.1", 1100,
		sipua.WithHeader("Call-Info", "<xmpp:alice@localhost>;purpose=impp"))
	if mc.call.Response.StatusCode != 200 {
		t.Fatalf("mallory's call: %s", mc.call.Response.StartLine())
	}
	mp := alice.NextFrom("presence", room+"/Mallory")
	if txt, audio, _, ok := participation(mp); !ok || txt != "false" || audio != "true" || mp.Item().Attr("affiliation") != "none" {
		t.Fatalf("mallory's occupant: %s", mp)
	}
	WaitFor(t, 5*time.Second, "mallory separate and unbound", func() bool {
		return b.Metric("cusax_participants_active", `protocol="sip"`) == 1 && b.Metric("cusax_participants_active", `protocol="both"`) == 1
	})
	if alice.Received(func(e *Elem) bool {
		return e.XMLName.Local == "presence" && strings.HasPrefix(e.Attr("from"), room+"/") &&
			!strings.HasSuffix(e.Attr("from"), "/Alice") && !strings.HasSuffix(e.Attr("from"), "/Mallory")
	}) {
		t.Error("a second occupant was presented for someone")
	}

	// Audio: each hears the other.
	time.Sleep(300 * time.Millisecond) // jitter buffers settle
	if l := ac.hears(t, 1100); l < -40 {
		t.Errorf("alice hears mallory at %.1f dBFS", l)
	}
	if l := mc.hears(t, 600); l < -40 {
		t.Errorf("mallory hears alice at %.1f dBFS", l)
	}

	// Rights: mallory may not eject alice; alice (owner through her
	// binding) ejects mallory, whose BYE carries a Reason.
	target := mc.ua.Target("team", b.SIPAddr)
	sub, err := mc.ua.Refer(ctx, target, []string{"<sip:alice@" + domain + ";method=BYE>"}, &sipua.Credentials{User: "mallory", Password: "mallory-sip"})
	if err != nil || sub.Response.StatusCode != 403 {
		t.Fatalf("mallory's REFER: %v %v", sub.Response, err)
	}
	sub, err = ac.ua.Refer(ctx, target, []string{"<sip:mallory@" + domain + ";method=BYE>"}, &sipua.Credentials{User: "alice", Password: "alice-sip"},
		sipua.WithHeader("Reason", `SIP;cause=200;text="off topic"`))
	if err != nil || sub.Response.StatusCode != 202 {
		t.Fatalf("alice's REFER: %v %v", sub.Response, err)
	}
	bye, err := mc.call.WaitBye(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := bye.GetHeader("Reason"); r == nil || !strings.Contains(r.Value(), "off topic") || !strings.Contains(r.Value(), "cause=403") {
		t.Errorf("BYE Reason: %v", bye.GetHeader("Reason"))
	}
	kicked := alice.Next("mallory's 307", func(e *Elem) bool {
		return e.Attr("from") == room+"/Mallory" && e.Attr("type") == "unavailable"
	})
	if !strings.Contains(strings.Join(kicked.Codes(), ","), "307") || kicked.Item().Child(nsMUCUser, "actor") == nil ||
		!strings.Contains(kicked.Item().Child(nsMUCUser, "reason").Text, "off topic") {
		t.Errorf("307 without actor or reason: %s", kicked)
	}

	// XEP-0359: the reflection keeps the origin-id and has the room's
	// stanza-id (so that clients show a message once).
	alice.Send(`<message type='groupchat' to=%q id='m-1'><body>hi</body><origin-id xmlns='urn:xmpp:sid:0' id='origin-1'/></message>`, room)
	m := alice.NextFrom("message", room+"/Alice")
	if o := m.Child("urn:xmpp:sid:0", "origin-id"); o == nil || o.Attr("id") != "origin-1" {
		t.Errorf("reflection lost the origin-id: %s", m)
	}
	if s := m.Child("urn:xmpp:sid:0", "stanza-id"); s == nil || s.Attr("by") != room || s.Attr("id") == "" {
		t.Errorf("reflection has no stanza-id by the room: %s", m)
	}
}

// RFC 3325: from a trusted peer (sip.trusted_peers), P-Asserted-Identity is
// the caller's identity, even with require_for_calls (no challenge), and
// binds through identity.bindings; from any other source it is ignored
// (the caller is challenged like anyone).
func TestTrustedPeerAssertedIdentity(t *testing.T) {
	p := StartProsody(t, e2eUsers)
	b := identityBridge(t, p, func(c *config.Config) {
		c.SIP.Auth.RequireForCalls = true
		c.SIP.TrustedPeers = []string{"127.0.0.1"}
		c.Identity.Bindings = []config.Binding{{JID: "bob@localhost", AOR: "sip:bob@" + c.SIP.Domain}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	room := "team@" + p.MUCDomain
	bob := login(t, p, "bob")
	waitComponent(t, bob, p.MUCDomain, 10*time.Second)
	createRoom(t, bob, room, "Bob")

	pai := sipua.WithHeader("P-Asserted-Identity", "\"Bob\" <sip:bob@"+b.Config.SIP.Domain+">")
	// From 127.0.0.2 (not trusted): challenged, the header ignored.
	untrusted := dial(t, ctx, b, "proxy", "Bob?", "", "127.0.0.2", 700, pai)
	if untrusted.call.Response.StatusCode != 401 {
		t.Fatalf("untrusted source with P-Asserted-Identity: %s, want 401", untrusted.call.Response.StartLine())
	}
	// From the trusted proxy: admitted as bob, bound to bob@localhost.
	trusted := dial(t, ctx, b, "proxy", "Bob", "", "127.0.0.1", 700, pai)
	if trusted.call.Response.StatusCode != 200 {
		t.Fatalf("trusted peer: %s", trusted.call.Response.StartLine())
	}
	bob.Next("bob's level both", func(e *Elem) bool {
		txt, audio, _, ok := participation(e)
		return e.XMLName.Local == "presence" && e.Attr("from") == room+"/Bob" && ok && txt == "true" && audio == "true"
	})
	WaitFor(t, 5*time.Second, "bob with both legs", func() bool {
		return b.Metric("cusax_participants_active", `protocol="both"`) == 1
	})

	// A REFER the proxy relays for bob (the room's owner through his
	// binding) is not challenged either: it ejects alice.
	ac := dial(t, ctx, b, "alice", "Alice", "alice-sip", "127.0.0.2", 900)
	if ac.call.Response.StatusCode != 200 {
		t.Fatalf("alice's call: %s", ac.call.Response.StartLine())
	}
	ref, err := trusted.ua.Refer(ctx, trusted.ua.Target("team", b.SIPAddr), []string{"<sip:alice@" + b.Config.SIP.Domain + ";method=BYE>"}, nil, pai)
	if err != nil || ref.Response.StatusCode != 202 {
		t.Fatalf("REFER relayed by the trusted proxy: %v %v", ref.Response, err)
	}
	if _, err := ac.call.WaitBye(ctx); err != nil {
		t.Fatalf("alice not ejected: %v", err)
	}
}

// Bans hold on both legs, across the bridge's host aliases and case, and
// across a restart: banning dave's JID refuses the AOR of his vCard (403
// with Reason); banning carol's AOR (written with another host name)
// hangs her call up with a Reason and bars her bound JID from the room.
func TestBansHoldOnBothLegs(t *testing.T) {
	p := StartProsody(t, e2eUsers)
	b := identityBridge(t, p, func(c *config.Config) {
		c.SIP.DomainAliases = []string{"bridge.example"}
		c.Identity.Bindings = []config.Binding{{JID: "carol@localhost", AOR: "sip:carol@" + c.SIP.Domain}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	room := "team@" + p.MUCDomain
	domain := b.Config.SIP.Domain

	dave := login(t, p, "dave")
	storeVCard(t, dave, "sip:dave@"+domain)
	alice := login(t, p, "alice")
	waitComponent(t, alice, p.MUCDomain, 10*time.Second)
	createRoom(t, alice, room, "Alice")

	// carol is on the call.
	cc := dial(t, ctx, b, "carol", "Carol", "", "127.0.0.1", 800)
	if cc.call.Response.StatusCode != 200 {
		t.Fatalf("carol's call: %s", cc.call.Response.StartLine())
	}
	alice.NextFrom("presence", room+"/Carol")

	ban := func(jid string) {
		t.Helper()
		res := alice.IQ(room, "set", `<query xmlns='`+nsMUCAdmin+`'><item affiliation='outcast' jid='`+jid+`'><reason>rude</reason></item></query>`)
		if res.Attr("type") != "result" {
			t.Fatalf("ban %s: %s", jid, res)
		}
	}
	ban("sip:carol@BRIDGE.example:5060")
	bye, err := cc.call.WaitBye(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := bye.GetHeader("Reason"); r == nil || !strings.Contains(r.Value(), "banned") || !strings.Contains(r.Value(), "rude") {
		t.Errorf("ban BYE Reason: %v", bye.GetHeader("Reason"))
	}
	ban("dave@localhost")

	check := func(when string) {
		t.Helper()
		for _, from := range []string{"sip:dave@LOCALHOST", "sip:dave@" + domain} {
			host := strings.TrimPrefix(from, "sip:dave@")
			ua, err := sipua.New(sipua.Config{User: "dave", Domain: host})
			if err != nil {
				t.Fatal(err)
			}
			rtp, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			call, err := ua.Invite(ctx, ua.Target("team", b.SIPAddr), sipua.Offer(rtp.LocalAddr().(*net.UDPAddr).AddrPort(), "0"))
			rtp.Close()
			if err != nil {
				t.Fatal(err)
			}
			res := call.Response
			if res.StatusCode != 403 || res.GetHeader("Reason") == nil {
				t.Errorf("%s: %s from %s: %s (Reason %v), want 403 with Reason", when, "dave", from, res.StartLine(), res.GetHeader("Reason"))
			}
			ua.Close()
		}
		carol := login(t, p, "carol")
		got := carol.Join(room, "Carol", "")
		if last := got[len(got)-1]; last.Attr("type") != "error" || last.ErrorCondition() != "forbidden" {
			t.Errorf("%s: carol's JID (bound to the banned AOR) joins: %s", when, last)
		}
		carol.Close()
	}
	check("before the restart")

	if code := b.Stop(); code != 0 {
		t.Fatalf("bridge exit %d", code)
	}
	b.Start()
	waitComponent(t, alice, p.MUCDomain, 10*time.Second)
	check("after the restart")
}

// Issue 8 defects 4 and 6: a SIP moderator's REFER ejects a chat-only
// participant named by its entity as the moderator's conference-info shows
// it (the anonymous entity of a semi-anonymous room): the occupant gets
// 307 with the actor and the reason, and conference-info shows it
// disconnected, booted.
func TestReferEjectsChatOnlyParticipant(t *testing.T) {
	p := StartProsody(t, e2eUsers)
	b := identityBridge(t, p, func(c *config.Config) {
		c.Rooms = []config.Room{{Name: "team", Moderators: []string{"sip:alice@" + c.SIP.Domain}}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	room := "team@" + p.MUCDomain
	bob := login(t, p, "bob")
	waitComponent(t, bob, p.MUCDomain, 10*time.Second)
	bob.Join(room, "Bob", "")

	ac := dial(t, ctx, b, "alice", "Alice", "", "127.0.0.1", 600)
	if ac.call.Response.StatusCode != 200 {
		t.Fatalf("alice's call: %s", ac.call.Response.StartLine())
	}
	sub, err := ac.ua.Subscribe(ctx, ac.ua.Target("team", b.SIPAddr), "conference", 600)
	if err != nil || sub.Response.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %v %v", sub.Response, err)
	}
	s := &subscriber{t: t, sub: sub}
	var entity string
	s.until(ctx, "bob in conference state", func(d *confinfo.Document) bool {
		for _, u := range d.Users.Users {
			if u.DisplayText == "Bob" {
				entity = u.Entity
				return true
			}
		}
		return false
	})
	if strings.Contains(entity, "bob@") {
		t.Fatalf("a semi-anonymous room shows bob's JID to a SIP subscriber: %q", entity)
	}
	ref, err := ac.ua.Refer(ctx, ac.ua.Target("team", b.SIPAddr), []string{"<" + entity + ";method=BYE>"},
		&sipua.Credentials{User: "alice", Password: "alice-sip"}, sipua.WithHeader("Reason", `SIP;cause=200;text="spam"`))
	if err != nil || ref.Response.StatusCode != 202 {
		t.Fatalf("REFER: %v %v", ref.Response, err)
	}
	kicked := bob.Next("bob's 307", func(e *Elem) bool {
		return e.Attr("from") == room+"/Bob" && e.Attr("type") == "unavailable"
	})
	item := kicked.Item()
	if !strings.Contains(strings.Join(kicked.Codes(), ","), "307") || item.Child(nsMUCUser, "actor") == nil ||
		item.Child(nsMUCUser, "reason") == nil || item.Child(nsMUCUser, "reason").Text != "spam" {
		t.Fatalf("bob's 307: %s", kicked)
	}
	s.until(ctx, "bob disconnected, booted", func(d *confinfo.Document) bool {
		ep := endpoint(d, entity)
		return ep != nil && ep.Status == confinfo.StatusDisconnected && ep.DisconnectionMethod == confinfo.DisconnectBooted
	})
}

// sipp as a trusted proxy: its INVITE with P-Asserted-Identity and
// Call-Info is admitted without a challenge although calls need
// authentication. sipp as a banned caller (From host "LOCALHOST", an alias
// of the bridge in capitals; the ban stored as sip:dave@DOMAIN before the
// bridge started) gets 403 with a Reason.
func TestSippAssertedIdentityAndBan(t *testing.T) {
	sipp(t)
	b := StartBridge(t, func(c *config.Config) {
		c.SIP.Auth.RequireForCalls = true
		c.SIP.TrustedPeers = []string{"127.0.0.1/32"}
		c.Identity.Bindings = []config.Binding{{JID: "bob@localhost", AOR: "sip:bob@" + c.SIP.Domain}}
	})
	runSippArgs(t, b, "uac_invite_asserted.xml", "udp", t.TempDir(), "-key", "asserted", "sip:bob@"+b.Config.SIP.Domain, "-key", "jid", "bob@localhost")
	if !strings.Contains(b.Logs(), "caller asserted by a trusted peer") {
		t.Error("the bridge did not take the asserted identity")
	}

	open := StartBridge(t, func(c *config.Config) { c.Rooms = []config.Room{{Name: "team"}} })
	if code := open.Stop(); code != 0 {
		t.Fatalf("bridge exit %d", code)
	}
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, open.Config.Store.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetAffiliation(ctx, store.Affiliation{Room: "team", Identity: "sip:dave@" + open.Config.SIP.Domain, Value: store.AffOutcast}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	open.Start()
	runSippArgs(t, open, "uac_invite_banned.xml", "udp", t.TempDir(), "-key", "user", "dave", "-key", "domain", "LOCALHOST")
}

// Issue 8 defect 1 through the real binary and Prosody: a caller mutes
// itself (*6), a room moderator then revokes its voice: the room shows the
// moderator's mute (a presence with the actor), and the caller's next *6
// does not lift it.
func TestModeratorMuteOverSelfMuteThroughBinary(t *testing.T) {
	p := StartProsody(t, e2eUsers)
	b := identityBridge(t, p, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	room := "team@" + p.MUCDomain
	alice := login(t, p, "alice")
	waitComponent(t, alice, p.MUCDomain, 10*time.Second)
	createRoom(t, alice, room, "Alice")

	dc := dial(t, ctx, b, "dave", "Dave", "", "127.0.0.1", 700)
	if dc.call.Response.StatusCode != 200 {
		t.Fatalf("dave's call: %s", dc.call.Response.StartLine())
	}
	alice.NextFrom("presence", room+"/Dave")
	star6 := func() {
		t.Helper()
		for _, d := range "*6" {
			if err := dc.phone.SendDTMF(d, 100*time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
	}
	star6()
	self := alice.Next("dave muted by himself", func(e *Elem) bool {
		_, _, muted, ok := participation(e)
		return e.Attr("from") == room+"/Dave" && ok && muted == "true"
	})
	if self.Item().Attr("role") != "visitor" {
		t.Fatalf("self-muted caller: %s", self)
	}
	res := alice.IQ(room, "set", `<query xmlns='`+nsMUCAdmin+`'><item nick='Dave' role='visitor'><reason>quiet please</reason></item></query>`)
	if res.Attr("type") != "result" {
		t.Fatalf("voice revoke: %s", res)
	}
	// The presence of the moderator's mute came before the result.
	if !alice.Received(func(e *Elem) bool {
		return e.Attr("from") == room+"/Dave" && e.Item().Child(nsMUCUser, "actor").Attr("nick") == "Alice"
	}) {
		t.Fatal("no presence for the moderator's mute of a self-muted caller")
	}
	star6()
	WaitFor(t, 5*time.Second, "the second *6 refused", func() bool {
		return strings.Count(b.Logs(), "dtmf mute toggle refused") >= 1
	})
	if n := b.Metric("cusax_moderation_actions_total", `action="unmute"`); n != 0 {
		t.Fatalf("the caller's *6 lifted a moderator's mute (%v unmutes)", n)
	}
}
