package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every metric the bridge exports. Use New to build one; a nil
// *Metrics is not valid, but tests may use New() freely since each call has
// its own registry.
type Metrics struct {
	Registry *prometheus.Registry

	// conferences computes cusax_conferences_active and
	// cusax_participants_active{protocol} (sip|xmpp|both) at scrape time
	// (CountConferences).
	conferences *conferenceCollector

	SIPRequests  *prometheus.CounterVec // method (incoming)
	SIPResponses *prometheus.CounterVec // method, class (sent by the focus)

	RTPPackets     *prometheus.CounterVec // direction: in|out|dropped
	RTPPacketsLost prometheus.Counter
	RTPJitter      prometheus.Histogram
	MixerTick      prometheus.Histogram
	MixerLateness  prometheus.Histogram
	MixerTicksLate prometheus.Counter
	RTPPortsInUse  prometheus.Gauge
	RTPTimeouts    prometheus.Counter
	DTMFEvents     prometheus.Counter

	MUCStanzas        *prometheus.CounterVec // kind, direction
	ModerationActions *prometheus.CounterVec // action, origin
	XMPPConnected     prometheus.Gauge

	SubscriptionsActive prometheus.Gauge
	NotifySent          *prometheus.CounterVec // event: conference|refer

	RTPPortsCapacity prometheus.Gauge       // RTP/RTCP port pairs in rtp.ports
	StoreErrors      *prometheus.CounterVec // op: read|write|ping
	Info             *prometheus.GaugeVec   // version, xmpp_mode; always 1

	// Security: limits against hostile peers (security.go).
	Security *Security
}

// Known label values. Every counter and histogram with a bounded label set
// is created at start for each combination, so that a series exists (at
// zero) from the first scrape and a dashboard shows 0 rather than nothing.
var (
	protocols  = []string{"sip", "xmpp", "both"}
	directions = []string{"in", "out", "dropped"}
	// sipMethods are the methods the focus handles (the only ones it counts).
	sipMethods = []string{"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "SUBSCRIBE", "REFER"}
	// sipClasses are the status classes of StatusClass; 1xx and 6xx exist
	// too but are rare, "other" never happens for a valid code.
	sipClasses      = []string{"1xx", "2xx", "3xx", "4xx", "5xx", "6xx"}
	stanzaKinds     = []string{"presence", "message", "iq", "other"}
	stanzaDirs      = []string{"in", "out"}
	modActions      = []string{"kick", "ban", "mute", "unmute", "role", "affiliation"}
	modOrigins      = []string{"sip", "xmpp", "api", "dtmf", "system"}
	notifyEvents    = []string{"conference", "refer"}
	storeOperations = []string{"read", "write", "ping"}
)

// New builds a fresh registry with the Go and process collectors and every
// bridge metric registered on it.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := prometheus.WrapRegistererWithPrefix("cusax_", reg)
	tickBuckets := []float64{25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 20e-3}
	m := &Metrics{
		Registry:       reg,
		conferences:    newConferenceCollector(),
		SIPRequests:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sip_requests_total", Help: "SIP requests received by the focus."}, []string{"method"}),
		SIPResponses:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sip_responses_total", Help: "SIP responses sent by the focus, by request method and status class."}, []string{"method", "class"}),
		RTPPackets:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rtp_packets_total", Help: "RTP packets received (in), sent (out) and dropped on ingest."}, []string{"direction"}),
		RTPPacketsLost: prometheus.NewCounter(prometheus.CounterOpts{Name: "rtp_packets_lost_total", Help: "RTP packets lost in transit, from sequence gaps."}),
		RTPJitter: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rtp_jitter_seconds", Help: "Interarrival jitter per leg (RFC 3550 A.8), sampled each RTCP interval.",
			Buckets: []float64{.001, .0025, .005, .01, .02, .04, .08, .16, .32}}),
		MixerTick: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mixer_tick_duration_seconds", Help: "Time spent mixing one 20 ms tick for all conferences.",
			Buckets: tickBuckets}),
		MixerLateness: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mixer_tick_lateness_seconds", Help: "How late a mixer tick started against its schedule.",
			Buckets: tickBuckets}),
		MixerTicksLate:      prometheus.NewCounter(prometheus.CounterOpts{Name: "mixer_ticks_skipped_total", Help: "Mixer ticks skipped because the clock fell more than one tick behind."}),
		RTPPortsInUse:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "rtp_ports_in_use", Help: "RTP ports allocated to legs."}),
		RTPTimeouts:         prometheus.NewCounter(prometheus.CounterOpts{Name: "rtp_timeouts_total", Help: "Calls hung up because no RTP or RTCP arrived within rtp.timeout."}),
		DTMFEvents:          prometheus.NewCounter(prometheus.CounterOpts{Name: "dtmf_events_total", Help: "RFC 4733 DTMF events decoded."}),
		MUCStanzas:          prometheus.NewCounterVec(prometheus.CounterOpts{Name: "muc_stanzas_total", Help: "Stanzas handled by the MUC component."}, []string{"kind", "direction"}),
		ModerationActions:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "moderation_actions_total", Help: "Moderation actions applied by the conference core."}, []string{"action", "origin"}),
		XMPPConnected:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "xmpp_component_connected", Help: "1 while the XEP-0114 component link is up."}),
		SubscriptionsActive: prometheus.NewGauge(prometheus.GaugeOpts{Name: "subscriptions_active", Help: "Active RFC 6665 conference subscriptions."}),
		NotifySent:          prometheus.NewCounterVec(prometheus.CounterOpts{Name: "notify_sent_total", Help: "NOTIFY requests sent, by event package."}, []string{"event"}),
		RTPPortsCapacity:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "rtp_ports_capacity", Help: "RTP/RTCP port pairs in rtp.ports (the most legs rtp_ports_in_use can reach)."}),
		StoreErrors:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "store_errors_total", Help: "Store operations that failed, by kind of operation."}, []string{"op"}),
		Info:                prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "build_info", Help: "Always 1; labels say the version and the XMPP mode."}, []string{"version", "xmpp_mode"}),
	}
	f.MustRegister(m.conferences, m.SIPRequests, m.SIPResponses,
		m.RTPPackets, m.RTPPacketsLost, m.RTPJitter, m.MixerTick, m.MixerLateness, m.MixerTicksLate,
		m.RTPPortsInUse, m.RTPTimeouts, m.DTMFEvents, m.MUCStanzas, m.ModerationActions, m.XMPPConnected,
		m.SubscriptionsActive, m.NotifySent, m.RTPPortsCapacity, m.StoreErrors, m.Info)
	m.Security = newSecurity(f)
	m.zero()
	return m
}

// zero creates every bounded label combination of the vectors (the
// participant gauge is zero for every protocol by its collector).
func (m *Metrics) zero() {
	for _, d := range directions {
		m.RTPPackets.WithLabelValues(d)
	}
	for _, meth := range sipMethods {
		m.SIPRequests.WithLabelValues(meth)
		for _, c := range sipClasses {
			m.SIPResponses.WithLabelValues(meth, c)
		}
	}
	for _, k := range stanzaKinds {
		for _, d := range stanzaDirs {
			m.MUCStanzas.WithLabelValues(k, d)
		}
	}
	for _, a := range modActions {
		for _, o := range modOrigins {
			m.ModerationActions.WithLabelValues(a, o)
		}
	}
	for _, e := range notifyEvents {
		m.NotifySent.WithLabelValues(e)
	}
	for _, op := range storeOperations {
		m.StoreErrors.WithLabelValues(op)
	}
}

// SetInfo publishes cusax_build_info{version, xmpp_mode} = 1.
func (m *Metrics) SetInfo(version, xmppMode string) {
	m.Info.Reset()
	m.Info.WithLabelValues(version, xmppMode).Set(1)
}

// Handler serves the registry in the Prometheus text format and, when asked,
// OpenMetrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		Registry:          m.Registry,
		EnableOpenMetrics: true,
		ErrorHandling:     promhttp.ContinueOnError,
		Timeout:           5 * time.Second,
	})
}

// StatusClass returns the label value for a SIP status code: "1xx" … "6xx".
func StatusClass(code int) string {
	switch {
	case code >= 100 && code < 700:
		return string(rune('0'+code/100)) + "xx"
	default:
		return "other"
	}
}
