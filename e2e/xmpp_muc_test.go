package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/config"
	"cusax.dev/bridge/metrics"
	"cusax.dev/bridge/muc"
	"cusax.dev/bridge/store"
)

const e2eSIPDomain = "127.0.0.1" // what StartBridge sets as sip.domain

// mucBridge is the MUC side under test: the real binary, or the muc Service
// and the core run in this process over the same SQLite file.
type mucBridge interface {
	// Stop shuts the bridge down as on SIGTERM: the conferences end (332),
	// then the component link closes.
	Stop(t *testing.T)
	// Restart stops the bridge and starts it again over the same store.
	Restart(t *testing.T)
	Connected() bool
	// SIPDomain is the bridge's sip.domain.
	SIPDomain() string
}

// inProcess runs registry + muc.Service over a SQLite store, as cmd/bridge
// wires them.
type inProcess struct {
	dbPath string
	p      *XMPPServer
	m      *metrics.Metrics
	svc    *muc.Service
	reg    *conference.Registry
	st     *store.SQLite
	cancel context.CancelFunc
	done   chan struct{}
	// tune adjusts the muc configuration, if set.
	tune func(*muc.Config)
}

func startInProcess(t *testing.T, p xmppServer) *inProcess {
	return startInProcessWith(t, p, nil)
}

func startInProcessWith(t *testing.T, p xmppServer, tune func(*muc.Config)) *inProcess {
	b := &inProcess{dbPath: filepath.Join(t.TempDir(), "bridge.db"), p: p.server(), tune: tune}
	b.start(t)
	t.Cleanup(b.stop)
	return b
}

func (b *inProcess) start(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("E2E_MUC_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	st, err := store.OpenSQLite(ctx, b.dbPath, log)
	if err != nil {
		t.Fatal(err)
	}
	b.st = st
	b.reg = conference.NewRegistry(conference.Options{Store: st, Logger: log, HistoryLength: 50})
	b.m = metrics.New()
	cfg := muc.Config{Server: b.p.ComponentAddr(), Domain: b.p.MUCDomain, Secret: b.p.Secret,
		SIPDomain: e2eSIPDomain, Logger: log, Metrics: b.m}
	if b.tune != nil {
		b.tune(&cfg)
	}
	b.svc, err = muc.New(cfg, b.reg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	b.cancel, b.done = cancel, make(chan struct{})
	go func() {
		defer close(b.done)
		_ = b.svc.Run(runCtx)
	}()
}

// stop shuts down as the binary does: the registry ends its rooms (332),
// the component drains and closes, the store closes.
func (b *inProcess) stop() {
	if b.cancel == nil {
		return
	}
	b.reg.Close(context.Background())
	b.cancel()
	<-b.done
	_ = b.st.Close()
	b.cancel = nil
}

func (b *inProcess) Stop(*testing.T)      { b.stop() }
func (b *inProcess) Restart(t *testing.T) { b.stop(); b.start(t) }
func (b *inProcess) Connected() bool      { return b.svc.Connected() }
func (b *inProcess) SIPDomain() string    { return e2eSIPDomain }

// binaryBridge is the bridge binary with its XMPP component configured.
type binaryBridge struct{ b *Bridge }

func startBinary(t *testing.T, srv xmppServer) *binaryBridge {
	p := srv.server()
	b := StartBridge(t, func(c *config.Config) {
		c.XMPP = config.XMPP{Mode: "component", Server: p.ComponentAddr(), Domain: p.MUCDomain, Secret: p.Secret,
			RoomCreation: "anyone", HistoryLength: 50}
	})
	res, err := http.Get(b.AdminURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if strings.Contains(string(body), "xmpp: n/a") {
		t.Fatalf("the bridge binary does not run its MUC component (readyz: %s)", body)
	}
	return &binaryBridge{b}
}

// Stop sends SIGTERM and expects a clean exit.
func (b *binaryBridge) Stop(t *testing.T) {
	t.Helper()
	if code := b.b.Stop(); code != 0 {
		t.Fatalf("bridge exit code after SIGTERM: %d", code)
	}
}

func (b *binaryBridge) Restart(t *testing.T) { b.Stop(t); b.b.Start() }
func (b *binaryBridge) Connected() bool {
	return MetricValue(b.b.Metrics(), "cusax_xmpp_component_connected") == 1
}
func (b *binaryBridge) SIPDomain() string { return b.b.Config.SIP.Domain }

var e2eUsers = map[string]string{"alice": "pw-alice", "bob": "pw-bob", "carol": "pw-carol", "dave": "pw-dave", "mallory": "pw-mallory"}

func login(t *testing.T, srv xmppServer, name string) *XMPPClient {
	p := srv.server()
	return DialXMPP(t, p.C2SAddr(), name, p.Domain, e2eUsers[name])
}

// waitComponent waits until the MUC domain answers disco through Prosody.
func waitComponent(t *testing.T, c *XMPPClient, mucDomain string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		res := c.IQ(mucDomain, "get", `<query xmlns='`+nsDisco+`'/>`)
		if res.Attr("type") == "result" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("MUC component not reachable through Prosody within %v: %s", within, res)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestXMPPMUCWithProsodyInProcess(t *testing.T) {
	p := StartProsody(t, e2eUsers)
	mucScenario(t, p, startInProcess(t, p))
}

func TestXMPPMUCWithProsodyBinary(t *testing.T) {
	p := StartProsody(t, e2eUsers)
	mucScenario(t, p, startBinary(t, p))
}

// mucScenario: two users join and chat, a late joiner gets history and the
// subject, a moderator revokes voice, kicks and bans with the right codes and
// actor, the ban holds after a bridge restart, and disco advertises the SIP
// conference URI.
func mucScenario(t *testing.T, srv xmppServer, br mucBridge) {
	p := srv.server()
	room := "team@" + p.MUCDomain
	alice, bob, dave := login(t, p, "alice"), login(t, p, "bob"), login(t, p, "dave")
	waitComponent(t, dave, p.MUCDomain, 10*time.Second)

	// Alice creates the room (201) and configures it persistent (rooms
	// nobody made persistent are destroyed once empty, issue 12).
	got := alice.Join(room, "Alice", "")
	self := got[len(got)-2]
	if !slices.Equal(self.Codes(), []string{"110", "201"}) || self.Item().Attr("affiliation") != "owner" {
		t.Fatalf("creator self-presence: %s", self)
	}
	if res := alice.IQ(room, "set", `<query xmlns='`+nsMUCOwner+`'><x xmlns='`+nsData+`' type='submit'>`+
		`<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>`+
		`<field var='muc#roomconfig_persistentroom'><value>1</value></field></x></query>`); res.Attr("type") != "result" {
		t.Fatalf("persistent room: %s", res)
	}
	// Bob joins: Alice's presence first, then his own with 110.
	got = bob.Join(room, "Bob", "")
	if len(got) < 3 || got[0].Attr("from") != room+"/Alice" || !slices.Contains(got[1].Codes(), "110") {
		t.Fatalf("bob's join sequence: %v", got)
	}
	alice.NextFrom("presence", room+"/Bob")

	// Subject and chat.
	alice.Send(`<message type='groupchat' to=%q><subject>Weekly sync</subject></message>`, room)
	for _, c := range []*XMPPClient{alice, bob} {
		if m := c.NextFrom("message", room+"/Alice"); m.Child("", "subject").Text != "Weekly sync" {
			t.Fatalf("subject: %s", m)
		}
	}
	bob.Send(`<message type='groupchat' to=%q id='hello-1'><body>Hello from Bob</body></message>`, room)
	for _, c := range []*XMPPClient{alice, bob} {
		m := c.NextFrom("message", room+"/Bob")
		if m.Child("", "body").Text != "Hello from Bob" || m.Attr("id") != "hello-1" {
			t.Fatalf("groupchat to %s: %s", c.Bare, m)
		}
	}

	// Carol joins late: history with delay, then the subject.
	carol := login(t, p, "carol")
	got = carol.Join(room, "Carol", "")
	var history []string
	for _, e := range got {
		if b := e.Child("", "body"); b != nil && e.Child("urn:xmpp:delay", "delay") != nil {
			history = append(history, b.Text)
		}
	}
	if !slices.Equal(history, []string{"Hello from Bob"}) || got[len(got)-1].Child("", "subject").Text != "Weekly sync" {
		t.Fatalf("late joiner history %q / subject %s", history, got[len(got)-1])
	}
	alice.NextFrom("presence", room+"/Carol")
	bob.NextFrom("presence", room+"/Carol")

	// Each moderation result reaches Alice after the presences it caused
	// (XEP-0045 §8.2, §9.1), through Prosody too.
	before := func(what, from, typ string) {
		t.Helper()
		if !alice.Received(func(e *Elem) bool {
			return e.XMLName.Local == "presence" && e.Attr("from") == from && e.Attr("type") == typ
		}) {
			t.Fatalf("the %s result reached the moderator before the presence from %s", what, from)
		}
	}
	// Voice revoked: everyone sees Carol as visitor.
	if res := alice.IQ(room, "set", `<query xmlns='`+nsMUCAdmin+`'><item nick='Carol' role='visitor'/></query>`); res.Attr("type") != "result" {
		t.Fatalf("revoke voice: %s", res)
	}
	before("revoke voice", room+"/Carol", "")
	for _, c := range []*XMPPClient{alice, bob, carol} {
		if e := c.NextFrom("presence", room+"/Carol"); e.Item().Attr("role") != "visitor" {
			t.Fatalf("voice revoked presence to %s: %s", c.Bare, e)
		}
	}
	// Kick Carol: 307 with actor and reason.
	if res := alice.IQ(room, "set", `<query xmlns='`+nsMUCAdmin+`'><item nick='Carol' role='none'><reason>Avaunt!</reason></item></query>`); res.Attr("type") != "result" {
		t.Fatalf("kick: %s", res)
	}
	before("kick", room+"/Carol", "unavailable")
	e := carol.NextFrom("presence", room+"/Carol")
	if e.Attr("type") != "unavailable" || !slices.Equal(e.Codes(), []string{"110", "307"}) ||
		e.Item().Child(nsMUCUser, "actor").Attr("nick") != "Alice" || e.Item().Child(nsMUCUser, "reason").Text != "Avaunt!" {
		t.Fatalf("kicked presence: %s", e)
	}
	if e := bob.NextFrom("presence", room+"/Carol"); !slices.Equal(e.Codes(), []string{"307"}) {
		t.Fatalf("kick seen by others: %s", e)
	}
	alice.NextFrom("presence", room+"/Carol")
	// Ban Bob: 301 with actor; he cannot rejoin.
	if res := alice.IQ(room, "set", `<query xmlns='`+nsMUCAdmin+`'><item affiliation='outcast' jid='`+bob.Bare+`'><reason>spam</reason></item></query>`); res.Attr("type") != "result" {
		t.Fatalf("ban: %s", res)
	}
	before("ban", room+"/Bob", "unavailable")
	e = bob.NextFrom("presence", room+"/Bob")
	if !slices.Equal(e.Codes(), []string{"110", "301"}) || e.Item().Attr("affiliation") != "outcast" || e.Item().Child(nsMUCUser, "actor").Attr("nick") != "Alice" {
		t.Fatalf("banned presence: %s", e)
	}
	if e := alice.NextFrom("presence", room+"/Bob"); !slices.Equal(e.Codes(), []string{"301"}) {
		t.Fatalf("ban seen by others: %s", e)
	}
	if got := bob.Join(room, "Bob", ""); got[len(got)-1].ErrorCondition() != "forbidden" {
		t.Fatalf("banned user rejoined: %v", got)
	}
	checkRoomInfo(t, dave, room, "team", br)

	// Restart the bridge over the same store. Alice, still in the room, is
	// told the service shut down (332); the ban, the history and the subject
	// survive.
	br.Restart(t)
	wantShutdownPresence(t, alice, room+"/Alice")
	WaitFor(t, 10*time.Second, "component reconnected", br.Connected)
	if r, ok := br.(interface{ RestartsXMPP() bool }); ok && r.RestartsXMPP() {
		// The bridge is the XMPP server too (embedded): its clients
		// log in again.
		bob, carol, dave = login(t, p, "bob"), login(t, p, "carol"), login(t, p, "dave")
	}
	waitComponent(t, dave, p.MUCDomain, 10*time.Second)
	if got := bob.Join(room, "Bob", ""); got[len(got)-1].ErrorCondition() != "forbidden" {
		t.Fatalf("banned user rejoined after restart: %v", got)
	}
	got = carol.Join(room, "Carol", "")
	if last := got[len(got)-1]; last.Child("", "subject") == nil || last.Child("", "subject").Text != "Weekly sync" {
		t.Fatalf("subject after restart: %v", got)
	}
	if b := got[len(got)-2].Child("", "body"); b == nil || b.Text != "Hello from Bob" {
		t.Fatalf("history after restart: %v", got)
	}
	checkRoomInfo(t, dave, room, "team", br)
}

// wantShutdownPresence asserts that c got the unavailable self-presence
// from occupant with 110 and 332 (XEP-0045 §16.6.2: the service shut down).
func wantShutdownPresence(t *testing.T, c *XMPPClient, occupant string) {
	t.Helper()
	e := c.Next("shutdown presence from "+occupant, func(e *Elem) bool {
		return e.XMLName.Local == "presence" && e.Attr("from") == occupant && e.Attr("type") == "unavailable"
	})
	if !slices.Equal(e.Codes(), []string{"110", "332"}) || e.Item().Attr("role") != "none" {
		t.Fatalf("shutdown presence to %s: %s", c.Bare, e)
	}
}

// roomInfo returns the room's disco#info reply and its form fields.
func roomInfo(t *testing.T, c *XMPPClient, room string) (*Elem, map[string]string) {
	t.Helper()
	res := c.IQ(room, "get", `<query xmlns='`+nsDisco+`'/>`)
	q := res.Child(nsDisco, "query")
	if res.Attr("type") != "result" || q.Child(nsDisco, "identity").Attr("category") != "conference" {
		t.Fatalf("room disco#info: %s", res)
	}
	vals := map[string]string{}
	for _, f := range q.Child(nsData, "x").Children(nsData, "field") {
		if v := f.Child(nsData, "value"); v != nil {
			vals[f.Attr("var")] = v.Text
		}
	}
	if vals["FORM_TYPE"] != "http://jabber.org/protocol/muc#roominfo" {
		t.Fatalf("no muc#roominfo form: %s", res)
	}
	return res, vals
}

// checkRoomInfo asserts the room's disco#info: identity, MUC feature and the
// muc#roominfo form with audio-video-uri, byte for byte the conference URI
// "sip:ROOM@" + the bridge's sip.domain (RFC 7081 §4).
func checkRoomInfo(t *testing.T, c *XMPPClient, room, name string, br mucBridge) {
	t.Helper()
	res, vals := roomInfo(t, c, room)
	if want := "sip:" + name + "@" + br.SIPDomain(); vals["audio-video-uri"] != want {
		t.Fatalf("audio-video-uri = %q, want %q (%s)", vals["audio-video-uri"], want, res)
	}
}

func TestXMPPReconnectAfterProsodyRestartInProcess(t *testing.T) {
	p := StartProsody(t, e2eUsers)
	br := startInProcess(t, p)
	reconnectScenario(t, p, br)
	if v := MetricValue(metricsText(t, br.m), "cusax_xmpp_component_connected"); v != 1 {
		t.Fatalf("connected gauge = %v", v)
	}
}

func TestXMPPReconnectAfterProsodyRestartBinary(t *testing.T) {
	p := StartProsody(t, e2eUsers)
	reconnectScenario(t, p, startBinary(t, p))
}

// restartableServer is an XMPP server a test can stop and start again.
type restartableServer interface {
	xmppServer
	Stop()
	Start()
}

// reconnectScenario: the XMPP server is stopped and started again; the
// component is back within 5 s, the occupant whose client went with the
// server is removed, and the room, its affiliations and its history are
// intact.
func reconnectScenario(t *testing.T, srv restartableServer, br mucBridge) {
	p := srv.server()
	room := "persist@" + p.MUCDomain
	alice, dave := login(t, p, "alice"), login(t, p, "dave")
	waitComponent(t, dave, p.MUCDomain, 10*time.Second)
	alice.Join(room, "Alice", "")
	if res := alice.IQ(room, "set", `<query xmlns='`+nsMUCOwner+`'><x xmlns='`+nsData+`' type='submit'/></query>`); res.Attr("type") != "result" {
		t.Fatalf("instant room: %s", res)
	}
	alice.Send(`<message type='groupchat' to=%q><body>before the restart</body></message>`, room)
	alice.NextFrom("message", room+"/Alice")
	if res := alice.IQ(room, "set", `<query xmlns='`+nsMUCAdmin+`'><item affiliation='outcast' jid='mallory@localhost'/><item affiliation='member' jid='carol@localhost'/></query>`); res.Attr("type") != "result" {
		t.Fatalf("affiliations: %s", res)
	}

	srv.Stop()
	WaitFor(t, 10*time.Second, "link down noticed", func() bool { return !br.Connected() })
	srv.Start()
	back := time.Now()
	WaitFor(t, 5*time.Second, "component back within 5 s of the server's restart", br.Connected)
	t.Logf("component back %v after the server's restart", time.Since(back).Round(time.Millisecond))
	// The server's restart dropped every client: the bridge finds Alice's
	// occupant is a ghost and removes it.
	alice, dave = login(t, p, "alice"), login(t, p, "dave")
	waitComponent(t, dave, p.MUCDomain, 5*time.Second)
	WaitFor(t, 15*time.Second, "ghost occupant removed", func() bool {
		_, vals := roomInfo(t, dave, room)
		return vals["muc#roominfo_occupants"] == "0"
	})
	got := alice.Join(room, "Alice", "")
	self := got[len(got)-3]
	if self.Item().Attr("affiliation") != "owner" || !slices.Contains(self.Codes(), "110") {
		t.Fatalf("owner affiliation lost: %v", got)
	}
	if b := got[len(got)-2].Child("", "body"); b == nil || b.Text != "before the restart" {
		t.Fatalf("history lost: %v", got)
	}
	res := alice.IQ(room, "get", `<query xmlns='`+nsMUCAdmin+`'><item affiliation='member'/></query>`)
	if items := res.Child(nsMUCAdmin, "query").Children(nsMUCAdmin, "item"); len(items) != 1 || items[0].Attr("jid") != "carol@localhost" {
		t.Fatalf("member list after reconnect: %s", res)
	}
	mallory := login(t, p, "mallory")
	if got := mallory.Join(room, "M", ""); got[len(got)-1].ErrorCondition() != "forbidden" {
		t.Fatalf("outcast joined after reconnect: %v", got)
	}
	checkRoomInfo(t, dave, room, "persist", br)
}

func TestXMPPShutdownPresenceInProcess(t *testing.T) {
	p := StartProsody(t, e2eUsers)
	shutdownScenario(t, p, startInProcess(t, p))
}

func TestXMPPShutdownPresenceBinary(t *testing.T) {
	p := StartProsody(t, e2eUsers)
	shutdownScenario(t, p, startBinary(t, p))
}

// shutdownScenario: on SIGTERM every occupant of every room gets its
// unavailable self-presence with 332 before the component goes away.
func shutdownScenario(t *testing.T, srv xmppServer, br mucBridge) {
	p := srv.server()
	alice, bob, dave := login(t, p, "alice"), login(t, p, "bob"), login(t, p, "dave")
	waitComponent(t, dave, p.MUCDomain, 10*time.Second)
	team, other := "team@"+p.MUCDomain, "other@"+p.MUCDomain
	for _, room := range []string{team, other} {
		alice.Join(room, "Alice", "")
		if res := alice.IQ(room, "set", `<query xmlns='`+nsMUCOwner+`'><x xmlns='`+nsData+`' type='submit'/></query>`); res.Attr("type") != "result" {
			t.Fatalf("instant room %s: %s", room, res)
		}
	}
	bob.Join(team, "Bob", "")
	alice.NextFrom("presence", team+"/Bob")

	br.Stop(t)
	wantShutdownPresence(t, alice, team+"/Alice")
	wantShutdownPresence(t, alice, other+"/Alice")
	wantShutdownPresence(t, bob, team+"/Bob")
	// The component is gone: Prosody answers for it.
	if res := dave.IQ(team, "get", `<query xmlns='`+nsDisco+`'/>`); res.Attr("type") != "error" {
		t.Fatalf("room still answers after shutdown: %s", res)
	}
}

func metricsText(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// Through Prosody: a client without XEP-0199 (it answers pings with
// service-unavailable, and disco#info normally) stays in the room however
// often the bridge pings it (XEP-0410 §3.2); a decline reaches only the
// inviter on record (XEP-0045 §7.8.2), the room relays no other.
func TestXMPPPingAndDeclineThroughProsody(t *testing.T) {
	p := StartProsody(t, e2eUsers)
	startInProcessWith(t, p, func(c *muc.Config) { c.PingInterval, c.PingTimeout = 200*time.Millisecond, 2*time.Second })
	alice, bob, carol, mallory := login(t, p, "alice"), login(t, p, "bob"), login(t, p, "carol"), login(t, p, "mallory")
	bob.NoPing.Store(true)
	waitComponent(t, alice, p.MUCDomain, 10*time.Second)
	room := "team@" + p.MUCDomain
	alice.Join(room, "Alice", "")
	if res := alice.IQ(room, "set", `<query xmlns='`+nsMUCOwner+`'><x xmlns='`+nsData+`' type='submit'/></query>`); res.Attr("type") != "result" {
		t.Fatalf("instant room: %s", res)
	}
	bob.Join(room, "Bob", "")
	WaitFor(t, 15*time.Second, "bob pinged five times", func() bool { return bob.Pings.Load() >= 5 })
	if _, vals := roomInfo(t, carol, room); vals["muc#roominfo_occupants"] != "2" {
		t.Fatalf("occupants after the pings: %v", vals)
	}

	alice.Send(`<message to=%q id='inv1'><x xmlns='%s'><invite to=%q><reason>join us</reason></invite></x></message>`, room, nsMUCUser, carol.Bare)
	inv := carol.NextFrom("message", room)
	if i := inv.Child(nsMUCUser, "x").Child(nsMUCUser, "invite"); i == nil || i.Attr("from") != alice.JID {
		t.Fatalf("invitation: %v", inv)
	}
	// Mallory was not invited: her decline to Alice is refused.
	mallory.Send(`<message to=%q id='dec1'><x xmlns='%s'><decline to=%q/></x></message>`, room, nsMUCUser, alice.JID)
	if e := mallory.NextFrom("message", room); e.Attr("type") != "error" || e.ErrorCondition() != "not-acceptable" {
		t.Fatalf("uninvited decline: %v", e)
	}
	carol.Send(`<message to=%q id='dec2'><x xmlns='%s'><decline to=%q><reason>busy</reason></decline></x></message>`, room, nsMUCUser, alice.Bare)
	dec := alice.Next("decline", func(e *Elem) bool {
		return e.XMLName.Local == "message" && e.Child(nsMUCUser, "x").Child(nsMUCUser, "decline") != nil
	})
	if d := dec.Child(nsMUCUser, "x").Child(nsMUCUser, "decline"); d.Attr("from") != carol.Bare {
		t.Fatalf("decline: %v", dec)
	}
}
