package conference

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestJoinLockBothSides(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{Rooms: []RoomSpec{{Name: "team", Moderators: []string{"xmpp:boss@x"}}}})
	a := sipJoin(t, reg, "team", "sip:a@x", "A")
	expectKinds(t, s, ConferenceCreated, Joined)
	if err := reg.SetJoinLock(ctx, "team", true, Actor{ParticipantID: a.ID}, OriginXMPP); !errors.Is(err, ErrForbidden) {
		t.Fatalf("participant locks: %v", err)
	}
	api := Actor{API: true, Name: "api"}
	if err := reg.SetJoinLock(ctx, "team", true, api, OriginAPI); err != nil {
		t.Fatal(err)
	}
	ev := expectKinds(t, s, JoinLockChanged)[0]
	if !ev.Locked || ev.Origin != OriginAPI {
		t.Fatalf("lock event %+v", ev)
	}
	if err := reg.SetJoinLock(ctx, "team", true, api, OriginAPI); err != nil {
		t.Fatal(err)
	}
	noEvent(t, s) // no change, no event
	_, err := reg.Join(ctx, "team", JoinRequest{AOR: "sip:b@x", Audio: &Audio{}, Origin: OriginSIP})
	if !errors.Is(err, ErrConferenceLocked) || !errors.Is(err, ErrForbidden) {
		t.Fatalf("SIP join while locked: %v", err)
	}
	_, err = reg.Join(ctx, "team", JoinRequest{JID: "c@x/r", Nick: "c", Text: true, Origin: OriginXMPP})
	if !errors.Is(err, ErrConferenceLocked) {
		t.Fatalf("MUC join while locked: %v", err)
	}
	mucJoin(t, reg, "team", "boss@x/r", "boss") // a listed moderator still gets in
	expectKinds(t, s, Joined)
	if snap, _ := reg.Snapshot(ctx, "team"); !snap.JoinLocked {
		t.Fatal("snapshot not locked")
	}
	if err := reg.SetJoinLock(ctx, "team", false, api, OriginAPI); err != nil {
		t.Fatal(err)
	}
	if ev := expectKinds(t, s, JoinLockChanged)[0]; ev.Locked {
		t.Fatalf("unlock event %+v", ev)
	}
	sipJoin(t, reg, "team", "sip:b@x", "B")
}

// TestMuteAllByChatModerator: a chat moderator mutes every caller (not the
// chat-only participant); the API unmutes them.
func TestMuteAllByChatModerator(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{Rooms: []RoomSpec{{Name: "team", Moderators: []string{"xmpp:boss@x"}}}})
	a := sipJoin(t, reg, "team", "sip:a@x", "A")
	b := sipJoin(t, reg, "team", "sip:b@x", "B")
	boss := mucJoin(t, reg, "team", "boss@x/r", "boss").Participant
	chat := mucJoin(t, reg, "team", "c@x/r", "c").Participant
	expectKinds(t, s, ConferenceCreated, Joined, Joined, Joined, Joined)
	if _, err := reg.MuteAll(ctx, "team", true, Actor{ParticipantID: a.ID}, OriginSIP, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("non-moderator: %v", err)
	}
	n, err := reg.MuteAll(ctx, "team", true, Actor{ParticipantID: boss.ID}, OriginXMPP, "quiet")
	if err != nil || n != 2 {
		t.Fatalf("mute all: %d %v", n, err)
	}
	evs := expectKinds(t, s, Muted, Muted)
	if evs[0].Participant.ID != a.ID || evs[1].Participant.ID != b.ID || evs[0].Participant.MutedBy != "boss@x" && evs[0].Participant.MutedBy != "xmpp:boss@x" {
		t.Fatalf("muted %+v", evs)
	}
	if p, _ := reg.Participant("team", chat.ID); p.Muted {
		t.Fatal("a chat-only participant was muted")
	}
	n, err = reg.MuteAll(ctx, "team", false, Actor{API: true}, OriginAPI, "")
	if err != nil || n != 2 {
		t.Fatalf("unmute all: %d %v", n, err)
	}
	evs = expectKinds(t, s, Unmuted, Unmuted)
	if evs[0].Participant.MutedBy != "" || evs[0].Participant.Role != RoleParticipant {
		t.Fatalf("unmuted %+v", evs[0].Participant)
	}
}

func TestRequestDialOut(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{Rooms: []RoomSpec{{Name: "team"}}})
	a := sipJoin(t, reg, "team", "sip:a@x", "A")
	expectKinds(t, s, ConferenceCreated, Joined)
	if err := reg.RequestDialOut(ctx, "team", "sip:bob@127.0.0.1:5070", Actor{ParticipantID: a.ID}, OriginSIP); !errors.Is(err, ErrForbidden) {
		t.Fatalf("non-moderator: %v", err)
	}
	for _, bad := range []string{"", "tel:+123", "bob@x", "sip:", "sip:a@", "sip:a b@x", "sip:a@x>", "http://x"} {
		if err := reg.RequestDialOut(ctx, "team", bad, Actor{API: true}, OriginAPI); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if err := reg.RequestDialOut(ctx, "nope", "sip:bob@x", Actor{API: true}, OriginAPI); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown room: %v", err)
	}
	if err := reg.RequestDialOut(ctx, "team", " sip:bob@127.0.0.1:5070;transport=tcp ", Actor{API: true, Name: "ops"}, OriginAPI); err != nil {
		t.Fatal(err)
	}
	ev := expectKinds(t, s, DialOutRequested)[0]
	if ev.Identity != "sip:bob@127.0.0.1:5070;transport=tcp" || ev.Actor.Name != "ops" {
		t.Fatalf("dial-out event %+v", ev)
	}
}

func TestCreateAndBans(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{Rooms: []RoomSpec{{Name: "declared"}}})
	api := Actor{API: true, Name: "api"}
	spec := RoomSpec{Name: "new", Subject: "Hello", Moderators: []string{"sip:m@x"}, PIN: "12", MaxParticipants: 5}
	if err := reg.Create(ctx, spec, Actor{JID: "x@y"}, OriginXMPP); !errors.Is(err, ErrForbidden) {
		t.Fatalf("non-API create: %v", err)
	}
	for _, pin := range []string{"1", "12a", strings.Repeat("1", 22)} {
		bad := spec
		bad.Name, bad.PIN = "badpin", pin
		if err := reg.Create(ctx, bad, api, OriginAPI); !errors.Is(err, ErrBadRequest) {
			t.Fatalf("create with PIN %q: %v", pin, err)
		}
	}
	if err := reg.Create(ctx, spec, api, OriginAPI); err != nil {
		t.Fatal(err)
	}
	expectKinds(t, s, ConferenceCreated, ConfigChanged, SubjectChanged)
	for _, name := range []string{"new", "declared"} {
		if err := reg.Create(ctx, RoomSpec{Name: name}, api, OriginAPI); !errors.Is(err, ErrConflict) {
			t.Fatalf("create %s again: %v", name, err)
		}
	}
	if err := reg.Create(ctx, RoomSpec{Name: "Bad Name"}, api, OriginAPI); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("bad name: %v", err)
	}
	if err := reg.Create(ctx, RoomSpec{Name: "x", Moderators: []string{"alice"}}, api, OriginAPI); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("bad moderator: %v", err)
	}
	snap, seq, err := reg.SnapshotSeq(ctx, "new")
	if err != nil || snap.Subject != "Hello" || snap.Config.PIN != "12" || snap.Config.MaxParticipants != 5 || seq != reg.Seq() {
		t.Fatalf("snapshot %+v %d %v", snap, seq, err)
	}
	rooms, _ := reg.Rooms(ctx)
	if len(rooms) != 2 {
		t.Fatalf("rooms %+v", rooms)
	}
	if err := reg.SetAffiliation(ctx, "new", "sip:Troll@X", AffiliationOutcast, api, OriginAPI, "spam"); err != nil {
		t.Fatal(err)
	}
	bans, err := reg.Bans(ctx, "new", api)
	if err != nil || len(bans) != 1 || bans[0].Identity != "sip:Troll@x" || bans[0].Reason != "spam" || bans[0].By != "api" || bans[0].At.IsZero() {
		t.Fatalf("bans %+v %v", bans, err)
	}
	if _, err := reg.Bans(ctx, "new", Actor{JID: "x@y"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("bans by a stranger: %v", err)
	}
}

func TestDTMFModeratorMenu(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{Rooms: []RoomSpec{{Name: "team", PIN: "42"}}})
	m := sipJoin(t, reg, "team", "sip:m@x", "M")
	o := sipJoin(t, reg, "team", "sip:o@x", "O")
	expectKinds(t, s, ConferenceCreated, Joined, Joined)
	send := func(id, digits string) {
		for _, d := range digits {
			if err := reg.DTMF(ctx, "team", id, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A caller without the moderator role: the commands do nothing.
	send(o.ID, "*7*8*9")
	expectKinds(t, s, DTMF, DTMF, DTMF, DTMF, DTMF, DTMF)
	noEvent(t, s)
	send(m.ID, "*142#")
	expectKinds(t, s, DTMF, DTMF, DTMF, DTMF, DTMF, RoleChanged)
	send(m.ID, "*8")
	evs := expectKinds(t, s, DTMF, DTMF, Muted, CueRequested)
	if evs[2].Participant.ID != o.ID || evs[3].Participant.ID != m.ID || evs[3].Cue != CueMutedOthers {
		t.Fatalf("*8: %+v", evs)
	}
	send(m.ID, "*9")
	evs = expectKinds(t, s, DTMF, DTMF, Unmuted, CueRequested)
	if evs[3].Cue != CueUnmutedOthers {
		t.Fatalf("*9: %+v", evs[3])
	}
	send(m.ID, "*7")
	evs = expectKinds(t, s, DTMF, DTMF, JoinLockChanged, CueRequested)
	if !evs[2].Locked || evs[3].Cue != CueLocked || evs[2].Origin != OriginDTMF {
		t.Fatalf("*7: %+v", evs)
	}
	send(m.ID, "*7")
	evs = expectKinds(t, s, DTMF, DTMF, JoinLockChanged, CueRequested)
	if evs[2].Locked || evs[3].Cue != CueUnlocked {
		t.Fatalf("*7 again: %+v", evs)
	}
}

// TestMuteAllSparesCallingModeratorAndAdmin: a moderator on the phone who
// mutes everyone is not muted itself, and an admin's call is spared (a
// moderator may not mute an admin); the API, which outranks both, mutes
// the admin too.
func TestMuteAllSparesCallingModeratorAndAdmin(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{Rooms: []RoomSpec{{Name: "team", Moderators: []string{"sip:mod@x"}}}})
	if err := reg.SetAffiliation(ctx, "team", "sip:adm@x", AffiliationAdmin, Actor{API: true}, OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	join := func(aor string) Participant {
		t.Helper()
		res, err := reg.Join(ctx, "team", JoinRequest{AOR: aor, DisplayName: aor, Audio: &Audio{AOR: aor, CallID: aor}, Origin: OriginSIP, Authenticated: true})
		if err != nil {
			t.Fatalf("join %s: %v", aor, err)
		}
		return res.Participant
	}
	mod, adm, a := join("sip:mod@x"), join("sip:adm@x"), join("sip:a@x")
	if mod.Role != RoleModerator {
		t.Fatalf("the listed caller is %s", mod.Role)
	}
	drainEvents(s)
	n, err := reg.MuteAll(ctx, "team", true, Actor{ParticipantID: mod.ID}, OriginDTMF, "")
	if err != nil || n != 1 {
		t.Fatalf("mute all by the calling moderator: %d %v, want 1", n, err)
	}
	for _, p := range []Participant{mod, adm} {
		if q, _ := reg.Participant("team", p.ID); q.Muted {
			t.Errorf("%s was muted by the moderator's mute-all", q.AOR)
		}
	}
	if q, _ := reg.Participant("team", a.ID); !q.Muted {
		t.Error("the plain caller was not muted")
	}
	if n, err := reg.MuteAll(ctx, "team", true, Actor{API: true}, OriginAPI, ""); err != nil || n != 2 {
		t.Fatalf("mute all by the API: %d %v, want 2 (the moderator and the admin)", n, err)
	}
}
