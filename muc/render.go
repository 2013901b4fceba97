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
			s.renderEvent(ev)
			s.progress.advance(ev.Seq)
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
			s.renderEvent(ev)
			s.progress.advance(ev.Seq)
		case <-deadline.C:
			s.log.Warn("stopping with events not rendered", "rendered", s.progress.rendered(), "last", target)
			return
		}
	}
}

func (s *Service) renderEvent(ev conference.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []*node
	switch ev.Kind {
	case conference.ConferenceCreated:
		s.view(ctx, ev.Conference)
	case conference.Joined:
		out = s.renderJoined(ctx, ev)
	case conference.Left, conference.Kicked, conference.Banned:
		out = s.renderGone(ctx, ev)
	case conference.AffiliationChanged, conference.Muted, conference.Unmuted, conference.RoleChanged:
		out = s.renderUpdate(ctx, ev)
	case conference.NickChanged:
		out = s.renderNick(ctx, ev)
	case conference.SubjectChanged:
		out = s.renderSubject(ctx, ev)
	case conference.ConfigChanged:
		out = s.renderConfig(ctx, ev)
	case conference.MessagePosted:
		out = s.renderMessage(ctx, ev)
	case conference.ConferenceEnded:
		out = s.renderEnded(ev)
	}
	for _, n := range out {
		s.send(n)
	}
}

// renderJoined: the joiner gets the present occupants first, then its
// self-presence (110, 100, 201, 210), then history and subject; everyone
// else gets the joiner's presence (XEP-0045 §7.2.2–§7.2.16).
func (s *Service) renderJoined(ctx context.Context, ev conference.Event) []*node {
	room, p := ev.Conference, ev.Participant
	v := s.view(ctx, room)
	s.mu.Lock()
	var pj *pendingJoin
	if p.Text && p.JID != "" {
		key := occKey{room, p.JID}
		pj = s.pending[key]
		delete(s.pending, key)
	}
	if len(v.occ) == 0 {
		for _, o := range ev.Others { // a room the view has not followed from the start
			v.occ = append(v.occ, &occView{p: o, payload: defaultPayload(o)})
		}
	}
	me := v.byID(p.ID)
	if me == nil {
		me = &occView{p: p, payload: defaultPayload(p)}
		v.occ = append(v.occ, me)
	}
	me.p = p
	if pj != nil {
		me.payload = pj.payload
	}
	var out []*node
	if me.textOccupant() {
		for _, o := range v.occ {
			if o != me {
				out = append(out, s.presence(room, v, o, me, presOpts{}))
			}
		}
		opt := presOpts{}
		if v.whois == "anyone" {
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
	s.mu.Unlock()
	if me.textOccupant() {
		var req historyReq
		if pj != nil {
			req = pj.history
		} else {
			req = defaultHistory()
		}
		out = append(out, s.joinHistory(ctx, room, p, req, ev.At)...)
	}
	return out
}

// joinHistory renders the discussion history and the subject for a joiner.
func (s *Service) joinHistory(ctx context.Context, room string, p conference.Participant, req historyReq, at time.Time) []*node {
	snap, err := s.reg.Snapshot(ctx, room)
	if err != nil {
		return nil
	}
	var out []*node
	if msgs, err := s.reg.History(ctx, room); err == nil {
		out = selectHistory(msgs, req, at, func(m conference.Message) *node {
			return groupchat(s.occJID(room, m.Nick), p.JID, m.ID, textEl("body", m.Body),
				elNS(NSDelay, "delay").set("from", s.roomJID(room)).set("stamp", stamp(m.At)))
		})
	}
	from := s.roomJID(room)
	for _, o := range snap.Participants {
		if snap.SubjectBy != "" && o.Nick == snap.SubjectBy {
			from = s.occJID(room, o.Nick)
		}
	}
	return append(out, groupchat(from, p.JID, "", textEl("subject", snap.Subject)))
}

// renderGone renders a departure: unavailable presence with 110 for the
// occupant itself and 307 (kick), 301 (ban), 321 or 322 (affiliation or
// members-only removal), with actor and reason.
func (s *Service) renderGone(ctx context.Context, ev conference.Event) []*node {
	room, p := ev.Conference, ev.Participant
	if p.ID == "" {
		return nil // an absent identity was banned: nobody to tell
	}
	v := s.view(ctx, room)
	s.mu.Lock()
	defer s.mu.Unlock()
	o := v.byID(p.ID)
	if o == nil {
		o = &occView{p: p, payload: defaultPayload(p)}
	}
	o.p = p
	opt := presOpts{typ: "unavailable", reason: ev.Reason}
	switch ev.Kind {
	case conference.Left:
		key := occKey{room, p.JID}
		if st, ok := s.leaving[key]; ok {
			o.payload = st
			delete(s.leaving, key)
		}
		opt.reason = ""
	case conference.Kicked:
		opt.actor = actorNick(v, ev.Actor)
		switch ev.Cause {
		case conference.CauseAffiliation:
			opt.codes = []int{321}
		case conference.CauseMembersOnly:
			opt.codes = []int{322}
		default:
			opt.codes = []int{307}
		}
	case conference.Banned:
		opt.actor = actorNick(v, ev.Actor)
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
func (s *Service) renderUpdate(ctx context.Context, ev conference.Event) []*node {
	room, p := ev.Conference, ev.Participant
	if p.ID == "" {
		return nil // affiliation of an absent identity: no presence to update
	}
	v := s.view(ctx, room)
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
		opt.actor = actorNick(v, ev.Actor)
	}
	out := s.broadcast(room, v, o, opt)
	if !wasModerator && p.Role == conference.RoleModerator && v.whois != "anyone" && o.textOccupant() {
		// A new moderator of a semi-anonymous room learns the real JIDs.
		for _, other := range v.occ {
			if other != o {
				out = append(out, s.presence(room, v, other, o, presOpts{}))
			}
		}
	}
	return out
}

// renderNick renders a nick change: unavailable from the old nick with 303
// and the new nick, then available from the new nick (XEP-0045 §7.6).
func (s *Service) renderNick(ctx context.Context, ev conference.Event) []*node {
	room, p := ev.Conference, ev.Participant
	v := s.view(ctx, room)
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
func (s *Service) renderSubject(ctx context.Context, ev conference.Event) []*node {
	room := ev.Conference
	v := s.view(ctx, room)
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
// the room became non-anonymous (172) or semi-anonymous (173).
func (s *Service) renderConfig(ctx context.Context, ev conference.Event) []*node {
	room := ev.Conference
	v := s.view(ctx, room)
	cfg, err := s.reg.Config(ctx, room)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		return nil
	}
	var codes []int
	if !ev.WasLocked {
		codes = append(codes, 104)
		if whoisOf(cfg) != v.whois {
			if whoisOf(cfg) == "anyone" {
				codes = append(codes, 172)
			} else {
				codes = append(codes, 173)
			}
		}
	}
	v.whois = whoisOf(cfg)
	if len(codes) == 0 {
		return nil
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
// included, with the sender's id.
func (s *Service) renderMessage(ctx context.Context, ev conference.Event) []*node {
	if ev.Message == nil {
		return nil
	}
	room, m := ev.Conference, ev.Message
	v := s.view(ctx, room)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*node
	for _, to := range v.recipients() {
		out = append(out, groupchat(s.occJID(room, m.Nick), to.p.JID, m.ID, textEl("body", m.Body)))
	}
	return out
}

// renderEnded removes every occupant of an ended room: 332 on shutdown, the
// <destroy/> element when an owner destroyed it (XEP-0045 §10.9).
func (s *Service) renderEnded(ev conference.Event) []*node {
	room := ev.Conference
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.rooms[room]
	if v == nil {
		v = &roomView{}
	}
	alt := s.destroyAlt[room]
	delete(s.destroyAlt, room)
	delete(s.rooms, room)
	opt := presOpts{typ: "unavailable"}
	if ev.Cause == conference.CauseShutdown {
		opt.codes = []int{332}
	} else {
		d := el("destroy").set("jid", alt)
		if ev.Reason != "" {
			d.add(textEl("reason", ev.Reason))
		}
		opt.destroy = d
	}
	var out []*node
	for _, p := range ev.Others {
		o := v.byID(p.ID)
		if o == nil {
			o = &occView{p: p}
		}
		o.p = p
		o.p.Affiliation = conference.AffiliationNone
		if o.textOccupant() {
			out = append(out, s.presence(room, v, o, o, opt))
		}
	}
	return out
}
