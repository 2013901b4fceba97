package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// Identity configures how SIP callers and XMPP users are known to be the
// same person (DESIGN.md §6).
type Identity struct {
	// Bindings is a directory of SIP AORs and the JIDs they belong to,
	// trusted like a verified vCard.
	Bindings []Binding `yaml:"bindings"`
}

// Binding is one entry of identity.bindings.
type Binding struct {
	JID string `yaml:"jid"`
	AOR string `yaml:"aor"`
}

// TrustedPrefixes parses sip.trusted_peers into prefixes (an IP is a /32 or
// /128). It assumes Validate passed.
func (c *Config) TrustedPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.SIP.TrustedPeers {
		if p, err := parsePeer(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func parsePeer(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// validateIdentity checks sip.trusted_peers, sip.domain_aliases and
// identity.bindings.
func (c *Config) validateIdentity() error {
	bad := func(key, val, msg string) error { return &FieldError{Key: key, Value: val, Msg: msg} }
	for i, p := range c.SIP.TrustedPeers {
		if _, err := parsePeer(p); err != nil {
			return bad(fmt.Sprintf("sip.trusted_peers[%d]", i), p, "must be an IP address or a CIDR prefix")
		}
	}
	for i, a := range c.SIP.DomainAliases {
		if a == "" || strings.ContainsAny(a, " @;<>/:") && !isIP(a) {
			return bad(fmt.Sprintf("sip.domain_aliases[%d]", i), a, "must be a host name or IP address")
		}
	}
	for i, b := range c.Identity.Bindings {
		key := fmt.Sprintf("identity.bindings[%d]", i)
		j := strings.TrimPrefix(b.JID, "xmpp:")
		local, domain, ok := strings.Cut(j, "@")
		if !ok || local == "" || domain == "" || strings.ContainsAny(j, " /<>:;") {
			return bad(key+".jid", b.JID, "must be a bare JID like alice@example.com")
		}
		if !strings.HasPrefix(b.AOR, "sip:") && !strings.HasPrefix(b.AOR, "sips:") && !strings.HasPrefix(b.AOR, "tel:") {
			return bad(key+".aor", b.AOR, "must be a sip:, sips: or tel: URI")
		}
	}
	return nil
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return err == nil
}
