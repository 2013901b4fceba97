package muc

import (
	"context"
	"encoding/xml"
	"errors"
	"sync"
	"time"

	"mellium.im/xmpp"

	"cusax.dev/bridge/conference"
)

// goneConditions are the stanza errors that mean an occupant's client is no
// longer there (XEP-0045 §18.1 "delivery-related errors"); others (e.g.
// feature-not-implemented from a client without ping support) mean it
// answered.
var goneConditions = map[string]bool{
	"gone": true, "item-not-found": true, "recipient-unavailable": true, "redirect": true,
	"remote-server-not-found": true, "remote-server-timeout": true, "service-unavailable": true,
	"": true, // an error without a defined condition
}

// maintain runs while a session is up: it pings every occupant's client at
// once (stale occupants are likely after a reconnect) and then every
// PingInterval.
func (s *Service) maintain(ctx context.Context, sess *xmpp.Session) {
	s.pingOccupants(ctx, sess)
	if s.cfg.PingInterval < 0 {
		return
	}
	t := time.NewTicker(s.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.pingOccupants(ctx, sess)
		}
	}
}

// pingOccupants pings the real JID of every XMPP occupant (XEP-0199, as
// XEP-0410 suggests for ghost detection) and removes those whose client does
// not answer or is reported gone.
func (s *Service) pingOccupants(ctx context.Context, sess *xmpp.Session) {
	type target struct {
		room string
		p    conference.Participant
	}
	var targets []target
	for _, room := range s.reg.Names() {
		for _, p := range s.reg.Find(room, func(p *conference.Participant) bool { return p.Text && p.JID != "" }) {
			targets = append(targets, target{room, p})
		}
	}
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, tg := range targets {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if gone, why := s.pingOne(ctx, sess, tg.room, tg.p.JID); gone {
				s.log.Info("removing occupant whose client is gone", "room", tg.room, "nick", tg.p.Nick, "why", why)
				lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				if err := s.reg.Leave(lctx, tg.room, tg.p.ID, conference.Failed, conference.OriginXMPP); err != nil && !errors.Is(err, conference.ErrNotFound) {
					s.log.Warn("remove ghost occupant", "room", tg.room, "err", err)
				}
			}
		}()
	}
	wg.Wait()
}

// pingOne pings to from room's JID. gone is true when the client did not
// answer in time or an error says it is not there; a failure of our own
// session counts as "don't know" (not gone).
func (s *Service) pingOne(ctx context.Context, sess *xmpp.Session, room, to string) (gone bool, why string) {
	pctx, cancel := context.WithTimeout(ctx, s.cfg.PingTimeout)
	defer cancel()
	iq := el("iq", elNS(NSPing, "ping")).set("type", "get").set("from", s.roomJID(room)).set("to", to)
	s.count("iq", "out")
	resp, err := sess.SendIQ(pctx, iq.tokenReader())
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return true, "ping timeout"
		}
		return false, ""
	}
	defer resp.Close()
	s.count("iq", "in")
	tok, err := resp.Token()
	if err != nil {
		return false, ""
	}
	start, ok := tok.(xml.StartElement)
	if !ok {
		return false, ""
	}
	n, err := readNode(resp, start)
	if err != nil || n.attr("type") != "error" {
		return false, ""
	}
	cond := errorCondition(n)
	return goneConditions[cond], "ping error " + cond
}
