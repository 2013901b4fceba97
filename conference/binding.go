package conference

import (
	"context"
	"fmt"
	"sync"
	"time"

	"cusax.dev/bridge/store"
)

// Binding says that a SIP identity (AOR) and a JID are one person (RFC 7081
// §3.4, DESIGN.md §6).
type Binding struct {
	JID string // bare JID
	AOR string // sip: or tel: URI
}

// VCards fetches what a JID's vCard says about the person: its TEL values
// (XEP-0054 NUMBER, XEP-0292 tel uri), verbatim. The MUC component
// implements it with an IQ to the JID's server; it must honour ctx.
type VCards interface {
	VCardTELs(ctx context.Context, bareJID string) ([]string, error)
}

// DefaultVerifyTimeout bounds a vCard look-up made while a caller waits.
const DefaultVerifyTimeout = time.Second

// bindings is the registry's index of verified bindings (configured and
// recorded), in both directions, canonical identities only.
type bindings struct {
	mu     sync.RWMutex
	loaded bool
	pairs  map[string]map[string]bool // identity → bound identities → from config
	vcards VCards
}

func (b *bindings) add(jid, aor string, configured bool) {
	for _, kv := range [][2]string{{jid, aor}, {aor, jid}} {
		m := b.pairs[kv[0]]
		if m == nil {
			m = map[string]bool{}
			b.pairs[kv[0]] = m
		}
		m[kv[1]] = m[kv[1]] || configured
	}
}

// SetVCards installs the vCard source used to verify bindings (the MUC
// component, which exists after the registry). Nil removes it.
func (r *Registry) SetVCards(v VCards) {
	r.binds.mu.Lock()
	r.binds.vcards = v
	r.binds.mu.Unlock()
}

// loadBindings reads the configured and recorded bindings once.
func (r *Registry) loadBindings(ctx context.Context) error {
	r.binds.mu.RLock()
	loaded := r.binds.loaded
	r.binds.mu.RUnlock()
	if loaded {
		return nil
	}
	var stored []store.Binding
	if bs, ok := r.store.(store.Bindings); ok {
		var err error
		if stored, err = bs.AllBindings(ctx); err != nil {
			return fmt.Errorf("%w: load bindings: %w", ErrStore, err)
		}
	}
	r.binds.mu.Lock()
	defer r.binds.mu.Unlock()
	if r.binds.loaded {
		return nil
	}
	r.binds.pairs = map[string]map[string]bool{}
	for _, b := range r.opts.Bindings {
		if j, a := r.Canonical(b.JID), r.Canonical(b.AOR); identityScheme(j) == "xmpp" && j != "" && a != "" && identityScheme(a) != "xmpp" {
			r.binds.add(j, a, true)
		}
	}
	for _, b := range stored {
		if j, a := r.Canonical(b.JID), r.Canonical(b.AOR); j != "" && a != "" {
			r.binds.add(j, a, false)
		}
	}
	r.binds.loaded = true
	return nil
}

func (r *Registry) isBound(jid, aor string) bool {
	r.binds.mu.RLock()
	defer r.binds.mu.RUnlock()
	_, ok := r.binds.pairs[jid][aor]
	return ok
}

// configuredJID returns the one JID identity.bindings gives aor, if exactly
// one.
func (r *Registry) configuredJID(aor string) string {
	r.binds.mu.RLock()
	defer r.binds.mu.RUnlock()
	found := ""
	for other, configured := range r.binds.pairs[aor] {
		if !configured || identityScheme(other) != "xmpp" {
			continue
		}
		if found != "" {
			return ""
		}
		found = other
	}
	return found
}

// record stores a verified binding and indexes it.
func (r *Registry) record(ctx context.Context, jid, aor, source string) {
	if bs, ok := r.store.(store.Bindings); ok {
		if err := bs.SaveBinding(ctx, store.Binding{JID: jid, AOR: aor, Source: source, At: r.now()}); err != nil {
			r.log.Warn("binding not recorded", "jid", jid, "aor", aor, "err", err)
			return
		}
	}
	r.binds.mu.Lock()
	defer r.binds.mu.Unlock()
	if len(r.binds.pairs) >= 2*store.MaxBindings {
		r.log.Warn("binding not indexed: too many bindings", "jid", jid, "aor", aor)
		return
	}
	r.binds.add(jid, aor, false)
}

// fetchTELs asks the vCard source for jid's TELs, within the verify
// timeout. A missing source, an error or a timeout yields none.
func (r *Registry) fetchTELs(ctx context.Context, jid string) []string {
	r.binds.mu.RLock()
	v := r.binds.vcards
	r.binds.mu.RUnlock()
	if v == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.VerifyTimeout)
	defer cancel()
	tels, err := v.VCardTELs(ctx, jid)
	if err != nil {
		r.log.Info("vCard look-up failed", "jid", jid, "err", err)
		return nil
	}
	return tels
}

// Verify decides whether the trusted SIP identity aor belongs to the JID
// hint (RFC 7081 §3.4): a configured or recorded binding, or a TEL of the
// JID's vCard equal to aor or its number. A new vCard match is recorded.
// An empty hint takes the one JID identity.bindings gives aor. It returns
// the canonical bare JID, or "" when unbound. It never takes longer than
// the verify timeout.
func (r *Registry) Verify(ctx context.Context, aor, hint string) string {
	if err := r.loadBindings(ctx); err != nil {
		r.log.Warn("bindings unavailable", "err", err)
		return ""
	}
	a := r.Canonical(aor)
	if a == "" || identityScheme(a) == "xmpp" {
		return ""
	}
	if hint == "" {
		return r.configuredJID(a)
	}
	j := r.Canonical(hint)
	if j == "" || identityScheme(j) != "xmpp" {
		return ""
	}
	if r.isBound(j, a) {
		return j
	}
	for _, tel := range r.fetchTELs(ctx, j) {
		if r.opts.Identities.TELMatches(tel, a) {
			r.record(ctx, j, a, "vcard")
			return j
		}
	}
	return ""
}

// recordVCardAORs fetches a JID's vCard when it is banned and records its
// SIP TELs as bindings, so that the ban refuses those AORs too.
func (r *Registry) recordVCardAORs(ctx context.Context, jid string) {
	for _, tel := range r.fetchTELs(ctx, jid) {
		t := tel
		if s, rest, ok := cutScheme(t); ok && s == "tel" {
			if s2, _, ok2 := cutScheme(rest); ok2 && (s2 == "sip" || s2 == "sips") {
				t = rest
			}
		}
		if a := r.Canonical(t); a != "" && identityScheme(a) != "xmpp" {
			r.record(ctx, jid, a, "vcard")
		} else if n, ok := phoneNumber(tel); ok {
			r.record(ctx, jid, "tel:"+n, "vcard")
		}
	}
}

// expand returns ids with every identity bound to them.
func (r *Registry) expand(ids []string) []string {
	r.binds.mu.RLock()
	defer r.binds.mu.RUnlock()
	out := append([]string(nil), ids...)
	for _, id := range ids {
		for other := range r.binds.pairs[id] {
			out = append(out, other)
		}
	}
	return out
}
