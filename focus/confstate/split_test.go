package confstate

import (
	"strconv"
	"strings"
	"testing"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/confinfo"
)

func marshalLen(t *testing.T, d *confinfo.Document) int {
	t.Helper()
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

func TestSplitNoop(t *testing.T) {
	d := renderer.Full(room(3))
	n := marshalLen(t, d) + 9 // room for a 10-digit version
	for _, budget := range []int{0, -1, n, n + 100} {
		if got := Split(d, budget); len(got) != 1 || got[0] != d {
			t.Errorf("budget %d: %d documents", budget, len(got))
		}
	}
	// A document that fits only with a short version is split: the caller
	// may number it with up to ten digits (found by FuzzView).
	if got := Split(d, n-9); len(got) < 2 {
		t.Errorf("a document that fits only at version 0 was not split")
	}
	del := &confinfo.Document{Entity: d.Entity, State: confinfo.StateDeleted, Version: 9}
	if got := Split(del, 10); len(got) != 1 || got[0] != del {
		t.Errorf("deleted: %v", got)
	}
	if Split(nil, 10) != nil {
		t.Error("nil document split into something")
	}
}

func TestSplitFull(t *testing.T) {
	d := renderer.Full(room(100))
	d.Version = 41
	before := d.String()
	for _, budget := range []int{UDPBudget, 1300, 2500, 10000} {
		docs := Split(d, budget)
		if len(docs) < 2 {
			t.Fatalf("budget %d: not split", budget)
		}
		if docs[0].State != confinfo.StateFull || docs[0].Description == nil || docs[0].ConferenceState == nil || docs[0].Users == nil {
			t.Errorf("budget %d: first document is not a full head: %s", budget, docs[0])
		}
		users := 0
		sub := &subscriber{t: t, budget: budget}
		for i, x := range docs {
			if x.Version != 41+uint32(i) {
				t.Fatalf("budget %d: document %d has version %d", budget, i, x.Version)
			}
			if i > 0 && (x.State != confinfo.StatePartial || x.Description != nil || x.ConferenceState != nil ||
				x.Users.State != confinfo.StatePartial || len(x.Users.Users) == 0) {
				t.Fatalf("budget %d: document %d is not a users-only partial: %s", budget, i, x)
			}
			users += len(x.Users.Users)
		}
		if users != 100 {
			t.Errorf("budget %d: %d users in all", budget, users)
		}
		sub.apply(docs)
		sub.converged(room(100))
		// Greedy packing: no two neighbouring partials could have been one.
		for i := 1; i+1 < len(docs); i++ {
			merged := *docs[i]
			merged.Users = &confinfo.Users{State: confinfo.StatePartial, Users: append(append([]confinfo.User{}, docs[i].Users.Users...), docs[i+1].Users.Users[0])}
			if marshalLen(t, &merged) <= budget {
				t.Errorf("budget %d: document %d could have taken one more user", budget, i)
				break
			}
		}
	}
	if d.String() != before {
		t.Error("Split modified its input")
	}
}

func TestSplitPartial(t *testing.T) {
	prev := renderer.Full(room(40))
	s := room(40)
	for i := range 10 {
		leave(&s, "p"+strconv.Itoa(i), conference.Departed, "", t0)
	}
	s.Participants = s.Participants[:20] // 10 more removed outright (trimmed)
	s.Departed = s.Departed[:5]
	for i := 100; i < 120; i++ {
		s.Participants = append(s.Participants, caller(i))
	}
	s.Subject = "Changed"
	next := renderer.Full(s)
	p := confinfo.Diff(prev, next)
	p.Version = 2
	docs := Split(p, UDPBudget)
	if len(docs) < 3 {
		t.Fatalf("%d documents", len(docs))
	}
	if docs[0].State != confinfo.StatePartial || docs[0].Description == nil {
		t.Fatalf("first: %s", docs[0])
	}
	sub := &subscriber{t: t}
	first := prev.Clone()
	first.Version = 1
	sub.apply([]*confinfo.Document{first})
	sub.budget = UDPBudget
	sub.apply(docs)
	sub.converged(s)
}

func TestSplitOversized(t *testing.T) {
	// A head that alone exceeds the budget goes out without users; a user
	// that alone exceeds it goes out alone; everything else still fits.
	s := room(6)
	s.Participants[2].Entity = "sip:" + strings.Repeat("x", 1200) + "@example.com"
	s.Participants[2].AOR = s.Participants[2].Entity
	s.Participants[2].Audio.Endpoint = ""
	d := renderer.Full(s)
	d.Version = 1
	budget := marshalLen(t, renderer.Full(room(0))) - 5 // below the head's size
	docs := Split(d, budget)
	if len(docs[0].Users.Users) != 0 {
		t.Errorf("head carries %d users", len(docs[0].Users.Users))
	}
	over := 0
	for _, x := range docs {
		if marshalLen(t, x) > budget {
			over++
			if x != docs[0] && (len(x.Users.Users) != 1 || x.Users.Users[0].Entity != s.Participants[2].Entity) {
				t.Errorf("oversized document holds more than the big user: %s", x)
			}
		}
	}
	if over != 2 {
		t.Errorf("%d documents over budget, want 2 (head, big user)", over)
	}
	sub := &subscriber{t: t}
	sub.apply(docs)
	sub.converged(s)
}

func TestTake(t *testing.T) {
	sizes := []int{3, 3, 5, 1}
	tests := []struct {
		from, room int
		one        bool
		want       int
	}{
		{0, 6, false, 2},
		{0, 2, false, 0},
		{0, 2, true, 1},
		{2, 6, false, 4},
		{4, 6, true, 4},
		{1, 100, false, 4},
	}
	for _, tc := range tests {
		if got := take(sizes, tc.from, tc.room, tc.one); got != tc.want {
			t.Errorf("take(from %d, room %d, %v) = %d, want %d", tc.from, tc.room, tc.one, got, tc.want)
		}
	}
}

// A user bigger than the budget is cut into pieces, one per document,
// which merge back into it; a full user still replaces the held one.
func TestSplitCutsBigUser(t *testing.T) {
	prev := room(3)
	s := clone(prev)
	leave(&s, "p1", conference.Booted, "sip:moderator@example.com", t0)
	s.Departed[0].Left.Reason = strings.Repeat("r", 100)
	p := confinfo.Diff(renderer.Full(prev), renderer.Full(s))
	p.Version = 2
	const budget = 650
	docs := Split(p, budget)
	seen := map[int]int{}
	for i, x := range docs {
		if n := marshalLen(t, x); n > budget {
			t.Errorf("document %d is %d bytes:\n%s", i, n, x)
		}
		if x.Users != nil {
			keys := map[string]bool{}
			for _, u := range x.Users.Users {
				if keys[u.Entity] {
					t.Errorf("document %d repeats user %s", i, u.Entity)
				}
				keys[u.Entity] = true
				if u.Entity == "sip:user1@example.com" {
					seen[i]++
				}
			}
		}
	}
	if len(seen) < 2 {
		t.Fatalf("the departed user was not cut (%d documents hold it)", len(seen))
	}
	sub := &subscriber{t: t}
	first := renderer.Full(prev)
	first.Version = 1
	sub.apply([]*confinfo.Document{first})
	sub.budget = budget
	sub.apply(docs)
	sub.converged(s)

	// A full document: the cut user's first piece is full, the rest partial.
	full := renderer.Full(s)
	full.Version = 7
	docs = Split(full, 800) // the head alone is some 750 bytes
	if len(docs) < 4 {
		t.Fatalf("full state in %d documents", len(docs))
	}
	sub = &subscriber{t: t, budget: 800}
	sub.apply(docs)
	sub.converged(s)
}

func TestPieces(t *testing.T) {
	u := renderer.Full(room(1)).Users.Users[0]
	ps := pieces(u)
	// user, endpoint core, joining-info, media, call-info
	if len(ps) != 5 || ps[0].State != u.State || ps[0].Endpoints != nil || ps[1].State != confinfo.StatePartial ||
		ps[1].Endpoints[0].Media != nil || ps[1].Endpoints[0].JoiningInfo != nil || ps[1].Endpoints[0].Status == "" ||
		ps[2].Endpoints[0].JoiningInfo == nil || ps[3].Endpoints[0].Media == nil || ps[4].Endpoints[0].CallInfo == nil ||
		ps[4].Endpoints[0].State != confinfo.StatePartial {
		t.Errorf("pieces %+v", ps)
	}
	del := confinfo.User{Entity: "sip:x@example.com", State: confinfo.StateDeleted}
	if ps := pieces(del); len(ps) != 1 {
		t.Errorf("deleted user cut into %d", len(ps))
	}
}
