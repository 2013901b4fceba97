package muc

import (
	"slices"
	"strconv"
	"time"

	"mellium.im/xmpp/jid"

	"cusax.dev/bridge/conference"
)

// roomView is the MUC's picture of a room: the occupants it has presented,
// in join order, as the event stream has told it. The renderer keeps it; the
// stanza handlers only read it (nick and JID routing use the core).
//
// A view is built from the event stream alone, never from a snapshot of the
// core (which would be ahead of the stream and show some events twice): a
// room created or loaded while the service follows the stream starts empty
// and in sync; a room that was live before starts out of sync, knowing
// nobody, until its next Joined event, whose Others say who is there.
type roomView struct {
	occ    []*occView
	whois  conference.Whois
	synced bool
}

// occView is one presented occupant: the core's participant and the
// presence payload (show, status, caps…) its client last sent.
type occView struct {
	p       conference.Participant
	payload []*node
}

// pendingJoin carries what a join presence asked for to the renderer, which
// sees the Joined event possibly before reg.Join has returned. It is
// registered before the core call, so the renderer always finds it.
type pendingJoin struct {
	id      string // the join presence's id, echoed on the self-presence
	nick    string // the nick asked for (210 if the service changed it)
	history historyReq
	payload []*node
}

// textOccupant reports whether o has an XMPP client to send stanzas to.
func (o *occView) textOccupant() bool { return o.p.Text && o.p.JID != "" }

func (v *roomView) byID(id string) *occView {
	for _, o := range v.occ {
		if o.p.ID == id {
			return o
		}
	}
	return nil
}

func (v *roomView) byJID(jid string) *occView {
	for _, o := range v.occ {
		if o.p.JID == jid && o.p.Text {
			return o
		}
	}
	return nil
}

func (v *roomView) remove(id string) {
	v.occ = slices.DeleteFunc(v.occ, func(o *occView) bool { return o.p.ID == id })
}

// recipients returns the occupants with an XMPP client.
func (v *roomView) recipients() []*occView {
	var out []*occView
	for _, o := range v.occ {
		if o.textOccupant() {
			out = append(out, o)
		}
	}
	return out
}

// seesJID says whether to may see o's real JID: the core's rule
// (conference.Whois.Reveals).
func (v *roomView) seesJID(to, o *occView) bool {
	return v.whois.Reveals(conference.Viewer{Self: to.p.ID == o.p.ID, Moderator: to.p.Role == conference.RoleModerator})
}

// viewOf returns the view of room, creating it (out of sync, with the room's
// whois setting) if needed.
func (s *Service) viewOf(room string) *roomView {
	s.mu.Lock()
	v := s.rooms[room]
	s.mu.Unlock()
	if v != nil {
		return v
	}
	whois := s.currentWhois(room)
	s.mu.Lock()
	defer s.mu.Unlock()
	if v = s.rooms[room]; v == nil {
		v = &roomView{whois: whois}
		s.rooms[room] = v
	}
	return v
}

// renderCreated starts the view of a room that has just come to life:
// nobody is in it yet.
func (s *Service) renderCreated(ev conference.Event) {
	whois := s.currentWhois(ev.Conference)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rooms[ev.Conference] = &roomView{whois: whois, synced: true}
}

// currentWhois reads the whois setting of a live room without loading one
// (the renderer must not bring an ended room back).
func (s *Service) currentWhois(room string) conference.Whois {
	if c := s.reg.Lookup(room); c != nil {
		return c.Snapshot().Config.WhoisPolicy()
	}
	return conference.WhoisModerators
}

// whoisOf is the room's muc#roomconfig_whois.
func whoisOf(c conference.Config) conference.Whois { return c.WhoisPolicy() }

// defaultPayload is the presence payload of an occupant the bridge presents
// on someone's behalf: none of its own (the participation status and
// element are added to every presence).
func defaultPayload(conference.Participant) []*node { return nil }

// NSParticipation is the namespace of the bridge's participation element,
// carried in every available occupant presence (RFC 7081 §4: users see
// who gets text, audio or both):
//
//	<participation xmlns='urn:cusax:participation:0'
//	               text='true' audio='true' muted='false'/>
//
// text: the person is in the chat room; audio: on the call; muted: on the
// call but not heard (by its own choice or a moderator's). The values are
// XML Schema booleans, always all three.
const NSParticipation = "urn:cusax:participation:0"

func participation(lv conference.Level) *node {
	b := func(v bool) string {
		if v {
			return "true"
		}
		return "false"
	}
	return elNS(NSParticipation, "participation").set("text", b(lv.Text)).set("audio", b(lv.Audio)).set("muted", b(lv.Muted))
}

// presOpts are the variable parts of an occupant presence.
type presOpts struct {
	typ     string // "" (available) or "unavailable"
	codes   []int
	actor   string // nick of the moderator who acted
	reason  string
	newNick string // status 303
	destroy *node
	id      string
}

// presence renders occupant o's presence as seen by to; nil when o's nick
// cannot be a JID resourcepart (such an occupant is not presented).
func (s *Service) presence(room string, v *roomView, o, to *occView, opt presOpts) *node {
	if _, err := jid.New(room, s.domain.Domainpart(), o.p.Nick); err != nil || o.p.Nick == "" {
		s.log.Debug("occupant not presented: nick is not a valid resourcepart", "room", room, "participant", o.p.ID)
		return nil
	}
	self := o.p.ID == to.p.ID
	role, aff := string(o.p.Role), string(o.p.Affiliation)
	if opt.typ == "unavailable" {
		role = string(conference.RoleNone)
	}
	item := el("item").set("affiliation", aff).set("role", role).set("nick", opt.newNick)
	if o.p.JID != "" && v.seesJID(to, o) {
		item.set("jid", o.p.JID)
	}
	if opt.actor != "" {
		item.add(el("actor").set("nick", opt.actor))
	}
	if opt.reason != "" {
		item.add(textEl("reason", opt.reason))
	}
	x := elNS(NSMUCUser, "x", item, opt.destroy)
	codes := opt.codes
	if self {
		codes = append([]int{110}, codes...)
	}
	for _, c := range sortedCodes(codes) {
		x.add(el("status").set("code", strconv.Itoa(c)))
	}
	pres := el("presence").set("from", s.occJID(room, o.p.Nick)).set("to", to.p.JID).set("type", opt.typ).set("id", opt.id)
	hasStatus := false
	for _, k := range o.payload {
		isStatus := k.Name.Space == "" && k.Name.Local == "status"
		hasStatus = hasStatus || isStatus
		if opt.typ != "unavailable" || isStatus {
			pres.add(k.clone())
		}
	}
	if opt.typ != "unavailable" {
		lv := o.p.Level()
		if !hasStatus {
			// RFC 7081 §4: people see what the person takes part in.
			pres.add(textEl("status", lv.Status()))
		}
		pres.add(participation(lv))
	}
	return pres.add(x)
}

func sortedCodes(codes []int) []int {
	out := slices.Clone(codes)
	slices.Sort(out)
	return slices.Compact(out)
}

// broadcast renders o's presence for every XMPP occupant of v.
func (s *Service) broadcast(room string, v *roomView, o *occView, opt presOpts) []*node {
	var out []*node
	for _, to := range v.recipients() {
		out = append(out, s.presence(room, v, o, to, opt))
	}
	return out
}

// actorNick returns the nick of a in v, if a is a present occupant.
func actorNick(v *roomView, a conference.Actor) string {
	if a.ParticipantID != "" {
		if o := v.byID(a.ParticipantID); o != nil {
			return o.p.Nick
		}
	}
	if a.JID != "" {
		if o := v.byJID(a.JID); o != nil {
			return o.p.Nick
		}
	}
	return ""
}

// actorLabel names the actor of a kick, ban or mute in <actor nick=…/>
// (XEP-0045 §8.2): its nick when it is an occupant; a SIP moderator (a
// REFER, DTMF or an authenticated caller) by the nick of its call, else by
// the name the adapter gave it (its AOR; SIP identities are not hidden by
// whois); the admin API by its name.
func actorLabel(v *roomView, a conference.Actor) string {
	if n := actorNick(v, a); n != "" {
		return n
	}
	if a.AOR != "" && a.Authenticated {
		want := conference.CanonicalAOR(a.AOR)
		for _, o := range v.occ {
			if o.p.AOR != "" && o.p.Authenticated && conference.CanonicalAOR(o.p.AOR) == want {
				return o.p.Nick
			}
		}
	}
	switch {
	case a.Name != "":
		return a.Name
	case a.AOR != "":
		return a.AOR
	}
	return ""
}

// groupchat builds a groupchat message from from to to.
func groupchat(from, to, id string, kids ...*node) *node {
	return el("message", kids...).set("type", "groupchat").set("from", from).set("to", to).set("id", id)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
