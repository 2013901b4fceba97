package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/config"
	"cusax.dev/bridge/focus"
	"cusax.dev/bridge/focus/digest"
	"cusax.dev/bridge/metrics"
	"cusax.dev/bridge/mixer"
	"cusax.dev/bridge/muc"
)

// startServices starts the media engine, the SIP focus and the MUC
// component on the registry. Each runs until ctx ends.
func startServices(ctx context.Context, cfg config.Config, reg *conference.Registry, m *metrics.Metrics, log *slog.Logger,
	ready *readiness, start func(string, func(context.Context) error), emb *embedded) error {
	lo, hi, err := config.ParsePortRange(cfg.RTP.Ports)
	if err != nil {
		return fmt.Errorf("rtp.ports: %w", err)
	}
	m.RTPPortsCapacity.Set(float64(portPairs(lo, hi)))
	eng, err := mixer.New(mixer.Config{
		BindIP:       cfg.RTP.BindIP.First(),
		BindIPAlt:    cfg.RTP.BindIP.Other(),
		PortMin:      lo,
		PortMax:      hi,
		MaxSpeakers:  cfg.RTP.MaxSpeakers,
		RTCPInterval: cfg.RTP.RTCPInterval.D(),
		StrictSource: cfg.RTP.StrictSource,
		Shared:       cfg.RTP.Mode == "shared",
		Metrics:      m,
		Logger:       log.With("component", "mixer"),
	})
	if err != nil {
		return fmt.Errorf("mixer: %w", err)
	}
	tlsConfig, err := sipTLS(cfg)
	if err != nil {
		eng.Close()
		return err
	}
	foc, err := focus.New(focus.Config{
		Listen:          cfg.SIP.Listen,
		Domain:          cfg.SIP.Domain,
		AdvertisedIP:    addrString(cfg.SIP.AdvertisedIP.First()),
		AdvertisedIPAlt: addrString(cfg.SIP.AdvertisedIP.Other()),
		AckTimeout:      cfg.SIP.AckTimeout.D(),
		AnswerDelay:     cfg.SIP.AnswerDelay.D(),
		Logger:          log.With("component", "focus"),
		Metrics:         m,

		NotifyInterval:      cfg.SIP.NotifyInterval.D(),
		SubscriptionExpires: cfg.SIP.SubscriptionExpires.D(),
		MUCDomain:           chatDomain(cfg),
		AuthRealm:           cfg.SIP.Auth.Realm,
		Accounts:            sipAccounts(cfg),
		AccountsHA1:         emb.ha1(cfg.SIP.Auth.Realm),
		RequireAuthForCalls: cfg.SIP.Auth.RequireForCalls,
		TrustedPeers:        cfg.TrustedPrefixes(),
		RTPTimeout:          cfg.RTP.Timeout.D(),
		RTPHoldTimeout:      cfg.RTP.HoldTimeout.D(),
		AuthFreeFailures:    authFreeFailures(cfg),
		AuthMaxDelay:        cfg.SIP.Auth.MaxDelay.D(),
		TCPMaxConnections:   tcpMaxConnections(cfg),
		TCPMaxPerSource:     cfg.SIP.TCP.MaxPerSource,
		TCPIdleTimeout:      cfg.SIP.TCP.IdleTimeout.D(),
		TLS:                 tlsConfig,
		SRTP:                focus.SRTPPolicy(cfg.RTP.SRTP),
		Subscriptions: focus.SubscriptionLimits{PerSubscriber: cfg.SIP.Subscriptions.PerParticipant,
			PerSource: cfg.SIP.Subscriptions.PerSource, Total: cfg.SIP.Subscriptions.Total},
	}, reg, eng)
	if err != nil {
		eng.Close()
		return fmt.Errorf("focus: %w", err)
	}
	mixCtx, stopMix := context.WithCancel(context.Background())
	mixDone := make(chan error, 1)
	go func() { mixDone <- eng.Run(mixCtx) }()
	start("sip", func(ctx context.Context) error {
		// The focus hangs every call up (BYE) before it returns; only then
		// does the clock stop and the engine release its ports.
		err := foc.Run(ctx)
		stopMix()
		<-mixDone
		eng.Close()
		return err
	})
	if emb != nil {
		if err := emb.start(cfg, reg, m, log, ready, start); err != nil {
			return err
		}
	}
	if cfg.XMPP.Mode == "component" {
		svc, err := muc.New(muc.Config{
			Server:    cfg.XMPP.Server,
			Domain:    cfg.XMPP.Domain,
			Secret:    cfg.XMPP.Secret,
			SIPDomain: cfg.SIP.Domain,
			Logger:    log,
			Metrics:   m,

			MaxStanzaBytes: cfg.XMPP.MaxStanzaBytes,
		}, reg)
		if err != nil {
			return fmt.Errorf("muc: %w", err)
		}
		reg.SetVCards(svc) // bindings are verified by the JIDs' vCards
		connected := svc.Connected
		ready.xmppUp.Store(&connected)
		start("xmpp", svc.Run)
	}
	go func() {
		select {
		case <-foc.Ready():
			ready.sip.Store(true)
			log.Info("sip listening", "addrs", foc.Addrs(), "advertised", foc.AdvertisedAddr())
		case <-ctx.Done():
		case <-time.After(30 * time.Second):
			log.Error("sip listeners not ready after 30s")
		}
	}()
	return nil
}

// chatDomain is the MUC domain the focus publishes as the grouptextchat
// service URI: none when the bridge runs without its MUC component.
func chatDomain(cfg config.Config) string {
	if cfg.XMPP.Mode == "off" {
		return ""
	}
	return cfg.XMPP.Domain
}

// sipAccounts are the digest accounts of sip.auth.accounts.
func sipAccounts(cfg config.Config) digest.Lookup {
	m := make(map[string]string, len(cfg.SIP.Auth.Accounts))
	for _, a := range cfg.SIP.Auth.Accounts {
		m[a.User] = a.Password
	}
	return digest.Accounts(m)
}

// addrString is an address for the focus's configuration; "" for none.
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// portPairs is how many RTP/RTCP pairs (even RTP port, RTCP port+1) the
// range lo–hi holds, as the mixer allocates them.
func portPairs(lo, hi int) int {
	first := lo + lo%2
	if first+1 > hi {
		return 0
	}
	return (hi - first + 1) / 2
}
