package metrics

import "github.com/prometheus/client_golang/prometheus"

// XMPPServer are the metrics of the embedded XMPP service (xmpp.mode:
// embedded), registered only when it runs.
type XMPPServer struct {
	// Events counts connection, login and protocol events by kind (conn,
	// bound, auth_ok, auth_failed, auth_rate_limited, conn_refused_total,
	// conn_refused_per_source, s2s_refused, stanza_too_big, …): a bounded
	// set of values fixed in the code.
	Events *prometheus.CounterVec
	// Clients is the number of bound client streams.
	Clients prometheus.Gauge
	// Provisioning counts GET /provision answers by status class.
	Provisioning *prometheus.CounterVec
}

// XMPPServerEvents lists the values of the event label, created at zero.
var XMPPServerEvents = []string{"conn", "bound", "negotiation_failed", "auth_ok", "auth_failed", "auth_bad_mechanism",
	"auth_rate_limited", "conn_refused_total", "conn_refused_per_source", "s2s_refused", "stanza_in", "stanza_too_big",
	"bad_xml", "bad_stanza", "send_queue_full", "roster_full", "host_unknown"}

// NewXMPPServer creates the embedded XMPP service's metrics on m's registry.
// Call it once.
func (m *Metrics) NewXMPPServer() *XMPPServer {
	x := &XMPPServer{
		Events:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xmpp_server_events_total", Help: "Events of the embedded XMPP service, by kind."}, []string{"event"}),
		Clients:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "xmpp_server_clients", Help: "Client streams bound on the embedded XMPP service."}),
		Provisioning: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "provisioning_requests_total", Help: "GET /provision answers, by status class."}, []string{"class"}),
	}
	prometheus.WrapRegistererWithPrefix("cusax_", m.Registry).MustRegister(x.Events, x.Clients, x.Provisioning)
	for _, e := range XMPPServerEvents {
		x.Events.WithLabelValues(e)
	}
	for _, c := range []string{"2xx", "4xx", "5xx"} {
		x.Provisioning.WithLabelValues(c)
	}
	return x
}
