package conference

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// One person, two legs (DESIGN.md §4, RFC 7081 §3.4): a SIP caller bound to
// a JID and that JID's MUC occupant are one participant. Whichever leg
// comes second attaches to the participant of the first; whichever leaves
// first detaches, and the participant stays with the other. A kick or ban
// removes the participant with both legs.

// otherLeg returns the present participant a join attaches to: for a bound
// caller, the JID's occupant without a call; for a chat join, a bound
// caller of the same bare JID not yet in the chat.
func (c *Conference) otherLeg(req JoinRequest) *Participant {
	switch {
	case req.Audio != nil && req.bound != "":
		for _, p := range c.parts {
			if p.Text && p.Audio == nil && bare(p.JID) == req.bound {
				return p
			}
		}
	case req.Text && req.JID != "":
		for _, p := range c.parts {
			if !p.Text && p.Bound && p.Audio != nil && bare(p.JID) == bare(req.JID) {
				return p
			}
		}
	}
	return nil
}

// attach gives participant p the leg req brings and emits LegJoined.
func (c *Conference) attach(p *Participant, req JoinRequest, aff Affiliation) (JoinResult, error) {
	others := make([]Participant, 0, len(c.parts))
	for _, o := range c.parts {
		if o != p {
			others = append(others, o.clone())
		}
	}
	ev := Event{Kind: LegJoined, Conference: c.name, Origin: req.Origin}
	if req.Audio != nil {
		a := *req.Audio
		p.Audio = &a
		p.AOR, p.Authenticated, p.Bound = req.AOR, true, true
	} else {
		nick := strings.TrimSpace(req.Nick)
		if nick == "" || len(nick) > MaxNick {
			return JoinResult{}, ErrBadRequest
		}
		if o := c.byNick(nick); o != nil && o != p {
			return JoinResult{}, ErrNickConflict
		}
		ev.Old = p.Nick
		p.Nick, p.JID, p.Text = nick, req.JID, true
		ev.History, ev.Subject, ev.SubjectBy = slices.Clone(c.history), c.subject, c.subjectBy
	}
	if aff.rank() > p.Affiliation.rank() {
		p.Affiliation = aff
		if p.Role != RoleModerator && c.defaultRole(aff) == RoleModerator {
			p.Role = RoleModerator
		}
	}
	p.Entity = c.uniqueEntity(p)
	ev.Participant, ev.Others = p.clone(), others
	c.reg.emit(ev)
	return JoinResult{Participant: p.clone(), Others: others}, nil
}

// detach removes one leg of a participant that has both: the chat (text)
// or the call, and emits LegLeft.
func (c *Conference) detach(p *Participant, text bool, how Departure, origin Origin) {
	ev := Event{Kind: LegLeft, Conference: c.name, Origin: origin, Reason: string(how)}
	if text {
		p.Text = false
		p.JID = bare(p.JID)
		ev.Old = "text"
	} else {
		p.Audio = nil
		p.Speaking = false
		delete(c.dtmf, p.ID)
		ev.Old = "audio"
	}
	ev.Participant = p.clone()
	c.reg.emit(ev)
}

// Level is a participant's participation level (RFC 7081 §4: who gets
// text, audio or both), shown on both sides.
type Level struct {
	Text  bool // in the chat room
	Audio bool // on the call
	Muted bool // on the call, but not heard
}

// Level returns the participant's participation level.
func (p *Participant) Level() Level {
	return Level{Text: p.Text, Audio: p.Audio != nil, Muted: p.Audio != nil && p.Muted}
}

// Status is the level as a short text for people (a MUC presence status).
func (l Level) Status() string {
	s := ""
	switch {
	case l.Text && l.Audio:
		s = "in the chat and on the call"
	case l.Audio:
		s = "on the call only"
	case l.Text:
		s = "in the chat only"
	}
	if l.Muted {
		s += " (muted)"
	}
	return s
}

// Name is the level as one word for machines (the admin API's level, the
// XMPP who-is-on-the-call form): "both", "audio" or "text".
func (l Level) Name() string {
	switch {
	case l.Audio && l.Text:
		return "both"
	case l.Audio:
		return "audio"
	}
	return "text"
}

// clip bounds s to max bytes at a rune boundary.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
