package main

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"cusax.dev/bridge/fdlimit"
	"cusax.dev/bridge/metrics"
)

// readiness tracks what /readyz reports: ready once SIP listens and the
// store answers. XMPP state is reported, not required: SIP serves calls
// whether or not the XMPP server is there.
type readiness struct {
	store  pinger
	sip    atomic.Bool
	xmppUp atomic.Pointer[func() bool] // nil: XMPP is off
	// fdLimit is RLIMIT_NOFILE after raising it (0: unknown).
	fdLimit atomic.Int64
}

func adminMux(m *metrics.Metrics, ready *readiness) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		xmpp := "n/a"
		if up := ready.xmppUp.Load(); up != nil {
			xmpp = "down"
			if (*up)() {
				xmpp = "up"
			}
		}
		storeErr := ready.store.Ping(ctx)
		switch {
		case !ready.sip.Load():
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "sip: not listening\nxmpp: %s\n", xmpp)
		case storeErr != nil:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "store: %v\nxmpp: %s\n", storeErr, xmpp)
		default:
			fmt.Fprintf(w, "ready\nsip: listening\nstore: ok\nxmpp: %s\n", xmpp)
		}
		fmt.Fprintf(w, "fd_limit: %d\nfd_open: %d\n", ready.fdLimit.Load(), fdlimit.Open())
	})
	return mux
}
