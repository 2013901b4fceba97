package muc

import (
	"context"
	"errors"

	"mellium.im/xmpp/jid"

	"cusax.dev/bridge/conference"
)

// onOwner serves muc#owner (XEP-0045 §10): the configuration form (get),
// its submission or cancellation, instant rooms (an empty submit) and
// destruction. Owners only.
func (s *Service) onOwner(ctx context.Context, st *stanza, room string, q *node) {
	by := s.roomJID(room)
	fail := func(err error) {
		cond, text := coreError(err)
		var fe *formError
		if errors.As(err, &fe) {
			cond, text = fe.cond, fe.text
		} else if errors.Is(err, conference.ErrBadRequest) {
			cond, text = condNotAcceptable, "the configuration cannot be applied"
		}
		if cond == condInternal {
			s.log.Warn("owner request failed", "room", room, "err", err)
		}
		s.send(errorReply(st, cond, text, by))
	}
	snap, err := s.reg.Snapshot(ctx, room)
	if err != nil {
		fail(err)
		return
	}
	actor := s.actorFor(room, st.from.String())
	if aff, _ := s.reg.Authority(room, actor); aff != conference.AffiliationOwner {
		s.send(errorReply(st, condForbidden, "only owners may configure the room", by))
		return
	}
	if st.typ == "get" {
		if len(q.Kids) != 0 {
			s.send(errorReply(st, condBadRequest, "", by))
			return
		}
		s.send(iqResult(st, elNS(NSMUCOwner, "query", configForm(snap))))
		return
	}
	if d := q.child(NSMUCOwner, "destroy"); d != nil {
		alt := d.attr("jid")
		if alt != "" {
			j, err := jid.Parse(alt)
			if err != nil {
				s.send(errorReply(st, condJIDMalformed, "invalid alternate venue", by))
				return
			}
			alt = j.String()
		}
		reason := ""
		if r := d.child(NSMUCOwner, "reason"); r != nil {
			reason = r.Text
		}
		s.mu.Lock()
		s.destroyAlt[room] = alt
		s.mu.Unlock()
		if err := s.reg.Destroy(ctx, room, actor, conference.OriginXMPP, reason, alt); err != nil {
			s.mu.Lock()
			delete(s.destroyAlt, room)
			s.mu.Unlock()
			fail(err)
			return
		}
		// XEP-0045 §10.9: the occupants learn of the destruction first.
		s.sendAfterRendered(ctx, iqResult(st, nil))
		return
	}
	x := q.child(NSData, "x")
	if x == nil {
		s.send(errorReply(st, condBadRequest, "expected a data form or destroy", by))
		return
	}
	switch x.attr("type") {
	case "cancel":
		// Cancelling the initial configuration destroys the new room
		// (XEP-0045 §10.1.3); otherwise nothing changes.
		if snap.Locked {
			if err := s.reg.Destroy(ctx, room, actor, conference.OriginXMPP, "configuration cancelled", ""); err != nil {
				fail(err)
				return
			}
		}
		s.sendAfterRendered(ctx, iqResult(st, nil))
	case "submit":
		cfg, subject, err := parseConfig(x, snap.Config, snap.Subject)
		if err != nil {
			fail(err)
			return
		}
		if err := s.reg.Configure(ctx, room, cfg, actor, conference.OriginXMPP); err != nil {
			fail(err)
			return
		}
		if subject != snap.Subject {
			if err := s.reg.SetSubject(ctx, room, subject, actor, conference.OriginXMPP); err != nil {
				fail(err)
				return
			}
		}
		// The occupants get the configuration-change notices (104…) first.
		s.sendAfterRendered(ctx, iqResult(st, nil))
	default:
		s.send(errorReply(st, condBadRequest, "the form must be of type submit or cancel", by))
	}
}
