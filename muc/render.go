package muc

import (
	"context"
	"strconv"
	"time"

	"cusax.dev/bridge/conference"
)

// render follows the core's events in order and turns them into stanzas,
// recording its progress for the handlers that answer after it. When ctx
// ends it goes on until it has rendered every event emitted so far (the
// registry ends its conferences before the services stop, so the shutdown
// presences still reach the occupants before the link closes), for at most
// drainTimeout.
func (s *Service) render(ctx context.Context, stream *conference.Stream) {
	for {
		select {
		case ev, ok := <-stream.C():
			if !ok {
				return
			}
			s.renderNext(ev)
		case <-ctx.Done():
			s.drain(stream)
			return
		}
	}
}

// drainTimeout bounds the rendering of the last events after Run's context
// ends.
const drainTimeout = 3 * time.Second

func (s *Service) drain(stream *conference.Stream) {
	target := s.reg.Seq()
	deadline := time.NewTimer(drainTimeout)
	defer deadline.Stop()
	for s.progress.rendered() < target {
		select {
		case ev, ok := <-stream.C():
			if !ok {
				return
			}
			s.renderNext(ev)
		case <-deadline.C:
			s.log.Warn("stopping with events not rendered", "rendered", s.progress.rendered(), "last", target)
			return
		}
	}
}

// renderNext renders ev and records that it has been.
func (s *Service) renderNext(ev conference.Event) {
	s.renderEvent(ev)
	s.progress.advance(ev.Seq)
}

// renderEvent sends the stanzas of one event. It reads nothing but the event
// and the views (never the core's current state, which may be ahead of the
// event), so what it shows is what the event says.
func (s *Service) renderEvent(ev conference.Event) {
	var out []*node
	switch ev.Kind {
	case conference.ConferenceCreated:
		s.renderCreated(ev)
	case conference.Joined:
		out = s.renderJoined(ev)
	case conference.LegJoined:
		if ev.Old != "" { // the chat client joined a caller's participant
			out = s.renderJoined(ev)
		} else {
			out = s.renderUpdate(ev)
		}
	case conference.LegLeft:
		out = s.renderLegLeft(ev)
	case conference.Left, conference.Kicked, conference.Banned:
		out = s.renderGone(ev)
	case conference.AffiliationChanged, conference.Muted, conference.Unmuted, conference.RoleChanged:
		out = s.renderUpdate(ev)
	case conference.NickChanged:
		out = s.renderNick(ev)
	case conference.SubjectChanged:
		out = s.renderSubject(ev)
	case conference.ConfigChanged:
		out = s.renderConfig(ev)
	case conference.MessagePosted:
		out = s.renderMessage(ev)
	case conference.ConferenceEnded:
		out = s.renderEnded(ev)
	}
	for _, n := range out {
		s.send(n)
	}
}

// renderJoined: the joiner gets the present occupants first, then its
// self-presence (110, 100, 201, 210), then the history and subject captured
// with the join; everyone else gets the joiner's presence (XEP-0045
// §7.2.2–§7.2.16).
func (s *Service) renderJoined(ev conference.Event) []*node {
	room, p := ev.Conference, ev.Participant
	v := s.viewOf(room)
	s.mu.Lock()
	defer s.mu.Unlock()
	var pj *pendingJoin
	if p.Text && p.JID != "" {
		key := occKey{room, p.JID}
		pj = s.pending[key]
		delete(s.pending, key)
	}
	if !v.synced {
		// A room that was live before the service followed it: the event
		// says who is there.
		v.occ = v.occ[:0]
		for _, o := range ev.Others {
			v.occ = append(v.occ, &occView{p: o, payload: defaultPayload(o)})
		}
		v.synced = true
	}
	me := v.byID(p.ID)
	var out []*node
	if me == nil {
		me = &occView{p: p, payload: defaultPayload(p)}
		v.occ = append(v.occ, me)
	} else if ev.Kind == conference.LegJoined && me.p.Nick != p.Nick {
		// The bridge showed the caller under another nick: a nick change
		// for those who saw it (XEP-0045 §7.6).
		old := *me
		for _, to := range v.recipients() {
			if to != me {
				out = append(out, s.presence(room, v, &old, to, presOpts{typ: "unavailable", codes: []int{303}, newNick: p.Nick}))
			}
		}
	}
	me.p = p
	if pj != nil {
		me.payload = pj.payload
	}
	if me.textOccupant() {
		for _, o := range v.occ {
			if o != me {
				out = append(out, s.presence(room, v, o, me, presOpts{}))
			}
		}
		opt := presOpts{}
		if v.whois.NonAnonymous() {
			opt.codes = append(opt.codes, 100)
		}
		if ev.Created {
			opt.codes = append(opt.codes, 201)
		}
		if pj != nil {
			opt.id = pj.id
			if pj.nick != p.Nick {
				opt.codes = append(opt.codes, 210)
			}
		}
		out = append(out, s.presence(room, v, me, me, opt))
	}
	for _, to := range v.recipients() {
		if to != me {
			out = append(out, s.presence(room, v, me, to, presOpts{}))
		}
	}
	if me.textOccupant() {
		req := defaultHistory()
		if pj != nil {
			req = pj.history
		}
		out = append(out, s.joinHistory(room, v, p.JID, req, ev.At, ev.History, ev.Subject, ev.SubjectBy)...)
	}
	return out
}

// joinHistory renders the discussion history and the subject for a joiner
// whose client is to (XEP-0045 §7.2.15, §7.2.16): the subject comes from
// the occupant who set it while that nick is in the room, else from the
// room. Called with s.mu held.
func (s *Service) joinHistory(room string, v *roomView, to string, req historyReq, at time.Time, history []conference.Message, subject, subjectBy string) []*node {
	out := selectHistory(history, req, at, func(m conference.Message) *node {
		return groupchat(s.occJID(room, m.Nick), to, m.ID, textEl("body", m.Body),
			elNS(NSDelay, "delay").set("from", s.roomJID(room)).set("stamp", stamp(m.At)))
	})
	from := s.roomJID(room)
	for _, o := range v.occ {
		if subjectBy != "" && o.p.Nick == subjectBy {
			from = s.occJID(room, o.p.Nick)
		}
	}
	return append(out, groupchat(from, to, "", textEl("subject", subject)))
}

// renderGone renders a departure: unavailable presence with 110 for the
// occupant itself and 307 (kick), 301 (ban), 321 or 322 (affiliation or
// members-only removal), with actor and reason. An occupant the view never
// showed is not shown leaving either.
func (s *Service) renderGone(ev conference.Event) []*node {
	room, p := ev.Conference, ev.Participant
	if p.ID == "" {
		return nil // an absent identity was banned: nobody to tell
	}
	v := s.viewOf(room)
	s.mu.Lock()
	defer s.mu.Unlock()
	key := occKey{room, p.JID}
	leaving, hasLeaving := s.leaving[key]
	if ev.Kind == conference.Left {
		delete(s.leaving, key)
	}
	o := v.byID(p.ID)
	if o == nil {
		return nil
	}
	o.p = p
	opt := presOpts{typ: "unavailable", reason: ev.Reason}
	switch ev.Kind {
	case conference.Left:
		if hasLeaving {
			o.payload = leaving
		}
		opt.reason = ""
	case conference.Kicked:
		opt.actor = actorLabel(v, ev.Actor)
		switch ev.Cause {
		case conference.CauseAffiliation:
			opt.codes = []int{321}
		case conference.CauseMembersOnly:
			opt.codes = []int{322}
		default:
			opt.codes = []int{307}
		}
	case conference.Banned:
		opt.actor = actorLabel(v, ev.Actor)
		opt.codes = []int{301}
		o.p.Affiliation = conference.AffiliationOutcast
	}
	var out []*node
	if o.textOccupant() {
		out = append(out, s.presence(room, v, o, o, opt))
	}
	v.remove(p.ID)
	for _, to := range v.recipients() {
		out = append(out, s.presence(room, v, o, to, opt))
	}
	return out
}

// renderUpdate broadcasts an occupant's new role or affiliation (voice
// granted or revoked, moderator granted or revoked, membership changed).
func (s *Service) renderUpdate(ev conference.Event) []*node {
	room, p := ev.Conference, ev.Participant
	if p.ID == "" {
		return nil // affiliation of an absent identity: no presence to update
	}
	v := s.viewOf(room)
	s.mu.Lock()
	defer s.mu.Unlock()
	o := v.byID(p.ID)
	if o == nil {
		return nil
	}
	wasModerator := o.p.Role == conference.RoleModerator
	o.p = p
	opt := presOpts{reason: ev.Reason}
	if ev.Kind == conference.Muted || ev.Kind == conference.Unmuted || ev.Kind == conference.RoleChanged {
		opt.actor = actorLabel(v, ev.Actor)
	}
	out := s.broadcast(room, v, o, opt)
	if !wasModerator && p.Role == conference.RoleModerator && !v.whois.NonAnonymous() && o.textOccupant() {
		// A new moderator of a semi-anonymous room learns the real JIDs.
		for _, other := range v.occ {
			if other != o {
				out = append(out, s.presence(room, v, other, o, presOpts{}))
			}
		}
	}
	return out
}

// renderLegLeft renders a participant losing one of its two legs: when
// its chat client left, the client gets its unavailable self-presence and
// everyone else the presence of the caller who stays; when the call left,
// everyone sees the new participation level.
func (s *Service) renderLegLeft(ev conference.Event) []*node {
	room, p := ev.Conference, ev.Participant
	v := s.viewOf(room)
	s.mu.Lock()
	defer s.mu.Unlock()
	o := v.byID(p.ID)
	if o == nil {
		return nil
	}
	var out []*node
	if ev.Old == "text" && o.textOccupant() {
		key := occKey{room, o.p.JID}
		leaving := s.leaving[key]
		delete(s.leaving, key)
		gone := *o
		if leaving != nil {
			gone.payload = leaving
		}
		out = append(out, s.presence(room, v, &gone, &gone, presOpts{typ: "unavailable"}))
		o.payload = defaultPayload(p)
	}
	o.p = p
	return append(out, s.broadcast(room, v, o, presOpts{})...)
}

// renderNick renders a nick change: unavailable from the old nick with 303
// and the new nick, then available from the new nick (XEP-0045 §7.6).
func (s *Service) renderNick(ev conference.Event) []*node {
	room, p := ev.Conference, ev.Participant
	v := s.viewOf(room)
	s.mu.Lock()
	defer s.mu.Unlock()
	o := v.byID(p.ID)
	if o == nil {
		return nil
	}
	var out []*node
	old := *o
	old.p.Nick = ev.Old
	o.p = p
	for _, to := range v.recipients() {
		out = append(out, s.presence(room, v, &old, to, presOpts{typ: "unavailable", codes: []int{303}, newNick: p.Nick}))
		out = append(out, s.presence(room, v, o, to, presOpts{}))
	}
	return out
}

// renderSubject sends the new subject to every occupant, from the occupant
// who set it or from the room.
func (s *Service) renderSubject(ev conference.Event) []*node {
	room := ev.Conference
	v := s.viewOf(room)
	s.mu.Lock()
	defer s.mu.Unlock()
	from := s.roomJID(room)
	if nick := actorNick(v, ev.Actor); nick != "" {
		from = s.occJID(room, nick)
	}
	var out []*node
	for _, to := range v.recipients() {
		out = append(out, groupchat(from, to.p.JID, "", textEl("subject", ev.Subject)))
	}
	return out
}

// renderConfig tells occupants the configuration changed (104) and whether
// the room became non-anonymous (172) or semi-anonymous (173), comparing
// the configuration the event carries with the one before it. The first
// configuration of a new room is no change for anyone.
func (s *Service) renderConfig(ev conference.Event) []*node {
	if ev.Config == nil {
		return nil
	}
	room := ev.Conference
	v := s.viewOf(room)
	s.mu.Lock()
	defer s.mu.Unlock()
	whois := whoisOf(*ev.Config)
	v.whois = whois
	if ev.WasLocked {
		return nil
	}
	codes := []int{104}
	if ev.Previous != nil && whoisOf(*ev.Previous) != whois {
		if whois.NonAnonymous() {
			codes = append(codes, 172)
		} else {
			codes = append(codes, 173)
		}
	}
	var out []*node
	for _, to := range v.recipients() {
		x := elNS(NSMUCUser, "x")
		for _, c := range codes {
			x.add(el("status").set("code", strconv.Itoa(c)))
		}
		out = append(out, groupchat(s.roomJID(room), to.p.JID, "", x))
	}
	return out
}

// renderMessage reflects a groupchat message to every occupant, the sender
// included, with the sender's id and origin-id and the room's stanza-id
// (XEP-0359 §3.1, §3.2: clients such as profanity recognise their own
// message by them and show it once).
func (s *Service) renderMessage(ev conference.Event) []*node {
	if ev.Message == nil {
		return nil
	}
	room, m := ev.Conference, ev.Message
	v := s.viewOf(room)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*node
	for _, to := range v.recipients() {
		kids := []*node{textEl("body", m.Body)}
		if m.OriginID != "" {
			kids = append(kids, elNS(NSSID, "origin-id").set("id", m.OriginID))
		}
		if m.StanzaID != "" {
			kids = append(kids, elNS(NSSID, "stanza-id").set("id", m.StanzaID).set("by", s.roomJID(room)))
		}
		out = append(out, groupchat(s.occJID(room, m.Nick), to.p.JID, m.ID, kids...))
	}
	return out
}

// renderEnded removes every occupant of an ended room: 332 on shutdown, the
// <destroy/> element with the alternate venue when an owner destroyed it
// (XEP-0045 §10.9).
func (s *Service) renderEnded(ev conference.Event) []*node {
	room := ev.Conference
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.rooms[room]
	if v == nil {
		v = &roomView{}
	}
	delete(s.rooms, room)
	opt := presOpts{typ: "unavailable"}
	switch ev.Cause {
	case conference.CauseShutdown:
		opt.codes = []int{332}
	case conference.CauseDestroyed:
		d := el("destroy").set("jid", ev.Alternate)
		if ev.Reason != "" {
			d.add(textEl("reason", ev.Reason))
		}
		opt.destroy = d
	}
	var out []*node
	for _, p := range ev.Others {
		o := v.byID(p.ID)
		if o == nil {
			continue // never shown
		}
		o.p = p
		o.p.Affiliation = conference.AffiliationNone
		if o.textOccupant() {
			out = append(out, s.presence(room, v, o, o, opt))
		}
	}
	return out
}
