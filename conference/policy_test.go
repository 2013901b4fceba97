package conference

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCanonicalAOR(t *testing.T) {
	for in, want := range map[string]string{
		"sip:alice@Example.COM":                    "sip:alice@example.com",
		"SIP:alice@example.com;transport=tcp":      "sip:alice@example.com",
		"sip:alice@example.com:5070;lr?subject=x":  "sip:alice@example.com",
		"sips:Alice@example.com":                   "sip:Alice@example.com",
		"sip:+4930123;phone-context=x@example.com": "sip:+4930123@example.com",
		"sip:example.com":                          "sip:example.com",
		"xmpp:alice@example.com":                   "xmpp:alice@example.com",
	} {
		if got := CanonicalAOR(in); got != want {
			t.Errorf("CanonicalAOR(%q) = %q, want %q", in, got, want)
		}
	}
	if !SameAOR("sip:bob@X.org", "sip:bob@x.org;transport=udp") || SameAOR("sip:bob@x", "sip:Bob@x") || !SameAOR("sip:bob@x", "sips:bob@x") {
		t.Error("SameAOR")
	}
}

// A stored affiliation of a sip: identity lends rights only to a
// digest-authenticated caller; a spoofed From gets none, but a ban holds on
// it.
func TestSIPAffiliationNeedsAuthentication(t *testing.T) {
	ctx := context.Background()
	reg, _ := newReg(t, Options{})
	api := Actor{API: true}
	if err := reg.SetAffiliation(ctx, "r", "sip:boss@X", AffiliationOwner, api, OriginAPI, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("affiliation in a room that does not exist: %v", err)
	}
	sipJoin(t, reg, "r", "sip:someone@x", "")
	if err := reg.SetAffiliation(ctx, "r", "sip:boss@X", AffiliationOwner, api, OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetAffiliation(ctx, "r", "sip:troll@x;transport=tcp", AffiliationOutcast, api, OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	spoof := sipJoin(t, reg, "r", "sip:boss@x", "")
	if spoof.Affiliation != AffiliationNone || spoof.Role != RoleParticipant {
		t.Fatalf("unauthenticated From inherited %s/%s", spoof.Affiliation, spoof.Role)
	}
	real, err := reg.Join(ctx, "r", JoinRequest{AOR: "sip:boss@x", Authenticated: true, Audio: &Audio{}})
	if err != nil || real.Participant.Affiliation != AffiliationOwner || real.Participant.Role != RoleModerator {
		t.Fatalf("authenticated owner: %+v %v", real.Participant, err)
	}
	if _, err := reg.Join(ctx, "r", JoinRequest{AOR: "sip:troll@X", Audio: &Audio{}}); !errors.Is(err, ErrBanned) {
		t.Fatalf("ban on an unverified From: %v", err)
	}
	// By participant: rights only for verified identities.
	if err := reg.SetParticipantAffiliation(ctx, "r", spoof.ID, AffiliationMember, api, OriginAPI, ""); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("member for an unverified caller: %v", err)
	}
	// Banning the spoofed From would ban the room's only owner: refused.
	if err := reg.SetParticipantAffiliation(ctx, "r", spoof.ID, AffiliationOutcast, api, OriginAPI, "spoofer"); !errors.Is(err, ErrConflict) {
		t.Fatalf("ban of the last owner's AOR: %v", err)
	}
	eve := sipJoin(t, reg, "r", "sip:eve@x", "")
	eve2 := sipJoin(t, reg, "r", "sip:eve@X;transport=tcp", "")
	if err := reg.SetParticipantAffiliation(ctx, "r", eve.ID, AffiliationOutcast, api, OriginAPI, "spoofer"); err != nil {
		t.Fatal(err)
	}
	// A ban names the identity, whoever carries it: both of eve's calls go.
	for _, id := range []string{eve.ID, eve2.ID} {
		if _, ok := reg.Participant("r", id); ok {
			t.Fatalf("banned caller %s still present", id)
		}
	}
}

func TestCanReplace(t *testing.T) {
	ctx := context.Background()
	reg, _ := newReg(t, Options{Rooms: []RoomSpec{{Name: "r", Moderators: []string{"sip:mod@x"}}}})
	alice, err := reg.Join(ctx, "r", JoinRequest{AOR: "sip:alice@x", Authenticated: true, Audio: &Audio{}})
	if err != nil {
		t.Fatal(err)
	}
	anon := sipJoin(t, reg, "r", "sip:anon@x", "")
	cases := []struct {
		name   string
		target string
		actor  Actor
		want   bool
	}{
		{"same authenticated AOR", alice.Participant.ID, Actor{AOR: "sip:alice@X", Authenticated: true}, true},
		{"same AOR unauthenticated", alice.Participant.ID, Actor{AOR: "sip:alice@x"}, false},
		{"other user", alice.Participant.ID, Actor{AOR: "sip:bob@x", Authenticated: true}, false},
		{"moderator", alice.Participant.ID, Actor{AOR: "sip:mod@x", Authenticated: true}, true},
		{"unauthenticated target, same AOR", anon.ID, Actor{AOR: "sip:anon@x", Authenticated: true}, false},
		{"api", anon.ID, Actor{API: true}, true},
		{"unknown target", "p999", Actor{API: true}, false},
	}
	for _, c := range cases {
		if got := reg.CanReplace("r", c.target, c.actor); got != c.want {
			t.Errorf("%s: CanReplace = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRoleListOwnerConfigAndCancel(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{})
	owner := mucJoin(t, reg, "r", "owner@x/a", "owner").Participant
	oa := Actor{ParticipantID: owner.ID}
	// Cancelling the first configuration destroys the new room.
	if err := reg.CancelCreation(ctx, "r", Actor{JID: "x@x/r"}, OriginXMPP); !errors.Is(err, ErrForbidden) {
		t.Fatalf("cancel by stranger: %v", err)
	}
	if err := reg.CancelCreation(ctx, "r", oa, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	evs := expectKinds(t, s, ConferenceCreated, Joined, ConferenceEnded)
	if evs[2].Cause != CauseDestroyed {
		t.Fatalf("cause %v", evs[2].Cause)
	}
	owner = mucJoin(t, reg, "r", "owner@x/a", "owner").Participant
	oa = Actor{ParticipantID: owner.ID}
	title := "Retro"
	if err := reg.Reconfigure(ctx, "r", Config{Persistent: true, Moderated: true, Title: title, Password: "pw"}, &title, oa, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	evs = expectKinds(t, s, ConferenceCreated, Joined, ConfigChanged, SubjectChanged)
	if !evs[2].WasLocked || evs[2].Config.Title != title || evs[2].Previous.Title != "" || evs[3].Subject != title || evs[3].SubjectBy != "owner" {
		t.Fatalf("config events %+v %+v", evs[2], evs[3])
	}
	if err := reg.CancelCreation(ctx, "r", oa, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	noEvent(t, s) // a configured room stays
	v := JoinResult{Participant: mucJoin2(t, reg, "r", "v@x/a", "v", "pw")}
	if _, _, err := reg.OwnerConfig(ctx, "r", Actor{ParticipantID: v.Participant.ID}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("owner form for a visitor: %v", err)
	}
	cfg, subj, err := reg.OwnerConfig(ctx, "r", oa)
	if err != nil || cfg.Password != "pw" || subj != title {
		t.Fatalf("owner form %+v %q %v", cfg, subj, err)
	}
	if _, err := reg.RoleList(ctx, "r", RoleVisitor, Actor{ParticipantID: v.Participant.ID}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("visitor list for a visitor: %v", err)
	}
	vis, err := reg.RoleList(ctx, "r", RoleVisitor, oa)
	if err != nil || len(vis) != 1 || vis[0].ID != v.Participant.ID {
		t.Fatalf("visitor list %+v %v", vis, err)
	}
	// A moderator by role only may list voices but not moderators.
	if err := reg.SetRole(ctx, "r", v.Participant.ID, RoleModerator, oa, OriginXMPP, ""); err != nil {
		t.Fatal(err)
	}
	va := Actor{ParticipantID: v.Participant.ID}
	if _, err := reg.RoleList(ctx, "r", RoleParticipant, va); err != nil {
		t.Fatalf("voice list for a moderator: %v", err)
	}
	if _, err := reg.RoleList(ctx, "r", RoleModerator, va); !errors.Is(err, ErrForbidden) {
		t.Fatalf("moderator list for a non-admin: %v", err)
	}
	mods, err := reg.RoleList(ctx, "r", RoleModerator, oa)
	if err != nil || len(mods) != 2 {
		t.Fatalf("moderator list %+v %v", mods, err)
	}
	// Reconfigure is atomic: an over-long subject changes nothing.
	long := strings.Repeat("x", MaxText+1)
	if err := reg.Reconfigure(ctx, "r", Config{Persistent: true}, &long, oa, OriginXMPP); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("long subject: %v", err)
	}
	if cfg, _ := reg.Config(ctx, "r"); !cfg.Moderated {
		t.Fatal("configuration changed by a refused reconfigure")
	}
}

func TestInviteAndPrivateMessages(t *testing.T) {
	ctx := context.Background()
	reg, _ := newReg(t, Options{})
	owner := mucJoin(t, reg, "r", "owner@x/a", "owner").Participant
	oa := Actor{ParticipantID: owner.ID}
	if err := reg.Configure(ctx, "r", Config{Persistent: true, AllowPrivateMessages: true, Password: "pw"}, oa, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	member := mucJoin2(t, reg, "r", "m@x/a", "m", "pw")
	phone := sipJoin(t, reg, "r", "sip:phone@x", "Phone")
	if pw, err := reg.Invite(ctx, "r", member.ID, "guest@x", OriginXMPP); err != nil || pw != "pw" {
		t.Fatalf("invite in an open room: %q %v", pw, err)
	}
	if _, err := reg.Invite(ctx, "r", phone.ID, "guest@x", OriginSIP); !errors.Is(err, ErrNotOccupant) {
		t.Fatalf("invite from a phone: %v", err)
	}
	if _, err := reg.Invite(ctx, "r", member.ID, "sip:x@y", OriginXMPP); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("invite of a SIP URI: %v", err)
	}
	cfg, _ := reg.Config(ctx, "r")
	cfg.MembersOnly = true
	if err := reg.SetAffiliation(ctx, "r", "m@x", AffiliationMember, oa, OriginXMPP, ""); err != nil {
		t.Fatal(err)
	}
	if err := reg.Configure(ctx, "r", cfg, oa, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Invite(ctx, "r", member.ID, "guest@x", OriginXMPP); !errors.Is(err, ErrForbidden) {
		t.Fatalf("member inviting to a members-only room: %v", err)
	}
	if _, err := reg.Invite(ctx, "r", owner.ID, "Guest@X/res", OriginXMPP); err != nil {
		t.Fatal(err)
	}
	if list, _ := reg.Affiliations(ctx, "r", AffiliationMember, oa); len(list) != 2 || list[0] != "guest@x" {
		t.Fatalf("the invitee did not become a member: %v", list)
	}
	// Private messages.
	if to, err := reg.PrivateMessage("r", member.ID, "owner"); err != nil || to.ID != owner.ID {
		t.Fatalf("pm %+v %v", to, err)
	}
	if _, err := reg.PrivateMessage("r", "p999", "owner"); !errors.Is(err, ErrNotOccupant) {
		t.Fatalf("pm from a stranger: %v", err)
	}
	if _, err := reg.PrivateMessage("r", member.ID, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pm to nobody: %v", err)
	}
	cfg, _ = reg.Config(ctx, "r")
	cfg.AllowPrivateMessages = false
	if err := reg.Configure(ctx, "r", cfg, oa, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PrivateMessage("r", member.ID, "owner"); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("pm when disabled: %v", err)
	}
}

func mucJoin2(t *testing.T, reg *Registry, room, jid, nick, password string) Participant {
	t.Helper()
	res, err := reg.Join(context.Background(), room, JoinRequest{JID: jid, Nick: nick, Text: true, Password: password, Origin: OriginXMPP})
	if err != nil {
		t.Fatalf("join %s: %v", jid, err)
	}
	return res.Participant
}

func TestJoinedCarriesHistoryAndLimits(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{})
	a := sipJoin(t, reg, "r", "sip:a@x", "")
	b := mucJoin(t, reg, "r", "b@x/r", "bee").Participant
	expectKinds(t, s, ConferenceCreated, Joined, Joined)
	if _, err := reg.Post(ctx, "r", b.ID, Message{ID: "1", Body: "first"}, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Message{{Body: ""}, {Body: strings.Repeat("x", MaxText+1)}, {ID: strings.Repeat("i", MaxShort+1), Body: "x"}} {
		if _, err := reg.Post(ctx, "r", b.ID, bad, OriginXMPP); !errors.Is(err, ErrBadRequest) {
			t.Errorf("post %d bytes: %v", len(bad.Body), err)
		}
	}
	if err := reg.SetSubject(ctx, "r", strings.Repeat("s", MaxText+1), Actor{API: true}, OriginAPI); !errors.Is(err, ErrBadRequest) {
		t.Errorf("long subject: %v", err)
	}
	if err := reg.SetSubject(ctx, "r", "Plans", Actor{API: true}, OriginAPI); err != nil {
		t.Fatal(err)
	}
	expectKinds(t, s, MessagePosted, SubjectChanged)
	c := mucJoin(t, reg, "r", "c@x/r", "sea").Participant
	ev := expectKinds(t, s, Joined)[0]
	if len(ev.History) != 1 || ev.History[0].Body != "first" || ev.Subject != "Plans" || ev.SubjectBy != "api" {
		t.Fatalf("join history %+v subject %q by %q", ev.History, ev.Subject, ev.SubjectBy)
	}
	d := sipJoin(t, reg, "r", "sip:d@x", "")
	if ev := expectKinds(t, s, Joined)[0]; ev.History != nil {
		t.Fatalf("a phone join carries history: %+v", ev.History)
	}
	_, _, _ = a, c, d
	if _, err := reg.Join(ctx, "r", JoinRequest{JID: "e@x/r", Nick: strings.Repeat("n", MaxNick+1), Text: true}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("long nick: %v", err)
	}
}

func TestReasonLimitsAndSchemeCase(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{})
	p := sipJoin(t, reg, "r", "sip:a@x", "")
	ev := expectKinds(t, s, ConferenceCreated, Joined)[0]
	if ev.Config == nil || ev.Config.Persistent || !ev.Config.Public {
		t.Fatalf("ConferenceCreated without the configuration: %+v", ev.Config)
	}
	long := strings.Repeat("r", MaxText+1)
	api := Actor{API: true}
	for name, err := range map[string]error{
		"mute":        reg.Mute(ctx, "r", p.ID, true, api, OriginAPI, long),
		"kick":        reg.Kick(ctx, "r", p.ID, api, OriginAPI, long),
		"role":        reg.SetRole(ctx, "r", p.ID, RoleVisitor, api, OriginAPI, long),
		"affiliation": reg.SetAffiliation(ctx, "r", "b@x", AffiliationOutcast, api, OriginAPI, long),
		"identity":    reg.SetAffiliation(ctx, "r", strings.Repeat("b", MaxShort)+"@x", AffiliationOutcast, api, OriginAPI, ""),
	} {
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s with an over-long value: %v", name, err)
		}
	}
	if err := reg.SetAffiliation(ctx, "r", "SIP:Troll@X", AffiliationOutcast, api, OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Join(ctx, "r", JoinRequest{AOR: "sip:Troll@x", Audio: &Audio{}}); !errors.Is(err, ErrBanned) {
		t.Fatalf("upper-case scheme ban: %v", err)
	}
}

func TestMayWatch(t *testing.T) {
	for _, policy := range []string{"", WatchParticipants, WatchAnyone} {
		reg, _ := newReg(t, Options{WatchPolicy: policy})
		p := sipJoin(t, reg, "r", "sip:a@x", "")
		anyone := policy == WatchAnyone
		if got := reg.MayWatch("r", Actor{}); got != anyone {
			t.Errorf("policy %q: stranger may watch = %v", policy, got)
		}
		if !reg.MayWatch("r", Actor{ParticipantID: p.ID}) || !reg.MayWatch("r", Actor{API: true}) {
			t.Errorf("policy %q: participant or API refused", policy)
		}
		if err := reg.Kick(context.Background(), "r", p.ID, Actor{API: true}, OriginAPI, ""); err != nil {
			t.Fatal(err)
		}
		if got := reg.MayWatch("r", Actor{ParticipantID: p.ID}); got != anyone {
			t.Errorf("policy %q: ejected participant may watch = %v", policy, got)
		}
	}
}

// Issue 8 defect 1: a moderator's mute of a caller who had muted itself is
// recorded (and emitted), so the caller's next *6 does not lift it.
func TestModeratorMuteOverSelfMute(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{})
	mod := mucJoin(t, reg, "r", "mod@x/a", "mod").Participant
	if err := reg.Configure(ctx, "r", Config{Persistent: true}, Actor{ParticipantID: mod.ID}, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	bob := sipJoin(t, reg, "r", "sip:bob@x", "Bob")
	for _, d := range "*6" {
		if err := reg.DTMF(ctx, "r", bob.ID, d); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := reg.Participant("r", bob.ID); !p.Muted || p.MutedByModerator {
		t.Fatalf("after *6: %+v", p)
	}
	drainEvents(s)
	if err := reg.SetRole(ctx, "r", bob.ID, RoleVisitor, Actor{ParticipantID: mod.ID}, OriginXMPP, "quiet"); err != nil {
		t.Fatal(err)
	}
	ev := next(t, s)
	if ev.Kind != Muted || ev.Actor.ParticipantID != mod.ID || !ev.Participant.MutedByModerator {
		t.Fatalf("moderator mute over self-mute: %+v", ev)
	}
	for _, d := range "*6" {
		if err := reg.DTMF(ctx, "r", bob.ID, d); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := reg.Participant("r", bob.ID); !p.Muted {
		t.Fatal("*6 lifted a moderator's mute")
	}
}

func drainEvents(s *Stream) {
	for {
		select {
		case <-s.C():
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

// Issue 8 defect 2: in a semi-anonymous room the record everyone reads of a
// kick (RFC 4575 disconnection-info/by) names a chat moderator by its
// anonymous entity, never by its real JID; in a non-anonymous room by JID.
func TestKickByHidesRealJIDInSemiAnonymousRoom(t *testing.T) {
	ctx := context.Background()
	reg, _ := newReg(t, Options{})
	mod := mucJoin(t, reg, "r", "alice@example.org/a", "alice").Participant
	if err := reg.Configure(ctx, "r", Config{Persistent: true, Whois: "moderators"}, Actor{ParticipantID: mod.ID}, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	bob := sipJoin(t, reg, "r", "sip:bob@x", "Bob")
	if err := reg.Kick(ctx, "r", bob.ID, Actor{ParticipantID: mod.ID, JID: "alice@example.org/a"}, OriginXMPP, "bye"); err != nil {
		t.Fatal(err)
	}
	snap, _ := reg.Snapshot(ctx, "r")
	by := snap.Departed[len(snap.Departed)-1].Left.By
	if strings.Contains(by, "alice@example.org") || by == "" {
		t.Fatalf("semi-anonymous: by = %q", by)
	}
	if err := reg.Configure(ctx, "r", Config{Persistent: true, Whois: "anyone"}, Actor{ParticipantID: mod.ID}, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	carol := sipJoin(t, reg, "r", "sip:carol@x", "Carol")
	if err := reg.Kick(ctx, "r", carol.ID, Actor{ParticipantID: mod.ID, JID: "alice@example.org/a"}, OriginXMPP, ""); err != nil {
		t.Fatal(err)
	}
	snap, _ = reg.Snapshot(ctx, "r")
	if by := snap.Departed[len(snap.Departed)-1].Left.By; by != "xmpp:alice@example.org" {
		t.Fatalf("non-anonymous: by = %q", by)
	}
	if !WhoisModerators.Reveals(Viewer{Moderator: true}) || WhoisModerators.Reveals(Everyone) || !WhoisAnyone.Reveals(Everyone) {
		t.Fatal("Reveals")
	}
}
