package muc

import (
	"context"
	"strings"

	"mellium.im/xmpp/jid"

	"cusax.dev/bridge/conference"
)

// adminItem is one validated <item/> of a muc#admin request.
type adminItem struct {
	role        conference.Role
	affiliation conference.Affiliation
	nick        string
	// jid is the bare JID, or a sip:/sips: URI naming a SIP identity
	// (so that a ban of a caller can be listed and lifted from XMPP).
	jid    string
	reason string
	// target is the present participant an item by nick addresses
	// (resolved by checkAdminItems).
	target conference.Participant
}

// onAdmin serves muc#admin: role and affiliation lists (get) and changes
// (set): voice, kick, moderator, member, admin, owner, ban (XEP-0045 §8–§10).
// The core decides who may do what.
func (s *Service) onAdmin(ctx context.Context, st *stanza, room string, q *node) {
	items, cond, text := parseAdminItems(q, st.typ == "set")
	if cond.name != "" {
		s.send(s.errorTo(st, room, cond, text))
		return
	}
	if !s.exists(ctx, room) {
		s.send(s.errorTo(st, room, condItemNotFound, "no such room"))
		return
	}
	actor := s.actorFor(room, st.from.String())
	if st.typ == "get" {
		s.adminList(ctx, st, room, actor, items[0])
		return
	}
	if err := s.checkAdminItems(room, actor, items); err != nil {
		s.send(s.errorFor(st, room, err))
		return
	}
	for i, it := range items {
		if err := s.applyAdminItem(ctx, room, actor, it); err != nil {
			if i > 0 {
				s.log.Warn("muc#admin request partly applied", "room", room, "applied", i, "items", len(items), "err", err)
			}
			// Items applied before this one have been rendered too.
			s.sendAfterRendered(ctx, s.errorFor(st, room, err))
			return
		}
	}
	// XEP-0045 §8.2, §9.1: the occupants (the moderator among them) get the
	// presences of the change first, then the moderator the result.
	s.sendAfterRendered(ctx, iqResult(st, nil))
}

// parseAdminItems validates the items: role or affiliation, never both;
// roles by nick, affiliations by jid (or nick of a present occupant). A
// non-empty condition reports the first problem.
func parseAdminItems(q *node, set bool) ([]adminItem, condition, string) {
	raw := q.children(NSMUCAdmin, "item")
	if len(raw) == 0 {
		return nil, condBadRequest, "no item"
	}
	if !set && len(raw) != 1 {
		return nil, condBadRequest, "one item per list request"
	}
	var items []adminItem
	for _, r := range raw {
		it := adminItem{role: conference.Role(r.attr("role")), affiliation: conference.Affiliation(r.attr("affiliation")),
			nick: r.attr("nick"), jid: r.attr("jid")}
		if rs := r.child(NSMUCAdmin, "reason"); rs != nil {
			it.reason = rs.Text
		}
		switch {
		case (it.role == "") == (it.affiliation == ""):
			return nil, condBadRequest, "an item sets either a role or an affiliation"
		case it.role != "" && (!it.role.Valid() || (!set && it.role == conference.RoleNone)):
			return nil, condBadRequest, "unknown role"
		case it.affiliation != "" && (!it.affiliation.Valid() || (!set && it.affiliation == conference.AffiliationNone)):
			return nil, condBadRequest, "unknown affiliation"
		case set && it.role != "" && it.nick == "":
			return nil, condBadRequest, "a role is set by nick"
		case set && it.affiliation != "" && it.jid == "" && it.nick == "":
			return nil, condBadRequest, "an affiliation is set by jid"
		}
		switch {
		case it.jid == "":
		case strings.HasPrefix(it.jid, "sip:") || strings.HasPrefix(it.jid, "sips:"):
			// A SIP identity: the core canonicalises it.
		default:
			j, err := jid.Parse(it.jid)
			if err != nil {
				return nil, condJIDMalformed, "invalid jid"
			}
			it.jid = j.Bare().String()
		}
		items = append(items, it)
	}
	return items, condition{}, ""
}

// checkAdminItems resolves the items addressed by nick and, for a request of
// several items, checks beforehand that the actor may make each change, so
// that a refusal leaves the room untouched. The core checks every change
// again when it is applied; this pre-check asks it only what it answers
// through Authority (who moderates, whose affiliation is admin or owner),
// which covers the refusals of XEP-0045 §8–§10 that do not depend on the
// target. (Making a batch fully atomic needs a batch call in the core.)
func (s *Service) checkAdminItems(room string, actor conference.Actor, items []adminItem) error {
	for i := range items {
		it := &items[i]
		if it.role == "" && it.jid != "" {
			continue
		}
		p, ok := s.reg.ByNick(room, it.nick)
		if !ok {
			return conference.ErrNotFound
		}
		it.target = p
	}
	if len(items) < 2 {
		return nil
	}
	aff, moderator := s.reg.Authority(room, actor)
	admin := aff == conference.AffiliationAdmin || aff == conference.AffiliationOwner
	for _, it := range items {
		switch {
		case it.role != "" && it.target.ID == actor.ParticipantID:
			// Oneself: the core decides (self-mute is allowed).
		case it.role != "" && !moderator:
			return conference.ErrForbidden
		case it.role == conference.RoleModerator || (it.role != "" && it.role != conference.RoleNone && it.target.Role == conference.RoleModerator):
			if !admin {
				return conference.ErrForbidden
			}
		case it.affiliation != "" && !admin:
			return conference.ErrForbidden
		case (it.affiliation == conference.AffiliationAdmin || it.affiliation == conference.AffiliationOwner) && aff != conference.AffiliationOwner:
			return conference.ErrNotAllowed
		}
	}
	return nil
}

// applyAdminItem turns one change into a core call.
func (s *Service) applyAdminItem(ctx context.Context, room string, actor conference.Actor, it adminItem) error {
	switch {
	case it.role != "":
		return s.reg.SetRole(ctx, room, it.target.ID, it.role, actor, conference.OriginXMPP, it.reason)
	case it.jid != "":
		return s.reg.SetAffiliation(ctx, room, it.jid, it.affiliation, actor, conference.OriginXMPP, it.reason)
	default:
		// By nick: the core picks the participant's identity.
		return s.reg.SetParticipantAffiliation(ctx, room, it.target.ID, it.affiliation, actor, conference.OriginXMPP, it.reason)
	}
}

// adminList answers a role list (the core decides who may see which,
// XEP-0045 §8.5, §9.8) or an affiliation list (§9.3, §9.5, §10.5, §10.8).
// SIP identities appear in affiliation lists with their sip: URI in the
// jid attribute (the muc#admin schema types it as a string): not a JID,
// but what an admin needs to see and to send back to lift a ban.
func (s *Service) adminList(ctx context.Context, st *stanza, room string, actor conference.Actor, it adminItem) {
	q := elNS(NSMUCAdmin, "query")
	if it.role != "" {
		ps, err := s.reg.RoleList(ctx, room, it.role, actor)
		if err != nil {
			s.send(s.errorFor(st, room, err))
			return
		}
		for _, p := range ps {
			q.add(el("item").set("nick", p.Nick).set("role", string(p.Role)).set("affiliation", string(p.Affiliation)).set("jid", p.JID))
		}
		s.send(iqResult(st, q))
		return
	}
	ids, err := s.reg.Affiliations(ctx, room, it.affiliation, actor)
	if err != nil {
		s.send(s.errorFor(st, room, err))
		return
	}
	for _, id := range ids {
		q.add(el("item").set("affiliation", string(it.affiliation)).set("jid", id))
	}
	s.send(iqResult(st, q))
}
