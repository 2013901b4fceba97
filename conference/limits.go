package conference

import (
	"context"
	"errors"
	"time"
)

// ErrRoomQuota refuses creating a room over Options.MaxRooms or
// Options.MaxRoomsPerCreator (SIP 403, XMPP resource-constraint).
var ErrRoomQuota = errors.New("conference: room quota reached")

// Defaults of the room and PIN limits (Options).
const (
	DefaultIdleGrace          = 30 * time.Second
	DefaultMaxRooms           = 10000
	DefaultMaxRoomsPerCreator = 20
	DefaultPINAttempts        = 3
	DefaultPINRoomAttempts    = 10
	pinBaseDelay              = 5 * time.Second
	pinMaxDelay               = 10 * time.Minute
	pinForget                 = 30 * time.Minute
)

// Refusal reasons reported through Options.OnRefusal (the metrics package
// counts them as cusax_security_refusals_total{reason}).
const (
	RefusePINLocked = "pin_locked"
	RefuseRoomQuota = "room_quota"
)

// Limits bound what callers and chat users can make the core hold (part
// of Options).
type Limits struct {
	// IdleGrace is how long a temporary room (not declared, not made
	// persistent by an owner) lives on after its last participant left;
	// then it is destroyed, memory and store. DefaultIdleGrace if 0;
	// negative: at once. A room created over XMPP and left locked (never
	// configured) is destroyed at once (XEP-0045 §10.1.3).
	IdleGrace time.Duration
	// MaxRooms bounds the live rooms; creating one more fails with
	// ErrRoomQuota. DefaultMaxRooms if 0; negative: no limit.
	MaxRooms int
	// MaxRoomsPerCreator bounds the live rooms one creator (a bare JID, an
	// authenticated AOR, else the source address of the SIP request)
	// created. DefaultMaxRoomsPerCreator if 0; negative: no limit.
	MaxRoomsPerCreator int
	// SIPRoomsListed (sip.room_creation: listed) lets a SIP call
	// join only rooms that exist (declared, persisted or live): calls to
	// any other name get ErrNotFound.
	SIPRoomsListed bool
	// PINAttempts is how many wrong moderator PINs one participant may
	// enter before its PIN entries are ignored for a growing delay (5 s,
	// doubled per further failure, at most 10 min).
	// DefaultPINAttempts if 0.
	PINAttempts int
	// PINRoomAttempts is the same for all participants of a room together,
	// so that many calls cannot share the guessing. DefaultPINRoomAttempts
	// if 0.
	PINRoomAttempts int
	// OnRefusal is called with a Refuse* reason for each refusal, possibly
	// under the core's locks: it must only count, never call the registry.
	// nil: none.
	OnRefusal func(reason string)
}

func (l Limits) withDefaults() Limits {
	if l.IdleGrace == 0 {
		l.IdleGrace = DefaultIdleGrace
	}
	if l.MaxRooms == 0 {
		l.MaxRooms = DefaultMaxRooms
	}
	if l.MaxRoomsPerCreator == 0 {
		l.MaxRoomsPerCreator = DefaultMaxRoomsPerCreator
	}
	if l.PINAttempts <= 0 {
		l.PINAttempts = DefaultPINAttempts
	}
	if l.PINRoomAttempts <= 0 {
		l.PINRoomAttempts = DefaultPINRoomAttempts
	}
	return l
}

func (r *Registry) refused(reason string) {
	if r.opts.Limits.OnRefusal != nil {
		r.opts.Limits.OnRefusal(reason)
	}
}

// creatorOf is whom a join that creates a room counts against.
func creatorOf(req JoinRequest) string {
	switch {
	case req.JID != "":
		return "xmpp:" + bare(req.JID)
	case req.AOR != "" && req.Authenticated:
		return req.AOR
	case req.Source != "":
		return "ip:" + req.Source
	}
	return req.AOR
}

// admitCreation checks the room quotas and sip.room_creation for a join
// to room before it is opened; nil when the room exists or may be created.
func (r *Registry) admitCreation(ctx context.Context, room string, req JoinRequest) error {
	if !ValidName(room) || r.Lookup(room) != nil {
		return nil // open refuses a bad name, and a live room exists
	}
	exists, err := r.Exists(ctx, room)
	if err != nil || exists {
		return err
	}
	l := r.opts.Limits
	if l.SIPRoomsListed && req.Audio != nil && !req.Text {
		return ErrNotFound
	}
	key := creatorOf(req)
	r.mu.Lock()
	over := (l.MaxRooms > 0 && len(r.confs) >= l.MaxRooms) ||
		(l.MaxRoomsPerCreator > 0 && key != "" && r.created[key] >= l.MaxRoomsPerCreator)
	r.mu.Unlock()
	if over {
		r.log.Info("room creation refused: quota", "room", room, "creator", key)
		r.refused(RefuseRoomQuota)
		return ErrRoomQuota
	}
	return nil
}

// countCreator records that c was created by req's creator; the count is
// given back when c ends (uncountCreator). Called with c.mu held.
func (c *Conference) countCreator(req JoinRequest) {
	key := creatorOf(req)
	if key == "" || c.declared {
		return
	}
	c.creator = key
	r := c.reg
	r.mu.Lock()
	r.created[key]++
	r.mu.Unlock()
}

func (c *Conference) uncountCreator() {
	if c.creator == "" {
		return
	}
	r := c.reg
	r.mu.Lock()
	if r.created[c.creator]--; r.created[c.creator] <= 0 {
		delete(r.created, c.creator)
	}
	r.mu.Unlock()
	c.creator = ""
}

// temporary reports whether c is destroyed when empty: not declared in the
// configuration and not made persistent by an owner. Called with c.mu held.
func (c *Conference) temporary() bool { return !c.declared && !c.cfg.Persistent }

// scheduleIdleEnd ends c after the grace period if it is still empty and
// temporary then. Called with c.mu held and c empty.
func (c *Conference) scheduleIdleEnd() {
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	c.idleTimer = time.AfterFunc(c.reg.opts.Limits.IdleGrace, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.idleTimer = nil
		if c.ended || len(c.parts) > 0 || !(c.temporary() || c.locked) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.reg.log.Info("temporary room destroyed after its grace period", "room", c.name)
		c.end(ctx, Event{Actor: System, Origin: OriginSystem, Cause: CauseIdle}, true)
	})
}

// stopIdleEnd cancels a scheduled idle end (someone joined). Called with
// c.mu held.
func (c *Conference) stopIdleEnd() {
	if c.idleTimer != nil {
		c.idleTimer.Stop()
		c.idleTimer = nil
	}
}

// pinStrikes counts wrong PINs of one participant or one room.
type pinStrikes struct {
	fails int
	last  time.Time
	until time.Time
}

// lockedFor returns how long s still refuses PIN entries.
func (s *pinStrikes) lockedFor(now time.Time) time.Duration {
	if s == nil || now.Sub(s.last) > pinForget {
		return 0
	}
	return max(s.until.Sub(now), 0)
}

// fail records a wrong PIN; after free failures each one locks for a
// doubling delay.
func (s *pinStrikes) fail(now time.Time, free int) {
	if now.Sub(s.last) > pinForget {
		s.fails = 0
	}
	s.fails++
	s.last = now
	if over := s.fails - free; over > 0 {
		d := pinBaseDelay
		for i := 1; i < over && d < pinMaxDelay; i++ {
			d *= 2
		}
		s.until = now.Add(min(d, pinMaxDelay))
	}
}

// checkPIN decides a PIN entered by participant id: ok when it is the
// room's PIN and neither the participant nor the room is locked out.
// While locked out the PIN is not compared at all (no verdict). Called
// with c.mu held.
func (c *Conference) checkPIN(id, pin string) (ok, locked bool) {
	now := c.reg.now()
	l := c.reg.opts.Limits
	if c.pinByPart == nil {
		c.pinByPart = map[string]*pinStrikes{}
	}
	mine := c.pinByPart[id]
	if mine.lockedFor(now) > 0 || c.pinRoom.lockedFor(now) > 0 {
		return false, true
	}
	if c.cfg.PIN != "" && pin == c.cfg.PIN {
		delete(c.pinByPart, id)
		return true, false
	}
	if mine == nil {
		mine = &pinStrikes{}
		c.pinByPart[id] = mine
	}
	mine.fail(now, l.PINAttempts)
	c.pinRoom.fail(now, l.PINRoomAttempts)
	return false, false
}
