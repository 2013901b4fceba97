package muc

import (
	"context"
	"time"

	"mellium.im/xmpp/jid"

	"cusax.dev/bridge/conference"
)

// Overrides of coreErrors for messages.
var (
	postErrors = []errCase{
		{conference.ErrForbidden, condForbidden, "you have no voice in this moderated room"},
		{conference.ErrBadRequest, condNotAcceptable, "message too large"},
	}
	subjectErrors = []errCase{
		{conference.ErrForbidden, condForbidden, "you may not change the subject"},
		{conference.ErrBadRequest, condNotAcceptable, "subject too long"},
	}
	privateErrors = []errCase{
		{conference.ErrNotAllowed, condNotAllowed, "private messages are disabled in this room"},
		{conference.ErrNotFound, condItemNotFound, "no such occupant"},
		{conference.ErrNotOccupant, condNotAcceptable, "only occupants may send private messages"},
	}
	inviteErrors = []errCase{
		{conference.ErrForbidden, condForbidden, "only admins may invite to a members-only room"},
		{conference.ErrNotOccupant, condNotAcceptable, "only occupants may invite"},
		{conference.ErrBadRequest, condJIDMalformed, "invalid invitee"},
	}
)

// onMessage handles groupchat messages and subject changes to a room,
// private messages to room/nick, mediated invitations and declines, and
// message errors bounced from occupants' clients.
func (s *Service) onMessage(ctx context.Context, st *stanza) {
	room, ok := roomOf(st)
	if st.typ == "error" {
		if ok && room != "" && goneConditions[errorCondition(st.el)] {
			s.dropGhost(ctx, room, st.from.String(), "message error "+errorCondition(st.el))
		}
		return
	}
	switch {
	case !ok:
		s.send(errorReply(st, condItemNotFound, "no such room", ""))
		return
	case room == "":
		s.send(errorReply(st, condServiceUnavail, "send messages to a room", ""))
		return
	case st.to.Resourcepart() != "":
		s.privateMessage(st, room)
		return
	}
	if x := st.el.child(NSMUCUser, "x"); x != nil && (x.child(NSMUCUser, "invite") != nil || x.child(NSMUCUser, "decline") != nil) {
		s.invitation(ctx, st, room, x)
		return
	}
	if st.typ != "groupchat" {
		s.send(s.errorTo(st, room, condBadRequest, "messages to a room are of type groupchat"))
		return
	}
	from := st.from.String()
	p, present := s.occupant(room, from)
	if !present {
		if !s.exists(ctx, room) {
			s.send(s.errorTo(st, room, condItemNotFound, "no such room"))
			return
		}
		s.send(s.errorTo(st, room, condNotAcceptable, "only occupants may send messages to the room"))
		return
	}
	body, hasBody := st.el.childText("body")
	subject, hasSubject := st.el.childText("subject")
	actor := conference.Actor{ParticipantID: p.ID, JID: from}
	switch {
	case hasSubject && !hasBody:
		if err := s.reg.SetSubject(ctx, room, subject, actor, conference.OriginXMPP); err != nil {
			s.send(s.errorFor(st, room, err, subjectErrors...))
		}
	case body != "":
		id := st.id
		if id == "" {
			id = newID()
		}
		msg := conference.Message{ID: id, Body: body}
		if o := st.el.child(NSSID, "origin-id"); o != nil {
			msg.OriginID = o.attr("id")
		}
		if _, err := s.reg.Post(ctx, room, p.ID, msg, conference.OriginXMPP); err != nil {
			s.send(s.errorFor(st, room, err, postErrors...))
		}
	}
	// A groupchat without body or subject (a chat state) is not relayed.
}

// privateMessage relays a message to one occupant (XEP-0045 §7.5); the core
// says whether it may be sent.
func (s *Service) privateMessage(st *stanza, room string) {
	if st.typ == "groupchat" {
		s.send(s.errorTo(st, room, condBadRequest, "private messages are not of type groupchat"))
		return
	}
	sender, ok := s.occupant(room, st.from.String())
	if !ok {
		s.send(s.errorFor(st, room, conference.ErrNotOccupant, privateErrors...))
		return
	}
	target, err := s.reg.PrivateMessage(room, sender.ID, st.to.Resourcepart())
	if err == nil && target.JID == "" {
		err = conference.ErrNoText
	}
	if err != nil {
		s.send(s.errorFor(st, room, err, privateErrors...))
		return
	}
	fwd := el("message").set("type", st.typ).set("id", st.id).set("from", s.occJID(room, sender.Nick)).set("to", target.JID)
	for _, k := range st.el.Kids {
		if k.Name.Space != NSMUCUser {
			fwd.add(k)
		}
	}
	s.send(fwd.add(elNS(NSMUCUser, "x")))
}

// invitation relays mediated invitations (XEP-0045 §7.8.2): the core says
// whether the occupant may invite (and makes the invitee a member of a
// members-only room); the service bounds how many, passes the room
// password along, and remembers each invitation for a decline.
func (s *Service) invitation(ctx context.Context, st *stanza, room string, x *node) {
	if d := x.child(NSMUCUser, "decline"); d != nil && x.child(NSMUCUser, "invite") == nil {
		s.decline(st, room, d)
		return
	}
	from := st.from.String()
	sender, ok := s.occupant(room, from)
	if !ok {
		s.send(s.errorFor(st, room, conference.ErrNotOccupant, inviteErrors...))
		return
	}
	invites := x.children(NSMUCUser, "invite")
	targets := make([]jid.JID, 0, len(invites))
	for _, inv := range invites {
		to, err := jid.Parse(inv.attr("to"))
		if err != nil || inv.attr("to") == "" {
			s.send(s.errorTo(st, room, condJIDMalformed, "invite needs a valid 'to'"))
			return
		}
		targets = append(targets, to)
	}
	now := time.Now()
	if !s.invites.allow(room, sender.ID, len(targets), now) {
		s.send(s.errorTo(st, room, condPolicyViolation, "too many invitations; try again later"))
		return
	}
	by := s.roomJID(room)
	for i, inv := range invites {
		to := targets[i]
		password, err := s.reg.Invite(ctx, room, sender.ID, to.Bare().String(), conference.OriginXMPP)
		if err != nil {
			s.send(s.errorFor(st, room, err, inviteErrors...))
			return
		}
		s.invites.record(room, to.Bare().String(), from, now)
		out := el("invite").set("from", from)
		reason := ""
		if r := inv.child(NSMUCUser, "reason"); r != nil {
			reason = r.Text
			out.add(textEl("reason", r.Text))
		}
		ux := elNS(NSMUCUser, "x", out)
		if password != "" {
			ux.add(textEl("password", password))
		}
		body := sender.Nick + " invites you to the room " + by
		if reason != "" {
			body += ": " + reason
		}
		s.send(el("message", textEl("body", body), ux).set("from", by).set("to", to.String()).set("id", st.id))
	}
}

// decline forwards a declined invitation to the inviter (XEP-0045 §7.8.2),
// but only to one who did invite the decliner to this room: anything else
// is not-acceptable, so the room relays nothing to arbitrary JIDs.
func (s *Service) decline(st *stanza, room string, d *node) {
	to := d.attr("to")
	if to != "" {
		j, err := jid.Parse(to)
		if err != nil {
			s.send(s.errorTo(st, room, condJIDMalformed, "decline needs a valid 'to'"))
			return
		}
		to = j.String()
	}
	inviter, ok := s.invites.take(room, st.from.Bare().String(), to, time.Now())
	if !ok {
		s.send(s.errorTo(st, room, condNotAcceptable, "no invitation from that JID to decline"))
		return
	}
	dec := el("decline").set("from", st.from.Bare().String())
	if r := d.child(NSMUCUser, "reason"); r != nil {
		dec.add(textEl("reason", r.Text))
	}
	s.send(el("message", elNS(NSMUCUser, "x", dec)).set("from", s.roomJID(room)).set("to", inviter).set("id", st.id))
}
