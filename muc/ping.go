package muc

import (
	"context"
	"encoding/xml"
	"errors"
	"sync"
	"time"

	"cusax.dev/bridge/conference"
)

// goneConditions are the errors bounced by a message or presence the room
// sent that mean the occupant's client is no longer there (XEP-0045 §18.1
// "delivery-related errors": for a message or presence to a resource that
// is gone, the server answers service-unavailable, RFC 6121 §8.5.3.2).
var goneConditions = map[string]bool{
	"gone": true, "item-not-found": true, "recipient-unavailable": true, "redirect": true,
	"remote-server-not-found": true, "remote-server-timeout": true, "service-unavailable": true,
	"": true, // an error without a defined condition
}

// liveness is what one check of an occupant's client found.
type liveness int

const (
	alive   liveness = iota // the client answered
	unknown                 // our own session failed: no conclusion
	failed                  // no answer in time, or an error that says it is not there
)

// maintain runs while a session is up: it pings every occupant's client at
// once (stale occupants are likely after a reconnect) and then every
// PingInterval.
func (s *Service) maintain(ctx context.Context, sess Conn) {
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

// pingOccupants checks the real JID of every XMPP occupant (XEP-0199, as
// XEP-0410 suggests for ghost detection) and removes those whose client
// failed two checks in a row, a short while apart.
func (s *Service) pingOccupants(ctx context.Context, sess Conn) {
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
			s.checkOccupant(ctx, sess, tg.room, tg.p)
		}()
	}
	wg.Wait()
}

// checkOccupant removes p when its client fails two consecutive checks.
func (s *Service) checkOccupant(ctx context.Context, sess Conn, room string, p conference.Participant) {
	for attempt := 1; ; attempt++ {
		v, why := s.checkClient(ctx, sess, room, p.JID)
		if v != failed {
			return
		}
		if attempt == 2 {
			s.log.Info("removing occupant whose client is gone", "room", room, "nick", p.Nick, "why", why)
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := s.reg.Leave(lctx, room, p.ID, conference.Failed, conference.OriginXMPP); err != nil && !errors.Is(err, conference.ErrNotFound) {
				s.log.Warn("remove ghost occupant", "room", room, "err", err)
			}
			return
		}
		s.log.Debug("occupant's client failed a check; retrying", "room", room, "nick", p.Nick, "why", why)
		t := time.NewTimer(s.pingRetry())
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// pingRetry is the pause before the second check of a client.
func (s *Service) pingRetry() time.Duration { return min(s.cfg.PingTimeout, 2*time.Second) }

// checkClient pings to from room's JID and reads the answer as XEP-0410
// §3.2 does: a result, service-unavailable or feature-not-implemented (a
// client without XEP-0199) and item-not-found mean the client is there; any
// other error, or no answer in time, means it is not.
//
// A server answers service-unavailable for a resource that is gone too
// (RFC 6121 §8.5.3.2.1; Prosody does), so that answer is followed by a
// disco#info query, which every client answers (XEP-0030, XEP-0115): only
// service-unavailable again, or no answer, counts as a failure.
func (s *Service) checkClient(ctx context.Context, sess Conn, room, to string) (liveness, string) {
	answered, cond := s.query(ctx, sess, room, to, elNS(NSPing, "ping"))
	switch {
	case !answered && cond == "":
		return unknown, ""
	case !answered:
		return failed, "ping " + cond
	case cond == "", cond == "feature-not-implemented", cond == "item-not-found":
		return alive, ""
	case cond != "service-unavailable":
		return failed, "ping error " + cond
	}
	answered, cond = s.query(ctx, sess, room, to, elNS(NSDiscoInfo, "query"))
	switch {
	case !answered && cond == "":
		return unknown, ""
	case !answered:
		return failed, "disco#info " + cond + " after ping service-unavailable"
	case cond == "service-unavailable":
		return failed, "ping and disco#info service-unavailable"
	}
	return alive, ""
}

// query sends an IQ get with payload to to from room's JID. answered is
// false when no answer came: cond is "timeout" then, or "" when our own
// session failed. For an answer, cond is the error condition ("" for a
// result, "undefined-condition" for an error without one).
func (s *Service) query(ctx context.Context, sess Conn, room, to string, payload *node) (answered bool, cond string) {
	qctx, cancel := context.WithTimeout(ctx, s.cfg.PingTimeout)
	defer cancel()
	iq := el("iq", payload).set("type", "get").set("id", newID()).set("from", s.roomJID(room)).set("to", to)
	s.count("iq", "out")
	resp, err := sess.SendIQ(qctx, iq.tokenReader())
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return false, "timeout"
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
	if err != nil {
		return false, ""
	}
	if n.attr("type") != "error" {
		return true, ""
	}
	if c := errorCondition(n); c != "" {
		return true, c
	}
	return true, "undefined-condition"
}
