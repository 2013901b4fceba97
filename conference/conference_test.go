package conference

import (
	"context"
	"errors"
	"golang.org/x/text/secure/precis"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/store"
)

func newReg(t *testing.T, opts Options) (*Registry, *Stream) {
	t.Helper()
	reg := NewRegistry(opts)
	s := reg.Subscribe()
	t.Cleanup(s.Close)
	return reg, s
}

// next returns the next event or fails after a second.
func next(t *testing.T, s *Stream) Event {
	t.Helper()
	select {
	case ev := <-s.C():
		return ev
	case <-time.After(time.Second):
		t.Fatal("no event")
	}
	return Event{}
}

func expectKinds(t *testing.T, s *Stream, kinds ...Kind) []Event {
	t.Helper()
	var out []Event
	for _, k := range kinds {
		ev := next(t, s)
		if ev.Kind != k {
			t.Fatalf("event %d: got %v (%+v), want %v", len(out), ev.Kind, ev, k)
		}
		out = append(out, ev)
	}
	return out
}

// noEvent asserts that no event is pending on s. The core emits an action's
// events before the call returns, so they would be queued already; the
// 50 ms only covers the stream's hand-over to its channel.
func noEvent(t *testing.T, s *Stream) {
	t.Helper()
	select {
	case ev := <-s.C():
		t.Fatalf("unexpected event %v %+v", ev.Kind, ev)
	case <-time.After(50 * time.Millisecond):
	}
}

func sipJoin(t *testing.T, reg *Registry, room, aor, display string) Participant {
	t.Helper()
	res, err := reg.Join(context.Background(), room, JoinRequest{AOR: aor, DisplayName: display, Audio: &Audio{AOR: aor, CallID: aor}, Origin: OriginSIP})
	if err != nil {
		t.Fatalf("join %s: %v", aor, err)
	}
	return res.Participant
}

func mucJoin(t *testing.T, reg *Registry, room, jid, nick string) JoinResult {
	t.Helper()
	res, err := reg.Join(context.Background(), room, JoinRequest{JID: jid, Nick: nick, Text: true, Origin: OriginXMPP})
	if err != nil {
		t.Fatalf("join %s: %v", jid, err)
	}
	return res
}

func TestJoinLeaveLifecycle(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{})
	a := sipJoin(t, reg, "team", "sip:alice@example.com", "Alice")
	evs := expectKinds(t, s, ConferenceCreated, Joined)
	if evs[1].Participant.ID != a.ID || a.Nick != "Alice" || a.Role != RoleParticipant || a.Entity != "sip:alice@example.com" {
		t.Fatalf("joined %+v", a)
	}
	b := sipJoin(t, reg, "team", "sip:alice@example.com", "")
	ev := expectKinds(t, s, Joined)[0]
	if len(ev.Others) != 1 || ev.Others[0].ID != a.ID {
		t.Fatalf("Others = %+v", ev.Others)
	}
	if b.Entity == a.Entity || b.Nick != "alice" {
		t.Fatalf("second leg of same AOR: entity %q nick %q", b.Entity, b.Nick)
	}
	if err := reg.Leave(ctx, "team", a.ID, Departed, OriginSIP); err != nil {
		t.Fatal(err)
	}
	left := expectKinds(t, s, Left)[0]
	if left.Participant.Left == nil || left.Participant.Left.Method != Departed {
		t.Fatalf("left = %+v", left.Participant)
	}
	if err := reg.Leave(ctx, "team", a.ID, Departed, OriginSIP); !errors.Is(err, ErrNotFound) {
		t.Fatalf("double leave: %v", err)
	}
	snap, err := reg.Snapshot(ctx, "team")
	if err != nil || len(snap.Participants) != 1 || len(snap.Departed) != 1 {
		t.Fatalf("snapshot %+v %v", snap, err)
	}
	// A room made by a call is temporary, but outlives its last
	// participant by Limits.IdleGrace (30 s): the last leave does not end
	// it at once.
	if err := reg.Leave(ctx, "team", b.ID, Departed, OriginSIP); err != nil {
		t.Fatal(err)
	}
	expectKinds(t, s, Left)
	noEvent(t, s)
	if _, err := reg.Join(ctx, "Bad Name", JoinRequest{Origin: OriginSIP}); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("invalid name: %v", err)
	}
}

func TestTemporaryRoomEndsWhenEmpty(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{Limits: Limits{IdleGrace: -1}})
	owner := mucJoin(t, reg, "tmp", "owner@example.com/r", "boss")
	if !owner.Created || owner.Participant.Affiliation != AffiliationOwner || owner.Participant.Role != RoleModerator {
		t.Fatalf("creator %+v", owner)
	}
	if err := reg.Configure(ctx, "tmp", Config{Persistent: false}, Actor{ParticipantID: owner.Participant.ID}, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	expectKinds(t, s, ConferenceCreated, Joined, ConfigChanged)
	if err := reg.Leave(ctx, "tmp", owner.Participant.ID, Departed, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	expectKinds(t, s, Left, ConferenceEnded)
	if ok, _ := reg.Exists(ctx, "tmp"); ok {
		t.Fatal("temporary room survived")
	}
}

func TestLockedUntilConfigured(t *testing.T) {
	ctx := context.Background()
	reg, _ := newReg(t, Options{})
	owner := mucJoin(t, reg, "new", "owner@example.com/r", "boss")
	if _, err := reg.Join(ctx, "new", JoinRequest{JID: "x@example.com/r", Nick: "x", Text: true}); !errors.Is(err, ErrLocked) {
		t.Fatalf("join locked room: %v", err)
	}
	if err := reg.Configure(ctx, "new", Config{Persistent: true}, Actor{JID: "x@example.com/r"}, OriginXMPP); !errors.Is(err, ErrForbidden) {
		t.Fatalf("non-owner configure: %v", err)
	}
	if err := reg.Configure(ctx, "new", Config{Persistent: true}, Actor{ParticipantID: owner.Participant.ID}, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	mucJoin(t, reg, "new", "x@example.com/r", "x")
}

func TestCreationRestricted(t *testing.T) {
	reg, _ := newReg(t, Options{Creators: []string{"boss@example.com"}})
	if _, err := reg.Join(context.Background(), "r1", JoinRequest{JID: "x@example.com/r", Nick: "x", Text: true}); !errors.Is(err, ErrCreationRestricted) {
		t.Fatalf("got %v", err)
	}
	mucJoin(t, reg, "r1", "Boss@example.com/r", "boss")
	sipJoin(t, reg, "r2", "sip:x@example.com", "") // SIP may create
}

func TestJoinPolicy(t *testing.T) {
	ctx := context.Background()
	reg, _ := newReg(t, Options{Rooms: []RoomSpec{{Name: "small", MaxParticipants: 2}}})
	sipJoin(t, reg, "small", "sip:a@x", "")
	sipJoin(t, reg, "small", "sip:b@x", "")
	if _, err := reg.Join(ctx, "small", JoinRequest{AOR: "sip:c@x", Audio: &Audio{}}); !errors.Is(err, ErrFull) {
		t.Fatalf("full: %v", err)
	}

	owner := mucJoin(t, reg, "club", "owner@x/r", "boss").Participant
	ownerActor := Actor{ParticipantID: owner.ID}
	if err := reg.Configure(ctx, "club", Config{Persistent: true, MembersOnly: true, Password: "pw"}, ownerActor, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Join(ctx, "club", JoinRequest{JID: "m@x/r", Nick: "m", Text: true, Password: "pw"}); !errors.Is(err, ErrMembersOnly) {
		t.Fatalf("members-only: %v", err)
	}
	if err := reg.SetAffiliation(ctx, "club", "m@x", AffiliationMember, ownerActor, OriginXMPP, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Join(ctx, "club", JoinRequest{JID: "m@x/r", Nick: "m", Text: true}); !errors.Is(err, ErrPasswordRequired) {
		t.Fatalf("password: %v", err)
	}
	if _, err := reg.Join(ctx, "club", JoinRequest{JID: "m@x/r", Nick: "boss", Text: true, Password: "pw"}); !errors.Is(err, ErrNickConflict) {
		t.Fatalf("nick: %v", err)
	}
	if _, err := reg.Join(ctx, "club", JoinRequest{JID: "m@x/r", Nick: " ", Text: true, Password: "pw"}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("empty nick: %v", err)
	}
	mucJoin2, err := reg.Join(ctx, "club", JoinRequest{JID: "m@x/r", Nick: "m", Text: true, Password: "pw"})
	if err != nil || mucJoin2.Participant.Affiliation != AffiliationMember {
		t.Fatalf("member join: %+v %v", mucJoin2, err)
	}
}

func TestMuteRules(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{Rooms: []RoomSpec{{Name: "team", Moderators: []string{"sip:mod@x"}}}})
	mod, err := reg.Join(ctx, "team", JoinRequest{AOR: "sip:mod@x", Authenticated: true, Audio: &Audio{}})
	if err != nil {
		t.Fatal(err)
	}
	if mod.Participant.Role != RoleModerator || mod.Participant.Affiliation != AffiliationAdmin {
		t.Fatalf("listed authenticated moderator: %+v", mod.Participant)
	}
	fake := sipJoin(t, reg, "team", "sip:mod@x", "") // same AOR, not authenticated
	if fake.Role != RoleParticipant {
		t.Fatalf("unauthenticated From trusted: %+v", fake)
	}
	bob := sipJoin(t, reg, "team", "sip:bob@x", "Bob")
	expectKinds(t, s, ConferenceCreated, Joined, Joined, Joined)

	// Non-moderator cannot mute others; unauthenticated claim of a
	// moderator AOR counts for nothing.
	if err := reg.Mute(ctx, "team", bob.ID, true, Actor{ParticipantID: fake.ID}, OriginSIP, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("forbidden: %v", err)
	}
	if err := reg.Mute(ctx, "team", bob.ID, true, Actor{AOR: "sip:mod@x"}, OriginSIP, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("unauthenticated actor: %v", err)
	}
	if err := reg.Mute(ctx, "team", mod.Participant.ID, true, Actor{ParticipantID: bob.ID}, OriginSIP, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("mute admin: %v", err)
	}
	// Moderator mutes Bob: Bob cannot unmute himself.
	if err := reg.Mute(ctx, "team", bob.ID, true, Actor{AOR: "sip:mod@x", Authenticated: true}, OriginSIP, "noise"); err != nil {
		t.Fatal(err)
	}
	ev := expectKinds(t, s, Muted)[0]
	if !ev.Participant.Muted || ev.Participant.Role != RoleVisitor || ev.Reason != "noise" || ev.Old != string(RoleParticipant) {
		t.Fatalf("muted event %+v", ev)
	}
	if err := reg.Mute(ctx, "team", bob.ID, false, Actor{ParticipantID: bob.ID}, OriginDTMF, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("self-unmute after moderator mute: %v", err)
	}
	// Muting again is a no-op without an event.
	if err := reg.Mute(ctx, "team", bob.ID, true, Actor{API: true}, OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	noEvent(t, s)
	if err := reg.Mute(ctx, "team", bob.ID, false, Actor{API: true}, OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	if ev := expectKinds(t, s, Unmuted)[0]; ev.Participant.Role != RoleParticipant || ev.Participant.Muted {
		t.Fatalf("unmuted %+v", ev.Participant)
	}
	// Nobody may mute an admin, except the API.
	if err := reg.Mute(ctx, "team", mod.Participant.ID, true, Actor{ParticipantID: mod.Participant.ID}, OriginDTMF, ""); err != nil {
		t.Fatalf("self-mute of a moderator: %v", err)
	}
	if ev := expectKinds(t, s, Muted)[0]; ev.Participant.Role != RoleModerator {
		t.Fatalf("muted moderator lost its role: %+v", ev.Participant)
	}
}

func TestDTMFSelfMuteAndPIN(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{Rooms: []RoomSpec{{Name: "team", PIN: "4321"}}})
	p := sipJoin(t, reg, "team", "sip:a@x", "")
	expectKinds(t, s, ConferenceCreated, Joined)
	send := func(digits string) {
		for _, d := range digits {
			if err := reg.DTMF(ctx, "team", p.ID, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	send("*6")
	evs := expectKinds(t, s, DTMF, DTMF, Muted)
	if evs[2].Origin != OriginDTMF || evs[2].Participant.MutedByModerator {
		t.Fatalf("self mute %+v", evs[2])
	}
	send("5*6")
	expectKinds(t, s, DTMF, DTMF, DTMF, Unmuted)
	send("*1999#")
	expectKinds(t, s, DTMF, DTMF, DTMF, DTMF, DTMF, DTMF)
	noEvent(t, s)
	send("*14321#")
	evs = expectKinds(t, s, DTMF, DTMF, DTMF, DTMF, DTMF, DTMF, DTMF, RoleChanged)
	if evs[7].Participant.Role != RoleModerator {
		t.Fatalf("pin: %+v", evs[7])
	}
	if err := reg.DTMF(ctx, "team", p.ID, 'x'); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("bad digit: %v", err)
	}
}

func TestKickRules(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{})
	owner := mucJoin(t, reg, "r", "owner@x/a", "owner").Participant
	oa := Actor{ParticipantID: owner.ID}
	if err := reg.Configure(ctx, "r", Config{Persistent: true}, oa, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	admin := mucJoin(t, reg, "r", "admin@x/a", "admin").Participant
	if err := reg.SetAffiliation(ctx, "r", "admin@x", AffiliationAdmin, oa, OriginXMPP, ""); err != nil {
		t.Fatal(err)
	}
	user := mucJoin(t, reg, "r", "user@x/a", "user").Participant
	caller := sipJoin(t, reg, "r", "sip:c@x", "")
	expectKinds(t, s, ConferenceCreated, Joined, ConfigChanged, Joined, AffiliationChanged, Joined, Joined)

	cases := []struct {
		name   string
		target string
		actor  Actor
		want   error
	}{
		{"participant cannot kick", caller.ID, Actor{ParticipantID: user.ID}, ErrForbidden},
		{"self kick is a conflict", admin.ID, Actor{ParticipantID: admin.ID}, ErrConflict},
		{"admin cannot kick owner", owner.ID, Actor{ParticipantID: admin.ID}, ErrNotAllowed},
		{"unknown target", "p999", Actor{ParticipantID: admin.ID}, ErrNotFound},
	}
	for _, c := range cases {
		if err := reg.Kick(ctx, "r", c.target, c.actor, OriginXMPP, ""); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v want %v", c.name, err, c.want)
		}
	}
	noEvent(t, s)
	if err := reg.Kick(ctx, "r", caller.ID, Actor{ParticipantID: admin.ID}, OriginXMPP, "bye"); err != nil {
		t.Fatal(err)
	}
	ev := expectKinds(t, s, Kicked)[0]
	if ev.Participant.Left.Method != Booted || ev.Participant.Left.By != "sip:anonymous"+admin.ID+"@anonymous.invalid" || ev.Reason != "bye" {
		t.Fatalf("kicked %+v %+v", ev, ev.Participant.Left)
	}
	// role none is a kick too.
	if err := reg.SetRole(ctx, "r", user.ID, RoleNone, Actor{ParticipantID: owner.ID}, OriginXMPP, ""); err != nil {
		t.Fatal(err)
	}
	expectKinds(t, s, Kicked)
}

func TestRoleRules(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{})
	owner := mucJoin(t, reg, "r", "owner@x/a", "owner").Participant
	oa := Actor{ParticipantID: owner.ID}
	if err := reg.Configure(ctx, "r", Config{Persistent: true, Moderated: true}, oa, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	v := mucJoin(t, reg, "r", "v@x/a", "v").Participant
	if v.Role != RoleVisitor {
		t.Fatalf("moderated room: newcomer role %s", v.Role)
	}
	expectKinds(t, s, ConferenceCreated, Joined, ConfigChanged, Joined)
	if _, err := reg.Post(ctx, "r", v.ID, Message{Body: "hi"}, OriginXMPP); !errors.Is(err, ErrForbidden) {
		t.Fatalf("visitor post: %v", err)
	}
	if !v.Muted {
		t.Fatalf("visitor has voice in the audio: %+v", v)
	}
	if err := reg.SetRole(ctx, "r", v.ID, RoleParticipant, oa, OriginXMPP, ""); err != nil {
		t.Fatal(err)
	}
	if ev := expectKinds(t, s, Unmuted)[0]; ev.Participant.Role != RoleParticipant {
		t.Fatalf("voice grant %+v", ev.Participant)
	}
	if err := reg.SetRole(ctx, "r", v.ID, RoleModerator, Actor{ParticipantID: v.ID}, OriginXMPP, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("self-promotion: %v", err)
	}
	if err := reg.SetRole(ctx, "r", v.ID, RoleModerator, oa, OriginXMPP, ""); err != nil {
		t.Fatal(err)
	}
	if ev := expectKinds(t, s, RoleChanged)[0]; ev.Participant.Role != RoleModerator || ev.Old != "participant" {
		t.Fatalf("grant %+v", ev)
	}
	if err := reg.SetRole(ctx, "r", owner.ID, RoleParticipant, Actor{ParticipantID: v.ID}, OriginXMPP, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("moderator revoking owner: %v", err)
	}
	if err := reg.SetRole(ctx, "r", v.ID, "chief", oa, OriginXMPP, ""); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("bad role: %v", err)
	}
	if _, err := reg.Post(ctx, "r", "p999", Message{Body: "hi"}, OriginXMPP); !errors.Is(err, ErrNotOccupant) {
		t.Fatalf("non-occupant: %v", err)
	}
}

func TestBanSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	reg, s := newReg(t, Options{Store: st})
	owner := mucJoin(t, reg, "r", "owner@x/a", "owner").Participant
	oa := Actor{ParticipantID: owner.ID}
	if err := reg.Configure(ctx, "r", Config{Persistent: true}, oa, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	bad := mucJoin(t, reg, "r", "bad@x/a", "bad").Participant
	expectKinds(t, s, ConferenceCreated, Joined, ConfigChanged, Joined)
	cfg, err := reg.Config(ctx, "r")
	if err != nil || !cfg.Persistent {
		t.Fatalf("config %+v %v", cfg, err)
	}
	cfg.HistoryLength = 10
	if err := reg.Configure(ctx, "r", cfg, oa, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	expectKinds(t, s, ConfigChanged)
	if err := reg.SetAffiliation(ctx, "r", "owner@x", AffiliationOutcast, oa, OriginXMPP, ""); !errors.Is(err, ErrConflict) {
		t.Fatalf("self-ban: %v", err)
	}
	if err := reg.SetAffiliation(ctx, "r", "bad@x", AffiliationOutcast, Actor{ParticipantID: bad.ID}, OriginXMPP, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("ban by participant: %v", err)
	}
	if err := reg.SetAffiliation(ctx, "r", "owner@x", AffiliationNone, oa, OriginXMPP, ""); !errors.Is(err, ErrConflict) {
		t.Fatalf("last owner: %v", err)
	}
	if err := reg.SetAffiliation(ctx, "r", "xmpp:Bad@X/res", AffiliationOutcast, oa, OriginXMPP, "spam"); err != nil {
		t.Fatal(err)
	}
	ev := expectKinds(t, s, Banned)[0]
	if ev.Participant.ID != bad.ID || ev.Identity != "bad@x" || ev.Participant.Left.Method != Booted {
		t.Fatalf("banned %+v", ev)
	}
	if _, err := reg.Join(ctx, "r", JoinRequest{JID: "bad@x/other", Nick: "again", Text: true}); !errors.Is(err, ErrBanned) {
		t.Fatalf("rejoin: %v", err)
	}
	// A SIP URI can be banned too, before it ever joins.
	if err := reg.SetAffiliation(ctx, "r", "sip:troll@x", AffiliationOutcast, Actor{API: true}, OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	list, err := reg.Affiliations(ctx, "r", AffiliationOutcast, oa)
	if err != nil || len(list) != 2 || list[0] != "bad@x" || list[1] != "sip:troll@x" {
		t.Fatalf("outcasts %v %v", list, err)
	}
	if _, err := reg.Affiliations(ctx, "r", AffiliationOutcast, Actor{JID: "nobody@x/r"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("list by stranger: %v", err)
	}
	if _, err := reg.Post(ctx, "r", owner.ID, Message{ID: "m1", Body: "hello"}, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetSubject(ctx, "r", "Agenda", oa, OriginXMPP); err != nil {
		t.Fatal(err)
	}

	// "Restart": a new registry over the same store.
	reg2, _ := newReg(t, Options{Store: st})
	if _, err := reg2.Join(ctx, "r", JoinRequest{JID: "bad@x/r", Nick: "bad", Text: true}); !errors.Is(err, ErrBanned) {
		t.Fatalf("rejoin after restart: %v", err)
	}
	if _, err := reg2.Join(ctx, "r", JoinRequest{AOR: "sip:troll@x", Audio: &Audio{}}); !errors.Is(err, ErrBanned) {
		t.Fatalf("banned SIP caller: %v", err)
	}
	snap, err := reg2.Snapshot(ctx, "r")
	if err != nil || snap.Subject != "Agenda" || snap.SubjectBy != "owner" || snap.Affiliations["owner@x"] != AffiliationOwner || snap.Locked {
		t.Fatalf("after restart %+v %v", snap, err)
	}
	h, err := reg2.History(ctx, "r")
	if err != nil || len(h) != 1 || h[0].Body != "hello" || h[0].Nick != "owner" {
		t.Fatalf("history after restart %+v %v", h, err)
	}
	again := mucJoin(t, reg2, "r", "owner@x/b", "owner")
	if again.Created || again.Participant.Affiliation != AffiliationOwner {
		t.Fatalf("owner after restart %+v", again)
	}
}

func TestSubjectAndNick(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{})
	a := sipJoin(t, reg, "r", "sip:a@x", "Ann")
	b := mucJoin(t, reg, "r", "b@x/r", "bee").Participant
	expectKinds(t, s, ConferenceCreated, Joined, Joined)
	if err := reg.SetSubject(ctx, "r", "x", Actor{ParticipantID: b.ID}, OriginXMPP); !errors.Is(err, ErrForbidden) {
		t.Fatalf("participant subject: %v", err)
	}
	if err := reg.ChangeNick(ctx, "r", b.ID, "Ann", OriginXMPP); !errors.Is(err, ErrNickConflict) {
		t.Fatalf("nick conflict: %v", err)
	}
	if err := reg.ChangeNick(ctx, "r", b.ID, "bea", OriginXMPP); err != nil {
		t.Fatal(err)
	}
	if ev := expectKinds(t, s, NickChanged)[0]; ev.Old != "bee" || ev.Participant.Nick != "bea" {
		t.Fatalf("nick %+v", ev)
	}
	// A SIP caller whose display name collides gets a suffix.
	c := sipJoin(t, reg, "r", "sip:other@x", "Ann")
	if c.Nick != "Ann (2)" {
		t.Fatalf("derived nick %q", c.Nick)
	}
	_ = a
}

func TestDestroy(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{})
	owner := mucJoin(t, reg, "r", "owner@x/a", "owner").Participant
	sipJoin(t, reg, "r", "sip:c@x", "")
	expectKinds(t, s, ConferenceCreated, Joined, Joined)
	if err := reg.Destroy(ctx, "r", Actor{JID: "c@x/r"}, OriginXMPP, "", ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("destroy by stranger: %v", err)
	}
	if err := reg.Destroy(ctx, "r", Actor{ParticipantID: owner.ID}, OriginXMPP, "done", "other@x"); err != nil {
		t.Fatal(err)
	}
	ev := expectKinds(t, s, ConferenceEnded)[0]
	if len(ev.Others) != 2 || ev.Reason != "done" {
		t.Fatalf("ended %+v", ev)
	}
	if ok, _ := reg.Exists(ctx, "r"); ok {
		t.Fatal("destroyed room still exists")
	}
}

func TestStreamOrderUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{})
	const n = 50
	done := make(chan struct{})
	for i := 0; i < n; i++ {
		go func(i int) {
			p, err := reg.Join(ctx, "r", JoinRequest{AOR: "sip:u@x", Audio: &Audio{}})
			if err == nil {
				_ = reg.Leave(ctx, "r", p.Participant.ID, Departed, OriginSIP)
			}
			done <- struct{}{}
		}(i)
	}
	for i := 0; i < n; i++ {
		<-done
	}
	var last uint64
	present := map[string]bool{}
	for i := 0; i < 2*n+1; i++ {
		ev := next(t, s)
		if ev.Seq <= last {
			t.Fatalf("seq %d after %d", ev.Seq, last)
		}
		last = ev.Seq
		switch ev.Kind {
		case Joined:
			present[ev.Participant.ID] = true
		case Left:
			if !present[ev.Participant.ID] {
				t.Fatalf("left before joined: %s", ev.Participant.ID)
			}
			delete(present, ev.Participant.ID)
		}
	}
	if len(present) != 0 {
		t.Fatalf("still present: %v", present)
	}
}

func TestEntityPrivacyAndModeratorURIs(t *testing.T) {
	ctx := context.Background()
	reg, _ := newReg(t, Options{Rooms: []RoomSpec{{Name: "r", Moderators: []string{"sip:Mod@Example.COM"}}}})
	chat := mucJoin(t, reg, "r", "secret@x/r", "chatter").Participant
	if chat.Entity != "sip:anonymous"+chat.ID+"@anonymous.invalid" {
		t.Fatalf("semi-anonymous room leaks the JID as entity: %q", chat.Entity)
	}
	res, err := reg.Join(ctx, "r", JoinRequest{AOR: "sip:Mod@example.com", Authenticated: true, Audio: &Audio{}})
	if err != nil || res.Participant.Role != RoleModerator {
		t.Fatalf("host case should not matter: %+v %v", res.Participant, err)
	}
	res, err = reg.Join(ctx, "r", JoinRequest{AOR: "sip:mod@example.com", Authenticated: true, Audio: &Audio{}})
	if err != nil || res.Participant.Role == RoleModerator {
		t.Fatalf("user part is case-sensitive: %+v %v", res.Participant, err)
	}
	cfg, _ := reg.Config(ctx, "r")
	cfg.Whois = "anyone"
	if err := reg.Configure(ctx, "r", cfg, Actor{API: true}, OriginAPI); err != nil {
		t.Fatal(err)
	}
	open := mucJoin(t, reg, "r", "Open@x/r", "opener").Participant
	if open.Entity != "xmpp:open@x" {
		t.Fatalf("non-anonymous entity %q", open.Entity)
	}
}

func TestDerivedNicksAreResourceparts(t *testing.T) {
	for in, want := range map[string]string{
		"Alice":                 "Alice",
		"  Bob\t \n Smith ":     "Bob Smith",
		"ev\x00il\x1b[31m":      "evil[31m",
		"\u200bzero\u200dwidth": "zerowidth",
		"\xff\xfe":              "",
		strings.Repeat("x", 80): strings.Repeat("x", 64),
	} {
		if got := cleanNick(in); got != want {
			t.Errorf("cleanNick(%q) = %q, want %q", in, got, want)
		}
	}
	if got := derivedNick("\x01\x02", "sip:+4930123@x", 1); got != "+4930123" {
		t.Errorf("fallback to AOR user: %q", got)
	}
	if got := derivedNick("", "sip:@x", 7); got != "caller 7" {
		t.Errorf("fallback to caller: %q", got)
	}
	// Issue 8 defect 8: display names that are no valid resourcepart
	// (unassigned, non-character, private use) never leave a caller unseen.
	for _, tc := range []struct{ display, aor, want string }{
		{"\u0378", "sip:+4930123@x", "+4930123"},
		{"\uFFFF", "sip:@x", "caller 3"},
		{"\uE000", "SIP:bob@x", "bob"},
		{"Bob\uE000\u0378", "sip:x@y", "Bob"},
	} {
		got := derivedNick(tc.display, tc.aor, 3)
		if got != tc.want {
			t.Errorf("derivedNick(%q, %q) = %q, want %q", tc.display, tc.aor, got, tc.want)
		}
		if _, err := precis.OpaqueString.String(got); err != nil {
			t.Errorf("derivedNick(%q) = %q: not a resourcepart: %v", tc.display, got, err)
		}
	}
}

func TestSeqAuthorityAndLockedRoomsHidden(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{})
	owner := mucJoin(t, reg, "r", "owner@x/a", "owner")
	evs := expectKinds(t, s, ConferenceCreated, Joined)
	if !evs[1].Created || reg.Seq() != evs[1].Seq {
		t.Fatalf("Created %v, Seq %d vs %d", evs[1].Created, reg.Seq(), evs[1].Seq)
	}
	rooms, err := reg.Rooms(ctx)
	if err != nil || len(rooms) != 1 || rooms[0].Public {
		t.Fatalf("locked room listed as public: %+v %v", rooms, err)
	}
	if aff, mod := reg.Authority("r", Actor{ParticipantID: owner.Participant.ID}); aff != AffiliationOwner || !mod {
		t.Fatalf("owner authority %s %v", aff, mod)
	}
	if aff, mod := reg.Authority("r", Actor{JID: "else@x/r"}); aff != AffiliationNone || mod {
		t.Fatalf("stranger authority %s %v", aff, mod)
	}
	if aff, _ := reg.Authority("nope", Actor{API: true}); aff != AffiliationOwner {
		t.Fatalf("API authority %s", aff)
	}
}

func TestAddresses(t *testing.T) {
	a := Addresses{SIPDomain: "example.com", MUCDomain: "conference.example.com"}
	if got := a.ConferenceURI("team"); got != "sip:team@example.com" {
		t.Errorf("ConferenceURI %q", got)
	}
	if got := a.ChatURI("team"); got != "xmpp:team@conference.example.com?join" {
		t.Errorf("ChatURI %q", got)
	}
	if got := (Addresses{SIPDomain: "x"}).ChatURI("team"); got != "" {
		t.Errorf("ChatURI without MUC %q", got)
	}
}
