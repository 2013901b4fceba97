package main

import (
	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/metrics"
)

// observe turns the core's events into the moderation counter. (The
// conference and participant gauges are computed from the registry when
// scraped: metrics.CountConferences.)
func observe(s *conference.Stream, m *metrics.Metrics) {
	for ev := range s.C() {
		switch ev.Kind {
		case conference.Kicked, conference.Banned:
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
