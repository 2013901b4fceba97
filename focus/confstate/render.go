package confstate

import (
	"strconv"
	"unicode/utf8"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/confinfo"
)

// MediaID is the media@id of every participant's audio stream. Media ids are
// keys within their endpoint (RFC 4575 §4.5), so one fixed id per endpoint is
// stable across renders.
const MediaID = "audio"

// AvailableMediaLabel is the label of the conference's single available
// medium (conference-description/available-media/entry@label).
const AvailableMediaLabel = "audio"

// Length limits, in bytes, for the free-text values the renderer copies from
// the conference. They keep a user, and with a short title and subject the
// conference description, small enough for a UDP NOTIFY (see Split); longer
// values are cut at a UTF-8 boundary. Keys (entities, URIs) are never cut.
const (
	MaxDisplayText = 128 // user and conference display-text
	MaxSubject     = 256 // conference-description/subject
	MaxReason      = 128 // disconnection-info/reason
)

// Renderer turns conference snapshots into the conference-info documents the
// focus publishes. SIPDomain is required; with MUCDomain empty no
// grouptextchat service URI is published. A Renderer is a value: safe for
// concurrent use.
type Renderer struct {
	// SIPDomain is the host of conference URIs (sip:ROOM@SIPDomain).
	SIPDomain string
	// MUCDomain is the MUC component's domain (xmpp:ROOM@MUCDomain?join).
	MUCDomain string
}

// ConferenceURI is the conference URI of room: sip:ROOM@SIPDomain. It is the
// document entity and the conf-uris entry, byte-identical in every document.
func (r Renderer) ConferenceURI(room string) string {
	return r.addresses().ConferenceURI(room)
}

// addresses is where both adapters take their URIs from, so the focus and
// the MUC publish byte-identical ones.
func (r Renderer) addresses() conference.Addresses {
	return conference.Addresses{SIPDomain: r.SIPDomain, MUCDomain: r.MUCDomain}
}

// ChatURI is the grouptextchat service URI of room (RFC 7106, RFC 7081 §4):
// xmpp:ROOM@MUCDomain?join, the XEP-0045 §16.7.1 join form of RFC 5122. It is
// empty when MUCDomain is empty. Room names are limited to a-z 0-9 . _ - by
// the core, so no percent-encoding is ever needed.
func (r Renderer) ChatURI(room string) string {
	return r.addresses().ChatURI(room)
}

// Full renders the whole conference state of snap as a full document with
// Version 0; the caller (View) numbers it.
//
// The document holds:
//   - entity: the conference URI;
//   - conference-description: display-text (Config.Title, else the room
//     name), subject, conf-uris (the conference URI, purpose participation),
//     service-uris (the chat URI, purpose grouptextchat), maximum-user-count
//     (when Config.MaxParticipants > 0) and available-media (audio,
//     sendrecv);
//   - conference-state: user-count (present participants, audio or text),
//     active (anyone present) and locked (Snapshot.Locked);
//   - users: one user per present participant, in join order, then one per
//     departed participant that had an audio leg (its endpoint disconnected),
//     oldest first. A departed participant whose entity is taken by a present
//     one, or by a more recent departure, is left out (user entities are
//     keys). Departed text-only participants are left out: with no endpoint
//     there is nothing to show as disconnected, so they simply disappear.
//
// Each user has entity Participant.Entity, display-text (the display name,
// else the nick), associated-aors (xmpp:BARE-JID once the participant has a
// JID and the room is non-anonymous, Config.Whois "anyone"; then its SIP
// AOR; each only when it differs from the entity: for a SIP caller the JID
// entry is the binding hook), roles (the MUC role,
// RFC 7702 style: participant, moderator or visitor; a muted participant
// keeps showing its role) and, for an audio leg, one endpoint rendered by
// the rules documented on Endpoint. Text-only participants (MUC occupants)
// have no endpoint: they take part by text only.
func (r Renderer) Full(snap conference.Snapshot) *confinfo.Document {
	conf := r.ConferenceURI(snap.Name)
	d := &confinfo.Document{Entity: conf, State: confinfo.StateFull}

	title := snap.Config.Title
	if title == "" {
		title = snap.Name
	}
	desc := &confinfo.ConferenceDescription{
		DisplayText: clamp(title, MaxDisplayText),
		Subject:     clamp(snap.Subject, MaxSubject),
		ConfURIs: &confinfo.URIs{Entries: []confinfo.URIEntry{
			{URI: conf, Purpose: confinfo.PurposeParticipation},
		}},
		AvailableMedia: []confinfo.AvailableMedium{
			{Label: AvailableMediaLabel, Type: confinfo.MediaTypeAudio, Status: confinfo.MediaSendRecv},
		},
	}
	if chat := r.ChatURI(snap.Name); chat != "" {
		desc.ServiceURIs = &confinfo.URIs{Entries: []confinfo.URIEntry{
			{URI: chat, Purpose: confinfo.PurposeGroupTextChat},
		}}
	}
	if n := snap.Config.MaxParticipants; n > 0 {
		desc.MaximumUserCount = confinfo.Ptr(uint32(n))
	}
	d.Description = desc

	present := len(snap.Participants)
	d.ConferenceState = &confinfo.ConferenceState{
		UserCount: confinfo.Ptr(uint32(present)),
		Active:    confinfo.Ptr(present > 0),
		Locked:    confinfo.Ptr(snap.Locked),
	}

	// Real JIDs go to SIP subscribers only from a non-anonymous room, the
	// rule the core applies to user entities (XEP-0045 §5.2.1 whois).
	showJID := snap.Config.WhoisPolicy().Reveals(conference.Everyone)
	users := &confinfo.Users{Users: make([]confinfo.User, 0, present+len(snap.Departed))}
	seen := make(map[string]struct{}, present+len(snap.Departed))
	for i := range snap.Participants {
		u := r.user(&snap.Participants[i], showJID)
		if _, dup := seen[u.Entity]; dup {
			continue
		}
		seen[u.Entity] = struct{}{}
		users.Users = append(users.Users, u)
	}
	// Departed: the most recent departure of an entity wins, shown oldest
	// first.
	keep := make([]int, 0, len(snap.Departed))
	for i := len(snap.Departed) - 1; i >= 0; i-- {
		p := &snap.Departed[i]
		e := entity(p)
		if _, dup := seen[e]; dup {
			continue
		}
		seen[e] = struct{}{}
		keep = append(keep, i)
	}
	for k := len(keep) - 1; k >= 0; k-- {
		p := &snap.Departed[keep[k]]
		if p.Left == nil {
			// Snapshot.Departed always carries Left; be safe with a
			// hand-built snapshot.
			q := *p
			q.Left = &conference.Leave{Method: conference.Departed}
			p = &q
		}
		users.Users = append(users.Users, r.user(p, showJID))
	}
	d.Users = users
	return d
}

// user renders one participant; showJID allows its real JID in
// associated-aors.
func (r Renderer) user(p *conference.Participant, showJID bool) confinfo.User {
	u := confinfo.User{Entity: entity(p), DisplayText: clamp(displayName(p), MaxDisplayText)}
	var aors []confinfo.URIEntry
	if p.JID != "" && showJID {
		if x := "xmpp:" + p.BareJID(); x != u.Entity {
			aors = append(aors, confinfo.URIEntry{URI: x})
		}
	}
	if p.AOR != "" && p.AOR != u.Entity && (len(aors) == 0 || aors[0].URI != p.AOR) {
		aors = append(aors, confinfo.URIEntry{URI: p.AOR})
	}
	if len(aors) > 0 {
		u.AssociatedAORs = &confinfo.URIs{Entries: aors}
	}
	switch p.Role {
	case conference.RoleModerator, conference.RoleParticipant, conference.RoleVisitor:
		u.Roles = []string{string(p.Role)}
	}
	if p.JIDHint != "" && !p.Bound {
		// RFC 7081 §3.4: the caller named a JID the bridge could not
		// verify; shown, marked as such, granting nothing.
		aors = append(aors, confinfo.URIEntry{URI: "xmpp:" + clamp(p.JIDHint, MaxDisplayText), DisplayText: "unverified"})
		u.AssociatedAORs = &confinfo.URIs{Entries: aors}
	}
	switch {
	case p.Audio != nil:
		u.Endpoints = []confinfo.Endpoint{Endpoint(p)}
	case p.Left != nil:
		// A chat-only user who left shows how, like a caller (issue 8
		// defect 6): an endpoint named by the user entity, disconnected.
		u.Endpoints = []confinfo.Endpoint{TextEndpoint(p)}
	}
	return u
}

// TextEndpoint renders the departure of a chat-only participant (p.Left
// set, no audio leg): entity the user entity, status disconnected, the
// disconnection-method and -info as Endpoint writes them, no media.
func TextEndpoint(p *conference.Participant) confinfo.Endpoint {
	q := *p
	q.Audio = &conference.Audio{Endpoint: entity(p), JoiningMethod: string(confinfo.JoinDialedIn)}
	ep := Endpoint(&q)
	ep.Media = nil
	ep.CallInfo = nil
	ep.JoiningMethod = ""
	ep.JoiningInfo = nil
	return ep
}

// Endpoint renders the audio leg of p (p.Audio must be set) as an RFC 4575
// endpoint:
//
//   - entity: Audio.Endpoint (the Contact), else Audio.AOR, else the
//     participant's AOR or entity;
//   - status, by precedence: disconnected (p.Left set), on-hold
//     (Audio.OnHold), muted-via-focus (Muted), else connected;
//   - joining-method: Audio.JoiningMethod (dialed-in when empty), with
//     joining-info/when = JoinedAt;
//   - for a departed participant: disconnection-method from Left.Method
//     (departed, booted, failed) and disconnection-info with when (Left.At),
//     by (Left.By, the core's actor URI or name) and reason (Left.Reason);
//   - one media stream, id MediaID, type audio, src-id the decimal SSRC the
//     endpoint sends (omitted while unknown, i.e. 0), and a status seen from
//     the participant (RFC 4575 §5.8.5): sendrecv; recvonly when muted (it
//     hears but is not heard); inactive when on hold (the focus mixes
//     nothing from a held leg and the holder listens to nothing, whatever
//     direction its SDP chose) and when disconnected;
//   - call-info/sip when the Call-ID is known: call-id, and the tags from the
//     participant's point of view, as in the requests it sends in the
//     dialog: from-tag = the participant's tag (Audio.RemoteTag), to-tag =
//     the focus's tag (Audio.LocalTag). For a dial-in call these are exactly
//     the From and To tags of its INVITE. RFC 4575 §5.7.6 names the elements
//     without fixing a direction; this choice lets a participant find its own
//     endpoint by matching its local tag against from-tag.
func Endpoint(p *conference.Participant) confinfo.Endpoint {
	a := p.Audio
	ep := confinfo.Endpoint{Entity: firstNonEmpty(a.Endpoint, a.AOR, p.AOR, entity(p))}
	media := confinfo.Media{ID: MediaID, Type: confinfo.MediaTypeAudio}
	switch {
	case p.Left != nil:
		ep.Status, media.Status = confinfo.StatusDisconnected, confinfo.MediaInactive
	case a.OnHold:
		ep.Status, media.Status = confinfo.StatusOnHold, confinfo.MediaInactive
	case p.Muted:
		ep.Status, media.Status = confinfo.StatusMutedViaFocus, confinfo.MediaRecvOnly
	default:
		ep.Status, media.Status = confinfo.StatusConnected, confinfo.MediaSendRecv
	}
	ep.JoiningMethod = confinfo.JoinDialedIn
	switch confinfo.JoiningMethod(a.JoiningMethod) {
	case confinfo.JoinDialedOut:
		ep.JoiningMethod = confinfo.JoinDialedOut
	case confinfo.JoinFocusOwner:
		ep.JoiningMethod = confinfo.JoinFocusOwner
	}
	if !p.JoinedAt.IsZero() {
		ep.JoiningInfo = &confinfo.Execution{When: confinfo.FormatTime(p.JoinedAt)}
	}
	if l := p.Left; l != nil {
		switch l.Method {
		case conference.Booted:
			ep.DisconnectionMethod = confinfo.DisconnectBooted
		case conference.Failed:
			ep.DisconnectionMethod = confinfo.DisconnectFailed
		default:
			ep.DisconnectionMethod = confinfo.DisconnectDeparted
		}
		info := confinfo.Execution{By: l.By, Reason: clamp(l.Reason, MaxReason)}
		if !l.At.IsZero() {
			info.When = confinfo.FormatTime(l.At)
		}
		if info != (confinfo.Execution{}) {
			ep.DisconnectionInfo = &info
		}
	}
	if a.SSRC != 0 {
		media.SrcID = strconv.FormatUint(uint64(a.SSRC), 10)
	}
	ep.Media = []confinfo.Media{media}
	if a.CallID != "" {
		ep.CallInfo = &confinfo.CallInfo{SIP: &confinfo.SIPDialogID{
			CallID: a.CallID, FromTag: a.RemoteTag, ToTag: a.LocalTag,
		}}
	}
	return ep
}

// entity is the participant's user entity; the core always sets one, the
// fallback keeps a hand-built participant renderable.
func entity(p *conference.Participant) string {
	if p.Entity != "" {
		return p.Entity
	}
	return "sip:anonymous" + p.ID + "@anonymous.invalid"
}

func displayName(p *conference.Participant) string {
	if p.DisplayName != "" {
		return p.DisplayName
	}
	return p.Nick
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// clamp cuts s to at most n bytes at a UTF-8 boundary.
func clamp(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Affects reports whether an event of kind k can change the published
// document. Speaking, DTMF and chat messages never do; the focus need not
// touch its subscriptions for them. Everything else may (the answer is
// conservative: a View finds out cheaply when nothing changed).
func Affects(k conference.Kind) bool {
	switch k {
	case conference.Speaking, conference.DTMF, conference.MessagePosted:
		return false
	}
	return true
}
