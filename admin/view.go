package admin

import (
	"time"

	"cusax.dev/bridge/conference"
)

// Participation levels (RFC 7081 §4: who gets text, audio or both).
const (
	LevelText  = "text"
	LevelAudio = "audio"
	LevelBoth  = "both"
)

// Bindings of a participant's SIP identity to a JID (DESIGN.md §6).
const (
	BindingVerified   = "verified"
	BindingUnverified = "unverified"
	BindingNone       = "none"
)

// Identities are a participant's addresses on each side.
type Identities struct {
	SIP  string `json:"sip,omitempty"`
	XMPP string `json:"xmpp,omitempty"`
}

// Participant is a participant as the API shows it.
type Participant struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Nick       string     `json:"nick"`
	Identities Identities `json:"identities"`
	// JIDHint is the JID an unbound caller named (Call-Info), unverified:
	// never one of its Identities, so nothing acts on it by mistake.
	JIDHint     string    `json:"jid_hint,omitempty"`
	Level       string    `json:"level"`
	Muted       bool      `json:"muted"`
	MutedBy     string    `json:"muted_by,omitempty"`
	Role        string    `json:"role"`
	Affiliation string    `json:"affiliation"`
	Binding     string    `json:"binding"`
	Speaking    bool      `json:"speaking"`
	OnHold      bool      `json:"on_hold,omitempty"`
	JoinedAt    time.Time `json:"joined_at"`
}

// participantView is the one place the API maps the core's participant:
// its level from whether it has an audio leg, a MUC occupant, or both
// (conference.Participant.Level), and its binding: verified when the core
// bound the SIP leg to the JID, unverified when the caller only named a JID
// (Call-Info hint), none otherwise.
func participantView(p conference.Participant) Participant {
	v := Participant{
		ID: p.ID, Name: p.DisplayName, Nick: p.Nick, Muted: p.Muted, MutedBy: p.MutedBy,
		Role: string(p.Role), Affiliation: string(p.Affiliation), Binding: BindingNone,
		Speaking: p.Speaking, JoinedAt: p.JoinedAt.UTC(),
	}
	switch {
	case p.Bound:
		v.Binding = BindingVerified
	case p.JIDHint != "":
		v.Binding = BindingUnverified
		v.JIDHint = "xmpp:" + p.JIDHint
	}
	if v.Name == "" {
		v.Name = p.Nick
	}
	if p.AOR != "" {
		v.Identities.SIP = p.AOR
	}
	if p.JID != "" {
		v.Identities.XMPP = "xmpp:" + p.BareJID()
	}
	v.Level = p.Level().Name()
	if p.Audio != nil {
		v.OnHold = p.Audio.OnHold
	}
	return v
}

// Counts are a room's participants by level.
type Counts struct {
	Text  int `json:"text"`
	Audio int `json:"audio"`
	Both  int `json:"both"`
}

func (c *Counts) add(level string) {
	switch level {
	case LevelText:
		c.Text++
	case LevelAudio:
		c.Audio++
	case LevelBoth:
		c.Both++
	}
}

// RoomSummary is one entry of GET /rooms.
type RoomSummary struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Locked  bool   `json:"locked"`
	Live    bool   `json:"live"`
	Counts  Counts `json:"counts"`
}

// RoomConfig is a room's configuration as the API shows it.
type RoomConfig struct {
	Title             string   `json:"title"`
	Description       string   `json:"description"`
	Persistent        bool     `json:"persistent"`
	Public            bool     `json:"public"`
	Moderated         bool     `json:"moderated"`
	MembersOnly       bool     `json:"members_only"`
	PasswordProtected bool     `json:"password_protected"`
	PINSet            bool     `json:"pin_set"`
	MaxParticipants   int      `json:"max_participants"`
	Whois             string   `json:"whois"`
	Moderators        []string `json:"moderators"`
}

// Room is GET /rooms/{room}: the room, its configuration and participants.
// Seq is the core's event sequence number the state corresponds to.
type Room struct {
	Name         string        `json:"name"`
	Subject      string        `json:"subject"`
	Locked       bool          `json:"locked"`
	Config       RoomConfig    `json:"config"`
	Counts       Counts        `json:"counts"`
	Participants []Participant `json:"participants"`
	Seq          uint64        `json:"seq"`
}

func roomView(s conference.Snapshot, seq uint64) Room {
	c := s.Config
	r := Room{
		Name: s.Name, Subject: s.Subject, Locked: s.JoinLocked, Seq: seq,
		Config: RoomConfig{
			Title: c.Title, Description: c.Description, Persistent: c.Persistent, Public: c.Public,
			Moderated: c.Moderated, MembersOnly: c.MembersOnly, PasswordProtected: c.Password != "",
			PINSet: c.PIN != "", MaxParticipants: c.MaxParticipants, Whois: c.Whois, Moderators: c.Moderators,
		},
		Participants: make([]Participant, 0, len(s.Participants)),
	}
	if r.Config.Moderators == nil {
		r.Config.Moderators = []string{}
	}
	for _, p := range s.Participants {
		v := participantView(p)
		r.Counts.add(v.Level)
		r.Participants = append(r.Participants, v)
	}
	return r
}

// BanView is one entry of GET /rooms/{room}/bans.
type BanView struct {
	Identity string    `json:"identity"`
	Reason   string    `json:"reason"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
}

// EventView is the data of one Server-Sent Event: the core event's kind,
// the participant it is about (id and name, and the full view), and what
// else the kind carries.
type EventView struct {
	Seq         uint64       `json:"seq"`
	Kind        string       `json:"kind"`
	Room        string       `json:"room"`
	At          time.Time    `json:"at"`
	Origin      string       `json:"origin,omitempty"`
	Actor       string       `json:"actor,omitempty"`
	Reason      string       `json:"reason,omitempty"`
	Participant *Participant `json:"participant,omitempty"`
	Subject     *string      `json:"subject,omitempty"`
	Locked      *bool        `json:"locked,omitempty"`
	Identity    string       `json:"identity,omitempty"`
	Affiliation string       `json:"affiliation,omitempty"`
	Old         string       `json:"old,omitempty"`
}

// eventView maps a core event for the stream; ok is false for kinds the
// stream does not carry (DTMF digits, which may be a PIN; cues; chat
// messages).
func eventView(ev conference.Event) (EventView, bool) {
	switch ev.Kind {
	case conference.DTMF, conference.CueRequested, conference.MessagePosted:
		return EventView{}, false
	}
	v := EventView{Seq: ev.Seq, Kind: ev.Kind.String(), Room: ev.Conference, At: ev.At.UTC(), Origin: string(ev.Origin),
		Actor: actorName(ev.Actor), Reason: ev.Reason, Identity: ev.Identity, Affiliation: string(ev.Affiliation), Old: ev.Old}
	if ev.Participant.ID != "" {
		p := participantView(ev.Participant)
		v.Participant = &p
	}
	switch ev.Kind {
	case conference.SubjectChanged:
		v.Subject = &ev.Subject
	case conference.JoinLockChanged:
		v.Locked = &ev.Locked
	}
	return v, true
}

func actorName(a conference.Actor) string {
	switch {
	case a.Name != "":
		return a.Name
	case a.AOR != "":
		return a.AOR
	case a.JID != "":
		return "xmpp:" + a.JID
	case a.API:
		return "api"
	}
	return ""
}
