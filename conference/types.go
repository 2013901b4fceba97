package conference

import (
	"errors"
	"strings"
	"time"

	"cusax.dev/bridge/store"
)

// Origin says through which door an action came in.
type Origin string

// Origins of actions.
const (
	OriginSIP    Origin = "sip"
	OriginXMPP   Origin = "xmpp"
	OriginAPI    Origin = "api"
	OriginDTMF   Origin = "dtmf"
	OriginSystem Origin = "system"
)

// Role is a per-visit privilege level (XEP-0045 §5.1).
type Role string

// Roles, lowest first.
const (
	RoleNone        Role = "none"
	RoleVisitor     Role = "visitor"
	RoleParticipant Role = "participant"
	RoleModerator   Role = "moderator"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleNone, RoleVisitor, RoleParticipant, RoleModerator:
		return true
	}
	return false
}

// Affiliation is a persistent relation of an identity to a room
// (XEP-0045 §5.2).
type Affiliation string

// Affiliations.
const (
	AffiliationNone    Affiliation = "none"
	AffiliationOutcast Affiliation = "outcast"
	AffiliationMember  Affiliation = "member"
	AffiliationAdmin   Affiliation = "admin"
	AffiliationOwner   Affiliation = "owner"
)

// Valid reports whether a is a known affiliation.
func (a Affiliation) Valid() bool {
	switch a {
	case AffiliationNone, AffiliationOutcast, AffiliationMember, AffiliationAdmin, AffiliationOwner:
		return true
	}
	return false
}

// rank orders affiliations for the "higher affiliation" rules of XEP-0045;
// outcast ranks lowest.
func (a Affiliation) rank() int {
	switch a {
	case AffiliationOwner:
		return 4
	case AffiliationAdmin:
		return 3
	case AffiliationMember:
		return 2
	case AffiliationNone:
		return 1
	}
	return 0
}

// Departure says how a participant left (RFC 4575 disconnection-method).
type Departure string

// Departures.
const (
	Departed Departure = "departed" // hung up or left
	Booted   Departure = "booted"   // kicked or banned by a moderator
	Failed   Departure = "failed"   // media or signalling failure
)

// Audio is a participant's SIP leg as the core sees it: only what other
// adapters and conference state need, no protocol objects.
type Audio struct {
	AOR           string // the caller's address of record (From URI)
	Endpoint      string // the caller's Contact URI; RFC 4575 endpoint entity
	CallID        string
	LocalTag      string // the focus's tag
	RemoteTag     string // the caller's tag
	JoiningMethod string // "dialed-in" or "dialed-out"
	Codec         string // e.g. "PCMU"
	SSRC          uint32 // the SSRC the endpoint sends; 0 until known
	OnHold        bool   // the endpoint put the call on hold
}

// Participant is one person in a conference: a SIP leg, a MUC occupant, or
// both once bound. Values handed out by the core are copies.
type Participant struct {
	ID          string
	Entity      string // unique user URI for conference-info (AOR or xmpp: JID)
	DisplayName string
	Nick        string // MUC nick, unique in the room; assigned for SIP callers
	JID         string // full real JID of the MUC occupant or the bound JID
	AOR         string // SIP address of record, if any
	// Authenticated is true when the SIP AOR is a trusted identity:
	// verified by digest, or asserted by a trusted peer (P-Asserted-Identity).
	Authenticated bool
	// Bound is true when the SIP leg is verified to belong to JID (RFC
	// 7081 §3.4): the caller and the JID's occupant are one participant.
	Bound bool
	// JIDHint is a JID the caller named (Call-Info purpose=impp) that the
	// core could not verify: shown as unverified, it grants nothing.
	JIDHint     string
	Role        Role
	Affiliation Affiliation
	Muted       bool
	// MutedByModerator means only a moderator may unmute (not a DTMF
	// toggle). It is recorded whenever a moderator mutes, whatever the
	// current state (a caller who muted itself first stays muted by the
	// moderator).
	MutedByModerator bool
	MutedBy          string // who muted it (nick, URI, "api"); empty when not muted
	Speaking         bool
	Audio            *Audio // nil when the participant has no audio leg
	Text             bool   // present in the MUC room
	JoinedAt         time.Time
	// Left is set on departed participants kept in snapshots.
	Left *Leave
}

// Leave records how and when a participant left.
type Leave struct {
	Method Departure
	At     time.Time
	By     string // URI or nick of the actor, if booted
	Reason string
}

// BareJID returns the participant's JID without resource.
func (p *Participant) BareJID() string {
	j, _, _ := strings.Cut(p.JID, "/")
	return j
}

// HasAudio reports whether the participant has a SIP leg.
func (p *Participant) HasAudio() bool { return p.Audio != nil }

func (p Participant) clone() Participant {
	if p.Audio != nil {
		a := *p.Audio
		p.Audio = &a
	}
	if p.Left != nil {
		l := *p.Left
		p.Left = &l
	}
	return p
}

// Actor identifies who asks for an action, with what the adapter verified.
type Actor struct {
	// ParticipantID is set when the actor is in the conference.
	ParticipantID string
	// JID is the actor's real JID as routed by the XMPP server (trusted).
	JID string
	// AOR is the actor's SIP address of record; it counts only with
	// Authenticated (digest verified).
	AOR           string
	Authenticated bool
	// API is set for the admin API, whose token was checked.
	API bool
	// Name is how to show the actor (nick, URI); informational.
	Name string
}

// System is the actor for actions the bridge takes by itself.
var System = Actor{Name: "bridge"}

// Config is a room's configuration and policy.
type Config struct {
	Title                string
	Description          string
	Persistent           bool
	Public               bool
	Moderated            bool
	MembersOnly          bool
	Password             string
	MaxParticipants      int    // 0 = no limit
	Whois                string // "moderators" or "anyone"
	HistoryLength        int
	AllowPrivateMessages bool
	AllowSubjectChange   bool
	// Moderators are URIs (sip:, xmpp:) that may moderate: a sip: AOR only
	// when digest-authenticated.
	Moderators []string
	// PIN lets a caller claim the moderator role by DTMF.
	PIN string
}

// Message is a groupchat message kept in the room history.
type Message struct {
	ID      string
	Nick    string
	FromJID string
	Body    string
	At      time.Time
	// OriginID is the sender's own id for the message (XEP-0359
	// origin-id), reflected so that its client recognises its message.
	OriginID string
	// StanzaID is the room's unique id for the message (XEP-0359
	// stanza-id), assigned by Post. Not persisted: history loaded after a
	// restart has none.
	StanzaID string
}

// Size limits the core enforces on what any door hands it. They are the
// store's limits (defined there, once), so nothing valid here fails there;
// the adapters take them from here.
const (
	MaxNick  = store.MaxNickLen  // a JID resourcepart's limit
	MaxShort = store.MaxShortLen // titles, passwords, message IDs, JIDs
	MaxText  = store.MaxTextLen  // bodies, subjects, descriptions, reasons
)

// Errors returned by the core. Adapters map them to protocol errors.
var (
	ErrInvalidName        = errors.New("conference: invalid room name")
	ErrNotFound           = errors.New("conference: no such conference or participant")
	ErrFull               = errors.New("conference: room is full")
	ErrBanned             = errors.New("conference: banned from the room")
	ErrMembersOnly        = errors.New("conference: room is members-only")
	ErrPasswordRequired   = errors.New("conference: password required")
	ErrNickConflict       = errors.New("conference: nick in use")
	ErrCreationRestricted = errors.New("conference: room creation is restricted")
	ErrLocked             = errors.New("conference: room is locked until configured")
	ErrForbidden          = errors.New("conference: not authorised")
	ErrNotAllowed         = errors.New("conference: not allowed on that target")
	ErrConflict           = errors.New("conference: conflicting request")
	ErrBadRequest         = errors.New("conference: bad request")
	ErrNotOccupant        = errors.New("conference: sender is not in the room")
	ErrNoText             = errors.New("conference: the participant takes part by audio only")
	ErrClosed             = errors.New("conference: registry closed")
	ErrStore              = errors.New("conference: persistence failed")
	// ErrUntrusted: rights were to be granted to a SIP caller whose AOR is
	// not a trusted identity (neither digest nor a trusted peer's
	// P-Asserted-Identity) and which is bound to no JID.
	ErrUntrusted = errors.New("conference: the caller's SIP identity is not verified")
)
