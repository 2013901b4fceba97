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
	nick, jid   string
	reason      string
}

// onAdmin serves muc#admin: role and affiliation lists (get) and changes
// (set): voice, kick, moderator, member, admin, owner, ban (XEP-0045 §8–§10).
// The core decides who may do what.
func (s *Service) onAdmin(ctx context.Context, st *stanza, room string, q *node) {
	by := s.roomJID(room)
	items, cond, text := parseAdminItems(q, st.typ == "set")
	if cond.name != "" {
		s.send(errorReply(st, cond, text, by))
		return
	}
	if !s.exists(ctx, room) {
		s.send(errorReply(st, condItemNotFound, "no such room", by))
		return
	}
	actor := s.actorFor(room, st.from.String())
	if st.typ == "get" {
		s.adminList(ctx, st, room, actor, items[0])
		return
	}
	for _, it := range items {
		if err := s.applyAdminItem(ctx, room, actor, it); err != nil {
			cond, text := coreError(err)
			if cond == condInternal {
				s.log.Warn("admin request failed", "room", room, "err", err)
			}
			// Items applied before this one have been rendered too.
			s.sendAfterRendered(ctx, errorReply(st, cond, text, by))
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
		if it.jid != "" {
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

// applyAdminItem turns one change into a core call.
func (s *Service) applyAdminItem(ctx context.Context, room string, actor conference.Actor, it adminItem) error {
	if it.role != "" {
		p, ok := s.reg.ByNick(room, it.nick)
		if !ok {
			return conference.ErrNotFound
		}
		return s.reg.SetRole(ctx, room, p.ID, it.role, actor, conference.OriginXMPP, it.reason)
	}
	identity := it.jid
	if identity == "" {
		p, ok := s.reg.ByNick(room, it.nick)
		switch {
		case !ok:
			return conference.ErrNotFound
		case p.JID != "":
			identity = p.BareJID()
		case p.AOR != "":
			identity = p.AOR
		default:
			return conference.ErrNotFound
		}
	}
	return s.reg.SetAffiliation(ctx, room, identity, it.affiliation, actor, conference.OriginXMPP, it.reason)
}

// adminList answers a role list or an affiliation list. The moderator list
// is for admins and owners (XEP-0045 §9.8), the voice list (participants)
// and the visitor list for moderators (§8.5); the affiliation lists follow
// the core's rules (§9.3, §9.5, §10.5, §10.8).
func (s *Service) adminList(ctx context.Context, st *stanza, room string, actor conference.Actor, it adminItem) {
	by := s.roomJID(room)
	q := elNS(NSMUCAdmin, "query")
	if it.role != "" {
		aff, moderator := s.reg.Authority(room, actor)
		switch {
		case it.role == conference.RoleModerator && aff != conference.AffiliationAdmin && aff != conference.AffiliationOwner:
			s.send(errorReply(st, condForbidden, "only admins and owners may list the moderators", by))
			return
		case !moderator:
			s.send(errorReply(st, condForbidden, "only moderators may list roles", by))
			return
		}
		snap, err := s.reg.Snapshot(ctx, room)
		if err != nil {
			cond, text := coreError(err)
			s.send(errorReply(st, cond, text, by))
			return
		}
		for _, p := range snap.Participants {
			if p.Role == it.role {
				q.add(el("item").set("nick", p.Nick).set("role", string(p.Role)).set("affiliation", string(p.Affiliation)).set("jid", p.JID))
			}
		}
		s.send(iqResult(st, q))
		return
	}
	ids, err := s.reg.Affiliations(ctx, room, it.affiliation, actor)
	if err != nil {
		cond, text := coreError(err)
		s.send(errorReply(st, cond, text, by))
		return
	}
	for _, id := range ids {
		if strings.HasPrefix(id, "sip:") || strings.HasPrefix(id, "sips:") {
			continue // SIP identities have no JID to show
		}
		q.add(el("item").set("affiliation", string(it.affiliation)).set("jid", id))
	}
	s.send(iqResult(st, q))
}
