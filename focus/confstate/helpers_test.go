package confstate

import (
	"strconv"
	"testing"
	"time"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/confinfo"
)

var (
	t0       = time.Date(2026, 3, 4, 20, 0, 0, 0, time.UTC)
	renderer = Renderer{SIPDomain: "conf.example.com", MUCDomain: "conference.example.com"}
)

// caller is a SIP participant number i with a full audio leg.
func caller(i int) conference.Participant {
	id := strconv.Itoa(i)
	aor := "sip:user" + id + "@example.com"
	return conference.Participant{
		ID: "p" + id, Entity: aor, DisplayName: "User " + id, Nick: "User " + id, AOR: aor,
		Role: conference.RoleParticipant, Affiliation: conference.AffiliationNone,
		Audio: &conference.Audio{
			AOR: aor, Endpoint: "sip:user" + id + "@192.0.2." + strconv.Itoa(i%250+1) + ":5060",
			CallID: "call-" + id + "@192.0.2.1", LocalTag: "focus" + id, RemoteTag: "ua" + id,
			JoiningMethod: "dialed-in", Codec: "PCMU", SSRC: uint32(100000 + i),
		},
		JoinedAt: t0.Add(time.Duration(i) * time.Second),
	}
}

// occupant is a MUC-only participant.
func occupant(nick string) conference.Participant {
	jid := nick + "@chat.example.com"
	return conference.Participant{
		ID: "m-" + nick, Entity: "xmpp:" + jid, DisplayName: nick, Nick: nick, JID: jid + "/res",
		Role: conference.RoleParticipant, Text: true, JoinedAt: t0,
	}
}

// room is a snapshot of room "team" with n callers.
func room(n int) conference.Snapshot {
	s := conference.Snapshot{Name: "team", Subject: "Weekly sync", CreatedAt: t0}
	for i := range n {
		s.Participants = append(s.Participants, caller(i))
	}
	return s
}

// clone deep-copies a snapshot so tests can mutate the copy.
func clone(s conference.Snapshot) conference.Snapshot {
	c := s
	c.Participants = cloneParts(s.Participants)
	c.Departed = cloneParts(s.Departed)
	return c
}

func cloneParts(ps []conference.Participant) []conference.Participant {
	if ps == nil {
		return nil
	}
	out := make([]conference.Participant, len(ps))
	for i, p := range ps {
		if p.Audio != nil {
			a := *p.Audio
			p.Audio = &a
		}
		if p.Left != nil {
			l := *p.Left
			p.Left = &l
		}
		out[i] = p
	}
	return out
}

// leave moves participant id of s to Departed, the way the core does.
func leave(s *conference.Snapshot, id string, how conference.Departure, by string, at time.Time) {
	for i, p := range s.Participants {
		if p.ID == id {
			s.Participants = append(s.Participants[:i:i], s.Participants[i+1:]...)
			p.Left = &conference.Leave{Method: how, At: at, By: by}
			s.Departed = append(s.Departed, p)
			return
		}
	}
	panic("no participant " + id)
}

// subscriber is the receiving side: a confinfo.State and checks on what it
// is given.
type subscriber struct {
	t      testing.TB
	st     confinfo.State
	budget int
	docs   int
}

// apply applies docs as the NOTIFY bodies of one subscription: each must
// marshal within the budget, re-parse, and be accepted without a gap, with
// partials exactly +1.
func (s *subscriber) apply(docs []*confinfo.Document) {
	s.t.Helper()
	for _, d := range docs {
		s.docs++
		b, err := d.Marshal()
		if err != nil {
			s.t.Fatalf("marshal v%d: %v", d.Version, err)
		}
		if s.budget > 0 && len(b) > s.budget {
			s.t.Fatalf("document v%d is %d bytes, budget %d:\n%s", d.Version, len(b), s.budget, b)
		}
		p, err := confinfo.Parse(b)
		if err != nil {
			s.t.Fatalf("parse v%d: %v\n%s", d.Version, err, b)
		}
		if err := p.Validate(); err != nil {
			s.t.Fatalf("validate v%d: %v\n%s", d.Version, err, b)
		}
		prev, had := s.st.Version()
		if had && p.Version != prev+1 {
			s.t.Fatalf("version %d after %d: not exactly +1", p.Version, prev)
		}
		res, err := s.st.Apply(p)
		if err != nil {
			s.t.Fatalf("apply v%d: %v", d.Version, err)
		}
		switch res {
		case confinfo.Applied, confinfo.Replaced, confinfo.Deleted:
		default:
			s.t.Fatalf("apply v%d: %v\n%s", d.Version, res, b)
		}
	}
}

// converged fails unless the subscriber holds exactly the full rendering of
// snap (order of users aside).
func (s *subscriber) converged(snap conference.Snapshot) {
	s.t.Helper()
	want := renderer.Full(snap)
	got := s.st.Document()
	if got == nil {
		s.t.Fatal("subscriber holds nothing")
	}
	if d := confinfo.Diff(got, want); d != nil {
		s.t.Fatalf("subscriber state differs from Full(snapshot); missing change:\n%s\nheld:\n%s", d, got)
	}
}

// The helpers below set the view's feed to a snapshot and then call the
// View method, as the focus does on an event.

func upd(v *View, now time.Time, s conference.Snapshot) ([]*confinfo.Document, time.Time) {
	v.f.Set(s)
	return v.Update(now)
}

func initial(v *View, now time.Time, s conference.Snapshot) []*confinfo.Document {
	v.f.Set(s)
	return v.Initial(now)
}

func refresh(v *View, now time.Time, s conference.Snapshot) []*confinfo.Document {
	v.f.Set(s)
	return v.Refresh(now)
}

func final(v *View, now time.Time, s conference.Snapshot) []*confinfo.Document {
	v.f.Set(s)
	return v.Final(now)
}
