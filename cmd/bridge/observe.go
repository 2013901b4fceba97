package main

import (
	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/metrics"
)

// observe turns the core's events into the conference and participant
// gauges and the moderation counter.
func observe(s *conference.Stream, m *metrics.Metrics) {
	protocol := func(p conference.Participant) string {
		switch {
		case p.Audio != nil && p.Text:
			return "both"
		case p.Audio != nil:
			return "sip"
		}
		return "xmpp"
	}
	for ev := range s.C() {
		switch ev.Kind {
		case conference.ConferenceCreated:
			m.ConferencesActive.Inc()
		case conference.ConferenceEnded:
			m.ConferencesActive.Dec()
			for _, p := range ev.Others {
				m.ParticipantsActive.WithLabelValues(protocol(p)).Dec()
			}
		case conference.Joined:
			m.ParticipantsActive.WithLabelValues(protocol(ev.Participant)).Inc()
		case conference.Left:
			m.ParticipantsActive.WithLabelValues(protocol(ev.Participant)).Dec()
		case conference.Kicked, conference.Banned:
			if ev.Participant.ID != "" {
				m.ParticipantsActive.WithLabelValues(protocol(ev.Participant)).Dec()
			}
			action := "kick"
			if ev.Kind == conference.Banned {
				action = "ban"
			}
			m.ModerationActions.WithLabelValues(action, string(ev.Origin)).Inc()
		case conference.Muted:
			m.ModerationActions.WithLabelValues("mute", string(ev.Origin)).Inc()
		case conference.Unmuted:
			m.ModerationActions.WithLabelValues("unmute", string(ev.Origin)).Inc()
		case conference.RoleChanged:
			m.ModerationActions.WithLabelValues("role", string(ev.Origin)).Inc()
		case conference.AffiliationChanged:
			m.ModerationActions.WithLabelValues("affiliation", string(ev.Origin)).Inc()
		}
	}
}
