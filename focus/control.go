package focus

import (
	"github.com/emiago/sipgo/sip"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/mixer"
)

// followControl renders the control surfaces' events: a dial-out the core
// accepted (from the admin API or an XMPP ad-hoc command) and a cue
// confirming a DTMF moderator command in one caller's ear.
func (f *Focus) followControl(ev conference.Event) {
	switch ev.Kind {
	case conference.DialOutRequested:
		var target sip.Uri
		if err := sip.ParseUri(ev.Identity, &target); err != nil || target.Host == "" {
			f.log.Info("dial-out request with an unusable URI", "room", ev.Conference, "uri", ev.Identity)
			return
		}
		room := ev.Conference
		f.log.Info("dial-out requested", "room", room, "target", ev.Identity, "origin", string(ev.Origin), "by", ev.Actor.Name)
		// The dial-out runs like a REFER's handler (counted in f.handlers,
		// not in f.work): shutdown waits for it only so long, then closes
		// the SIP stack under it, which ends a pending INVITE or CANCEL.
		if !f.enter() {
			return
		}
		go func() {
			defer f.handlers.Done()
			f.safely("requested dial-out", func() {
				// No referrer to report to: the outcome shows as the
				// callee's Joined event (or in the log).
				code, reason := f.dialOut(room, target, &referReport{off: true})
				f.log.Info("requested dial-out finished", "room", room, "target", ev.Identity, "status", code, "reason", reason)
			})
		}()
	case conference.CueRequested:
		if c := f.calls.participant(ev.Participant.ID); c != nil {
			c.leg.Play(cueTones(ev.Cue))
		}
	}
}

// cueTones is the tone pattern of each cue: rising for "on", falling for
// "off", and a repeated pair for the mute commands.
func cueTones(cue conference.Cue) []int16 {
	const lo, hi = 523.25, 783.99 // C5, G5
	beep := func(hz float64) []mixer.ToneStep {
		return []mixer.ToneStep{{Hz: hz, DurationMs: 120}, {DurationMs: 60}}
	}
	var steps []mixer.ToneStep
	switch cue {
	case conference.CueLocked:
		steps = append(beep(lo), beep(hi)...)
	case conference.CueUnlocked:
		steps = append(beep(hi), beep(lo)...)
	case conference.CueMutedOthers:
		steps = append(append(beep(hi), beep(hi)...), beep(lo)...)
	case conference.CueUnmutedOthers:
		steps = append(append(beep(lo), beep(lo)...), beep(hi)...)
	default:
		steps = beep(hi)
	}
	return mixer.TonePattern(8000, steps...)
}
