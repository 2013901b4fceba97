package conference

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"cusax.dev/bridge/store"
)

func callFrom(reg *Registry, room, aor, src string) (JoinResult, error) {
	return reg.Join(context.Background(), room, JoinRequest{AOR: aor, Audio: &Audio{AOR: aor, CallID: aor + room}, Origin: OriginSIP, Source: src})
}

// A temporary room is destroyed, memory and store, IdleGrace after its
// last participant left; a join within the grace keeps it.
func TestRoomGC(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	reg, s := newReg(t, Options{Store: st, Limits: Limits{IdleGrace: 100 * time.Millisecond}})
	p, err := callFrom(reg, "tmp", "sip:a@x", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	expectKinds(t, s, ConferenceCreated, Joined)
	if err := reg.Leave(ctx, "tmp", p.Participant.ID, Departed, OriginSIP); err != nil {
		t.Fatal(err)
	}
	expectKinds(t, s, Left)
	// Back within the grace: the room lives on.
	q, err := callFrom(reg, "tmp", "sip:a@x", "192.0.2.1")
	if err != nil || q.Created {
		t.Fatalf("rejoin within the grace: created %v, %v", q.Created, err)
	}
	expectKinds(t, s, Joined)
	time.Sleep(200 * time.Millisecond)
	noEvent(t, s)
	if err := reg.Leave(ctx, "tmp", q.Participant.ID, Departed, OriginSIP); err != nil {
		t.Fatal(err)
	}
	expectKinds(t, s, Left, ConferenceEnded)
	if reg.Lookup("tmp") != nil {
		t.Fatal("room still live")
	}
	if ok, _ := reg.Exists(ctx, "tmp"); ok {
		t.Fatal("room still stored")
	}
	rooms, _ := st.Rooms(ctx)
	if len(rooms) != 0 {
		t.Fatalf("store keeps %v", rooms)
	}
}

// 5,000 calls to new names leave nothing behind once they hang up.
func TestManyRoomsFreed(t *testing.T) {
	ctx := context.Background()
	reg := NewRegistry(Options{Limits: Limits{IdleGrace: -1, MaxRoomsPerCreator: -1}})
	for i := range 5000 {
		res, err := callFrom(reg, fmt.Sprintf("r%d", i), "sip:a@x", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Leave(ctx, fmt.Sprintf("r%d", i), res.Participant.ID, Departed, OriginSIP); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(reg.Names()); n != 0 {
		t.Fatalf("%d rooms live", n)
	}
	if rooms, _ := reg.Rooms(ctx); len(rooms) != 0 {
		t.Fatalf("%d rooms listed", len(rooms))
	}
}

// Quotas per creator and in all; declared rooms do not count.
func TestRoomQuotas(t *testing.T) {
	var mu sync.Mutex
	refusals := map[string]int{}
	reg := NewRegistry(Options{Rooms: []RoomSpec{{Name: "declared"}}, Limits: Limits{MaxRooms: 5, MaxRoomsPerCreator: 2,
		OnRefusal: func(r string) { mu.Lock(); refusals[r]++; mu.Unlock() }}})
	for i := range 2 {
		if _, err := callFrom(reg, fmt.Sprintf("a%d", i), "sip:a@x", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	// The same source with another From is the same creator.
	if _, err := callFrom(reg, "a2", "sip:other@x", "192.0.2.1"); !errors.Is(err, ErrRoomQuota) {
		t.Fatalf("third room of one source: %v", err)
	}
	// Joining an existing room is not creating one.
	if _, err := callFrom(reg, "a0", "sip:b@x", "192.0.2.1"); err != nil {
		t.Fatalf("join existing: %v", err)
	}
	if _, err := callFrom(reg, "declared", "sip:b@x", "192.0.2.1"); err != nil {
		t.Fatalf("declared room: %v", err)
	}
	// XMPP creators count by bare JID.
	for i := range 2 {
		if _, err := reg.Join(context.Background(), fmt.Sprintf("x%d", i), JoinRequest{JID: "eve@x/r", Nick: "eve", Text: true, Origin: OriginXMPP}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.Join(context.Background(), "x2", JoinRequest{JID: "eve@x/other", Nick: "eve", Text: true, Origin: OriginXMPP}); !errors.Is(err, ErrRoomQuota) {
		t.Fatalf("third room of one JID: %v", err)
	}
	// 5 live rooms (a0 a1 declared x0 x1): the global quota.
	if _, err := callFrom(reg, "z", "sip:z@x", "192.0.2.9"); !errors.Is(err, ErrRoomQuota) {
		t.Fatalf("over the global quota: %v", err)
	}
	if refusals[RefuseRoomQuota] != 3 {
		t.Errorf("refusals %v", refusals)
	}
}

// sip.room_creation: listed — calls reach only existing rooms.
func TestSIPRoomCreationListed(t *testing.T) {
	reg := NewRegistry(Options{Rooms: []RoomSpec{{Name: "team"}}, Limits: Limits{SIPRoomsListed: true}})
	if _, err := callFrom(reg, "team", "sip:a@x", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := callFrom(reg, "squat", "sip:a@x", "192.0.2.1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("new room by call: %v", err)
	}
	// A room created in the chat exists, so a call may join it.
	if _, err := reg.Join(context.Background(), "chat", JoinRequest{JID: "eve@x/r", Nick: "eve", Text: true, Origin: OriginXMPP}); err != nil {
		t.Fatal(err)
	}
	if _, err := callFrom(reg, "chat", "sip:a@x", "192.0.2.1"); err != nil {
		t.Fatalf("call into a live room: %v", err)
	}
}

// An XMPP-created room left locked is destroyed at once (XEP-0045
// §10.1.3), so its name cannot be squatted by leaving.
func TestLockedRoomDestroyedWhenEmpty(t *testing.T) {
	ctx := context.Background()
	reg, s := newReg(t, Options{})
	res := mucJoin(t, reg, "squat", "eve@x/r", "eve")
	expectKinds(t, s, ConferenceCreated, Joined)
	if err := reg.Leave(ctx, "squat", res.Participant.ID, Departed, OriginXMPP); err != nil {
		t.Fatal(err)
	}
	expectKinds(t, s, Left, ConferenceEnded)
	if ok, _ := reg.Exists(ctx, "squat"); ok {
		t.Fatal("locked room survived its owner")
	}
}

// Wrong PINs lock the caller out (its entries, even the right PIN, are
// ignored for a growing delay), and many callers together lock the room.
func TestPINLimits(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	refusals := 0
	reg, _ := newReg(t, Options{Now: clock, Rooms: []RoomSpec{{Name: "team", PIN: "4711"}},
		Limits: Limits{PINAttempts: 2, PINRoomAttempts: 5, OnRefusal: func(string) { refusals++ }}})
	dial := func(id, digits string) {
		for _, d := range digits {
			if err := reg.DTMF(ctx, "team", id, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	role := func(id string) Role {
		p, _ := reg.Participant("team", id)
		return p.Role
	}
	a := sipJoin(t, reg, "team", "sip:a@x", "")
	dial(a.ID, "*10000#*10001#*10002#") // two free, the third locks
	dial(a.ID, "*14711#")
	if role(a.ID) == RoleModerator || refusals != 1 {
		t.Fatalf("right PIN during the lockout: role %v, refusals %d", role(a.ID), refusals)
	}
	advance(6 * time.Second)
	dial(a.ID, "*14711#")
	if role(a.ID) != RoleModerator {
		t.Fatalf("right PIN after the delay: %v", role(a.ID))
	}
	// The room: five wrong PINs from fresh callers lock everybody.
	for i := range 3 {
		p := sipJoin(t, reg, "team", fmt.Sprintf("sip:g%d@x", i), "")
		dial(p.ID, "*19999#")
	}
	b := sipJoin(t, reg, "team", "sip:b@x", "")
	dial(b.ID, "*14711#")
	if role(b.ID) == RoleModerator {
		t.Fatal("right PIN while the room is locked out")
	}
	advance(time.Minute)
	dial(b.ID, "*14711#")
	if role(b.ID) != RoleModerator {
		t.Fatal("right PIN after the room's delay")
	}
}
