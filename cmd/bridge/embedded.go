package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"cusax.dev/bridge/accounts"
	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/config"
	"cusax.dev/bridge/metrics"
	"cusax.dev/bridge/muc"
	"cusax.dev/bridge/store"
	"cusax.dev/bridge/xmppserver"
)

// embedded is the embedded XMPP service of xmpp.mode: embedded: the shared
// accounts, the certificate, and the listeners, opened before anything
// runs so that a port conflict fails fast.
type embedded struct {
	accts   *accounts.Accounts
	st      store.AccountStore
	cert    tls.Certificate
	c2s     net.Listener
	prov    net.Listener // nil when provisioning.listen is empty
	xm      *metrics.XMPPServer
	sipPort int
}

// newAccounts opens the shared accounts over st, as serve and `bridge
// user` both see them.
func newAccounts(cfg config.Config, st store.Store) (*accounts.Accounts, store.AccountStore, error) {
	if w, ok := st.(interface{ unwrap() store.Store }); ok {
		st = w.unwrap() // the accounts' store calls are not counted in cusax_store_errors_total
	}
	as, ok := st.(store.AccountStore)
	if !ok {
		return nil, nil, errors.New("the store keeps no accounts (store.path must be a file)")
	}
	a, err := accounts.New(accounts.Options{Store: as, Host: cfg.XMPP.Host, SIPDomain: cfg.SIP.Domain,
		Realm: cfg.SIP.Auth.Realm, Video: cfg.Accounts.Video})
	return a, as, err
}

// openEmbedded prepares the embedded service; nil when xmpp.mode is not
// embedded.
func openEmbedded(cfg config.Config, st store.Store, m *metrics.Metrics, log *slog.Logger) (*embedded, error) {
	if cfg.XMPP.Mode != "embedded" {
		return nil, nil
	}
	a, as, err := newAccounts(cfg, st)
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Dir(cfg.Store.Path)
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	cert, created, err := xmppserver.LoadCertificate(cfg.XMPP.TLS.Cert, cfg.XMPP.TLS.Key, dataDir, []string{cfg.XMPP.Host, cfg.XMPP.Domain})
	if err != nil {
		return nil, fmt.Errorf("xmpp.tls: %w", err)
	}
	pin := xmppserver.Fingerprint(cert)
	switch {
	case cfg.XMPP.TLS.Cert != "":
		log.Info("xmpp tls certificate", "file", cfg.XMPP.TLS.Cert, "sha256", pin)
	case created:
		log.Info("xmpp tls: made a self-signed certificate; pin it in clients", "dir", dataDir, "sha256", pin)
	default:
		log.Info("xmpp tls: self-signed certificate", "dir", dataDir, "sha256", pin)
	}
	e := &embedded{accts: a, st: as, cert: cert, xm: m.NewXMPPServer()}
	if e.c2s, err = net.Listen("tcp", cfg.XMPP.C2SListen); err != nil {
		return nil, fmt.Errorf("xmpp.c2s_listen %s: %w", cfg.XMPP.C2SListen, err)
	}
	if cfg.Provisioning.Listen != "" {
		if e.prov, err = net.Listen("tcp", cfg.Provisioning.Listen); err != nil {
			_ = e.c2s.Close()
			return nil, fmt.Errorf("provisioning.listen %s: %w", cfg.Provisioning.Listen, err)
		}
	}
	for _, l := range cfg.SIP.Listen {
		if _, addr, err := config.ParseListen(l); err == nil {
			if _, p, err := net.SplitHostPort(addr); err == nil {
				e.sipPort, _ = strconv.Atoi(p)
				break
			}
		}
	}
	return e, nil
}

// close releases the listeners of a service that never started.
func (e *embedded) close() {
	if e == nil {
		return
	}
	_ = e.c2s.Close()
	if e.prov != nil {
		_ = e.prov.Close()
	}
}

// ha1 is the focus's digest look-up of the shared accounts.
func (e *embedded) ha1(realm string) func(user, algorithm string) (string, bool) {
	if e == nil {
		return nil
	}
	return func(user, algorithm string) (string, bool) {
		if !accounts.ValidName(user) {
			return "", false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		alg := accounts.MD5
		if algorithm == "SHA-256" {
			alg = accounts.SHA256
		}
		return e.accts.DigestHA1(ctx, user, realm, alg)
	}
}

// start runs the rooms in process, the c2s listener and provisioning.
func (e *embedded) start(cfg config.Config, reg *conference.Registry, m *metrics.Metrics, log *slog.Logger,
	ready *readiness, start func(string, func(context.Context) error)) error {
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{e.cert}, MinVersion: tls.VersionTLS12}
	srv, err := xmppserver.New(xmppserver.Config{
		Host: cfg.XMPP.Host, TLS: tlsCfg, AllowPlaintextLoopback: cfg.XMPP.AllowPlaintextLoopback,
		Accounts: e.accts, Store: e.st, Logger: log, Metrics: e.xm,
	})
	if err != nil {
		return fmt.Errorf("xmpp: %w", err)
	}
	// The same room service as component mode, with the same settings.
	svc, err := muc.New(muc.Config{Domain: cfg.XMPP.Domain, SIPDomain: cfg.SIP.Domain, Logger: log, Metrics: m,
		MaxStanzaBytes: cfg.XMPP.MaxStanzaBytes}, reg)
	if err != nil {
		return fmt.Errorf("muc: %w", err)
	}
	link := srv.AttachComponent(cfg.XMPP.Domain, svc)
	// Bindings verify against the accounts' vCards in the store, locally.
	reg.SetVCards(srv)
	connected := svc.Connected
	ready.xmppUp.Store(&connected)
	start("xmpp", func(ctx context.Context) error {
		// The client streams close only after the rooms have flushed
		// their last events (the shutdown presence) into them.
		c2sCtx, stopC2S := context.WithCancel(context.Background())
		rooms := make(chan error, 1)
		go func() {
			rooms <- svc.RunLocal(ctx, link)
			stopC2S()
		}()
		err := srv.Serve(c2sCtx, e.c2s)
		if err != nil && c2sCtx.Err() == nil {
			return err // the listener failed: the bridge stops, and the rooms with it
		}
		return errors.Join(err, <-rooms)
	})
	if e.prov == nil {
		return nil
	}
	var transports []string
	for _, l := range cfg.SIP.Listen {
		if n, _, err := config.ParseListen(l); err == nil && !slices.Contains(transports, n) {
			transports = append(transports, n)
		}
	}
	_, c2sPort, _ := net.SplitHostPort(e.c2s.Addr().String())
	xport, _ := strconv.Atoi(c2sPort)
	h := e.accts.ProvisionHandler(accounts.ProvisionInfo{
		SIPPort: e.sipPort, SIPTransports: transports, XMPPPort: xport, TLSPin: xmppserver.Fingerprint(e.cert),
		MUCDomain: cfg.XMPP.Domain, Logger: log.With("component", "provisioning"),
		OnAnswer: func(status int) { e.xm.Provisioning.WithLabelValues(strconv.Itoa(status/100) + "xx").Inc() },
	})
	hs := &http.Server{Handler: h, TLSConfig: tlsCfg, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	start("provisioning", func(ctx context.Context) error {
		go func() {
			<-ctx.Done()
			sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
			defer c()
			_ = hs.Shutdown(sctx)
		}()
		log.Info("provisioning listening", "addr", e.prov.Addr().String())
		if err := hs.ServeTLS(e.prov, "", ""); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	return nil
}

// unwrap returns the store countedStore wraps (the account store is
// reached through it).
func (s *countedStore) unwrap() store.Store { return s.Store }
