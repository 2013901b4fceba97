package muc

import (
	"context"
	"time"

	"cusax.dev/bridge/conference"
)

// onPresence handles joins, presence updates, nick changes, exits and
// presence errors bounced from occupants' clients.
func (s *Service) onPresence(ctx context.Context, st *stanza) {
	if st.to.Localpart() == "" {
		return // presence to the service itself means nothing here
	}
	room, ok := roomOf(st)
	from := st.from.String()
	switch st.typ {
	case "error":
		if ok {
			s.dropGhost(ctx, room, from, "presence error "+errorCondition(st.el))
		}
		return
	case "unavailable":
		if ok {
			s.leave(ctx, st, room)
		}
		return
	case "":
	default:
		return // subscriptions and probes are not for rooms
	}
	if !ok {
		s.send(s.errorTo(st, "", condItemNotFound, "no such room"))
		return
	}
	nick := st.to.Resourcepart()
	if nick == "" {
		s.send(s.errorTo(st, room, condJIDMalformed, "a nick is required"))
		return
	}
	payload := presencePayload(st.el)
	p, present := s.occupant(room, from)
	switch {
	case !present:
		s.join(ctx, st, room, nick, payload)
	case p.Nick != nick:
		s.setPayload(room, from, payload)
		if err := s.reg.ChangeNick(ctx, room, p.ID, nick, conference.OriginXMPP); err != nil {
			s.send(s.errorFor(st, room, err, nickErrors...))
		}
	case st.el.child(NSMUC, "x") != nil:
		s.rejoin(ctx, st, room, payload)
	default:
		s.updatePresence(room, from, payload)
	}
}

// rejoin answers a join presence from a client that is already an occupant
// (typically one that lost its connection unnoticed): it gets the room's
// presence, its self-presence, history and subject again, as on a first
// join; the others see its presence update.
func (s *Service) rejoin(ctx context.Context, st *stanza, room string, payload []*node) {
	from := st.from.String()
	snap, err := s.reg.Snapshot(ctx, room)
	var history []conference.Message
	if err == nil {
		history, err = s.reg.History(ctx, room)
	}
	s.mu.Lock()
	v := s.rooms[room]
	var me *occView
	if v != nil && err == nil {
		me = v.byJID(from)
	}
	if me == nil {
		s.mu.Unlock()
		s.updatePresence(room, from, payload)
		return
	}
	me.payload = payload
	var out []*node
	for _, o := range v.occ {
		if o != me {
			out = append(out, s.presence(room, v, o, me, presOpts{}))
		}
	}
	opt := presOpts{id: st.id}
	if v.whois.NonAnonymous() {
		opt.codes = []int{100}
	}
	out = append(out, s.presence(room, v, me, me, opt))
	for _, to := range v.recipients() {
		if to != me {
			out = append(out, s.presence(room, v, me, to, presOpts{}))
		}
	}
	req := parseHistory(st.el.child(NSMUC, "x").child(NSMUC, "history"))
	out = append(out, s.joinHistory(room, v, from, req, time.Now(), history, snap.Subject, snap.SubjectBy)...)
	s.mu.Unlock()
	for _, n := range out {
		s.send(n)
	}
}

// presencePayload is what an occupant's presence carries that the room
// reflects: everything but the MUC extensions.
func presencePayload(n *node) []*node {
	var out []*node
	for _, k := range n.Kids {
		switch {
		case k.Name.Space == NSMUC, k.Name.Space == NSMUCUser:
		case k.Name.Space == "" && k.Name.Local == "error":
		default:
			out = append(out, k)
		}
	}
	return out
}

// join asks the core to admit st's sender under nick.
func (s *Service) join(ctx context.Context, st *stanza, room, nick string, payload []*node) {
	from := st.from.String()
	x := st.el.child(NSMUC, "x")
	var password string
	if pw := x.child(NSMUC, "password"); pw != nil {
		password = pw.Text
	}
	pj := &pendingJoin{id: st.id, nick: nick, history: parseHistory(x.child(NSMUC, "history")), payload: payload}
	key := occKey{room, from}
	s.mu.Lock()
	s.pending[key] = pj
	s.mu.Unlock()
	_, err := s.reg.Join(ctx, room, conference.JoinRequest{
		DisplayName: nick, Nick: nick, JID: from, Text: true, Password: password, Origin: conference.OriginXMPP,
	})
	if err == nil {
		return
	}
	s.mu.Lock()
	if s.pending[key] == pj {
		delete(s.pending, key)
	}
	s.mu.Unlock()
	s.send(s.errorFor(st, room, err, joinErrors...))
}

// leave handles an occupant's unavailable presence.
func (s *Service) leave(ctx context.Context, st *stanza, room string) {
	from := st.from.String()
	p, ok := s.occupant(room, from)
	if !ok {
		return
	}
	key := occKey{room, from}
	s.mu.Lock()
	s.leaving[key] = presencePayload(st.el)
	s.mu.Unlock()
	if err := s.reg.Leave(ctx, room, p.ID, conference.Departed, conference.OriginXMPP); err != nil {
		s.mu.Lock()
		delete(s.leaving, key)
		s.mu.Unlock()
		s.log.Debug("leave", "room", room, "err", err)
	}
}

// dropGhost removes the occupant whose client bounced a stanza.
func (s *Service) dropGhost(ctx context.Context, room, from, why string) {
	p, ok := s.occupant(room, from)
	if !ok {
		return
	}
	s.log.Info("removing occupant after an error bounce", "room", room, "nick", p.Nick, "why", why)
	if err := s.reg.Leave(ctx, room, p.ID, conference.Failed, conference.OriginXMPP); err != nil {
		s.log.Debug("remove ghost", "room", room, "err", err)
	}
}

// setPayload records an occupant's presence payload for the next rendering.
func (s *Service) setPayload(room, jid string, payload []*node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.rooms[room]; v != nil {
		if o := v.byJID(jid); o != nil {
			o.payload = payload
			return
		}
	}
	if pj := s.pending[occKey{room, jid}]; pj != nil {
		pj.payload = payload
	}
}

// updatePresence reflects a changed presence (show, status) of an occupant
// to everyone in the room (XEP-0045 §7.7).
func (s *Service) updatePresence(room, jid string, payload []*node) {
	s.mu.Lock()
	var out []*node
	if v := s.rooms[room]; v != nil {
		if o := v.byJID(jid); o != nil {
			o.payload = payload
			out = s.broadcast(room, v, o, presOpts{})
		}
	}
	if out == nil {
		if pj := s.pending[occKey{room, jid}]; pj != nil {
			pj.payload = payload
		}
	}
	s.mu.Unlock()
	for _, n := range out {
		s.send(n)
	}
}
