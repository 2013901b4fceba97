package muc

import (
	"context"
	"errors"

	"mellium.im/xmpp/jid"

	"cusax.dev/bridge/conference"
)

// onOwner serves muc#owner (XEP-0045 §10): the configuration form (get),
// its submission or cancellation, instant rooms (an empty submit) and
// destruction. The core lets owners only.
func (s *Service) onOwner(ctx context.Context, st *stanza, room string, q *node) {
	fail := func(err error) {
		var fe *formError
		if errors.As(err, &fe) {
			s.send(s.errorTo(st, room, fe.cond, fe.text))
			return
		}
		s.send(s.errorFor(st, room, err, ownerErrors...))
	}
	actor := s.actorFor(room, st.from.String())
	if st.typ == "get" {
		cfg, subject, err := s.reg.OwnerConfig(ctx, room, actor)
		switch {
		case err != nil:
			fail(err)
		case len(q.Kids) != 0:
			s.send(s.errorTo(st, room, condBadRequest, ""))
		default:
			s.send(iqResult(st, elNS(NSMUCOwner, "query", configForm(room, cfg, subject))))
		}
		return
	}
	if d := q.child(NSMUCOwner, "destroy"); d != nil {
		alt := d.attr("jid")
		if alt != "" {
			j, err := jid.Parse(alt)
			if err != nil {
				s.send(s.errorTo(st, room, condJIDMalformed, "invalid alternate venue"))
				return
			}
			alt = j.String()
		}
		reason := ""
		if r := d.child(NSMUCOwner, "reason"); r != nil {
			reason = r.Text
		}
		if err := s.reg.Destroy(ctx, room, actor, conference.OriginXMPP, reason, alt); err != nil {
			fail(err)
			return
		}
		// XEP-0045 §10.9: the occupants learn of the destruction first.
		s.sendAfterRendered(ctx, iqResult(st, nil))
		return
	}
	x := q.child(NSData, "x")
	if x == nil {
		s.send(s.errorTo(st, room, condBadRequest, "expected a data form or destroy"))
		return
	}
	switch x.attr("type") {
	case "cancel":
		// Cancelling the initial configuration destroys the new room
		// (XEP-0045 §10.1.3); otherwise nothing changes.
		if err := s.reg.CancelCreation(ctx, room, actor, conference.OriginXMPP); err != nil {
			fail(err)
			return
		}
		s.sendAfterRendered(ctx, iqResult(st, nil))
	case "submit":
		// The form applies to the configuration the owner may read; the
		// core checks again, atomically, when it applies the result.
		cur, _, err := s.reg.OwnerConfig(ctx, room, actor)
		if err != nil {
			fail(err)
			return
		}
		cfg, subject, err := parseConfig(x, cur)
		if err != nil {
			fail(err)
			return
		}
		if err := s.reg.Reconfigure(ctx, room, cfg, subject, actor, conference.OriginXMPP); err != nil {
			fail(err)
			return
		}
		// The occupants get the configuration-change notices (104…) first.
		s.sendAfterRendered(ctx, iqResult(st, nil))
	default:
		s.send(s.errorTo(st, room, condBadRequest, "the form must be of type submit or cancel"))
	}
}
