package conference

import (
	"context"
	"slices"
	"strings"
)

// SetParticipantAffiliation sets the affiliation of a present participant,
// addressed by id (XEP-0045 admin items by nick). The core picks the
// identity: the bare JID when the participant has one; else the SIP AOR,
// which carries rights only when digest-authenticated, so granting member,
// admin or owner to an unauthenticated caller is not allowed, while
// outcast (a ban) may name an unverified From.
func (r *Registry) SetParticipantAffiliation(ctx context.Context, room, id string, aff Affiliation, actor Actor, origin Origin, reason string) error {
	p, ok := r.Participant(room, id)
	if !ok {
		return ErrNotFound
	}
	identity, err := participantIdentity(&p, aff)
	if err != nil {
		return err
	}
	return r.SetAffiliation(ctx, room, identity, aff, actor, origin, reason)
}

// participantIdentity is the identity an affiliation of participant p is
// set on: its bare JID, else its SIP AOR when digest-authenticated (a ban
// or its lifting also takes an unauthenticated AOR; granting one rights
// is not allowed).
func participantIdentity(p *Participant, aff Affiliation) (string, error) {
	switch {
	case p.JID != "":
		return p.BareJID(), nil
	case p.AOR != "" && (p.Authenticated || aff == AffiliationOutcast || aff == AffiliationNone):
		return p.AOR, nil
	case p.AOR != "":
		return "", ErrUntrusted
	}
	return "", ErrNotFound
}

// CanReplace reports whether actor may take over participant id's call
// (SIP Replaces, RFC 3891 §6): the same digest-authenticated SIP identity,
// or a moderator who may kick that participant.
func (r *Registry) CanReplace(room, id string, actor Actor) bool {
	c := r.Lookup(room)
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.byID(id)
	if p == nil {
		return false
	}
	if actor.Authenticated && actor.AOR != "" && p.Authenticated && r.SameIdentity(actor.AOR, p.AOR) {
		return true
	}
	au := c.authorityOf(actor)
	return au.api || (au.moderator && au.self != p && p.Affiliation.rank() <= au.aff.rank())
}

// RoleList returns the present participants holding role: the voice list
// (participant) and the visitor list for moderators (XEP-0045 §8.5), the
// moderator list for admins and owners (§9.8).
func (r *Registry) RoleList(ctx context.Context, room string, role Role, actor Actor) ([]Participant, error) {
	if role != RoleModerator && role != RoleParticipant && role != RoleVisitor {
		return nil, ErrBadRequest
	}
	var out []Participant
	err := r.withConference(ctx, room, func(c *Conference) error {
		au := c.authorityOf(actor)
		switch {
		case au.api:
		case role == RoleModerator && au.aff.rank() < AffiliationAdmin.rank():
			return ErrForbidden
		case !au.moderator:
			return ErrForbidden
		}
		for _, p := range c.parts {
			if p.Role == role {
				out = append(out, p.clone())
			}
		}
		return nil
	})
	return out, err
}

// OwnerConfig returns the configuration and subject for the owner form:
// owners only (XEP-0045 §10.2); the form shows the password.
func (r *Registry) OwnerConfig(ctx context.Context, room string, actor Actor) (Config, string, error) {
	var cfg Config
	var subject string
	err := r.withConference(ctx, room, func(c *Conference) error {
		if au := c.authorityOf(actor); !au.api && au.aff != AffiliationOwner {
			return ErrForbidden
		}
		cfg, subject = c.cfg, c.subject
		cfg.Moderators = slices.Clone(c.cfg.Moderators)
		return nil
	})
	return cfg, subject, err
}

// CancelCreation is the owner cancelling the first configuration of a room
// it has just created (XEP-0045 §10.1.3): the locked room is destroyed. On a
// room that is already configured it changes nothing.
func (r *Registry) CancelCreation(ctx context.Context, room string, actor Actor, origin Origin) error {
	return r.withConference(ctx, room, func(c *Conference) error {
		if au := c.authorityOf(actor); !au.api && au.aff != AffiliationOwner {
			return ErrForbidden
		}
		if c.locked {
			c.end(ctx, Event{Reason: "configuration cancelled", Actor: actor, Origin: origin, Cause: CauseDestroyed}, true)
		}
		return nil
	})
}

// Invite lets participant inviter invite the bare JID invitee (XEP-0045
// §7.8.2): the inviter must be in the room; in a members-only room only
// admins and owners may invite, and the invitee becomes a member so that
// it can enter. It returns the room password to pass along, if any.
func (r *Registry) Invite(ctx context.Context, room, inviter, invitee string, origin Origin) (string, error) {
	invitee = r.normalizeIdentity(invitee)
	if invitee == "" || len(invitee) > MaxShort || identityScheme(invitee) != "xmpp" {
		return "", ErrBadRequest
	}
	var password string
	err := r.withConference(ctx, room, func(c *Conference) error {
		p := c.byID(inviter)
		if p == nil || !p.Text {
			return ErrNotOccupant
		}
		password = c.cfg.Password
		if !c.cfg.MembersOnly {
			return nil
		}
		au := c.authorityOf(Actor{ParticipantID: inviter})
		if au.aff.rank() < AffiliationAdmin.rank() {
			return ErrForbidden
		}
		if _, has := c.affs[invitee]; has {
			return nil // a member already, or an outcast who stays one
		}
		return c.setAffiliation(ctx, invitee, AffiliationMember, AffiliationNone, au, Actor{ParticipantID: inviter}, origin, "invited")
	})
	return password, err
}

// PrivateMessage checks that participant from may send a private message to
// the occupant called nick and returns that occupant: the room must allow
// private messages, the sender must be in the room's text side, and the
// recipient must be able to receive text (a phone-only caller cannot:
// ErrNoText).
func (r *Registry) PrivateMessage(room, from, nick string) (Participant, error) {
	c := r.Lookup(room)
	if c == nil {
		return Participant{}, ErrNotFound
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sender := c.byID(from)
	switch {
	case sender == nil || !sender.Text:
		return Participant{}, ErrNotOccupant
	case !c.cfg.AllowPrivateMessages:
		return Participant{}, ErrNotAllowed
	}
	to := c.byNick(strings.TrimSpace(nick))
	switch {
	case to == nil:
		return Participant{}, ErrNotFound
	case !to.Text:
		return Participant{}, ErrNoText
	}
	return to.clone(), nil
}

// MayWatch reports whether viewer may watch room's state (RFC 4575 §3.5):
// under WatchAnyone everybody may; under WatchParticipants (the default)
// only a present participant (viewer.ParticipantID), or the API. The focus
// asks when a subscription starts; a watcher's later hang-up does not end
// its subscription (RFC 4579 §3.4), but being ejected makes it a stranger
// again, so the focus asks once more on Kicked and Banned.
func (r *Registry) MayWatch(room string, viewer Actor) bool {
	if r.opts.WatchPolicy == WatchAnyone || viewer.API {
		return true
	}
	if viewer.ParticipantID == "" {
		return false
	}
	_, ok := r.Participant(room, viewer.ParticipantID)
	return ok
}
