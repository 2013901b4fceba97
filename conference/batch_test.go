package conference

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"cusax.dev/bridge/store"
)

// failingStore fails SetAffiliation for one identity.
type failingStore struct {
	store.Store
	failFor string
	calls   atomic.Int32
}

func (s *failingStore) SetAffiliation(ctx context.Context, a store.Affiliation) error {
	s.calls.Add(1)
	if a.Identity == s.failFor {
		return errors.New("disk full")
	}
	return s.Store.SetAffiliation(ctx, a)
}

// batchRoom is room "r" with a SIP caller, an admin (adam) and two
// occupants (bob, carol); it returns them and a fresh event stream.
func batchRoom(t *testing.T, opts Options) (*Registry, *Stream, Participant, Participant, Participant) {
	t.Helper()
	ctx := context.Background()
	reg := NewRegistry(opts)
	sipJoin(t, reg, "r", "sip:x@x", "")
	if err := reg.SetAffiliation(ctx, "r", "adam@x", AffiliationAdmin, Actor{API: true}, OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	adam := mucJoin(t, reg, "r", "adam@x/a", "adam").Participant
	bob := mucJoin(t, reg, "r", "bob@x/b", "bob").Participant
	carol := mucJoin(t, reg, "r", "carol@x/c", "carol").Participant
	s := reg.Subscribe()
	t.Cleanup(s.Close)
	return reg, s, adam, bob, carol
}

// A batch with one refused change changes nothing (no event, no state);
// the same batch without it applies every change, in order.
func TestModerateAllOrNothing(t *testing.T) {
	ctx := context.Background()
	reg, s, adam, bob, carol := batchRoom(t, Options{})
	by := Actor{ParticipantID: adam.ID}
	err := reg.Moderate(ctx, "r", by, OriginXMPP, []Change{
		{Participant: bob.ID, Role: RoleVisitor},
		{Identity: "carol@x", Affiliation: AffiliationAdmin}, // only owners grant admin
	})
	if !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("batch with a refused change: %v, want ErrNotAllowed", err)
	}
	noEvent(t, s)
	if p, _ := reg.Participant("r", bob.ID); p.Muted || p.Role != RoleParticipant {
		t.Fatalf("bob changed by a refused batch: %+v", p)
	}

	err = reg.Moderate(ctx, "r", by, OriginXMPP, []Change{
		{Participant: bob.ID, Role: RoleVisitor, Reason: "quiet"},
		{Participant: carol.ID, Affiliation: AffiliationMember},
	})
	if err != nil {
		t.Fatal(err)
	}
	evs := expectKinds(t, s, Muted, AffiliationChanged)
	if evs[0].Participant.ID != bob.ID || evs[0].Reason != "quiet" || evs[1].Identity != "carol@x" {
		t.Errorf("events %+v", evs)
	}
	if p, _ := reg.Participant("r", bob.ID); !p.Muted || p.Role != RoleVisitor {
		t.Errorf("bob after the batch: %+v", p)
	}
	if p, _ := reg.Participant("r", carol.ID); p.Affiliation != AffiliationMember {
		t.Errorf("carol after the batch: %+v", p)
	}
}

// Two changes for one participant (by ID, or by an identity it carries)
// are a bad request; so are empty and malformed batches.
func TestModerateRefusesConflictingBatches(t *testing.T) {
	ctx := context.Background()
	reg, s, adam, bob, _ := batchRoom(t, Options{})
	by := Actor{ParticipantID: adam.ID}
	for name, changes := range map[string][]Change{
		"same participant":         {{Participant: bob.ID, Role: RoleVisitor}, {Participant: bob.ID, Role: RoleNone}},
		"participant and identity": {{Participant: bob.ID, Role: RoleVisitor}, {Identity: "bob@x", Affiliation: AffiliationMember}},
		"same identity twice":      {{Identity: "zed@x", Affiliation: AffiliationMember}, {Identity: "ZED@x", Affiliation: AffiliationOutcast}},
		"empty":                    nil,
		"role without participant": {{Role: RoleVisitor}},
		"affiliation with both":    {{Participant: bob.ID, Identity: "bob@x", Affiliation: AffiliationMember}},
		"affiliation of nobody":    {{Affiliation: AffiliationMember}},
		"invalid role":             {{Participant: bob.ID, Role: "boss"}},
		"more than MaxBatch":       make([]Change, MaxBatch+1),
	} {
		if err := reg.Moderate(ctx, "r", by, OriginXMPP, changes); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: %v, want ErrBadRequest", name, err)
		}
	}
	noEvent(t, s)
}

// When the store fails on one affiliation of a batch, the ones written
// before it are written back, and nothing changes in the room.
func TestModerateStoreFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	st := &failingStore{Store: store.NewMemory(), failFor: "carol@x"}
	reg, s, adam, bob, carol := batchRoom(t, Options{Store: st})
	by := Actor{ParticipantID: adam.ID}
	err := reg.Moderate(ctx, "r", by, OriginXMPP, []Change{
		{Participant: bob.ID, Affiliation: AffiliationMember},
		{Participant: carol.ID, Affiliation: AffiliationMember},
	})
	if !errors.Is(err, ErrStore) {
		t.Fatalf("batch with a store failure: %v, want ErrStore", err)
	}
	noEvent(t, s)
	affs, err := st.Affiliations(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range affs {
		if a.Identity == "bob@x" {
			t.Errorf("bob's affiliation not rolled back in the store: %+v", a)
		}
	}
	if p, _ := reg.Participant("r", bob.ID); p.Affiliation != AffiliationNone {
		t.Errorf("bob after the failed batch: %+v", p)
	}
	if members, _ := reg.Affiliations(ctx, "r", AffiliationMember, Actor{API: true}); len(members) != 0 {
		t.Errorf("members after the failed batch: %v", members)
	}
}
