package conference

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cusax.dev/bridge/store"
)

func TestIdentitiesCanonical(t *testing.T) {
	id := NewIdentities("bridge.example", "Alias.Example", "192.0.2.7", "[2001:db8::7]")
	for in, want := range map[string]string{
		"sip:bob@bridge.example":                     "sip:bob@bridge.example",
		"sip:bob@LOCALHOST":                          "sip:bob@bridge.example",
		"sip:bob@localhost:5060;transport=udp":       "sip:bob@bridge.example",
		"sip:bob@127.0.0.1":                          "sip:bob@bridge.example",
		"sip:bob@127.0.0.5:5070":                     "sip:bob@bridge.example",
		"sip:bob@[::1]:5060":                         "sip:bob@bridge.example",
		"sip:bob@alias.example":                      "sip:bob@bridge.example",
		"sip:bob@192.0.2.7":                          "sip:bob@bridge.example",
		"sip:bob@[2001:DB8::7]":                      "sip:bob@bridge.example",
		"SIPS:bob@Bridge.Example.":                   "sip:bob@bridge.example",
		"<sip:bob@elsewhere.org>":                    "sip:bob@elsewhere.org",
		"sip:Bob@Elsewhere.ORG?subject=x":            "sip:Bob@elsewhere.org",
		"sip:b%6Fb@elsewhere.org":                    "sip:bob@elsewhere.org",
		"sip:+49-30-1234;phone-context=x@gw.example": "sip:+49301234@gw.example",
		"sip:bob.smith@x.org":                        "sip:bob.smith@x.org",
		"tel:+1-303-308-3282;ext=5":                  "tel:+13033083282",
		"tel:(030) 1234":                             "tel:0301234",
		"tel:abc":                                    "",
		"xmpp:Alice@Example.COM/phone":               "alice@example.com",
		"Alice@Example.com/res":                      "alice@example.com",
		"sip:":                                       "",
		"":                                           "",
	} {
		if got := id.Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tc := range []struct {
		tel, aor string
		want     bool
	}{
		{"sip:alice@localhost", "sip:alice@bridge.example", true},
		{"tel:sip:alice@bridge.example", "sip:alice@127.0.0.1", true},
		{"TEL:SIP:alice@bridge.example", "sip:alice@bridge.example", true},
		{"+49 30 1234", "sip:+49301234@bridge.example;user=phone", true},
		{"tel:+49-30-1234", "sip:+49301234@bridge.example", true},
		{"303-308-3282", "sip:alice@bridge.example", false},
		{"sip:mallory@bridge.example", "sip:alice@bridge.example", false},
		{"", "sip:alice@bridge.example", false},
	} {
		if got := id.TELMatches(tc.tel, tc.aor); got != tc.want {
			t.Errorf("TELMatches(%q, %q) = %v", tc.tel, tc.aor, got)
		}
	}
}

// A ban holds across the bridge's host aliases, host case, ports and
// parameters, and across a restart (the store reopened by a new registry).
func TestBanHoldsAcrossAliasesCaseAndRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bridge.db")
	ids := NewIdentities("bridge.example", "10.0.0.1")
	open := func() (*Registry, *store.SQLite) {
		st, err := store.OpenSQLite(ctx, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return NewRegistry(Options{Store: st, Identities: ids, Rooms: []RoomSpec{{Name: "r"}}}), st
	}
	reg, st := open()
	if err := reg.SetAffiliation(ctx, "r", "sip:bob@LOCALHOST:5060;transport=tcp", AffiliationOutcast, Actor{API: true}, OriginAPI, "spam"); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetAffiliation(ctx, "r", "xmpp:Troll@Example.ORG", AffiliationOutcast, Actor{API: true}, OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	check := func(reg *Registry) {
		t.Helper()
		for _, aor := range []string{"sip:bob@localhost", "sip:bob@127.0.0.1", "sip:bob@LOCALHOST", "sip:bob@bridge.example",
			"sips:bob@10.0.0.1:5061", "sip:bob@[::1]"} {
			_, err := reg.Join(ctx, "r", JoinRequest{AOR: aor, Audio: &Audio{AOR: aor}, Origin: OriginSIP})
			if !errors.Is(err, ErrBanned) {
				t.Errorf("%s: %v, want banned", aor, err)
			}
		}
		if _, err := reg.Join(ctx, "r", JoinRequest{JID: "TROLL@example.org/x", Nick: "t", Text: true}); !errors.Is(err, ErrBanned) {
			t.Errorf("JID in another case: %v", err)
		}
		if _, err := reg.Join(ctx, "r", JoinRequest{AOR: "sip:bob@elsewhere.org", Audio: &Audio{}}); err != nil {
			t.Errorf("another host's bob: %v", err)
		}
	}
	check(reg)
	reg.Close(ctx)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	reg, st = open()
	defer st.Close()
	check(reg)
	if ids, _ := reg.Affiliations(ctx, "r", AffiliationOutcast, Actor{API: true}); len(ids) != 2 || ids[0] != "sip:bob@bridge.example" {
		t.Errorf("stored bans: %v", ids)
	}
}

// fakeVCards answers vCard look-ups from a map, counting them; a JID in
// slow never answers (until ctx ends).
type fakeVCards struct {
	tels  map[string][]string
	slow  map[string]bool
	calls atomic.Int32
}

func (f *fakeVCards) VCardTELs(ctx context.Context, jid string) ([]string, error) {
	f.calls.Add(1)
	if f.slow[jid] {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return f.tels[jid], nil
}

// RFC 7081 §3.4: a trusted caller whose Call-Info names a JID with its AOR
// among the vCard TELs is that JID's participant (one participant, two
// legs, the JID's affiliation); a forged hint grants nothing; an unanswered
// look-up leaves the caller unbound within the timeout.
func TestBindingOneParticipantTwoLegs(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	vc := &fakeVCards{tels: map[string][]string{"alice@example.org": {"303-308-3282", "tel:sip:alice@bridge.example"}},
		slow: map[string]bool{"slow@example.org": true}}
	reg, s := newReg(t, Options{Store: st, Identities: NewIdentities("bridge.example"), VerifyTimeout: 200 * time.Millisecond})
	reg.SetVCards(vc)
	alice := mucJoin(t, reg, "r", "alice@example.org/laptop", "Alice").Participant
	if err := reg.Configure(ctx, "r", Config{Persistent: true}, Actor{ParticipantID: alice.ID}, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	drainEvents(s)

	res, err := reg.Join(ctx, "r", JoinRequest{AOR: "sip:alice@localhost", Authenticated: true, JIDHint: "xmpp:alice@example.org",
		Audio: &Audio{AOR: "sip:alice@localhost"}, Origin: OriginSIP})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Participant
	if p.ID != alice.ID || !p.Bound || !p.Text || p.Audio == nil || p.Affiliation != AffiliationOwner || p.Role != RoleModerator {
		t.Fatalf("bound caller: %+v", p)
	}
	if ev := next(t, s); ev.Kind != LegJoined || ev.Participant.ID != alice.ID || ev.Participant.Level() != (Level{Text: true, Audio: true}) {
		t.Fatalf("event: %+v", ev)
	}
	if n := len(reg.Find("r", func(*Participant) bool { return true })); n != 1 {
		t.Fatalf("%d participants, want 1", n)
	}
	if bs, _ := st.AllBindings(ctx); len(bs) != 1 || bs[0].JID != "alice@example.org" || bs[0].AOR != "sip:alice@bridge.example" {
		t.Fatalf("recorded bindings: %+v", bs)
	}
	if !reg.CanModerate("r", Actor{AOR: "sip:alice@127.0.0.1", Authenticated: true}) {
		t.Error("the bound AOR does not carry the JID's affiliation")
	}

	// mallory, authenticated as herself, claims alice's JID: unbound.
	m, err := reg.Join(ctx, "r", JoinRequest{AOR: "sip:mallory@bridge.example", Authenticated: true, JIDHint: "alice@example.org",
		Audio: &Audio{}, Origin: OriginSIP})
	if err != nil {
		t.Fatal(err)
	}
	if m.Participant.Bound || m.Participant.JID != "" || m.Participant.JIDHint != "alice@example.org" || m.Participant.Role != RoleParticipant ||
		m.Participant.Affiliation != AffiliationNone {
		t.Fatalf("forged hint: %+v", m.Participant)
	}
	// An unauthenticated From naming alice's own AOR gets nothing either.
	u, err := reg.Join(ctx, "r", JoinRequest{AOR: "sip:alice@bridge.example", JIDHint: "alice@example.org", Audio: &Audio{}, Origin: OriginSIP})
	if err != nil || u.Participant.Bound || u.Participant.Affiliation != AffiliationNone {
		t.Fatalf("untrusted From: %+v %v", u.Participant, err)
	}
	// A server that never answers leaves the caller unbound in time.
	start := time.Now()
	sl, err := reg.Join(ctx, "r", JoinRequest{AOR: "sip:slow@bridge.example", Authenticated: true, JIDHint: "slow@example.org", Audio: &Audio{}})
	if err != nil || sl.Participant.Bound {
		t.Fatalf("slow vCard: %+v %v", sl.Participant, err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the look-up was not bounded")
	}

	// The call leaves: alice stays in the chat. The chat leaves while the
	// call stays: the participant stays with its call.
	drainEvents(s)
	if err := reg.Leave(ctx, "r", alice.ID, Departed, OriginSIP); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, s); ev.Kind != LegLeft || ev.Old != "audio" || ev.Participant.Audio != nil || !ev.Participant.Text {
		t.Fatalf("call left: %+v", ev)
	}
	// The next call binds from the recorded binding, without a look-up.
	before := vc.calls.Load()
	if _, err := reg.Join(ctx, "r", JoinRequest{AOR: "sip:alice@bridge.example", Authenticated: true, JIDHint: "alice@example.org", Audio: &Audio{}}); err != nil {
		t.Fatal(err)
	}
	if vc.calls.Load() != before {
		t.Error("a recorded binding was looked up again")
	}
	if err := reg.Leave(ctx, "r", alice.ID, Departed, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	if p, ok := reg.Participant("r", alice.ID); !ok || p.Text || p.Audio == nil || !p.Bound {
		t.Fatalf("after the chat left: %+v %v", p, ok)
	}
	// alice's client joins again: the call's participant gets its chat.
	back := mucJoin(t, reg, "r", "alice@example.org/phone", "Alice")
	if back.Participant.ID != alice.ID || !back.Participant.Text || back.Participant.Audio == nil {
		t.Fatalf("chat back: %+v", back.Participant)
	}
}

// DESIGN.md §6: bans follow bindings both ways. Banning a JID refuses the
// AORs of its vCard (fetched at ban time) and of recorded bindings;
// banning an AOR bars the JIDs configured for it.
func TestBansFollowBindings(t *testing.T) {
	ctx := context.Background()
	vc := &fakeVCards{tels: map[string][]string{"dave@example.org": {"sip:dave@bridge.example", "+49 30 999"}}}
	reg, _ := newReg(t, Options{Identities: NewIdentities("bridge.example"), Rooms: []RoomSpec{{Name: "r"}},
		Bindings: []Binding{{JID: "Carol@example.org", AOR: "sip:carol@bridge.example"}}})
	reg.SetVCards(vc)
	api := Actor{API: true}
	inCall := sipJoin(t, reg, "r", "sip:dave@localhost", "Dave")
	if err := reg.SetAffiliation(ctx, "r", "dave@example.org", AffiliationOutcast, api, OriginAPI, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Participant("r", inCall.ID); ok {
		t.Error("the JID's ban left its AOR in the call")
	}
	for _, aor := range []string{"sip:dave@bridge.example", "sip:dave@127.0.0.1", "sip:+4930999@gw.example;user=phone", "tel:+49-30-999"} {
		if _, err := reg.Join(ctx, "r", JoinRequest{AOR: aor, Audio: &Audio{}}); !errors.Is(err, ErrBanned) {
			t.Errorf("%s after the JID's ban: %v", aor, err)
		}
	}
	if err := reg.SetAffiliation(ctx, "r", "sip:carol@LOCALHOST", AffiliationOutcast, api, OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Join(ctx, "r", JoinRequest{JID: "carol@example.org/x", Nick: "carol", Text: true}); !errors.Is(err, ErrBanned) {
		t.Errorf("JID of a banned AOR: %v", err)
	}
	// A configured binding binds a trusted caller without a hint.
	if j := reg.Verify(ctx, "sip:carol@127.0.0.1", ""); j != "carol@example.org" {
		t.Errorf("configured binding: %q", j)
	}
}

// Issue 8 defect 9: the gauges come from the registry itself; a participant
// with two legs counts once, as "both".
func TestCounts(t *testing.T) {
	ctx := context.Background()
	reg, _ := newReg(t, Options{Identities: NewIdentities("b"), Bindings: []Binding{{JID: "a@x", AOR: "sip:a@b"}}})
	if n, by := reg.Counts(); n != 0 || by["sip"]+by["xmpp"]+by["both"] != 0 {
		t.Fatalf("empty: %d %v", n, by)
	}
	a := mucJoin(t, reg, "r", "a@x/r", "a").Participant
	sipJoin(t, reg, "r", "sip:c@b", "c")
	if _, err := reg.Join(ctx, "r", JoinRequest{AOR: "sip:a@b", Authenticated: true, Audio: &Audio{}}); err != nil {
		t.Fatal(err)
	}
	if n, by := reg.Counts(); n != 1 || by["both"] != 1 || by["sip"] != 1 || by["xmpp"] != 0 {
		t.Fatalf("two legs: %d %v", n, by)
	}
	if err := reg.Leave(ctx, "r", a.ID, Departed, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	if _, by := reg.Counts(); by["sip"] != 2 || by["both"] != 0 {
		t.Fatalf("after the chat left: %v", by)
	}
}

// Issue 8 defect 6: a whois change re-renders the people already in the
// room: their user entities follow the rule; a bound caller is xmpp:JID
// where everyone may see JIDs, its AOR elsewhere.
func TestWhoisChangeReEntities(t *testing.T) {
	ctx := context.Background()
	reg, _ := newReg(t, Options{Identities: NewIdentities("b"), Bindings: []Binding{{JID: "bob@x", AOR: "sip:bob@b"}}})
	owner := mucJoin(t, reg, "r", "own@x/r", "own").Participant
	if err := reg.Configure(ctx, "r", Config{Persistent: true}, Actor{ParticipantID: owner.ID}, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	dan := mucJoin(t, reg, "r", "dan@x/r", "dan").Participant
	bob, err := reg.Join(ctx, "r", JoinRequest{AOR: "sip:bob@b", Authenticated: true, Audio: &Audio{}})
	if err != nil || !bob.Participant.Bound {
		t.Fatalf("bob: %+v %v", bob.Participant, err)
	}
	entity := func(id string) string { p, _ := reg.Participant("r", id); return p.Entity }
	if e := entity(dan.ID); !strings.Contains(e, "anonymous.invalid") {
		t.Fatalf("semi-anonymous: dan is %q", e)
	}
	if e := entity(bob.Participant.ID); e != "sip:bob@b" {
		t.Fatalf("semi-anonymous: bob is %q", e)
	}
	if err := reg.Configure(ctx, "r", Config{Persistent: true, Whois: "anyone"}, Actor{ParticipantID: owner.ID}, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	if e := entity(dan.ID); e != "xmpp:dan@x" {
		t.Fatalf("non-anonymous: dan is %q", e)
	}
	if e := entity(bob.Participant.ID); e != "xmpp:bob@x" {
		t.Fatalf("non-anonymous: bob is %q", e)
	}
}

// A ban kept in the store for a temporary room that is not live (the
// bridge restarted) holds: the banned JID cannot re-create the room and
// become its owner.
func TestBanHoldsAgainstRecreator(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	reg, _ := newReg(t, Options{Store: st})
	owner := mucJoin(t, reg, "tmp", "own@x/r", "own").Participant
	if err := reg.Configure(ctx, "tmp", Config{Persistent: false}, Actor{ParticipantID: owner.ID}, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetAffiliation(ctx, "tmp", "troll@x", AffiliationOutcast, Actor{ParticipantID: owner.ID}, OriginXMPP, ""); err != nil {
		t.Fatal(err)
	}
	reg.Close(ctx) // shutdown: the room ends, its affiliations stay
	again, _ := newReg(t, Options{Store: st})
	if _, err := again.Join(ctx, "tmp", JoinRequest{JID: "troll@x/r", Nick: "t", Text: true}); !errors.Is(err, ErrBanned) {
		t.Fatalf("banned re-creator: %v", err)
	}
}
