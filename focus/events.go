package focus

import (
	"cusax.dev/bridge/conference"
)

// follow renders the conference core's events into SIP and media until
// the stream closes: conference state for the subscriptions (NOTIFYs are
// sent by each subscription's own goroutine), BYEs and mutes for calls.
// It only acts on calls in the table and never calls the core back for the
// participant an event is about, so nothing loops:
// a call the focus ended itself is out of the table before the core hears
// of it. A panic while handling one event is logged and the next event
// handled.
func (f *Focus) follow(s *conference.Stream) {
	for ev := range s.C() {
		f.safely("conference event", func() { f.followEvent(ev) })
	}
}

// followEvent renders one core event.
func (f *Focus) followEvent(ev conference.Event) {
	f.followSubscriptions(ev)
	f.followControl(ev)
	switch ev.Kind {
	case conference.Muted, conference.Unmuted:
		if c := f.calls.participant(ev.Participant.ID); c != nil {
			f.syncMute(c)
		}
	case conference.Kicked, conference.Banned:
		// Banned without a present participant has an empty ID.
		if c := f.calls.participant(ev.Participant.ID); c != nil {
			c.setReason(403, kickText(ev))
			f.hangupLater(c, conference.Booted)
		}
	case conference.Left:
		// The core let the participant go (not through this focus,
		// which removes its calls first): the call goes too.
		if c := f.calls.participant(ev.Participant.ID); c != nil {
			how := conference.Departed
			if ev.Participant.Left != nil {
				how = ev.Participant.Left.Method
			}
			f.hangupLater(c, how)
		}
	case conference.ConferenceEnded:
		cause, text := 200, "the conference ended"
		switch ev.Cause {
		case conference.CauseShutdown:
			cause, text = 503, "the bridge is shutting down"
		case conference.CauseDestroyed:
			cause, text = 410, "the conference was destroyed"
			if ev.Reason != "" {
				text += ": " + ev.Reason
			}
		}
		for _, p := range ev.Others {
			if c := f.calls.participant(p.ID); c != nil {
				c.setReason(cause, text)
				f.hangupLater(c, conference.Departed)
			}
		}
	}
}

// hangupLater sends the BYE for a participant the core already removed,
// without holding up the event stream.
func (f *Focus) hangupLater(c *call, how conference.Departure) {
	f.goWork("hang-up", func() { f.hangup(f.detached(), c, how, conference.OriginSystem, false) })
}

// kickText is the text of the Reason of a kick's or ban's BYE: what was
// done, by whom (as the core recorded it for everyone) and the
// moderator's reason.
func kickText(ev conference.Event) string {
	what := "kicked"
	if ev.Kind == conference.Banned {
		what = "banned"
	}
	if l := ev.Participant.Left; l != nil && l.By != "" {
		what += " by " + l.By
	}
	if ev.Reason != "" {
		what += ": " + ev.Reason
	}
	return what
}
