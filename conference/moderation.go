package conference

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"cusax.dev/bridge/store"
)

// authority is what an actor may do in a conference: its effective
// affiliation and whether it holds the moderator role.
type authority struct {
	self      *Participant // the actor's participant, if present
	aff       Affiliation
	moderator bool
	api       bool
}

// authorityOf resolves an actor against the room. An unauthenticated SIP
// From is never trusted: the AOR counts only with Authenticated.
func (c *Conference) authorityOf(a Actor) authority {
	if a.API {
		return authority{aff: AffiliationOwner, moderator: true, api: true}
	}
	var au authority
	var jid, aor string
	authenticated := a.Authenticated
	if a.ParticipantID != "" {
		if p := c.byID(a.ParticipantID); p != nil {
			au.self = p
			au.moderator = p.Role == RoleModerator
			jid, aor = p.JID, p.AOR
			authenticated = authenticated || p.Authenticated
		}
	}
	if a.JID != "" {
		jid = a.JID
	}
	if a.AOR != "" && a.Authenticated {
		aor = a.AOR
	}
	if !authenticated {
		aor = ""
	}
	au.aff = c.affiliationOf(c.identities(jid, aor), authenticated)
	if au.aff == AffiliationOutcast {
		au.aff = AffiliationNone
	}
	if au.aff.rank() >= AffiliationAdmin.rank() {
		au.moderator = true
	}
	return au
}

func (au authority) name(a Actor) string {
	switch {
	case a.Name != "":
		return a.Name
	case au.self != nil && au.self.AOR != "":
		return au.self.AOR
	case au.self != nil && au.self.JID != "":
		return "xmpp:" + au.self.BareJID()
	case a.AOR != "":
		return a.AOR
	case a.JID != "":
		return "xmpp:" + bare(a.JID)
	case a.API:
		return "api"
	}
	return ""
}

// Authority returns actor's effective affiliation in room (stored, or
// raised by the room's moderators list) and whether it moderates. Adapters
// use it to decide what to show (owner forms, lists); the actions themselves
// check again.
func (r *Registry) Authority(room string, actor Actor) (Affiliation, bool) {
	c := r.Lookup(room)
	if c == nil {
		if actor.API {
			return AffiliationOwner, true
		}
		return AffiliationNone, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	au := c.authorityOf(actor)
	return au.aff, au.moderator
}

// CanModerate reports whether actor may mute and kick in room.
func (r *Registry) CanModerate(room string, actor Actor) bool {
	c := r.Lookup(room)
	if c == nil {
		return actor.API
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.authorityOf(actor).moderator
}

// Mute takes participant target's audio out of the mix (mute=true) or back
// in. A participant may always mute itself and unmute itself unless a
// moderator muted it; muting others needs a moderator, and nobody may mute
// an admin or owner (XEP-0045 §8.4). In the MUC a muted participant's role
// is visitor, unless it is a moderator.
func (r *Registry) Mute(ctx context.Context, room, target string, mute bool, actor Actor, origin Origin, reason string) error {
	if len(reason) > MaxText {
		return ErrBadRequest
	}
	return r.withConference(ctx, room, func(c *Conference) error { return c.mute(target, mute, actor, origin, reason) })
}

func (c *Conference) mute(target string, mute bool, actor Actor, origin Origin, reason string) error {
	p := c.byID(target)
	if p == nil {
		return ErrNotFound
	}
	au := c.authorityOf(actor)
	if err := c.checkMute(p, mute, au); err != nil {
		return err
	}
	c.applyMute(p, mute, au, actor, origin, reason)
	return nil
}

// checkMute is the rule of Mute for participant p and an actor of
// authority au.
func (c *Conference) checkMute(p *Participant, mute bool, au authority) error {
	self := au.self == p && !au.api
	switch {
	case self && (mute || !p.MutedByModerator):
	case !au.moderator:
		return ErrForbidden
	case mute && !au.api && p.Affiliation.rank() >= AffiliationAdmin.rank():
		return ErrNotAllowed
	}
	return nil
}

// applyMute mutes or unmutes p after checkMute allowed it.
func (c *Conference) applyMute(p *Participant, mute bool, au authority, actor Actor, origin Origin, reason string) {
	if p.Muted == mute {
		if mute && !(au.self == p && !au.api) && !p.MutedByModerator {
			// A moderator mutes someone who muted itself: the core records
			// who muted (only a moderator may lift it now) and says so,
			// so the MUC shows the revoked voice (issue 8, defect 1).
			p.MutedByModerator = true
			p.MutedBy = au.name(actor)
			old := p.Role
			if p.Role != RoleModerator {
				p.Role = RoleVisitor
			}
			c.reg.emit(Event{Kind: Muted, Conference: c.name, Participant: p.clone(), Actor: actor, Origin: origin, Reason: reason, Old: string(old)})
		}
		return
	}
	self := au.self == p && !au.api
	old := p.Role
	p.Muted = mute
	p.MutedByModerator = mute && !self
	p.MutedBy = ""
	if mute {
		p.MutedBy = au.name(actor)
	}
	kind := Unmuted
	if mute {
		kind = Muted
		if p.Role != RoleModerator {
			p.Role = RoleVisitor
		}
	} else if p.Role == RoleVisitor {
		p.Role = RoleParticipant
	}
	c.reg.emit(Event{Kind: kind, Conference: c.name, Participant: p.clone(), Actor: actor, Origin: origin, Reason: reason, Old: string(old)})
}

// SetRole applies a XEP-0045 role change to participant target: none kicks,
// visitor and participant revoke and grant voice (mute), moderator grants
// the moderator role (admins and owners only, §9.6), and participant on a
// moderator revokes it (§9.7).
func (r *Registry) SetRole(ctx context.Context, room, target string, role Role, actor Actor, origin Origin, reason string) error {
	if !role.Valid() || len(reason) > MaxText {
		return ErrBadRequest
	}
	return r.withConference(ctx, room, func(c *Conference) error {
		p := c.byID(target)
		if p == nil {
			return ErrNotFound
		}
		au := c.authorityOf(actor)
		if err := c.checkRole(p, role, au); err != nil {
			return err
		}
		c.applyRole(p, role, au, actor, origin, reason)
		c.endIfIdle(ctx)
		return nil
	})
}

// checkRole is the rule of SetRole for participant p and an actor of
// authority au.
func (c *Conference) checkRole(p *Participant, role Role, au authority) error {
	switch {
	case role == RoleNone:
		return c.checkKick(p, au)
	case role == RoleVisitor && p.Role == RoleModerator:
		if !au.api && au.aff.rank() < AffiliationAdmin.rank() {
			return ErrForbidden
		}
		if !au.api && p.Affiliation.rank() >= AffiliationAdmin.rank() {
			return ErrNotAllowed
		}
		return c.checkMute(p, true, au)
	case role == RoleVisitor:
		return c.checkMute(p, true, au)
	case role == RoleModerator || (role == RoleParticipant && p.Role == RoleModerator):
		if !au.api && au.aff.rank() < AffiliationAdmin.rank() {
			return ErrForbidden
		}
		if role == RoleModerator && p.JID == "" && !p.Authenticated {
			return ErrUntrusted // an unverified From gets no rights
		}
		if role == RoleParticipant && !au.api && p.Affiliation.rank() >= AffiliationAdmin.rank() {
			return ErrNotAllowed
		}
		return nil
	default: // participant from visitor
		return c.checkMute(p, false, au)
	}
}

// applyRole makes the role change checkRole allowed (the caller ends an
// idle conference afterwards).
func (c *Conference) applyRole(p *Participant, role Role, au authority, actor Actor, origin Origin, reason string) {
	switch {
	case role == RoleNone:
		c.applyKick(p, au, actor, origin, reason)
	case role == RoleVisitor && p.Role == RoleModerator:
		c.setRole(p, RoleParticipant, actor, origin, reason)
		c.applyMute(p, true, au, actor, origin, reason)
	case role == RoleVisitor:
		c.applyMute(p, true, au, actor, origin, reason)
	case role == RoleModerator || (role == RoleParticipant && p.Role == RoleModerator):
		c.setRole(p, role, actor, origin, reason)
	default:
		c.applyMute(p, false, au, actor, origin, reason)
	}
}

func (c *Conference) setRole(p *Participant, role Role, actor Actor, origin Origin, reason string) {
	if p.Role == role {
		return
	}
	old := p.Role
	p.Role = role
	c.reg.emit(Event{Kind: RoleChanged, Conference: c.name, Participant: p.clone(), Actor: actor, Origin: origin, Reason: reason, Old: string(old)})
}

// Kick removes participant target (XEP-0045 §8.2, RFC 4579 §5.11): the
// actor must moderate, may not kick itself (conflict) nor anyone of a higher
// affiliation (not-allowed).
func (r *Registry) Kick(ctx context.Context, room, target string, actor Actor, origin Origin, reason string) error {
	if len(reason) > MaxText {
		return ErrBadRequest
	}
	return r.withConference(ctx, room, func(c *Conference) error {
		p := c.byID(target)
		if p == nil {
			return ErrNotFound
		}
		return c.kick(ctx, p, c.authorityOf(actor), actor, origin, reason)
	})
}

func (c *Conference) kick(ctx context.Context, p *Participant, au authority, actor Actor, origin Origin, reason string) error {
	if err := c.checkKick(p, au); err != nil {
		return err
	}
	c.applyKick(p, au, actor, origin, reason)
	c.endIfIdle(ctx)
	return nil
}

// checkKick is the rule of Kick for participant p and an actor of
// authority au.
func (c *Conference) checkKick(p *Participant, au authority) error {
	switch {
	case !au.moderator:
		return ErrForbidden
	case au.self == p && !au.api:
		return ErrConflict
	case !au.api && p.Affiliation.rank() > au.aff.rank():
		return ErrNotAllowed
	}
	return nil
}

// applyKick removes p after checkKick allowed it (the caller ends an idle
// conference afterwards).
func (c *Conference) applyKick(p *Participant, au authority, actor Actor, origin Origin, reason string) {
	gone := c.remove(p, Booted, c.publicActor(au, actor), reason)
	c.reg.emit(Event{Kind: Kicked, Conference: c.name, Participant: gone, Actor: actor, Origin: origin, Reason: reason, Cause: CauseModerator})
}

// SetAffiliation sets identity's affiliation (XEP-0045 §9, §10). Identity is
// a bare JID or a sip: URI. Admins and owners may grant member, none and
// outcast; only owners grant or revoke admin and owner; nobody acts on an
// identity of a higher affiliation than its own (admins not even on equals);
// banning oneself is a conflict, as is removing the last owner. Outcast
// removes every present participant of that identity (Banned events).
func (r *Registry) SetAffiliation(ctx context.Context, room, identity string, aff Affiliation, actor Actor, origin Origin, reason string) error {
	if !aff.Valid() || len(reason) > MaxText || len(identity) > MaxShort {
		return ErrBadRequest
	}
	identity = r.normalizeIdentity(identity)
	if identity == "" {
		return ErrBadRequest
	}
	if err := r.loadBindings(ctx); err != nil {
		return err
	}
	if aff == AffiliationOutcast && identityScheme(identity) == "xmpp" && r.CanModerateAffiliations(room, actor) {
		// DESIGN.md §6: the ban follows the JID's bindings, among them the
		// SIP TELs of its vCard as it reads now (bounded look-up, made
		// before the conference is locked).
		r.recordVCardAORs(ctx, identity)
	}
	return r.withConference(ctx, room, func(c *Conference) error {
		au := c.authorityOf(actor)
		old, err := c.checkAffiliation(identity, aff, au, actor)
		if err != nil || old == aff {
			return err
		}
		return c.setAffiliation(ctx, identity, aff, old, au, actor, origin, reason)
	})
}

// checkAffiliation is the rule of SetAffiliation for a canonical identity
// and an actor of authority au; it returns the identity's affiliation
// before the change.
func (c *Conference) checkAffiliation(identity string, aff Affiliation, au authority, actor Actor) (Affiliation, error) {
	old, ok := c.affs[identity]
	if !ok {
		old = AffiliationNone
	}
	needOwner := aff.rank() >= AffiliationAdmin.rank() || old.rank() >= AffiliationAdmin.rank()
	switch {
	case au.api:
	case au.aff.rank() < AffiliationAdmin.rank():
		return old, ErrForbidden
	case needOwner && au.aff != AffiliationOwner:
		return old, ErrNotAllowed
	}
	if au.self != nil && slices.Contains(c.identities(au.self.JID, au.self.AOR), identity) && aff == AffiliationOutcast {
		return old, ErrConflict
	}
	if !au.api && aff == AffiliationOutcast && bare(actor.JID) == identity {
		return old, ErrConflict
	}
	if old == AffiliationOwner && aff != AffiliationOwner && c.owners() == 1 {
		return old, ErrConflict
	}
	return old, nil
}

// setAffiliation persists identity's new affiliation, then applies it to
// the present participants. Called with c.mu held, after the checks.
func (c *Conference) setAffiliation(ctx context.Context, identity string, aff, old Affiliation, au authority, actor Actor, origin Origin, reason string) error {
	if err := c.persistAffiliation(ctx, identity, aff, au.name(actor), reason); err != nil {
		return err
	}
	c.applyAffiliation(identity, aff, old, au, actor, origin, reason)
	c.endIfIdle(ctx)
	return nil
}

// persistAffiliation writes identity's affiliation to the store.
func (c *Conference) persistAffiliation(ctx context.Context, identity string, aff Affiliation, by, reason string) error {
	err := c.reg.store.SetAffiliation(ctx, store.Affiliation{Room: c.name, Identity: identity, Value: string(aff),
		Reason: reason, Actor: by, At: c.reg.now()})
	if err != nil {
		return fmt.Errorf("%w: set affiliation: %w", ErrStore, err)
	}
	return nil
}

func (c *Conference) owners() int {
	n := 0
	for _, a := range c.affs {
		if a == AffiliationOwner {
			n++
		}
	}
	return n
}

// applyAffiliation records identity's affiliation in the room, updates its
// present participants and emits the events of the change (the caller ends
// an idle conference afterwards).
func (c *Conference) applyAffiliation(identity string, aff, old Affiliation, au authority, actor Actor, origin Origin, reason string) {
	if aff == AffiliationNone {
		delete(c.affs, identity)
	} else {
		c.affs[identity] = aff
	}
	var hit []*Participant
	for _, p := range c.parts {
		ids := c.identities(p.JID, p.AOR)
		if aff == AffiliationOutcast {
			ids = c.reg.expand(ids)
		}
		if slices.Contains(ids, identity) {
			hit = append(hit, p)
		}
	}
	base := Event{Conference: c.name, Actor: actor, Origin: origin, Reason: reason, Identity: identity, Affiliation: aff, Old: string(old), Cause: CauseModerator}
	if aff == AffiliationOutcast {
		if len(hit) == 0 {
			ev := base
			ev.Kind = Banned
			c.reg.emit(ev)
		}
		for _, p := range hit {
			p.Affiliation = AffiliationOutcast
			ev := base
			ev.Kind = Banned
			ev.Participant = c.remove(p, Booted, c.publicActor(au, actor), reason)
			c.reg.emit(ev)
		}
		return
	}
	if len(hit) == 0 {
		ev := base
		ev.Kind = AffiliationChanged
		c.reg.emit(ev)
		return
	}
	for _, p := range hit {
		p.Affiliation = c.affiliationOf(c.identities(p.JID, p.AOR), p.Authenticated)
		ev := base
		if c.cfg.MembersOnly && p.Affiliation.rank() < AffiliationMember.rank() {
			ev.Kind = Kicked
			ev.Cause = CauseAffiliation
			ev.Participant = c.remove(p, Booted, c.publicActor(au, actor), reason)
			c.reg.emit(ev)
			continue
		}
		if p.Role != RoleVisitor || !p.MutedByModerator {
			p.Role = c.defaultRole(p.Affiliation)
			if p.Muted && p.Role != RoleModerator {
				p.Role = RoleVisitor
			}
		}
		ev.Kind = AffiliationChanged
		ev.Participant = p.clone()
		c.reg.emit(ev)
	}
}

// normalizeIdentity is the canonical identity an affiliation is keyed by:
// a bare JID, or a sip: or tel: URI.
func (r *Registry) normalizeIdentity(s string) string { return r.Canonical(s) }

// Affiliations lists identities with affiliation aff. Owners see every list;
// admins see members, outcasts and admins (XEP-0045 §9, §10); others are
// forbidden.
func (r *Registry) Affiliations(ctx context.Context, room string, aff Affiliation, actor Actor) ([]string, error) {
	var out []string
	err := r.withConference(ctx, room, func(c *Conference) error {
		au := c.authorityOf(actor)
		switch {
		case au.api || au.aff == AffiliationOwner:
		case au.aff == AffiliationAdmin && aff != AffiliationOwner:
		default:
			return ErrForbidden
		}
		for id, a := range c.affs {
			if a == aff {
				out = append(out, id)
			}
		}
		slices.Sort(out)
		return nil
	})
	return out, err
}

// SetSubject changes the room subject: moderators may, and participants
// when the room allows it; visitors never (XEP-0045 §8.1).
func (r *Registry) SetSubject(ctx context.Context, room, subject string, actor Actor, origin Origin) error {
	if len(subject) > MaxText {
		return ErrBadRequest
	}
	return r.withConference(ctx, room, func(c *Conference) error {
		au := c.authorityOf(actor)
		switch {
		case au.moderator:
		case au.self != nil && c.cfg.AllowSubjectChange && au.self.Role == RoleParticipant:
		default:
			return ErrForbidden
		}
		by := au.name(actor)
		if au.self != nil {
			by = au.self.Nick
		}
		prev, prevBy, prevAt := c.subject, c.subjectBy, c.subjectAt
		c.subject, c.subjectBy, c.subjectAt = subject, by, c.reg.now()
		if err := c.persist(ctx); err != nil {
			c.subject, c.subjectBy, c.subjectAt = prev, prevBy, prevAt
			return err
		}
		c.reg.emit(Event{Kind: SubjectChanged, Conference: c.name, Subject: subject, SubjectBy: by, Actor: actor, Origin: origin})
		return nil
	})
}

// Post accepts a groupchat message from participant from: it must be in the
// room's text side and, in a moderated room, have voice (XEP-0045 §7.4). The
// message is stored before Post returns.
func (r *Registry) Post(ctx context.Context, room, from string, msg Message, origin Origin) (Message, error) {
	if msg.Body == "" || len(msg.Body) > MaxText || len(msg.ID) > MaxShort || len(msg.OriginID) > MaxShort {
		return msg, ErrBadRequest
	}
	msg.StanzaID = newStanzaID()
	err := r.withConference(ctx, room, func(c *Conference) error {
		p := c.byID(from)
		if p == nil {
			return ErrNotOccupant
		}
		if p.Role == RoleVisitor && c.cfg.Moderated {
			return ErrForbidden
		}
		msg.Nick, msg.FromJID = p.Nick, p.JID
		if msg.At.IsZero() {
			msg.At = c.reg.now()
		}
		msg.At = msg.At.UTC().Truncate(time.Millisecond) // the store's precision
		if c.cfg.HistoryLength > 0 {
			err := c.reg.store.AppendMessage(ctx, store.Message{Room: c.name, ID: msg.ID, Nick: msg.Nick, FromJID: msg.FromJID,
				Body: msg.Body, At: msg.At}, c.cfg.HistoryLength)
			if err != nil {
				return fmt.Errorf("%w: append message: %w", ErrStore, err)
			}
			c.history = append(c.history, msg)
			if n := len(c.history) - c.cfg.HistoryLength; n > 0 {
				c.history = slices.Delete(c.history, 0, n)
			}
		}
		m := msg
		c.reg.emit(Event{Kind: MessagePosted, Conference: c.name, Participant: p.clone(), Message: &m, Origin: origin})
		return nil
	})
	return msg, err
}

// ChangeNick renames participant id (XEP-0045 §7.6); a nick in use is a
// conflict.
func (r *Registry) ChangeNick(ctx context.Context, room, id, nick string, origin Origin) error {
	nick = strings.TrimSpace(nick)
	if nick == "" || len(nick) > MaxNick {
		return ErrBadRequest
	}
	return r.withConference(ctx, room, func(c *Conference) error {
		p := c.byID(id)
		if p == nil {
			return ErrNotFound
		}
		if p.Nick == nick {
			return nil
		}
		if c.byNick(nick) != nil {
			return ErrNickConflict
		}
		old := p.Nick
		p.Nick = nick
		c.reg.emit(Event{Kind: NickChanged, Conference: c.name, Participant: p.clone(), Old: old, Origin: origin})
		return nil
	})
}

// Config returns the room's configuration; only owners (and the API) may
// read it through the owner form, others may see it through disco.
func (r *Registry) Config(ctx context.Context, room string) (Config, error) {
	var cfg Config
	err := r.withConference(ctx, room, func(c *Conference) error { cfg = c.cfg; cfg.Moderators = slices.Clone(c.cfg.Moderators); return nil })
	return cfg, err
}

// Configure replaces the room configuration (owners only, XEP-0045 §10.2)
// and unlocks a newly created room. Moderators and PIN from the
// configuration file are kept. Turning members-only on removes non-members.
func (r *Registry) Configure(ctx context.Context, room string, cfg Config, actor Actor, origin Origin) error {
	return r.Reconfigure(ctx, room, cfg, nil, actor, origin)
}

// Reconfigure is Configure that also sets the subject when subject is not
// nil, atomically: either both change or neither (the owner form carries
// both).
func (r *Registry) Reconfigure(ctx context.Context, room string, cfg Config, subject *string, actor Actor, origin Origin) error {
	if cfg.MaxParticipants < 0 || cfg.HistoryLength < 0 || cfg.HistoryLength > 1000 ||
		len(cfg.Title) > MaxShort || len(cfg.Password) > MaxShort || len(cfg.Description) > MaxText ||
		(subject != nil && len(*subject) > MaxText) {
		return ErrBadRequest
	}
	cfg.Whois = string(ParseWhois(cfg.Whois))
	return r.withConference(ctx, room, func(c *Conference) error {
		au := c.authorityOf(actor)
		if !au.api && au.aff != AffiliationOwner {
			return ErrForbidden
		}
		prev, prevLocked := c.cfg, c.locked
		prevSubject, prevBy, prevAt := c.subject, c.subjectBy, c.subjectAt
		cfg.Moderators, cfg.PIN = c.cfg.Moderators, c.cfg.PIN
		c.cfg, c.locked = cfg, false
		subjectChanged := subject != nil && *subject != c.subject
		if subjectChanged {
			c.subject, c.subjectBy, c.subjectAt = *subject, au.name(actor), c.reg.now()
			if au.self != nil {
				c.subjectBy = au.self.Nick
			}
		}
		restore := func() {
			c.cfg, c.locked = prev, prevLocked
			c.subject, c.subjectBy, c.subjectAt = prevSubject, prevBy, prevAt
		}
		if !cfg.Persistent && prev.Persistent {
			if err := c.reg.store.DeleteRoom(ctx, c.name); err != nil {
				restore()
				return fmt.Errorf("%w: %w", ErrStore, err)
			}
		} else if err := c.persist(ctx); err != nil {
			restore()
			return err
		}
		if c.cfg.WhoisPolicy() != prev.WhoisPolicy() {
			c.reEntity() // issue 8 defect 6: whois re-renders who is in
		}
		now, before := c.cfg, prev
		c.reg.emit(Event{Kind: ConfigChanged, Conference: c.name, Actor: actor, Origin: origin, WasLocked: prevLocked, Config: &now, Previous: &before})
		if subjectChanged {
			c.reg.emit(Event{Kind: SubjectChanged, Conference: c.name, Subject: c.subject, SubjectBy: c.subjectBy, Actor: actor, Origin: origin})
		}
		if cfg.MembersOnly && !prev.MembersOnly {
			for _, p := range slices.Clone(c.parts) {
				if p.Affiliation.rank() < AffiliationMember.rank() {
					gone := c.remove(p, Booted, c.publicActor(au, actor), "members-only")
					c.reg.emit(Event{Kind: Kicked, Conference: c.name, Participant: gone, Actor: actor, Origin: origin, Reason: "members-only", Cause: CauseMembersOnly})
				}
			}
		}
		if cfg.Moderated != prev.Moderated {
			// XEP-0045 §10.2: voice follows the moderation setting.
			for _, p := range slices.Clone(c.parts) {
				switch want := c.defaultRole(p.Affiliation); {
				case want == RoleVisitor && p.Role == RoleParticipant:
					_ = c.mute(p.ID, true, Actor{API: true, Name: au.name(actor)}, origin, "room moderated")
				case want == RoleParticipant && p.Role == RoleVisitor && !cfg.Moderated:
					_ = c.mute(p.ID, false, Actor{API: true, Name: au.name(actor)}, origin, "room unmoderated")
				}
			}
		}
		c.endIfIdle(ctx)
		return nil
	})
}

// Destroy ends the room for good (owners only, XEP-0045 §10.9): every
// participant is removed and the persisted room deleted.
// Alternate is an optional alternate venue (a room JID) for the occupants.
func (r *Registry) Destroy(ctx context.Context, room string, actor Actor, origin Origin, reason, alternate string) error {
	if len(reason) > MaxText || len(alternate) > MaxShort {
		return ErrBadRequest
	}
	return r.withConference(ctx, room, func(c *Conference) error {
		au := c.authorityOf(actor)
		if !au.api && au.aff != AffiliationOwner {
			return ErrForbidden
		}
		c.end(ctx, Event{Reason: reason, Actor: actor, Origin: origin, Cause: CauseDestroyed, Alternate: alternate}, true)
		return nil
	})
}

// CanModerateAffiliations reports whether actor may change affiliations in
// room at all (admin, owner or the API).
func (r *Registry) CanModerateAffiliations(room string, actor Actor) bool {
	aff, _ := r.Authority(room, actor)
	return actor.API || aff.rank() >= AffiliationAdmin.rank()
}

// newStanzaID returns a unique, unguessable message id (XEP-0359 §3.1).
func newStanzaID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
