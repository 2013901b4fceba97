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
	changes, err := s.adminChanges(room, items)
	if err == nil {
		// The core checks and applies the whole request, all or nothing.
		err = s.reg.Moderate(ctx, room, actor, conference.OriginXMPP, changes)
	}
	if err != nil {
		s.send(s.errorFor(st, room, err))
		return
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
	if len(raw) > conference.MaxBatch {
		return nil, condBadRequest, "too many items"
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

// adminChanges translates the items of a muc#admin set into the core's
// changes: an item by nick names the present participant with that nick
// (ErrNotFound when there is none), an affiliation by jid names the
// identity.
func (s *Service) adminChanges(room string, items []adminItem) ([]conference.Change, error) {
	changes := make([]conference.Change, 0, len(items))
	for _, it := range items {
		ch := conference.Change{Role: it.role, Affiliation: it.affiliation, Reason: it.reason}
		if it.role == "" && it.jid != "" {
			ch.Identity = it.jid
		} else {
			p, ok := s.reg.ByNick(room, it.nick)
			if !ok {
				return nil, conference.ErrNotFound
			}
			ch.Participant = p.ID
		}
		changes = append(changes, ch)
	}
	return changes, nil
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
