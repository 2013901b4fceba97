package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/config"
	"cusax.dev/bridge/metrics"
	"cusax.dev/bridge/store"
)

// configError marks an invalid configuration: exit code 2, nothing opened.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// pinger is what readiness asks of the store.
type pinger interface{ Ping(context.Context) error }

func openStore(ctx context.Context, path string, log *slog.Logger) (store.Store, error) {
	if path == ":memory:" {
		return store.NewMemory(), nil
	}
	return store.OpenSQLite(ctx, path, log)
}

// serve runs the bridge until ctx ends.
func serve(ctx context.Context, cfgPath string, logw io.Writer) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return &configError{err}
	}
	log := newLogger(cfg.Log, logw)
	m := metrics.New()
	fdLimit := raiseFDLimit(log, m)

	st, err := openStore(ctx, cfg.Store.Path, log)
	if err != nil {
		return fmt.Errorf("open store %s: %w", cfg.Store.Path, err)
	}
	defer st.Close()
	st = countStoreErrors(st, m)
	m.SetInfo(version, cfg.XMPP.Mode)

	ropts := registryOptions(cfg, st, log)
	ropts.Limits.OnRefusal = m.Refuse
	reg := conference.NewRegistry(ropts)
	events := reg.Subscribe()
	go observe(events, m)
	m.CountConferences(reg)
	warnClaims(ctx, cfg, st, log)

	// The admin listener is bound first so that a port conflict fails fast.
	adminLn, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		return fmt.Errorf("admin.listen %s: %w", cfg.Admin.Listen, err)
	}
	emb, err := openEmbedded(cfg, st, m, log)
	if err != nil {
		_ = adminLn.Close()
		return fmt.Errorf("xmpp embedded: %w", err)
	}
	ready := &readiness{store: st} // store.Store has Ping
	ready.fdLimit.Store(int64(fdLimit))
	mux := adminMux(m, ready)
	api := withAPI(mux, cfg, reg, log)
	admin := &http.Server{Handler: withPprof(mux, cfg.Admin.Pprof), ReadHeaderTimeout: 5 * time.Second}
	admin.RegisterOnShutdown(api.Close)

	// Services run on their own context: on a signal the conferences end
	// first (reg.Close: calls get BYE, occupants the shutdown presence),
	// and only then do the services stop.
	svcCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	start := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(svcCtx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	start("admin", func(ctx context.Context) error {
		go func() {
			<-ctx.Done()
			sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
			defer c()
			_ = admin.Shutdown(sctx)
		}()
		if err := admin.Serve(adminLn); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	if err := startServices(svcCtx, cfg, reg, m, log, ready, start, emb); err != nil {
		emb.close()
		cancel()
		wg.Wait()
		return err
	}
	log.Info("bridge running", "version", version, "sip", cfg.SIP.Listen, "admin", cfg.Admin.Listen, "domain", cfg.SIP.Domain)
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case <-svcCtx.Done():
		log.Error("a service failed; shutting down")
	}
	sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
	defer c()
	reg.Close(sctx)
	cancel()
	wg.Wait()
	events.Close()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

func registryOptions(cfg config.Config, st store.Store, log *slog.Logger) conference.Options {
	opts := conference.Options{Store: st, Logger: log, HistoryLength: cfg.XMPP.HistoryLength, WatchPolicy: cfg.SIP.SubscribePolicy,
		Limits: conferenceLimits(cfg)}
	if cfg.XMPP.HistoryLength == 0 {
		opts.HistoryLength = -1
	}
	if cfg.XMPP.RoomCreation == "listed" {
		opts.Creators = append([]string{}, cfg.XMPP.Creators...)
	}
	opts.Identities, opts.Bindings = identityOptions(cfg)
	for _, r := range cfg.Rooms {
		opts.Rooms = append(opts.Rooms, conference.RoomSpec{Name: r.Name, Subject: r.Subject, Moderators: r.Moderators,
			PIN: r.PIN, MaxParticipants: r.MaxParticipants})
	}
	return opts
}
