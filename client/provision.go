package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"
)

// provisionTimeout bounds the whole GET /provision.
const provisionTimeout = 10 * time.Second

// maxProvisionBody bounds the document read from the network.
const maxProvisionBody = 64 << 10

// Document is the provisioning document of the bridge's GET /provision
// (schema version 1, README "Online provisioning"). Only the fields the
// client uses are decoded; unknown fields are ignored.
type Document struct {
	Version int    `json:"version"`
	Account string `json:"account"`
	SIP     struct {
		AOR        string   `json:"aor"`
		AuthUser   string   `json:"auth_user"`
		Proxy      string   `json:"proxy"`
		Transports []string `json:"transports"`
	} `json:"sip"`
	XMPP struct {
		JID       string `json:"jid"`
		Host      string `json:"host"`
		Port      int    `json:"port"`
		StartTLS  string `json:"starttls"`
		TLSPin    string `json:"tls_pin_sha256"`
		MUCDomain string `json:"muc_domain"`
	} `json:"xmpp"`
}

// ParseDocument decodes and validates a provisioning document: version 1,
// a user JID, a SIP AOR, HOST:PORT for the SIP proxy and a port for XMPP,
// UDP among the SIP transports (the client signals over UDP), STARTTLS
// required, and a pin (if any) of 32 colon-separated hex bytes.
func ParseDocument(data []byte) (*Document, error) {
	var d Document
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("not a provisioning document: %w", err)
	}
	if d.Version != 1 {
		return nil, fmt.Errorf("provisioning document version %d: this client knows version 1", d.Version)
	}
	if d.XMPP.JID != "" {
		j, err := jid.Parse(d.XMPP.JID)
		if err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
			return nil, fmt.Errorf("provisioning document: xmpp.jid %q is not a user JID", d.XMPP.JID)
		}
		if d.XMPP.Host == "" || strings.ContainsAny(d.XMPP.Host, "/ ") || d.XMPP.Port <= 0 || d.XMPP.Port > 65535 {
			return nil, fmt.Errorf("provisioning document: xmpp.host %q / port %d unusable", d.XMPP.Host, d.XMPP.Port)
		}
		if d.XMPP.StartTLS != "" && d.XMPP.StartTLS != "required" {
			return nil, fmt.Errorf("provisioning document: xmpp.starttls %q (the client requires STARTTLS)", d.XMPP.StartTLS)
		}
		if d.XMPP.TLSPin != "" {
			if _, err := parsePin(d.XMPP.TLSPin); err != nil {
				return nil, fmt.Errorf("provisioning document: xmpp.tls_pin_sha256: %w", err)
			}
		}
	}
	if d.SIP.AOR != "" {
		user, _, ok := splitAOR(d.SIP.AOR)
		if !ok || !strings.HasPrefix(d.SIP.AOR, "sip:") {
			return nil, fmt.Errorf("provisioning document: sip.aor %q is not a SIP AOR", d.SIP.AOR)
		}
		if d.SIP.AuthUser == "" {
			d.SIP.AuthUser = user
		}
		if strings.ContainsAny(d.SIP.AuthUser, "\"\\\r\n") {
			return nil, fmt.Errorf("provisioning document: sip.auth_user %q unusable", d.SIP.AuthUser)
		}
		h, p, err := net.SplitHostPort(d.SIP.Proxy)
		if err != nil || h == "" {
			return nil, fmt.Errorf("provisioning document: sip.proxy %q: want HOST:PORT", d.SIP.Proxy)
		}
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("provisioning document: sip.proxy %q: bad port", d.SIP.Proxy)
		}
		if len(d.SIP.Transports) > 0 && !slices.Contains(d.SIP.Transports, "udp") {
			return nil, fmt.Errorf("provisioning document: sip.transports %q: the client needs udp", d.SIP.Transports)
		}
	}
	if d.XMPP.JID == "" && d.SIP.AOR == "" {
		return nil, errors.New("provisioning document names neither an XMPP nor a SIP account")
	}
	return &d, nil
}

// parsePin reads a SHA-256 fingerprint in colon-separated (or plain) hex.
func parsePin(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("%q is not a SHA-256 fingerprint (32 hex bytes, colons allowed)", s)
	}
	return b, nil
}

// ProvisionFrom fetches the document at c.Provision with HTTP Basic (the
// account name from c.User or the --jid's localpart, the password from the
// password file) and fills every setting that is still empty: explicit
// flags and settings-file keys win. Errors wrap ErrAuth (401) or
// ErrUnreachable (no answer, another status, or no document).
func (c *Config) ProvisionFrom(ctx context.Context) error {
	u, err := url.Parse(c.Provision)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		// Never http: the password goes in the request and the pin comes back.
		return fmt.Errorf("--provision %q: want an https:// URL", c.Provision)
	}
	name := c.User
	if name == "" && c.JID != "" {
		if j, err := jid.Parse(c.JID); err == nil {
			name = j.Localpart()
		}
	}
	if name == "" {
		return errors.New("--provision needs the account name: --user NAME or --jid")
	}
	pwFile := c.PasswordFile
	if pwFile == "" {
		pwFile = c.XMPPPasswordFile
	}
	if pwFile == "" {
		return errors.New("--provision needs the account's password: --password-file")
	}
	pw, err := readPassword("--password-file", pwFile)
	if err != nil {
		return err
	}
	var pin []byte
	if c.TLSPin != "" {
		if pin, err = parsePin(c.TLSPin); err != nil {
			return fmt.Errorf("--tls-pin: %w", err)
		}
	}
	tc, err := tlsConfig(u.Hostname(), c.CAFile, pin)
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: provisionTimeout, Transport: &http.Transport{TLSClientConfig: tc, Proxy: nil}}
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, provisionTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("--provision: %w", err)
	}
	req.SetBasicAuth(name, pw)
	req.Header.Set("Accept", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		if strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "x509") {
			return fmt.Errorf("%w: provisioning %s: TLS certificate not trusted (%v); give --ca-file or --tls-pin", ErrUnreachable, u.Host, err)
		}
		return fmt.Errorf("%w: provisioning %s: %v", ErrUnreachable, u.Host, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxProvisionBody+1))
	if err != nil {
		return fmt.Errorf("%w: provisioning %s: %v", ErrUnreachable, u.Host, err)
	}
	switch {
	case res.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w: the provisioning service %s rejected the password of %s (HTTP 401)", ErrAuth, u.Host, name)
	case res.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%w: the provisioning service %s refused: too many requests or failed logins (HTTP 429, Retry-After %q)", ErrUnreachable, u.Host, res.Header.Get("Retry-After"))
	case res.StatusCode != http.StatusOK:
		return fmt.Errorf("%w: the provisioning service %s answered %s", ErrUnreachable, u.Host, res.Status)
	case len(body) > maxProvisionBody:
		return fmt.Errorf("%w: provisioning %s: document larger than %d bytes", ErrUnreachable, u.Host, maxProvisionBody)
	}
	doc, err := ParseDocument(body)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, u.Host, err)
	}
	c.Apply(doc)
	return nil
}

// Apply fills the settings still empty from doc; the TLS pin is kept for
// the XMPP connection.
func (c *Config) Apply(doc *Document) {
	if doc.XMPP.JID != "" {
		if c.JID == "" {
			c.JID = doc.XMPP.JID
		}
		if c.XMPPServer == "" {
			c.XMPPServer = net.JoinHostPort(doc.XMPP.Host, strconv.Itoa(doc.XMPP.Port))
		}
		if c.TLSPin == "" {
			c.TLSPin = doc.XMPP.TLSPin
		}
	}
	if doc.SIP.AOR != "" {
		if c.SIP == "" {
			c.SIP = doc.SIP.AOR
			c.sipAuthUser = doc.SIP.AuthUser
		}
		if c.SIPServer == "" {
			c.SIPServer = doc.SIP.Proxy
		}
	}
	c.Provision = ""
}

// readPassword reads a password file, one trailing newline stripped.
func readPassword(flag, path string) (string, error) {
	b, err := readFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// tlsConfig is the system's trust plus --ca-file; with a pin, a
// certificate that chain verification rejects is still accepted when its
// leaf's SHA-256 equals the pin.
func tlsConfig(serverName, caFile string, pin []byte) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		pem, err := readFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", caFile)
		}
		cfg.RootCAs = pool
	}
	if len(pin) == 0 {
		return cfg, nil
	}
	roots := cfg.RootCAs
	cfg.InsecureSkipVerify = true // verified below: the chain, else the pin
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tls: the server sent no certificate")
		}
		leaf := cs.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, chainErr := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: serverName})
		if chainErr == nil {
			return nil
		}
		sum := sha256.Sum256(leaf.Raw)
		if bytes.Equal(sum[:], pin) {
			return nil
		}
		return fmt.Errorf("tls: certificate not trusted (%v) and its SHA-256 %X does not match the pin", chainErr, sum[:])
	}
	return cfg, nil
}
