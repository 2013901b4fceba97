package conference

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"

	"cusax.dev/bridge/store"
)

// Conference is one room: its policy, participants and history. Its methods
// are safe for concurrent use; every state change is emitted on the
// registry's event stream while the conference lock is held, so events of
// one conference are totally ordered.
type Conference struct {
	name string
	reg  *Registry

	mu        sync.Mutex
	loaded    bool
	ended     bool
	declared  bool
	locked    bool // created over XMPP and not configured yet (XEP-0045 §10.1)
	barred    bool // locked by a moderator against new participants (control.go)
	cfg       Config
	subject   string
	subjectBy string
	subjectAt time.Time
	createdAt time.Time
	affs      map[string]Affiliation // identity (bare JID or SIP URI) → affiliation
	parts     []*Participant         // join order
	departed  []Participant          // most recent last, bounded
	history   []Message              // oldest first, bounded by cfg.HistoryLength
	dtmf      map[string][]rune      // pending DTMF digits per participant

	creator   string                 // whom the room counts against (limits.go); "" none
	idleTimer *time.Timer            // ends the empty temporary room after IdleGrace
	pinByPart map[string]*pinStrikes // wrong moderator PINs per participant
	pinRoom   pinStrikes             // wrong moderator PINs of the whole room
}

// Name returns the room name.
func (c *Conference) Name() string { return c.name }

// load reads the room from the store and the declared rooms; it reports
// whether the room existed. Called with c.mu held.
func (c *Conference) load(ctx context.Context) (bool, error) {
	r := c.reg
	c.affs = map[string]Affiliation{}
	c.dtmf = map[string][]rune{}
	c.createdAt = r.now()
	c.cfg = Config{Persistent: false, Public: true, Whois: string(WhoisModerators), HistoryLength: max(r.opts.HistoryLength, 0),
		AllowPrivateMessages: true, AllowSubjectChange: false}
	spec, declared := r.spec(c.name)
	rec, stored, err := r.store.Room(ctx, c.name)
	if err != nil {
		return false, fmt.Errorf("%w: load room %s: %w", ErrStore, c.name, err)
	}
	if stored {
		c.cfg = Config{Title: rec.Title, Description: rec.Description, Persistent: rec.Persistent, Public: rec.Public,
			Moderated: rec.Moderated, MembersOnly: rec.MembersOnly, Password: rec.Password, MaxParticipants: rec.MaxUsers,
			Whois: rec.Whois, HistoryLength: rec.HistoryLength, AllowPrivateMessages: rec.AllowPrivateMessages,
			AllowSubjectChange: rec.AllowSubjectChange}
		c.subject, c.subjectBy, c.subjectAt, c.createdAt = rec.Subject, rec.SubjectBy, rec.SubjectAt, rec.CreatedAt
	}
	// Affiliations and history are keyed by room name alone, so a declared
	// room that was never saved keeps its bans and history too.
	affs, err := r.store.Affiliations(ctx, c.name)
	if err != nil {
		return false, fmt.Errorf("%w: load affiliations of %s: %w", ErrStore, c.name, err)
	}
	for _, a := range affs {
		// Rows written before the canonical form changed (a port, sips:,
		// an alias of the bridge) still count, under their canonical key.
		if id := r.Canonical(a.Identity); id != "" {
			c.affs[id] = Affiliation(a.Value)
		}
	}
	if c.cfg.HistoryLength > 0 {
		msgs, err := r.store.History(ctx, c.name, c.cfg.HistoryLength)
		if err != nil {
			return false, fmt.Errorf("%w: load history of %s: %w", ErrStore, c.name, err)
		}
		for _, m := range msgs {
			c.history = append(c.history, Message{ID: m.ID, Nick: m.Nick, FromJID: m.FromJID, Body: m.Body, At: m.At})
		}
	}
	if declared {
		c.declared = true
		c.cfg.Moderators = slices.Clone(spec.Moderators)
		c.cfg.PIN = spec.PIN
		if spec.MaxParticipants > 0 {
			c.cfg.MaxParticipants = spec.MaxParticipants
		}
		if !stored && spec.Subject != "" {
			c.subject, c.subjectAt = spec.Subject, c.createdAt
		}
	}
	return stored || declared, nil
}

// persist writes the room record. Called with c.mu held.
func (c *Conference) persist(ctx context.Context) error {
	if !c.cfg.Persistent {
		return nil
	}
	err := c.reg.store.SaveRoom(ctx, store.Room{
		Name: c.name, Title: c.cfg.Title, Description: c.cfg.Description, Subject: c.subject, SubjectBy: c.subjectBy,
		SubjectAt: c.subjectAt, Persistent: c.cfg.Persistent, Public: c.cfg.Public, Moderated: c.cfg.Moderated,
		MembersOnly: c.cfg.MembersOnly, Password: c.cfg.Password, MaxUsers: c.cfg.MaxParticipants, Whois: c.cfg.Whois,
		HistoryLength: c.cfg.HistoryLength, AllowPrivateMessages: c.cfg.AllowPrivateMessages,
		AllowSubjectChange: c.cfg.AllowSubjectChange, CreatedAt: c.createdAt, UpdatedAt: c.reg.now(),
	})
	if err != nil {
		return fmt.Errorf("%w: save room %s: %w", ErrStore, c.name, err)
	}
	return nil
}

// end removes every participant and the conference itself. Called with c.mu
// held. destroy also deletes the persisted room.
func (c *Conference) end(ctx context.Context, ev Event, destroy bool) {
	c.ended = true
	c.stopIdleEnd()
	c.uncountCreator()
	others := make([]Participant, 0, len(c.parts))
	for _, p := range c.parts {
		others = append(others, p.clone())
	}
	c.parts = nil
	if destroy {
		if err := c.reg.store.DeleteRoom(ctx, c.name); err != nil {
			c.reg.log.Error("delete room", "room", c.name, "err", err)
		}
	}
	c.reg.drop(c)
	ev.Kind, ev.Conference, ev.Others = ConferenceEnded, c.name, others
	c.reg.emit(ev)
}

// endIfIdle ends a temporary (undeclared, not persistent) conference once
// nobody is left, after Limits.IdleGrace; a room created over XMPP and
// still locked (never configured) ends at once (XEP-0045 §10.1.3).
func (c *Conference) endIfIdle(ctx context.Context) {
	if len(c.parts) > 0 || c.ended {
		return
	}
	switch {
	case c.locked && !c.declared, c.temporary() && c.reg.opts.Limits.IdleGrace < 0:
		c.end(ctx, Event{Actor: System, Origin: OriginSystem, Cause: CauseIdle}, true)
	case c.temporary():
		c.scheduleIdleEnd()
	}
}

// JoinRequest describes who joins and through which door.
type JoinRequest struct {
	DisplayName string
	// Nick is the MUC nick asked for; SIP joins leave it empty and get one
	// derived from the display name or AOR.
	Nick string
	// JID is the occupant's full real JID (MUC joins).
	JID string
	// AOR is the caller's SIP address of record.
	AOR           string
	Authenticated bool
	Audio         *Audio
	Text          bool
	Password      string
	Origin        Origin
	// JIDHint is the JID a caller's INVITE names as its own (Call-Info
	// purpose=impp, RFC 6993). The core verifies it for a trusted AOR
	// (Verify); unverified, it is shown as such and grants nothing.
	JIDHint string

	bound string // the verified bare JID of a SIP join (set by Join)
	// Source is the IP address the request came from (SIP), the creator
	// key of an unauthenticated caller for Limits.MaxRoomsPerCreator.
	Source string
}

// JoinResult is what a successful join returns.
type JoinResult struct {
	Participant Participant
	// Created is true when this join created the room; over XMPP the
	// joiner became its owner and the room is locked until configured.
	Created bool
	// Others are the participants present before, in join order.
	Others []Participant
}

// Join adds a participant to the room, creating it on first use. It applies
// the room's policy: bans, members-only, password, nick uniqueness, the
// participant limit and, over XMPP, the creation policy and the lock of a
// new room.
func (r *Registry) Join(ctx context.Context, room string, req JoinRequest) (JoinResult, error) {
	if err := r.loadBindings(ctx); err != nil {
		return JoinResult{}, err
	}
	req.bound = ""
	if req.Audio != nil && !req.Text && req.AOR != "" && req.Authenticated {
		// Verified before the conference is locked: a vCard look-up may
		// take up to the verify timeout.
		req.bound = r.Verify(ctx, req.AOR, req.JIDHint)
	}
	if req.Text && req.JID != "" && r.opts.Creators != nil {
		if exists, err := r.Exists(ctx, room); err != nil {
			return JoinResult{}, err
		} else if !exists && !slices.Contains(r.opts.Creators, bare(req.JID)) {
			return JoinResult{}, ErrCreationRestricted
		}
	}
	if err := r.admitCreation(ctx, room, req); err != nil {
		return JoinResult{}, err
	}
	c, created, err := r.open(ctx, room, true)
	if err != nil {
		return JoinResult{}, err
	}
	defer c.mu.Unlock()
	if created {
		c.countCreator(req)
	}
	res, err := c.join(ctx, req, created)
	if err == nil {
		c.stopIdleEnd()
	}
	return res, err
}

func (c *Conference) join(ctx context.Context, req JoinRequest, created bool) (JoinResult, error) {
	r := c.reg
	jid := req.JID
	if req.bound != "" {
		jid = req.bound
	}
	ids := c.identities(jid, req.AOR)
	aff := c.affiliationOf(ids, req.AOR != "" && req.Authenticated)
	fail := func(err error) (JoinResult, error) {
		if created {
			c.ended = true
			c.uncountCreator()
			r.drop(c)
			r.emit(Event{Kind: ConferenceEnded, Conference: c.name, Origin: OriginSystem, Reason: "join failed"})
		}
		return JoinResult{}, err
	}
	if aff == AffiliationOutcast {
		// A ban kept for a room that is not live (a temporary room's
		// affiliations stay in the store) holds against its re-creator.
		return fail(ErrBanned)
	}
	if created && req.Text && req.JID != "" {
		// XEP-0045 §10.1: the creator owns the room, which stays locked
		// until configured (an instant room is an empty submit).
		aff = AffiliationOwner
		c.locked = true
		c.affs[bare(req.JID)] = AffiliationOwner
		if err := c.persist(ctx); err != nil {
			return fail(err)
		}
		if err := r.store.SetAffiliation(ctx, store.Affiliation{Room: c.name, Identity: bare(req.JID), Value: string(AffiliationOwner), Actor: bare(req.JID), At: r.now()}); err != nil {
			return fail(fmt.Errorf("%w: %w", ErrStore, err))
		}
	} else if created {
		if err := c.persist(ctx); err != nil {
			return fail(err)
		}
	}
	switch {
	case aff == AffiliationOutcast:
		return fail(ErrBanned)
	case c.locked && !created && req.Text && aff != AffiliationOwner:
		return fail(ErrLocked)
	case c.barred && aff.rank() < AffiliationAdmin.rank():
		return fail(ErrConferenceLocked)
	case c.cfg.MembersOnly && aff.rank() < AffiliationMember.rank():
		return fail(ErrMembersOnly)
	case req.Text && c.cfg.Password != "" && req.Password != c.cfg.Password && aff.rank() < AffiliationAdmin.rank():
		return fail(ErrPasswordRequired)
	case c.cfg.MaxParticipants > 0 && len(c.parts) >= c.cfg.MaxParticipants && aff != AffiliationOwner:
		return fail(ErrFull)
	}
	if aff != AffiliationOutcast {
		if q := c.otherLeg(req); q != nil {
			return c.attach(q, req, aff)
		}
	}
	nick := strings.TrimSpace(req.Nick)
	if req.Text {
		if nick == "" || len(nick) > MaxNick {
			return fail(ErrBadRequest)
		}
		if c.byNick(nick) != nil {
			return fail(ErrNickConflict)
		}
	} else if req.bound != "" {
		nick = c.uniqueNick(jidNick(req.bound, req.DisplayName, req.AOR, len(c.parts)+1))
	} else {
		nick = c.uniqueNick(derivedNick(req.DisplayName, req.AOR, len(c.parts)+1))
	}
	p := &Participant{
		ID: r.newID(), DisplayName: req.DisplayName, Nick: nick, JID: jid, AOR: req.AOR,
		Authenticated: req.Authenticated, Affiliation: aff, Text: req.Text, JoinedAt: r.now(),
		Bound: req.bound != "",
	}
	if req.bound == "" && req.JIDHint != "" && req.Audio != nil {
		p.JIDHint = clip(req.JIDHint, MaxShort)
	}
	if p.DisplayName == "" {
		p.DisplayName = nick
	}
	if req.Audio != nil {
		a := *req.Audio
		p.Audio = &a
	}
	p.Entity = c.uniqueEntity(p)
	p.Role = c.defaultRole(aff)
	if p.Role == RoleVisitor {
		// No voice in a moderated room: the audio is muted too, until a
		// moderator grants voice.
		p.Muted, p.MutedByModerator = true, true
	}
	others := make([]Participant, 0, len(c.parts))
	for _, o := range c.parts {
		others = append(others, o.clone())
	}
	c.parts = append(c.parts, p)
	snap := p.clone()
	ev := Event{Kind: Joined, Conference: c.name, Participant: snap, Others: others, Origin: req.Origin, Created: created}
	if p.Text {
		ev.History, ev.Subject, ev.SubjectBy = slices.Clone(c.history), c.subject, c.subjectBy
	}
	r.emit(ev)
	return JoinResult{Participant: snap, Created: created, Others: others}, nil
}

// defaultRole is XEP-0045 §5.1.2: owners and admins moderate; in a moderated
// room only members and above have voice.
func (c *Conference) defaultRole(aff Affiliation) Role {
	switch {
	case aff.rank() >= AffiliationAdmin.rank():
		return RoleModerator
	case c.cfg.Moderated && aff.rank() < AffiliationMember.rank():
		return RoleVisitor
	}
	return RoleParticipant
}

// affiliationOf is the effective affiliation of the given identities: the
// stored one, raised to admin for identities listed as room moderators (a
// sip: URI only when digest-authenticated). Outcast wins over everything.
//
// Bindings count both ways: a ban of an identity holds on every identity
// bound to it (even on an unverified From, as a best effort), and the
// affiliation of a bound identity lends rights to a trusted one.
func (c *Conference) affiliationOf(ids []string, sipAuthenticated bool) Affiliation {
	best := AffiliationNone
	all := c.reg.expand(ids)
	for _, id := range all {
		if c.affs[id] == AffiliationOutcast {
			return AffiliationOutcast // a ban holds even on an unverified From
		}
	}
	if sipAuthenticated {
		ids = all
	}
	for _, id := range ids {
		a, ok := c.affs[id]
		if !ok {
			continue
		}
		if identityScheme(id) != "xmpp" && !sipAuthenticated {
			continue // rights need a verified identity (DESIGN.md §4)
		}
		if a.rank() > best.rank() {
			best = a
		}
	}
	for _, id := range ids {
		listed := slices.ContainsFunc(c.cfg.Moderators, func(m string) bool {
			return c.reg.Canonical(m) == id && (!isSIPURI(m) || sipAuthenticated)
		})
		if listed && best.rank() < AffiliationAdmin.rank() {
			best = AffiliationAdmin
		}
	}
	return best
}

// identities returns the identities affiliations are keyed by, in
// canonical form: the bare JID and the SIP AOR.
func (c *Conference) identities(jid, aor string) []string {
	var ids []string
	if jid != "" {
		if j := c.reg.Canonical(bare(jid)); j != "" {
			ids = append(ids, j)
		}
	}
	if aor != "" {
		if a := c.reg.Canonical(aor); a != "" {
			ids = append(ids, a)
		}
		if n := c.reg.opts.Identities.Number(aor); n != "" {
			ids = append(ids, "tel:"+n) // a ban of the number holds too
		}
	}
	return ids
}

func bare(jid string) string {
	j, _, _ := strings.Cut(jid, "/")
	return strings.ToLower(j)
}

func isSIPURI(s string) bool {
	scheme, _, ok := strings.Cut(s, ":")
	return ok && (strings.EqualFold(scheme, "sip") || strings.EqualFold(scheme, "sips"))
}

// derivedNick names a SIP caller in the MUC: the display name, else the
// AOR's user part (a number, say), else "caller N" (n is a number unique
// enough for the room, uniqueNick does the rest). The result is always a
// valid XMPP resourcepart (PRECIS OpaqueString, RFC 7622 §3.4), at most 64
// characters, so nobody is in the call without being shown in the room.
func derivedNick(display, aor string, n int) string {
	if nick := cleanNick(display); nick != "" {
		return nick
	}
	_, u, _ := cutScheme(aor)
	u, _, _ = strings.Cut(u, "@")
	u, _, _ = strings.Cut(u, ";")
	if nick := cleanNick(u); nick != "" {
		return nick
	}
	return "caller " + strconv.Itoa(n)
}

// jidNick names a bound caller whose JID is not in the room: the JID's
// localpart (the nick it most likely uses), else as derivedNick.
func jidNick(jid, display, aor string, n int) string {
	local, _, ok := strings.Cut(jid, "@")
	if nick := cleanNick(local); ok && nick != "" {
		return nick
	}
	return derivedNick(display, aor, n)
}

// cleanNick keeps of s what a resourcepart may hold: it drops every
// character PRECIS OpaqueString refuses (controls, unassigned code points,
// non-characters, private use, invalid UTF-8…), folds runs of white space
// to one space, bounds the length, and returns "" when nothing valid is
// left.
func cleanNick(s string) string {
	var b strings.Builder
	space := false
	n := 0
	for _, r := range s {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Co, r):
			continue
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		}
		if _, err := precis.OpaqueString.String(string(r)); err != nil {
			continue
		}
		if n == 64 {
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
		n++
	}
	out, err := precis.OpaqueString.String(b.String())
	if err != nil || out == "" {
		return ""
	}
	return out
}

func (c *Conference) uniqueNick(base string) string {
	nick := base
	for i := 2; c.byNick(nick) != nil; i++ {
		nick = base + " (" + strconv.Itoa(i) + ")"
	}
	return nick
}

// uniqueEntity gives the participant a user URI unique in the conference
// (RFC 4575 §5.6), by the who-sees-whom rule: xmpp:bare-JID for a chat user
// or a bound caller when the room shows real JIDs to everyone, else the
// SIP AOR (SIP identities are not hidden), else an anonymous URI; made
// unique by a parameter.
func (c *Conference) uniqueEntity(p *Participant) string {
	base := ""
	if p.JID != "" && c.cfg.WhoisPolicy().Reveals(Everyone) && (p.Bound || p.AOR == "") {
		base = "xmpp:" + bare(p.JID)
	}
	if base == "" {
		base = p.AOR
	}
	if base == "" {
		base = "sip:anonymous" + p.ID + "@anonymous.invalid"
	}
	for _, o := range c.parts {
		if o != p && o.Entity == base {
			return base + ";cusax-id=" + p.ID
		}
	}
	return base
}

// reEntity recomputes the user entities of the present participants after
// a change of the rule's inputs (whois, a leg joining), so that
// conference-info re-renders the people already in the room.
func (c *Conference) reEntity() {
	for _, p := range c.parts {
		p.Entity = c.uniqueEntity(p)
	}
}

func (c *Conference) byNick(nick string) *Participant {
	for _, p := range c.parts {
		if p.Nick == nick {
			return p
		}
	}
	return nil
}

func (c *Conference) byID(id string) *Participant {
	for _, p := range c.parts {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// remove takes p out of the participant list and records its departure.
func (c *Conference) remove(p *Participant, how Departure, by, reason string) Participant {
	c.parts = slices.DeleteFunc(c.parts, func(o *Participant) bool { return o == p })
	delete(c.dtmf, p.ID)
	p.Left = &Leave{Method: how, At: c.reg.now(), By: by, Reason: reason}
	p.Speaking = false
	gone := p.clone()
	c.departed = append(c.departed, gone)
	if n := len(c.departed) - c.reg.opts.KeepDeparted; n > 0 {
		c.departed = slices.Delete(c.departed, 0, n)
	}
	return gone
}

// withConference runs fn on the live conference called room with its lock
// held.
func (r *Registry) withConference(ctx context.Context, room string, fn func(c *Conference) error) error {
	c, _, err := r.open(ctx, room, false)
	if err != nil {
		return err
	}
	defer c.mu.Unlock()
	return fn(c)
}

// Leave removes participant id, which left by itself (how is Departed or
// Failed). A participant with two legs loses only the leg of origin (the
// chat for OriginXMPP, else the call) and stays (LegLeft).
func (r *Registry) Leave(ctx context.Context, room, id string, how Departure, origin Origin) error {
	return r.withConference(ctx, room, func(c *Conference) error {
		p := c.byID(id)
		if p == nil {
			return ErrNotFound
		}
		if p.Text && p.Audio != nil {
			c.detach(p, origin == OriginXMPP, how, origin)
			return nil
		}
		gone := c.remove(p, how, "", "")
		r.emit(Event{Kind: Left, Conference: c.name, Participant: gone, Origin: origin})
		c.endIfIdle(ctx)
		return nil
	})
}

// Snapshot is a consistent copy of a conference's state.
type Snapshot struct {
	Name         string
	Config       Config
	Subject      string
	SubjectBy    string
	SubjectAt    time.Time
	Locked       bool
	JoinLocked   bool // a moderator locked out new participants (SetJoinLock)
	CreatedAt    time.Time
	Participants []Participant // present, in join order
	Departed     []Participant // recently departed, oldest first
	Affiliations map[string]Affiliation
}

// Snapshot returns the conference's state.
func (c *Conference) Snapshot() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snapshot()
}

func (c *Conference) snapshot() Snapshot {
	s := Snapshot{Name: c.name, Config: c.cfg, Subject: c.subject, SubjectBy: c.subjectBy, SubjectAt: c.subjectAt,
		Locked: c.locked, JoinLocked: c.barred, CreatedAt: c.createdAt, Affiliations: make(map[string]Affiliation, len(c.affs))}
	s.Config.Moderators = slices.Clone(c.cfg.Moderators)
	for _, p := range c.parts {
		s.Participants = append(s.Participants, p.clone())
	}
	for _, p := range c.departed {
		s.Departed = append(s.Departed, p.clone())
	}
	for k, v := range c.affs {
		s.Affiliations[k] = v
	}
	return s
}

// Snapshot returns the state of the live or persisted room called name.
func (r *Registry) Snapshot(ctx context.Context, name string) (Snapshot, error) {
	var s Snapshot
	err := r.withConference(ctx, name, func(c *Conference) error { s = c.snapshot(); return nil })
	return s, err
}

// Participant returns a copy of participant id in room.
func (r *Registry) Participant(room, id string) (Participant, bool) {
	c := r.Lookup(room)
	if c == nil {
		return Participant{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.byID(id); p != nil {
		return p.clone(), true
	}
	return Participant{}, false
}

// Find returns copies of the present participants in room for which match
// is true, in join order.
func (r *Registry) Find(room string, match func(*Participant) bool) []Participant {
	c := r.Lookup(room)
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Participant
	for _, p := range c.parts {
		if match(p) {
			out = append(out, p.clone())
		}
	}
	return out
}

// ByNick returns the participant with nick in room.
func (r *Registry) ByNick(room, nick string) (Participant, bool) {
	ps := r.Find(room, func(p *Participant) bool { return p.Nick == nick })
	if len(ps) == 0 {
		return Participant{}, false
	}
	return ps[0], true
}

// History returns the room's stored messages, oldest first.
func (r *Registry) History(ctx context.Context, room string) ([]Message, error) {
	var out []Message
	err := r.withConference(ctx, room, func(c *Conference) error {
		out = slices.Clone(c.history)
		return nil
	})
	return out, err
}

// UpdateAudio changes participant id's audio leg with fn and emits
// MediaChanged when something changed.
func (r *Registry) UpdateAudio(ctx context.Context, room, id string, fn func(a *Audio)) error {
	return r.withConference(ctx, room, func(c *Conference) error {
		p := c.byID(id)
		if p == nil || p.Audio == nil {
			return ErrNotFound
		}
		before := *p.Audio
		fn(p.Audio)
		if *p.Audio != before {
			r.emit(Event{Kind: MediaChanged, Conference: c.name, Participant: p.clone(), Origin: OriginSIP})
		}
		return nil
	})
}

// SetSpeaking records the energy gate of participant id's audio and emits
// Speaking when it changed.
func (r *Registry) SetSpeaking(room, id string, speaking bool) {
	c := r.Lookup(room)
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.byID(id); p != nil && p.Speaking != speaking {
		p.Speaking = speaking
		r.emit(Event{Kind: Speaking, Conference: c.name, Participant: p.clone(), Origin: OriginSIP})
	}
}
