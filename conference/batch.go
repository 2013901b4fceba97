package conference

import (
	"context"
	"slices"
)

// Change is one change of a moderation batch (Registry.Moderate): a role
// for a present participant (Role set), or an affiliation (Role empty) for
// a present participant's identity or for an identity given by name.
type Change struct {
	// Participant is the ID of the present participant the change is
	// about; empty for an affiliation of Identity.
	Participant string
	// Identity is a bare JID or a sip: URI (an affiliation change only).
	Identity    string
	Role        Role
	Affiliation Affiliation
	Reason      string
}

// MaxBatch is the most changes one Moderate call takes.
const MaxBatch = 64

// Moderate checks and applies a batch of role and affiliation changes by
// actor in room under the conference's lock, all or nothing: every change
// is checked first with the rules of SetRole, SetAffiliation and
// SetParticipantAffiliation (against the room as it is, by the actor's
// standing before the batch), and when one is refused nothing changes and
// its error is returned. Two changes may not concern the same participant
// (directly or through an identity): ErrBadRequest. The affiliations are
// persisted next; when the store fails, the ones written are written back
// as they were and nothing else changes (ErrStore). Then every change is
// applied and its events emitted, in order. A batch of one change is
// exactly the single call.
func (r *Registry) Moderate(ctx context.Context, room string, actor Actor, origin Origin, changes []Change) error {
	if len(changes) == 0 || len(changes) > MaxBatch {
		return ErrBadRequest
	}
	for _, ch := range changes {
		if len(ch.Reason) > MaxText || len(ch.Identity) > MaxShort {
			return ErrBadRequest
		}
		switch {
		case ch.Role != "" && (!ch.Role.Valid() || ch.Participant == ""):
			return ErrBadRequest
		case ch.Role == "" && (!ch.Affiliation.Valid() || (ch.Participant == "") == (ch.Identity == "")):
			return ErrBadRequest
		}
	}
	if err := r.loadBindings(ctx); err != nil {
		return err
	}
	if r.CanModerateAffiliations(room, actor) {
		// A ban of a JID follows its bindings, the SIP TELs of its vCard
		// among them (bounded look-ups, before the conference is locked).
		for _, ch := range changes {
			if ch.Affiliation != AffiliationOutcast {
				continue
			}
			who := ch.Identity
			if p, ok := r.Participant(room, ch.Participant); ok && ch.Participant != "" {
				who = p.BareJID()
			}
			if id := r.Canonical(who); id != "" && identityScheme(id) == "xmpp" {
				r.recordVCardAORs(ctx, id)
			}
		}
	}
	return r.withConference(ctx, room, func(c *Conference) error {
		au := c.authorityOf(actor)
		plan, err := c.planBatch(changes, au, actor)
		if err != nil {
			return err
		}
		if err := c.persistBatch(ctx, plan, au.name(actor)); err != nil {
			return err
		}
		for _, st := range plan {
			if st.p != nil {
				c.applyRole(st.p, st.Role, au, actor, origin, st.Reason)
			} else if st.old != st.Affiliation {
				c.applyAffiliation(st.identity, st.Affiliation, st.old, au, actor, origin, st.Reason)
			}
		}
		c.endIfIdle(ctx)
		return nil
	})
}

// batchStep is a checked change: a role change of p, or an affiliation
// change of identity (old: its affiliation before).
type batchStep struct {
	Change
	p        *Participant
	identity string
	old      Affiliation
}

// planBatch resolves and checks every change; the first refusal is the
// batch's. c.mu held.
func (c *Conference) planBatch(changes []Change, au authority, actor Actor) ([]batchStep, error) {
	plan := make([]batchStep, 0, len(changes))
	touched := map[*Participant]bool{}
	claim := func(ps ...*Participant) error {
		for _, p := range ps {
			if touched[p] {
				return ErrBadRequest // two changes for one participant
			}
			touched[p] = true
		}
		return nil
	}
	for _, ch := range changes {
		st := batchStep{Change: ch}
		var p *Participant
		if ch.Participant != "" {
			if p = c.byID(ch.Participant); p == nil {
				return nil, ErrNotFound
			}
		}
		if ch.Role != "" {
			if err := c.checkRole(p, ch.Role, au); err != nil {
				return nil, err
			}
			if err := claim(p); err != nil {
				return nil, err
			}
			st.p = p
			plan = append(plan, st)
			continue
		}
		id := ch.Identity
		if p != nil {
			var err error
			if id, err = participantIdentity(p, ch.Affiliation); err != nil {
				return nil, err
			}
		}
		if st.identity = c.reg.normalizeIdentity(id); st.identity == "" {
			return nil, ErrBadRequest
		}
		for _, done := range plan {
			if done.p == nil && done.identity == st.identity {
				return nil, ErrBadRequest
			}
		}
		var err error
		if st.old, err = c.checkAffiliation(st.identity, ch.Affiliation, au, actor); err != nil {
			return nil, err
		}
		if err := claim(c.holders(st.identity)...); err != nil {
			return nil, err
		}
		plan = append(plan, st)
	}
	return plan, nil
}

// holders are the present participants with identity.
func (c *Conference) holders(identity string) []*Participant {
	var out []*Participant
	for _, p := range c.parts {
		if slices.Contains(c.reg.expand(c.identities(p.JID, p.AOR)), identity) {
			out = append(out, p)
		}
	}
	return out
}

// persistBatch stores the affiliation changes of plan; when one fails, the
// ones stored before it are written back to their old values. c.mu held.
func (c *Conference) persistBatch(ctx context.Context, plan []batchStep, by string) error {
	for i, st := range plan {
		if st.p != nil || st.old == st.Affiliation {
			continue
		}
		if err := c.persistAffiliation(ctx, st.identity, st.Affiliation, by, st.Reason); err != nil {
			for _, back := range plan[:i] {
				if back.p == nil && back.old != back.Affiliation {
					if rerr := c.persistAffiliation(ctx, back.identity, back.old, by, "batch rolled back"); rerr != nil {
						c.reg.log.Error("moderation batch: affiliation not rolled back in the store", "room", c.name,
							"identity", back.identity, "err", rerr)
					}
				}
			}
			return err
		}
	}
	return nil
}
