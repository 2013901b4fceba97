package muc

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"cusax.dev/bridge/conference"
)

// handle routes one incoming stanza. It answers bad input with stanza errors
// and never fails: the stream outlives any single stanza.
func (s *Service) handle(ctx context.Context, n *node) {
	kind := n.Name.Local
	s.count(kind, "in")
	if kind != "presence" && kind != "message" && kind != "iq" {
		return
	}
	st, err := newStanza(n)
	if err != nil {
		if st != nil && st.typ != "error" && st.typ != "result" {
			st.to = s.domain
			s.send(errorReply(st, condJIDMalformed, "invalid 'to' address", ""))
		}
		s.log.Debug("stanza with bad addressing dropped", "kind", kind, "from", n.attr("from"), "to", n.attr("to"))
		return
	}
	if st.to.Domainpart() != s.domain.Domainpart() {
		s.log.Debug("stanza for another domain dropped", "to", st.to.String())
		return
	}
	switch kind {
	case "presence":
		s.onPresence(ctx, st)
	case "message":
		s.onMessage(ctx, st)
	case "iq":
		s.onIQ(ctx, st)
	}
}

// roomOf returns the normalised room name st is addressed to, or "" for the
// service itself. ok is false for a name that cannot be a room.
func roomOf(st *stanza) (room string, ok bool) {
	if st.to.Localpart() == "" {
		return "", true
	}
	return conference.NormalizeName(st.to.Localpart())
}

// onIQ serves disco, ping, muc#admin and muc#owner; anything else gets
// service-unavailable.
func (s *Service) onIQ(ctx context.Context, st *stanza) {
	switch st.typ {
	case "result", "error":
		return // answers to our pings are taken by the session; others are of no use
	case "get", "set":
	default:
		s.send(errorReply(st, condBadRequest, "unknown IQ type", ""))
		return
	}
	if len(st.el.Kids) != 1 {
		s.send(errorReply(st, condBadRequest, "an IQ get or set carries exactly one payload", ""))
		return
	}
	room, ok := roomOf(st)
	if !ok {
		s.send(errorReply(st, condItemNotFound, "no such room", ""))
		return
	}
	q := st.el.Kids[0]
	if st.to.Resourcepart() != "" {
		s.occupantIQ(st, room, q)
		return
	}
	get := st.typ == "get"
	switch {
	case get && q.Name.Space == NSDiscoInfo && q.Name.Local == "query":
		s.discoInfo(ctx, st, room, q)
	case get && q.Name.Space == NSDiscoItem && q.Name.Local == "query":
		s.discoItems(ctx, st, room, q)
	case get && q.Name.Space == NSPing && q.Name.Local == "ping":
		if room != "" && !s.exists(ctx, room) {
			s.send(s.errorTo(st, room, condItemNotFound, "no such room"))
			return
		}
		s.send(iqResult(st, nil))
	case room != "" && q.Name.Space == NSMUCAdmin && q.Name.Local == "query":
		s.onAdmin(ctx, st, room, q)
	case room != "" && q.Name.Space == NSMUCOwner && q.Name.Local == "query":
		s.onOwner(ctx, st, room, q)
	case room != "" && q.Name.Space == NSCommands && q.Name.Local == "command":
		s.onCommand(ctx, st, room, q)
	default:
		s.send(errorReply(st, condServiceUnavail, "", ""))
	}
}

// occupantIQ answers IQs addressed to room/nick: a self-ping (XEP-0410) gets
// a result; IQs are not forwarded to occupants.
func (s *Service) occupantIQ(st *stanza, room string, q *node) {
	p, ok := s.occupant(room, st.from.String())
	switch {
	case !ok:
		s.send(s.errorTo(st, room, condNotAcceptable, "you are not in the room"))
	case st.typ == "get" && q.Name.Space == NSPing && q.Name.Local == "ping" && p.Nick == st.to.Resourcepart():
		s.send(iqResult(st, nil))
	default:
		s.send(s.errorTo(st, room, condServiceUnavail, ""))
	}
}

// occupant returns room's XMPP participant whose client is jid (a full JID).
func (s *Service) occupant(room, jid string) (conference.Participant, bool) {
	ps := s.reg.Find(room, func(p *conference.Participant) bool { return p.Text && p.JID == jid })
	if len(ps) == 0 {
		return conference.Participant{}, false
	}
	return ps[0], true
}

// actorFor is the conference actor for a request from jid to room.
func (s *Service) actorFor(room, jid string) conference.Actor {
	a := conference.Actor{JID: jid}
	if p, ok := s.occupant(room, jid); ok {
		a.ParticipantID = p.ID
	}
	return a
}

func (s *Service) exists(ctx context.Context, room string) bool {
	ok, err := s.reg.Exists(ctx, room)
	return err == nil && ok
}

// newID returns a random stanza id.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
