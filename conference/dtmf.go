package conference

import (
	"context"
	"strings"
)

// The DTMF menu of a conference. Digits accumulate per participant; a
// command runs as soon as its sequence is complete.
const (
	// DTMFToggleMute ("*6") mutes the caller, or unmutes it unless a
	// moderator muted it.
	DTMFToggleMute = "*6"
	// DTMFModeratorPIN ("*1" PIN "#") gives the caller the moderator role
	// when PIN is the room's moderator PIN.
	DTMFModeratorPIN = "*1"
	// DTMFLock ("*7") locks the conference against new participants, or
	// unlocks it (moderators only; control.go).
	DTMFLock = "*7"
	// DTMFMuteOthers ("*8") mutes every other caller (moderators only).
	DTMFMuteOthers = "*8"
	// DTMFUnmuteOthers ("*9") unmutes every other caller (moderators only).
	DTMFUnmuteOthers = "*9"
	maxDTMFBuffer    = 24
)

// DTMF feeds one RFC 4733 digit from participant id's audio leg into the
// conference's menu, and emits it as a DTMF event.
func (r *Registry) DTMF(ctx context.Context, room, id string, digit rune) error {
	if !strings.ContainsRune("0123456789*#ABCD", digit) {
		return ErrBadRequest
	}
	return r.withConference(ctx, room, func(c *Conference) error {
		p := c.byID(id)
		if p == nil {
			return ErrNotFound
		}
		c.reg.emit(Event{Kind: DTMF, Conference: c.name, Participant: p.clone(), Digit: digit, Origin: OriginDTMF})
		buf := append(c.dtmf[id], digit)
		if digit == '*' {
			buf = buf[len(buf)-1:] // '*' always starts a new command (PINs are digits)
		}
		if len(buf) > maxDTMFBuffer {
			buf = buf[:0]
		}
		seq := string(buf)
		self := Actor{ParticipantID: id, Name: p.Nick}
		switch {
		case seq == DTMFToggleMute:
			buf = buf[:0]
			if err := c.mute(id, !p.Muted, self, OriginDTMF, "dtmf"); err != nil {
				r.log.Info("dtmf mute toggle refused", "room", c.name, "participant", id, "err", err)
			}
		case c.moderatorMenu(p, seq):
			buf = buf[:0]
		case strings.HasPrefix(seq, DTMFModeratorPIN) && digit == '#':
			buf = buf[:0]
			pin := strings.TrimSuffix(strings.TrimPrefix(seq, DTMFModeratorPIN), "#")
			ok, locked := c.checkPIN(id, pin)
			if locked {
				r.log.Info("dtmf moderator pin ignored: too many wrong PINs", "room", c.name, "participant", id)
				r.refused(RefusePINLocked)
				break
			}
			if !ok {
				r.log.Info("dtmf moderator pin rejected", "room", c.name, "participant", id)
				break
			}
			c.setRole(p, RoleModerator, self, OriginDTMF, "pin")
			if p.Muted {
				p.Muted, p.MutedByModerator, p.MutedBy = false, false, ""
				c.reg.emit(Event{Kind: Unmuted, Conference: c.name, Participant: p.clone(), Actor: self, Origin: OriginDTMF, Reason: "pin", Old: string(p.Role)})
			}
		case !strings.HasPrefix(seq, "*"):
			buf = buf[:0]
		}
		c.dtmf[id] = buf
		return nil
	})
}
