package config

import (
	"net"
	"strings"
)

// TLSFile names a PEM certificate chain and its key.
type TLSFile struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Provisioning configures the online provisioning endpoint (GET /provision,
// RFC 7081 §2) served with the embedded XMPP service.
type Provisioning struct {
	// Listen is the HTTPS listener; empty disables provisioning.
	Listen string `yaml:"listen"`
}

// Accounts configures the shared accounts of the embedded service.
type Accounts struct {
	// Video adds the video type to every account's locked vCard TEL.
	Video bool `yaml:"video"`
}

// validateEmbedded checks the keys of xmpp.mode: embedded.
func (c *Config) validateEmbedded() error {
	bad := func(key, val, msg string) error { return &FieldError{Key: key, Value: val, Msg: msg} }
	if c.XMPP.Host == "" || strings.ContainsAny(c.XMPP.Host, " @/:") {
		return bad("xmpp.host", c.XMPP.Host, "must be a domain like example.com")
	}
	if c.XMPP.Domain == "" || strings.ContainsAny(c.XMPP.Domain, " @/") || c.XMPP.Domain == c.XMPP.Host {
		return bad("xmpp.domain", c.XMPP.Domain, "must be a domain JID other than xmpp.host, like conference.example.com")
	}
	if _, _, err := net.SplitHostPort(c.XMPP.C2SListen); err != nil {
		return bad("xmpp.c2s_listen", c.XMPP.C2SListen, "must be host:port")
	}
	if (c.XMPP.TLS.Cert == "") != (c.XMPP.TLS.Key == "") {
		return bad("xmpp.tls.cert", c.XMPP.TLS.Cert, "xmpp.tls.cert and xmpp.tls.key go together")
	}
	if c.Provisioning.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Provisioning.Listen); err != nil {
			return bad("provisioning.listen", c.Provisioning.Listen, "must be host:port or empty")
		}
	}
	if c.Store.Path == ":memory:" {
		return bad("store.path", c.Store.Path, "embedded mode keeps accounts in the store: a file is required")
	}
	return nil
}
