package conference

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The control surfaces (the admin API, XEP-0050 commands, the DTMF
// moderator menu) act through the functions of this file. Each checks the
// actor's authority like every other moderation action and emits events
// the adapters render.

// ErrConferenceLocked refuses a join while a moderator has locked the
// conference (SetJoinLock). It is a kind of ErrForbidden, so adapters that
// know only that answer 403 / forbidden.
var ErrConferenceLocked = fmt.Errorf("%w: the conference is locked", ErrForbidden)

// Cue is a confirmation the core asks an adapter to give one participant
// (the focus plays it as a tone pattern in that caller's ear).
type Cue string

// Cues of the DTMF moderator menu.
const (
	CueLocked        Cue = "locked"
	CueUnlocked      Cue = "unlocked"
	CueMutedOthers   Cue = "muted-others"
	CueUnmutedOthers Cue = "unmuted-others"
)

// SetJoinLock locks (or unlocks) the conference against new participants
// on either side; those present stay. Admins and owners may still join a
// locked conference. Moderators only. Emits JoinLockChanged when the state
// changes. The lock lives as long as the live conference (it is not
// persisted).
func (r *Registry) SetJoinLock(ctx context.Context, room string, locked bool, actor Actor, origin Origin) error {
	return r.withConference(ctx, room, func(c *Conference) error {
		if !c.authorityOf(actor).moderator {
			return ErrForbidden
		}
		c.setJoinLock(locked, actor, origin)
		return nil
	})
}

func (c *Conference) setJoinLock(locked bool, actor Actor, origin Origin) {
	if c.barred == locked {
		return
	}
	c.barred = locked
	c.reg.emit(Event{Kind: JoinLockChanged, Conference: c.name, Locked: locked, Actor: actor, Origin: origin})
}

// MuteAll mutes (or unmutes) every participant with an audio leg except the
// actor itself; participants the actor may not mute (admins and owners,
// unless the actor is the API) are left alone. Moderators only. It returns
// how many participants changed.
func (r *Registry) MuteAll(ctx context.Context, room string, mute bool, actor Actor, origin Origin, reason string) (int, error) {
	if len(reason) > MaxText {
		return 0, ErrBadRequest
	}
	var n int
	err := r.withConference(ctx, room, func(c *Conference) error {
		var err error
		n, err = c.muteAll(mute, actor, origin, reason)
		return err
	})
	return n, err
}

func (c *Conference) muteAll(mute bool, actor Actor, origin Origin, reason string) (int, error) {
	au := c.authorityOf(actor)
	if !au.moderator {
		return 0, ErrForbidden
	}
	n := 0
	for _, p := range slices.Clone(c.parts) {
		if p.Audio == nil || p == au.self || (p.Muted == mute && (!mute || p.MutedByModerator)) {
			continue
		}
		if err := c.mute(p.ID, mute, actor, origin, reason); err == nil {
			n++
		}
	}
	return n, nil
}

// RequestDialOut asks the focus to call uri (a sip: or sips: URI with a
// host) into the conference: the core checks the actor moderates and emits
// DialOutRequested, which the focus acts on (RFC 4579 dial-out); the callee
// then joins like any caller. The request is accepted, not yet answered,
// when it returns.
func (r *Registry) RequestDialOut(ctx context.Context, room, uri string, actor Actor, origin Origin) error {
	uri = strings.TrimSpace(uri)
	if !ValidDialOutURI(uri) {
		return ErrBadRequest
	}
	return r.withConference(ctx, room, func(c *Conference) error {
		if !c.authorityOf(actor).moderator {
			return ErrForbidden
		}
		c.reg.emit(Event{Kind: DialOutRequested, Conference: c.name, Identity: uri, Actor: actor, Origin: origin})
		return nil
	})
}

// ValidDialOutURI reports whether uri can be dialled out to: sip: or sips:,
// a host, no spaces or control characters, at most MaxShort bytes.
func ValidDialOutURI(uri string) bool {
	if uri == "" || len(uri) > MaxShort || strings.ContainsFunc(uri, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '<' || r == '>' }) {
		return false
	}
	if !isSIPURI(uri) {
		return false
	}
	_, rest, _ := strings.Cut(uri, ":")
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	host, _, _ := strings.Cut(rest, ";")
	host, _, _ = strings.Cut(host, "?")
	return host != "" && host[0] != ':'
}

// Create makes a new persistent room from spec (the admin API's POST
// /rooms). A room that is live, persisted or declared already is a
// conflict. The room's moderators and PIN are kept while the bridge runs;
// like those of the configuration file they are not written to the store.
func (r *Registry) Create(ctx context.Context, spec RoomSpec, actor Actor, origin Origin) error {
	switch {
	case !ValidName(spec.Name):
		return ErrInvalidName
	case len(spec.Subject) > MaxText || spec.PIN != "" && !ValidPIN(spec.PIN) || spec.MaxParticipants < 0 || len(spec.Moderators) > 256:
		return ErrBadRequest
	}
	for _, m := range spec.Moderators {
		if len(m) > MaxShort || (!isSIPURI(m) && !strings.HasPrefix(m, "xmpp:")) {
			return ErrBadRequest
		}
	}
	if !actor.API {
		return ErrForbidden
	}
	if ok, err := r.Exists(ctx, spec.Name); err != nil {
		return err
	} else if ok {
		return ErrConflict
	}
	c, created, err := r.open(ctx, spec.Name, true)
	if err != nil {
		return err
	}
	defer c.mu.Unlock()
	if !created {
		return ErrConflict // created by someone else in between
	}
	prev := c.cfg
	c.cfg.Moderators = slices.Clone(spec.Moderators)
	c.cfg.PIN = spec.PIN
	c.cfg.MaxParticipants = spec.MaxParticipants
	if spec.Subject != "" {
		c.subject, c.subjectBy, c.subjectAt = spec.Subject, "api", r.now()
	}
	if err := c.persist(ctx); err != nil {
		c.ended = true
		r.drop(c)
		r.emit(Event{Kind: ConferenceEnded, Conference: c.name, Origin: OriginSystem, Reason: "creation failed"})
		return err
	}
	now := c.cfg
	r.emit(Event{Kind: ConfigChanged, Conference: c.name, Actor: actor, Origin: origin, Config: &now, Previous: &prev})
	if spec.Subject != "" {
		r.emit(Event{Kind: SubjectChanged, Conference: c.name, Subject: c.subject, SubjectBy: c.subjectBy, Actor: actor, Origin: origin})
	}
	return nil
}

// Ban is one entry of a room's outcast list.
type Ban struct {
	Identity string // bare JID or canonical sip: URI
	Reason   string
	By       string
	At       time.Time
}

// Bans returns room's outcast list with reason, actor and time, as
// persisted. Admins, owners and the API only.
func (r *Registry) Bans(ctx context.Context, room string, actor Actor) ([]Ban, error) {
	err := r.withConference(ctx, room, func(c *Conference) error {
		if au := c.authorityOf(actor); !au.api && au.aff.rank() < AffiliationAdmin.rank() {
			return ErrForbidden
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	affs, err := r.store.Affiliations(ctx, room)
	if err != nil {
		return nil, fmt.Errorf("%w: affiliations of %s: %w", ErrStore, room, err)
	}
	out := []Ban{}
	for _, a := range affs {
		if a.Value == string(AffiliationOutcast) {
			out = append(out, Ban{Identity: a.Identity, Reason: a.Reason, By: a.Actor, At: a.At})
		}
	}
	return out, nil
}

// SnapshotSeq returns the state of room together with the sequence number
// of the last event emitted: every event of the room with a higher Seq is
// a change after the snapshot, every one up to it is in it. A follower
// subscribes first, takes SnapshotSeq, then skips events up to seq.
func (r *Registry) SnapshotSeq(ctx context.Context, room string) (Snapshot, uint64, error) {
	var s Snapshot
	var seq uint64
	err := r.withConference(ctx, room, func(c *Conference) error {
		// The room's events are emitted under c.mu, so none is half done.
		s, seq = c.snapshot(), r.Seq()
		return nil
	})
	return s, seq, err
}

// moderatorMenu runs the DTMF moderator commands *7 (lock or unlock), *8
// (mute everyone else) and *9 (unmute everyone else) for participant p and
// confirms each by a cue to p alone. Callers without the moderator role get
// nothing. Called with c.mu held; it reports whether seq was one of them.
func (c *Conference) moderatorMenu(p *Participant, seq string) bool {
	switch seq {
	case DTMFLock, DTMFMuteOthers, DTMFUnmuteOthers:
	default:
		return false
	}
	self := Actor{ParticipantID: p.ID, Name: p.Nick}
	if !c.authorityOf(self).moderator {
		c.reg.log.Info("dtmf moderator command from a non-moderator ignored", "room", c.name, "participant", p.ID, "command", seq)
		return true
	}
	var cue Cue
	switch seq {
	case DTMFLock:
		c.setJoinLock(!c.barred, self, OriginDTMF)
		cue = CueUnlocked
		if c.barred {
			cue = CueLocked
		}
	case DTMFMuteOthers:
		_, _ = c.muteAll(true, self, OriginDTMF, "dtmf")
		cue = CueMutedOthers
	case DTMFUnmuteOthers:
		_, _ = c.muteAll(false, self, OriginDTMF, "dtmf")
		cue = CueUnmutedOthers
	}
	c.reg.emit(Event{Kind: CueRequested, Conference: c.name, Participant: p.clone(), Cue: cue, Actor: self, Origin: OriginDTMF})
	return true
}
