package confstate

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/confinfo"
)

// runScript drives a View with a random history of conference changes,
// timer firings, budget switches and refreshes, decoded from script. After
// every batch it checks what a subscriber must see: documents within the
// budget, versions exactly +1, state equal to Full(snapshot) whenever nothing
// is pending, no two throttled batches closer than the interval, and the
// final state after Final.
func runScript(t testing.TB, script []byte) {
	const interval = time.Second
	now := t0
	s := room(3)
	next := 3
	feed := NewFeed(renderer, s)

	// Two subscriptions share the feed: the first switches budgets as the
	// script says, the second is UDP-only and starts later.
	type client struct {
		v         *View
		sub       *subscriber
		lastBatch time.Time
		flushAt   time.Time
	}
	a := &client{v: NewView(feed, interval), sub: &subscriber{t: t}, lastBatch: now}
	a.sub.apply(a.v.Initial(now))
	b := &client{v: NewView(feed, interval), sub: &subscriber{t: t, budget: UDPBudget}}
	b.v.SetBudget(UDPBudget)
	clients := []*client{a}

	batch := func(c *client, docs []*confinfo.Document, at time.Time, throttled bool) {
		t.Helper()
		if docs == nil {
			if !at.IsZero() {
				if at.Before(now) {
					t.Fatalf("flush time %v is in the past (now %v)", at, now)
				}
				c.flushAt = at
			}
			return
		}
		if throttled && now.Before(c.lastBatch.Add(interval)) {
			t.Fatalf("throttled batch at %v, previous at %v", now, c.lastBatch)
		}
		c.lastBatch = now
		c.sub.apply(docs)
		if !c.v.Pending() {
			c.sub.converged(s)
		}
	}
	pick := func(b byte) int {
		if len(s.Participants) == 0 {
			return -1
		}
		return int(b) % len(s.Participants)
	}
	for i := 0; i+1 < len(script); i += 2 {
		op, arg := script[i]%16, script[i+1]
		changed := true
		s = clone(s)
		switch op {
		case 0:
			s.Participants = append(s.Participants, caller(next))
			next++
		case 1, 2:
			if k := pick(arg); k >= 0 {
				how, by := conference.Departed, ""
				if op == 2 {
					how, by = conference.Booted, "sip:mod@example.com"
				}
				leave(&s, s.Participants[k].ID, how, by, now)
			}
		case 3:
			if k := pick(arg); k >= 0 {
				s.Participants[k].Muted = !s.Participants[k].Muted
			}
		case 4:
			if k := pick(arg); k >= 0 && s.Participants[k].Audio != nil {
				s.Participants[k].Audio.OnHold = !s.Participants[k].Audio.OnHold
			}
		case 5:
			s.Subject = "subject " + strconv.Itoa(int(arg)%4)
		case 6:
			if k := pick(arg); k >= 0 {
				s.Participants[k].Role = []conference.Role{conference.RoleModerator, conference.RoleParticipant, conference.RoleVisitor}[int(arg)%3]
			}
		case 7:
			now = now.Add(time.Duration(arg) * 20 * time.Millisecond)
			if len(clients) == 1 && now.Sub(t0) > 3*time.Second {
				b.sub.apply(b.v.Initial(now))
				b.lastBatch = now
				clients = append(clients, b)
			}
			changed = false
		case 8:
			c := clients[int(arg)%len(clients)]
			if !c.flushAt.IsZero() && now.Before(c.flushAt) {
				now = c.flushAt
			}
			for _, c := range clients {
				docs, at := c.v.Update(now)
				batch(c, docs, at, true)
			}
			changed = false
		case 9:
			budget := []int{0, UDPBudget, 1300, 3000}[arg%4]
			a.v.SetBudget(budget)
			a.sub.budget = budget
			changed = false
		case 10:
			c := clients[int(arg)%len(clients)]
			batch(c, c.v.Refresh(now), time.Time{}, false)
			changed = false
		case 11:
			s.Participants = append(s.Participants, occupant("o"+strconv.Itoa(next)))
			next++
		case 12:
			if len(s.Departed) > 3 {
				s.Departed = s.Departed[len(s.Departed)-3:]
			}
		case 13:
			if k := pick(arg); k >= 0 && s.Participants[k].Audio != nil {
				s.Participants[k].Audio.SSRC = uint32(arg) * 7919
			}
		case 14:
			// An earlier caller dials in again: same entity, new visit.
			if len(s.Departed) > 0 {
				p := s.Departed[int(arg)%len(s.Departed)]
				if p.Audio != nil && !presentEntity(s, p.Entity) {
					p.ID += "-again"
					p.Left = nil
					p.Muted = false
					s.Participants = append(s.Participants, p)
				}
			}
		case 15:
			s.Config.MaxParticipants = int(arg)
			s.Locked = arg%2 == 1
		}
		if changed {
			feed.Set(s)
			for _, c := range clients {
				docs, at := c.v.Update(now)
				batch(c, docs, at, true)
			}
		}
	}
	for _, c := range clients {
		c.sub.apply(c.v.Final(now))
		c.sub.converged(s)
	}
}

func presentEntity(s conference.Snapshot, e string) bool {
	for _, p := range s.Participants {
		if p.Entity == e {
			return true
		}
	}
	return false
}

func TestViewRandomHistories(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 50
	}
	for seed := range n {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		script := make([]byte, 2*(20+r.IntN(120)))
		for i := range script {
			script[i] = byte(r.IntN(256))
		}
		runScript(t, script)
	}
}

func FuzzView(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 3, 0, 7, 60, 8, 0})
	f.Add([]byte{9, 1, 0, 0, 0, 0, 0, 0, 2, 1, 7, 5, 8, 0, 10, 0})
	f.Add([]byte{1, 0, 1, 0, 1, 0, 14, 0, 14, 1, 12, 0, 8, 0, 15, 3})
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > 600 {
			script = script[:600]
		}
		runScript(t, script)
	})
}
