package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/config"
	"cusax.dev/bridge/fdlimit"
	"cusax.dev/bridge/metrics"
)

// raiseFDLimit raises RLIMIT_NOFILE to its hard limit, logs and exports
// the result (cusax_fd_limit) and returns it (0 when unknown).
func raiseFDLimit(log *slog.Logger, m *metrics.Metrics) int {
	soft, hard, err := fdlimit.Raise()
	if err != nil {
		log.Warn("cannot raise the open-file limit", "err", err, "soft", soft, "hard", hard)
	}
	lim := fdlimit.Limit()
	if lim < 0 {
		return 0
	}
	m.Security.FDLimit.Set(float64(lim))
	if lim < 4096 {
		log.Warn("low open-file limit: each call takes two descriptors, each SIP TCP connection one", "limit", lim)
	} else {
		log.Info("open-file limit", "limit", lim)
	}
	return lim
}

// tcpMaxConnections is sip.tcp.max_connections, or a quarter of
// RLIMIT_NOFILE when 0, so that TCP alone can never take the descriptors
// the RTP ports need.
func tcpMaxConnections(cfg config.Config) int {
	if n := cfg.SIP.TCP.MaxConnections; n > 0 {
		return n
	}
	if lim := fdlimit.Limit(); lim > 0 {
		return max(lim/4, 16)
	}
	return 1024
}

// authFreeFailures maps sip.auth.free_failures to the focus option, where
// 0 means the default and a negative number none.
func authFreeFailures(cfg config.Config) int {
	if cfg.SIP.Auth.FreeFailures == 0 {
		return -1
	}
	return cfg.SIP.Auth.FreeFailures
}

// conferenceLimits maps the conference section and sip.room_creation to
// the core's limits (serve points OnRefusal at the metrics).
func conferenceLimits(cfg config.Config) conference.Limits {
	grace := cfg.Conference.IdleGrace.D()
	if grace == 0 {
		grace = -1 // 0 in the file: at once
	}
	return conference.Limits{
		IdleGrace:          grace,
		MaxRooms:           cfg.Conference.MaxRooms,
		MaxRoomsPerCreator: cfg.Conference.MaxRoomsPerCreator,
		SIPRoomsListed:     cfg.SIP.RoomCreation == "listed",
		PINAttempts:        cfg.Conference.PINAttempts,
		PINRoomAttempts:    cfg.Conference.PINRoomAttempts,
	}
}

// sipTLS loads sip.tls.cert/key for tls: listeners; nil without them.
func sipTLS(cfg config.Config) (*tls.Config, error) {
	if cfg.SIP.TLS.Cert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.SIP.TLS.Cert, cfg.SIP.TLS.Key)
	if err != nil {
		return nil, fmt.Errorf("sip.tls.cert %s: %w", cfg.SIP.TLS.Cert, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
