package conference

import (
	"sync"
	"time"
)

// Kind is the kind of an Event.
type Kind int

// Event kinds. Each state change of a conference is emitted once, as one of
// these.
const (
	// ConferenceCreated: a conference came into existence (first use).
	ConferenceCreated Kind = iota + 1
	// ConferenceEnded: a conference is gone (last participant left a
	// temporary room, or the owner destroyed it). Reason carries the
	// destroy reason, if any.
	ConferenceEnded
	// Joined: Participant entered. Others holds the participants already
	// present, in join order, for adapters that must list them first.
	Joined
	// Left: Participant left by itself; Participant.Left says how.
	Left
	// Kicked: a moderator removed Participant (307 / BYE, booted).
	Kicked
	// Banned: Identity became outcast; Participant is set when one was
	// present and has been removed (301 / BYE, booted).
	Banned
	// AffiliationChanged: Identity's affiliation changed from Old to
	// Affiliation (not outcast; that is Banned). Participant is set for
	// each present participant the change applies to.
	AffiliationChanged
	// Muted and Unmuted: Participant's audio is dropped from / taken back
	// into the mix. Participant.Role is the role the MUC shows.
	Muted
	Unmuted
	// RoleChanged: moderator granted or revoked; Old is the previous role.
	RoleChanged
	// NickChanged: Old is the previous nick.
	NickChanged
	// MediaChanged: hold, resume, codec or SSRC of the audio leg changed.
	MediaChanged
	// Speaking: the energy gate opened or closed (Participant.Speaking).
	Speaking
	// DTMF: Digit was received from Participant's audio leg.
	DTMF
	// SubjectChanged: Subject was set by Actor.
	SubjectChanged
	// ConfigChanged: the room configuration changed (Config in Snapshot).
	ConfigChanged
	// MessagePosted: a groupchat Message was accepted and stored.
	MessagePosted
	// JoinLockChanged: a moderator locked (Locked) or unlocked the
	// conference against new participants on either side (control.go).
	JoinLockChanged
	// DialOutRequested: a moderator asked the focus to call Identity (a
	// sip: or sips: URI) into the conference (control.go).
	DialOutRequested
	// Cue: the core confirms a DTMF command to Participant alone, by a
	// tone pattern in its ear (Cue says which).
	CueRequested
	// LegJoined: a bound participant gained its other leg (its call, or its
	// chat occupant); Participant shows both. Old is the nick it had
	// before, when the chat client joined under another nick.
	LegJoined
	// LegLeft: a participant with two legs lost one and stays with the
	// other. Old is "audio" or "text", the leg that left.
	LegLeft
)

var kindNames = [...]string{
	ConferenceCreated: "conference-created", ConferenceEnded: "conference-ended", Joined: "joined", Left: "left",
	Kicked: "kicked", Banned: "banned", AffiliationChanged: "affiliation-changed", Muted: "muted", Unmuted: "unmuted",
	RoleChanged: "role-changed", NickChanged: "nick-changed", MediaChanged: "media-changed", Speaking: "speaking",
	DTMF: "dtmf", SubjectChanged: "subject-changed", ConfigChanged: "config-changed", MessagePosted: "message-posted",
	JoinLockChanged: "lock-changed", DialOutRequested: "dial-out-requested", CueRequested: "cue",
	LegJoined: "leg-joined", LegLeft: "leg-left",
}

func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Event is one state change. Participant and the other values are copies.
type Event struct {
	Seq         uint64 // registry-wide, strictly increasing
	Kind        Kind
	Conference  string
	Participant Participant
	Others      []Participant // Joined only
	Actor       Actor
	Origin      Origin
	Reason      string
	Old         string // previous nick, role or affiliation
	Identity    string // affiliation events: bare JID or SIP URI
	Affiliation Affiliation
	Subject     string
	Message     *Message
	Digit       rune
	// Created is set on the Joined event of the participant whose join
	// created the room.
	Created bool
	// Cause says why a Kicked or ConferenceEnded event happened, beyond
	// the actor's reason.
	Cause Cause
	// WasLocked is set on the ConfigChanged event that unlocked a newly
	// created room (its first configuration).
	WasLocked bool
	// Config is the configuration after a ConfigChanged event (and before
	// it in Previous), and the initial one on ConferenceCreated.
	Config, Previous *Config
	// History and Subject are the room's history and subject at a Joined
	// event of a participant with Text, captured with the join so that an
	// adapter shows exactly what preceded the join.
	History   []Message
	SubjectBy string
	// Alternate is the alternate venue of a destroyed room (XEP-0045
	// §10.9), on ConferenceEnded.
	Alternate string
	At        time.Time
	Locked    bool // the new state on JoinLockChanged
	Cue       Cue  // the confirmation to play on CueRequested
}

// Cause is why a participant was removed or a conference ended.
type Cause int

// Causes.
const (
	CauseNone Cause = iota
	// CauseModerator: a moderator's kick or ban.
	CauseModerator
	// CauseAffiliation: an affiliation change removed the participant
	// (membership revoked in a members-only room; XEP-0045 status 321).
	CauseAffiliation
	// CauseMembersOnly: the room became members-only (status 322).
	CauseMembersOnly
	// CauseShutdown: the bridge is shutting down (status 332).
	CauseShutdown
	// CauseDestroyed: the owner destroyed the room.
	CauseDestroyed
	// CauseIdle: a temporary room ended when its last participant left.
	CauseIdle
)

// Stream is one subscriber's view of the event stream. Events are queued
// without bound, so emitting never blocks the core and nothing is dropped;
// a subscriber that stops reading must Close its stream.
type Stream struct {
	c      chan Event
	mu     sync.Mutex
	queue  []Event
	wake   chan struct{}
	done   chan struct{}
	once   sync.Once
	filter string
	owner  *Registry
}

// C delivers the events in order. It is closed after Close.
func (s *Stream) C() <-chan Event { return s.c }

// Close stops the stream and releases it from the registry.
func (s *Stream) Close() {
	s.once.Do(func() {
		s.owner.unsubscribe(s)
		close(s.done)
	})
}

func (s *Stream) push(ev Event) {
	if s.filter != "" && ev.Conference != s.filter {
		return
	}
	s.mu.Lock()
	s.queue = append(s.queue, ev)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Stream) pump() {
	defer close(s.c)
	var batch []Event
	for {
		s.mu.Lock()
		batch, s.queue = s.queue, batch[:0]
		s.mu.Unlock()
		for _, ev := range batch {
			select {
			case s.c <- ev:
			case <-s.done:
				return
			}
		}
		clear(batch)
		select {
		case <-s.wake:
		case <-s.done:
			return
		}
	}
}
