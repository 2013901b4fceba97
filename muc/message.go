package muc

import (
	"context"
	"errors"

	"mellium.im/xmpp/jid"

	"cusax.dev/bridge/conference"
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
		s.privateMessage(ctx, st, room)
		return
	}
	if x := st.el.child(NSMUCUser, "x"); x != nil && (x.child(NSMUCUser, "invite") != nil || x.child(NSMUCUser, "decline") != nil) {
		s.invitation(ctx, st, room, x)
		return
	}
	if st.typ != "groupchat" {
		s.send(errorReply(st, condBadRequest, "messages to a room are of type groupchat", s.roomJID(room)))
		return
	}
	from := st.from.String()
	p, present := s.occupant(room, from)
	if !present {
		if !s.exists(ctx, room) {
			s.send(errorReply(st, condItemNotFound, "no such room", s.roomJID(room)))
			return
		}
		s.send(errorReply(st, condNotAcceptable, "only occupants may send messages to the room", s.roomJID(room)))
		return
	}
	body, hasBody := st.el.childText("body")
	subject, hasSubject := st.el.childText("subject")
	if len(body) > maxText || len(subject) > maxText {
		s.send(errorReply(st, condNotAcceptable, "message too long", s.roomJID(room)))
		return
	}
	actor := conference.Actor{ParticipantID: p.ID, JID: from}
	switch {
	case hasSubject && !hasBody:
		if err := s.reg.SetSubject(ctx, room, subject, actor, conference.OriginXMPP); err != nil {
			cond, text := coreError(err)
			if cond == condForbidden {
				text = "you may not change the subject"
			}
			s.send(errorReply(st, cond, text, s.roomJID(room)))
		}
	case hasBody:
		id := st.id
		if id == "" || len(id) > 256 {
			id = newID()
		}
		if _, err := s.reg.Post(ctx, room, p.ID, conference.Message{ID: id, Body: body}, conference.OriginXMPP); err != nil {
			cond, text := coreError(err)
			if cond == condForbidden {
				text = "you have no voice in this moderated room"
			}
			if cond == condInternal {
				s.log.Warn("post failed", "room", room, "err", err)
			}
			s.send(errorReply(st, cond, text, s.roomJID(room)))
		}
	}
	// A groupchat without body or subject (a chat state) is not relayed.
}

// privateMessage relays a message to one occupant (XEP-0045 §7.5).
func (s *Service) privateMessage(ctx context.Context, st *stanza, room string) {
	by := s.roomJID(room)
	if st.typ == "groupchat" {
		s.send(errorReply(st, condBadRequest, "private messages are not of type groupchat", by))
		return
	}
	sender, ok := s.occupant(room, st.from.String())
	if !ok {
		s.send(errorReply(st, condNotAcceptable, "only occupants may send private messages", by))
		return
	}
	cfg, err := s.reg.Config(ctx, room)
	if err != nil {
		cond, text := coreError(err)
		s.send(errorReply(st, cond, text, by))
		return
	}
	if !cfg.AllowPrivateMessages {
		s.send(errorReply(st, condNotAllowed, "private messages are disabled in this room", by))
		return
	}
	target, ok := s.reg.ByNick(room, st.to.Resourcepart())
	if !ok {
		s.send(errorReply(st, condItemNotFound, "no such occupant", by))
		return
	}
	if !target.Text || target.JID == "" {
		s.send(errorReply(st, condServiceUnavail, "that occupant is in the audio conference only and cannot receive messages", by))
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

// invitation relays mediated invitations and declines (XEP-0045 §7.8.2).
func (s *Service) invitation(ctx context.Context, st *stanza, room string, x *node) {
	by := s.roomJID(room)
	from := st.from.String()
	if d := x.child(NSMUCUser, "decline"); d != nil && x.child(NSMUCUser, "invite") == nil {
		to, err := jid.Parse(d.attr("to"))
		if err != nil || d.attr("to") == "" {
			s.send(errorReply(st, condJIDMalformed, "decline needs a valid 'to'", by))
			return
		}
		dec := el("decline").set("from", st.from.Bare().String())
		if r := d.child(NSMUCUser, "reason"); r != nil {
			dec.add(textEl("reason", r.Text))
		}
		s.send(el("message", elNS(NSMUCUser, "x", dec)).set("from", by).set("to", to.String()).set("id", st.id))
		return
	}
	sender, ok := s.occupant(room, from)
	if !ok {
		s.send(errorReply(st, condNotAcceptable, "only occupants may invite", by))
		return
	}
	snap, err := s.reg.Snapshot(ctx, room)
	if err != nil {
		cond, text := coreError(err)
		s.send(errorReply(st, cond, text, by))
		return
	}
	admin := sender.Affiliation == conference.AffiliationAdmin || sender.Affiliation == conference.AffiliationOwner
	if snap.Config.MembersOnly && !admin {
		s.send(errorReply(st, condForbidden, "only admins may invite to a members-only room", by))
		return
	}
	invites := x.children(NSMUCUser, "invite")
	targets := make([]jid.JID, 0, len(invites))
	for _, inv := range invites {
		to, err := jid.Parse(inv.attr("to"))
		if err != nil || inv.attr("to") == "" {
			s.send(errorReply(st, condJIDMalformed, "invite needs a valid 'to'", by))
			return
		}
		targets = append(targets, to)
	}
	for i, inv := range invites {
		to := targets[i]
		if snap.Config.MembersOnly {
			// The admin's invitation makes the invitee a member, or it could
			// not enter (XEP-0045 §7.8.2).
			id := to.Bare().String()
			if _, has := snap.Affiliations[id]; !has {
				err := s.reg.SetAffiliation(ctx, room, id, conference.AffiliationMember, conference.Actor{ParticipantID: sender.ID, JID: from}, conference.OriginXMPP, "invited")
				if err != nil && !errors.Is(err, conference.ErrConflict) {
					s.log.Info("invitee not made member", "room", room, "err", err)
				}
			}
		}
		out := el("invite").set("from", from)
		reason := ""
		if r := inv.child(NSMUCUser, "reason"); r != nil {
			reason = r.Text
			out.add(textEl("reason", r.Text))
		}
		ux := elNS(NSMUCUser, "x", out)
		if snap.Config.Password != "" {
			ux.add(textEl("password", snap.Config.Password))
		}
		body := sender.Nick + " invites you to the room " + by
		if reason != "" {
			body += ": " + reason
		}
		s.send(el("message", textEl("body", body), ux).set("from", by).set("to", to.String()).set("id", st.id))
	}
}
