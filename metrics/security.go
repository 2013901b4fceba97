package metrics

import "github.com/prometheus/client_golang/prometheus"

// Refusal reasons: the values of cusax_security_refusals_total{reason}.
// Every limit of the bridge against a hostile peer counts its refusals
// under one of these (bounded, so a label, never a room or an address).
const (
	RefuseAuthThrottled   = "auth_throttled" // digest: user or source locked after failures
	RefuseTCPPerSource    = "tcp_per_source" // SIP TCP: too many connections from one IP
	RefuseTCPTotal        = "tcp_total"      // SIP TCP: total connection limit
	RefuseTCPIdle         = "tcp_idle"       // SIP TCP: closed after the idle timeout
	RefuseFDReserve       = "fd_reserve"     // INVITE 503: descriptors near RLIMIT_NOFILE
	RefuseSubParticipant  = "subscribe_participant"
	RefuseSubSource       = "subscribe_source"
	RefuseSubGlobal       = "subscribe_global"
	RefuseRouteSet        = "route_set_ignored" // NOTIFY: untrusted Record-Route not followed
	RefuseContactWildcard = "contact_wildcard"  // Contact: * outside REGISTER
	RefuseRTPStranger     = "rtp_stranger"      // RTP/RTCP from a source the leg did not latch
	RefuseRTPUnheard      = "rtp_unheard"       // stopped sending to an address never heard from
	RefusePINLocked       = "pin_locked"        // DTMF PIN: attempts locked out
	RefuseRoomQuota       = "room_quota"        // room creation over a quota
	RefuseStanzaTooBig    = "stanza_too_big"    // an outgoing stanza over the cap, not sent
	RefuseDialOutLimit    = "dial_out_limit"    // a dial-out refused: as many INVITEs out as allowed
)

var refusalReasons = []string{RefuseAuthThrottled, RefuseTCPPerSource, RefuseTCPTotal, RefuseTCPIdle,
	RefuseFDReserve, RefuseSubParticipant, RefuseSubSource, RefuseSubGlobal, RefuseRouteSet,
	RefuseContactWildcard, RefuseRTPStranger, RefuseRTPUnheard, RefusePINLocked, RefuseRoomQuota,
	RefuseStanzaTooBig, RefuseDialOutLimit}

// Security holds the metrics of the limits against hostile peers.
type Security struct {
	// Refusals counts requests, connections and packets refused by a
	// limit, by reason (the Refuse* constants).
	Refusals *prometheus.CounterVec
	// AuthResults counts digest verifications by result (ok, bad, stale,
	// replayed, malformed, missing, throttled).
	AuthResults *prometheus.CounterVec
	// TCPConnections is the number of SIP TCP connections accepted and
	// open.
	TCPConnections prometheus.Gauge
	// AcceptErrors counts failed accept(2) calls on SIP TCP listeners
	// (each retried after a backoff; EMFILE among them).
	AcceptErrors prometheus.Counter
	// FDLimit is RLIMIT_NOFILE (the soft limit after raising it to the
	// hard one at start).
	FDLimit prometheus.Gauge
}

func newSecurity(r prometheus.Registerer) *Security {
	s := &Security{
		Refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "security_refusals_total",
			Help: "Requests, connections and packets refused by a limit against hostile peers, by reason."}, []string{"reason"}),
		AuthResults: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sip_auth_total",
			Help: "SIP digest verifications, by result."}, []string{"result"}),
		TCPConnections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sip_tcp_connections",
			Help: "SIP TCP connections accepted and open."}),
		AcceptErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "sip_tcp_accept_errors_total",
			Help: "Failed accepts on SIP TCP listeners (retried with backoff)."}),
		FDLimit: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fd_limit",
			Help: "RLIMIT_NOFILE of the process after raising the soft limit to the hard one."}),
	}
	r.MustRegister(s.Refusals, s.AuthResults, s.TCPConnections, s.AcceptErrors, s.FDLimit)
	for _, r := range refusalReasons {
		s.Refusals.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "bad", "stale", "replayed", "malformed", "missing", "throttled"} {
		s.AuthResults.WithLabelValues(r)
	}
	return s
}

// Refuse counts one refusal for reason; safe on a nil *Metrics.
func (m *Metrics) Refuse(reason string) {
	if m == nil || m.Security == nil {
		return
	}
	m.Security.Refusals.WithLabelValues(reason).Inc()
}
