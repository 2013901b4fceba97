package xmppserver

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"

	"cusax.dev/bridge/accounts"
)

// maxAuthAttempts is how many SASL attempts one stream gets (RFC 6120
// §6.4.5: at least 2, at most 5).
const maxAuthAttempts = 3

var errAuthFailed = errors.New("xmppserver: authentication failed")

// saslFeature is the server side of SASL (RFC 6120 §6) over mellium's
// mechanisms, with the salted credentials of the accounts for SCRAM and
// the account password check for PLAIN, failed attempts counted per account
// and per source.
func (c *c2s) saslFeature(mechs []sasl.Mechanism) xmpp.StreamFeature {
	necessary := xmpp.Secure
	if c.plainOK {
		necessary = 0 // SCRAM before (or without) STARTTLS on loopback
	}
	return xmpp.StreamFeature{
		Name:       xml.Name{Space: nsSASL, Local: "mechanisms"},
		Necessary:  necessary,
		Prohibited: xmpp.Authn,
		List: func(ctx context.Context, e xmlstream.TokenWriter, start xml.StartElement) (bool, error) {
			list := &elem{Name: start.Name}
			for _, m := range mechs {
				list.Kids = append(list.Kids, elNS(nsSASL, "mechanism").text(m.Name))
			}
			_, err := xmlstream.Copy(e, list.tokenReader())
			return true, err
		},
		Parse: func(ctx context.Context, d *xml.Decoder, start *xml.StartElement) (bool, any, error) {
			return true, nil, d.Skip()
		},
		Negotiate: func(ctx context.Context, session *xmpp.Session, _ any) (xmpp.SessionState, io.ReadWriter, error) {
			return c.negotiateSASL(ctx, session, mechs)
		},
	}
}

func (c *c2s) negotiateSASL(ctx context.Context, session *xmpp.Session, mechs []sasl.Mechanism) (xmpp.SessionState, io.ReadWriter, error) {
	w := session.TokenWriter()
	defer w.Close()
	rc := session.TokenReader()
	defer rc.Close()
	r := tolerantReader{rc}
	reply := func(name string, payload []byte, kids ...*elem) error {
		e := elNS(nsSASL, name, kids...)
		if payload != nil {
			if len(payload) == 0 {
				e.Text = "="
			} else {
				e.Text = base64.StdEncoding.EncodeToString(payload)
			}
		}
		if _, err := xmlstream.Copy(w, e.tokenReader()); err != nil {
			return err
		}
		return w.Flush()
	}
	failure := func(cond, text string) error {
		kids := []*elem{elNS(nsSASL, cond)}
		if text != "" {
			kids = append(kids, elNS(nsSASL, "text").text(text))
		}
		return reply("failure", nil, kids...)
	}

	var (
		server   *sasl.Negotiator
		mechName string
		user     string // the account the exchange is about, once known
		attempts int
	)
	ctxStore, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.srv.cfg.NegotiateTimeout)
	defer cancel()
	fetch := func(username, identity []byte, mech string) ([]byte, []byte, int64, error) {
		name := string(username)
		user = name
		if len(identity) > 0 && string(identity) != name && string(identity) != name+"@"+c.srv.host.String() {
			return nil, nil, 0, sasl.ErrAuthn
		}
		salt, salted, iter, err := []byte(nil), []byte(nil), 0, accounts.ErrNotFound
		if accounts.ValidName(name) {
			salt, salted, iter, err = c.srv.cfg.Accounts.Salted(ctxStore, name, mech)
		}
		if errors.Is(err, accounts.ErrNotFound) {
			// An unknown account gets a challenge like a known one (a
			// stable salt, a random key) and fails at the proof, so that
			// SCRAM does not tell which accounts exist.
			return c.srv.fakeSalt(name), c.srv.fakeKey(mech), int64(accounts.DefaultIterations), nil
		}
		if err != nil {
			return nil, nil, 0, sasl.ErrAuthn
		}
		return salt, salted, int64(iter), nil
	}
	perm := func(n *sasl.Negotiator) bool {
		u, p, id := n.Credentials()
		user = string(u)
		if len(id) > 0 && string(id) != user && string(id) != user+"@"+c.srv.host.String() {
			return false
		}
		if !accounts.ValidName(user) || c.srv.failAccount.Blocked(user) {
			return false
		}
		ok, err := c.srv.cfg.Accounts.Check(ctxStore, user, string(p))
		return err == nil && ok
	}

	for {
		tok, err := r.Token()
		if err != nil {
			return 0, nil, err
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue // whitespace
		}
		e, err := readElem(r, start)
		if err != nil {
			return 0, nil, err
		}
		if e.Name.Space != nsSASL {
			_ = failure("malformed-request", "")
			return 0, nil, fmt.Errorf("xmppserver: unexpected %s during SASL", e.Name.Local)
		}
		switch e.Name.Local {
		case "auth":
			mechName = e.attr("mechanism")
			var sel sasl.Mechanism
			for _, m := range mechs {
				if m.Name == mechName {
					sel = m
				}
			}
			if sel.Name == "" {
				c.srv.count("auth_bad_mechanism")
				text := ""
				if mechName == "PLAIN" {
					text = "PLAIN is offered only over TLS"
				}
				if err := failure("invalid-mechanism", text); err != nil {
					return 0, nil, err
				}
				attempts++
				if attempts >= maxAuthAttempts {
					return 0, nil, errAuthFailed
				}
				continue
			}
			if c.srv.failSource.Blocked(c.src) {
				c.srv.count("auth_rate_limited")
				_ = failure("temporary-auth-failure", "too many failed logins; try again later")
				return 0, nil, errAuthFailed
			}
			server = sasl.NewServer(sel, perm, sasl.SaltedCredentials(fetch))
			user = ""
		case "response":
			if server == nil {
				_ = failure("malformed-request", "")
				return 0, nil, errAuthFailed
			}
		case "abort":
			server = nil
			if err := failure("aborted", ""); err != nil {
				return 0, nil, err
			}
			continue
		default:
			_ = failure("malformed-request", "")
			return 0, nil, errAuthFailed
		}
		var payload []byte
		if e.Text != "" && e.Text != "=" {
			payload, err = base64.StdEncoding.DecodeString(e.Text)
			if err != nil {
				server = nil
				if err := failure("incorrect-encoding", ""); err != nil {
					return 0, nil, err
				}
				continue
			}
		}
		more, resp, err := server.Step(payload)
		if err == nil && user != "" && c.srv.failAccount.Blocked(user) {
			err = sasl.ErrAuthn // the account is rate-limited: no success, whatever the proof
		}
		if err != nil {
			server = nil
			attempts++
			c.srv.failSource.Fail(c.src)
			if user != "" && accounts.ValidName(user) {
				c.srv.failAccount.Fail(user)
			}
			c.srv.count("auth_failed")
			c.srv.log.Info("xmpp login failed", "source", c.src, "user", user, "mechanism", mechName)
			if err := failure("not-authorized", ""); err != nil {
				return 0, nil, err
			}
			if attempts >= maxAuthAttempts {
				return 0, nil, errAuthFailed
			}
			continue
		}
		if more {
			if err := reply("challenge", resp); err != nil {
				return 0, nil, err
			}
			continue
		}
		c.user = user
		c.srv.count("auth_ok")
		c.srv.log.Debug("xmpp login", "source", c.src, "user", user, "mechanism", mechName, "tls", c.tls)
		if err := reply("success", resp); err != nil {
			return 0, nil, err
		}
		return xmpp.Authn, session.Conn(), nil
	}
}

// tolerantReader works around mellium v0.22 on the receiving side of a
// stream feature: the feature's first element is handed over outside
// mellium's stream reader, which then sees the element's character data
// (the SASL payload) at stream level and fails with "unexpected
// stream-level chardata". Inside the SASL exchange that data is ours to
// read, so the error is dropped and the token kept.
type tolerantReader struct{ r xml.TokenReader }

func (t tolerantReader) Token() (xml.Token, error) {
	tok, err := t.r.Token()
	if err != nil && tok != nil && err.Error() == "xmpp: unexpected stream-level chardata" {
		return tok, nil
	}
	return tok, err
}

// fakeSalt is the salt shown for an unknown account: stable per name and
// server run, so that asking twice does not tell either.
func (s *Server) fakeSalt(name string) []byte {
	m := hmac.New(sha256.New, s.secret[:])
	m.Write([]byte(name))
	return m.Sum(nil)[:16]
}

// fakeKey is a random salted password no proof matches.
func (s *Server) fakeKey(mech string) []byte {
	n := sha256.Size
	if mech == accounts.ScramSHA1 {
		n = sha1.Size
	}
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
