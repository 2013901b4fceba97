package main

import (
	"log/slog"
	"net/http"

	"cusax.dev/bridge/admin"
	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/config"
)

// withAPI adds the admin API and the moderator console to mux (nothing
// when admin.token is empty). The returned server's Close ends its event
// streams; call it when the HTTP server shuts down.
func withAPI(mux *http.ServeMux, cfg config.Config, reg *conference.Registry, log *slog.Logger) *admin.Server {
	api := admin.New(admin.Options{Token: cfg.Admin.Token, Registry: reg, Logger: log.With("component", "admin")})
	api.Register(mux)
	if cfg.Admin.Token == "" {
		log.Info("admin API and console disabled (admin.token is empty)")
	}
	return api
}
