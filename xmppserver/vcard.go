package xmppserver

import (
	"context"
	"strings"
)

// vcard returns user's vCard (XEP-0054) with the locked TEL holding the
// account's SIP AOR (RFC 7081 §3.1; `video` type with accounts.video).
func (s *Server) vcard(ctx context.Context, user string) (*elem, error) {
	raw, ok, err := s.cfg.Store.VCard(ctx, user)
	if err != nil {
		return nil, err
	}
	v := elNS(nsVCard, "vCard")
	if ok {
		if p, err := parseElem(string(raw)); err == nil && p.Name.Space == nsVCard && p.Name.Local == "vCard" {
			v = p
		}
	}
	return s.lockTEL(user, v), nil
}

// setVCard stores v as user's vCard. The owner cannot change or remove the
// TEL holding the AOR: any TEL with that number is replaced by the locked
// one, which is always present; other TELs are the user's to add.
func (s *Server) setVCard(ctx context.Context, user string, v *elem) error {
	v = s.lockTEL(user, v.clone())
	return s.cfg.Store.SaveVCard(ctx, user, []byte(v.String()))
}

// lockTEL removes every TEL whose NUMBER is the account's AOR and adds the
// locked one.
func (s *Server) lockTEL(user string, v *elem) *elem {
	aor := s.cfg.Accounts.AOR(user)
	kids := v.Kids[:0:0]
	for _, k := range v.Kids {
		if k.Name.Local == "TEL" {
			if n := k.kid(nsVCard, "NUMBER"); n != nil && strings.EqualFold(strings.TrimSpace(n.Text), aor) {
				continue
			}
		}
		kids = append(kids, k)
	}
	tel := elNS(nsVCard, "TEL", elNS(nsVCard, "VOICE"))
	if s.cfg.Accounts.Video() {
		tel.Kids = append(tel.Kids, elNS(nsVCard, "VIDEO"))
	}
	tel.Kids = append(tel.Kids, elNS(nsVCard, "NUMBER").text(aor))
	v.Kids = append(kids, tel)
	return v
}

// VCardTELs returns the TEL numbers of a local account's vCard, the locked
// AOR among them, read from the store: the conference core's vCard source
// (conference.VCards) in embedded mode, so that a SIP↔XMPP binding verifies
// without a network round trip. A JID of another domain or of no account
// has none.
func (s *Server) VCardTELs(ctx context.Context, bareJID string) ([]string, error) {
	local, domain, ok := strings.Cut(bareJID, "@")
	if !ok || !strings.EqualFold(domain, s.host.Domainpart()) || strings.Contains(domain, "/") {
		return nil, nil
	}
	exists, err := s.cfg.Accounts.Exists(ctx, local)
	if err != nil || !exists {
		return nil, err
	}
	v, err := s.vcard(ctx, local)
	if err != nil {
		return nil, err
	}
	var tels []string
	for _, k := range v.Kids {
		if k.Name.Local != "TEL" {
			continue
		}
		if n := k.kid(nsVCard, "NUMBER"); n != nil && strings.TrimSpace(n.Text) != "" {
			tels = append(tels, strings.TrimSpace(n.Text))
		}
	}
	return tels, nil
}
