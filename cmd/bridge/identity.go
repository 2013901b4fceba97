package main

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/config"
	"cusax.dev/bridge/store"
)

// identityOptions are the registry's identity settings: the canonicaliser
// that folds every name of this bridge (sip.domain_aliases, the advertised
// and listen IPs, every local address when a listener takes them all) to
// sip.domain, and identity.bindings.
func identityOptions(cfg config.Config) (conference.Identities, []conference.Binding) {
	aliases := append([]string{}, cfg.SIP.DomainAliases...)
	for _, a := range cfg.SIP.AdvertisedIP { // both families' addresses name this bridge
		if a != "" {
			aliases = append(aliases, a)
		}
	}
	wildcard := false
	for _, l := range cfg.SIP.Listen {
		_, addr, err := config.ParseListen(l)
		if err != nil {
			continue
		}
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			continue
		}
		if ap.Addr().IsUnspecified() {
			wildcard = true
			continue
		}
		aliases = append(aliases, ap.Addr().String())
	}
	if wildcard {
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if p, err := netip.ParsePrefix(a.String()); err == nil {
					aliases = append(aliases, p.Addr().String())
				}
			}
		}
	}
	var bindings []conference.Binding
	for _, b := range cfg.Identity.Bindings {
		bindings = append(bindings, conference.Binding{JID: b.JID, AOR: b.AOR})
	}
	return conference.NewIdentities(cfg.SIP.Domain, aliases...), bindings
}

// warnClaims says at start-up, once, when SIP identities are only claims
// (no digest for calls, no trusted peers) while rooms rely on them:
// moderators listed by sip: AOR, or bans of sip: identities.
func warnClaims(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger) {
	if cfg.SIP.Auth.RequireForCalls || len(cfg.SIP.TrustedPeers) > 0 {
		return
	}
	moderators, bans := 0, 0
	rooms := map[string]bool{}
	for _, r := range cfg.Rooms {
		rooms[r.Name] = true
		for _, m := range r.Moderators {
			if strings.HasPrefix(m, "sip:") || strings.HasPrefix(m, "sips:") {
				moderators++
			}
		}
	}
	if stored, err := st.Rooms(ctx); err == nil {
		for _, r := range stored {
			rooms[r.Name] = true
		}
	}
	for name := range rooms {
		affs, err := st.Affiliations(ctx, name)
		if err != nil {
			continue
		}
		for _, a := range affs {
			if a.Value == store.AffOutcast && (strings.HasPrefix(a.Identity, "sip:") || strings.HasPrefix(a.Identity, "tel:")) {
				bans++
			}
		}
	}
	if moderators > 0 || bans > 0 {
		log.Warn("SIP identities are only claims: calls are not authenticated (sip.auth.require_for_calls) and no sip.trusted_peers assert them; "+
			"bans of SIP callers are best effort and a caller's From grants no rights",
			"sip_moderators", moderators, "sip_bans", bans)
	}
}
