package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// ConferenceCounter says, at scrape time, how many conferences exist and
// how many participants take part by which protocol ("sip", "xmpp",
// "both"). The conference registry implements it.
type ConferenceCounter interface {
	Counts() (conferences int, participants map[string]int)
}

// conferenceCollector computes cusax_conferences_active and
// cusax_participants_active{protocol} from the registry when scraped, so
// they cannot drift from what the core holds (issue 8 defect 9). Without a
// source both are 0.
type conferenceCollector struct {
	src          atomic.Pointer[ConferenceCounter]
	conferences  *prometheus.Desc
	participants *prometheus.Desc
}

func newConferenceCollector() *conferenceCollector {
	return &conferenceCollector{
		conferences:  prometheus.NewDesc("conferences_active", "Conferences that currently exist.", nil, nil),
		participants: prometheus.NewDesc("participants_active", "Participants present, by how they take part.", []string{"protocol"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *conferenceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.conferences
	ch <- c.participants
}

// Collect implements prometheus.Collector.
func (c *conferenceCollector) Collect(ch chan<- prometheus.Metric) {
	n, by := 0, map[string]int(nil)
	if src := c.src.Load(); src != nil {
		n, by = (*src).Counts()
	}
	ch <- prometheus.MustNewConstMetric(c.conferences, prometheus.GaugeValue, float64(n))
	for _, p := range protocols {
		ch <- prometheus.MustNewConstMetric(c.participants, prometheus.GaugeValue, float64(by[p]), p)
	}
}

// CountConferences makes the conference and participant gauges read src
// at every scrape.
func (m *Metrics) CountConferences(src ConferenceCounter) {
	m.conferences.src.Store(&src)
}
