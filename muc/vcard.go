package muc

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"
)

// vCard look-ups (XEP-0054 vcard-temp; the vCard4 elements of XEP-0292
// where a server answers with them): the component asks the JID's server
// for the bare JID's vCard and hands the core its TEL values, which the
// core compares with a caller's AOR (RFC 7081 §3.3, §3.4). Answers are
// cached for a while, in a bounded table.

// Namespaces of vCards.
const (
	NSVCardTemp = "vcard-temp"
	NSVCard4    = "urn:ietf:params:xml:ns:vcard-4.0"
)

// vCard cache bounds.
const (
	vcardCacheSize = 1024
	vcardTTL       = 5 * time.Minute
	vcardNegTTL    = 30 * time.Second // no vCard, or an error answer
	maxTELs        = 16
)

var errNoVCard = errors.New("muc: no vCard answer")

type vcardEntry struct {
	tels    []string
	expires time.Time
}

// vcardCache is a bounded TTL cache of TEL lists by bare JID.
type vcardCache struct {
	mu  sync.Mutex
	m   map[string]vcardEntry
	now func() time.Time
}

func (c *vcardCache) get(j string) ([]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[j]
	if !ok || !c.now().Before(e.expires) {
		return nil, false
	}
	return e.tels, true
}

func (c *vcardCache) put(j string, tels []string, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]vcardEntry{}
	}
	now := c.now()
	if _, ok := c.m[j]; !ok && len(c.m) >= vcardCacheSize {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		for k := range c.m { // still full: drop any one
			if len(c.m) < vcardCacheSize {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[j] = vcardEntry{tels: tels, expires: now.Add(ttl)}
}

func (c *vcardCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// VCardTELs returns the TEL values of bareJID's vCard, asking its server
// with an IQ from the component (conference.VCards). ctx bounds the wait;
// a link that is down, an error answer or no vCard yields none.
func (s *Service) VCardTELs(ctx context.Context, bareJID string) ([]string, error) {
	j, err := jid.Parse(bareJID)
	if err != nil || j.Localpart() == "" {
		return nil, fmt.Errorf("muc: vCard of %q: not a bare JID", bareJID)
	}
	key := j.Bare().String()
	if tels, ok := s.vcards.get(key); ok {
		return tels, nil
	}
	sess, _ := s.link.get()
	if sess == nil {
		return nil, errLinkDown
	}
	iq := el("iq", elNS(NSVCardTemp, "vCard")).set("type", "get").set("id", newID()).set("from", s.domain.String()).set("to", key)
	s.count("iq", "out")
	resp, err := sess.SendIQ(ctx, iq.tokenReader())
	if err != nil {
		return nil, fmt.Errorf("muc: vCard of %s: %w", key, err)
	}
	defer resp.Close()
	s.count("iq", "in")
	tok, err := resp.Token()
	if err != nil {
		return nil, fmt.Errorf("muc: vCard of %s: %w", key, err)
	}
	start, ok := tok.(xml.StartElement)
	if !ok {
		return nil, errNoVCard
	}
	n, err := readNode(resp, start)
	if err != nil {
		return nil, fmt.Errorf("muc: vCard of %s: %w", key, err)
	}
	if n.attr("type") != "result" {
		s.vcards.put(key, nil, vcardNegTTL)
		return nil, nil
	}
	tels := vcardTELs(n)
	ttl := vcardTTL
	if len(tels) == 0 {
		ttl = vcardNegTTL
	}
	s.vcards.put(key, tels, ttl)
	return tels, nil
}

// vcardTELs collects the TEL values of an IQ result: vcard-temp
// <TEL><NUMBER>, and vCard4 <tel><uri> or <tel><text>.
func vcardTELs(iq *node) []string {
	var out []string
	add := func(v string) {
		if v = strings.TrimSpace(v); v != "" && len(out) < maxTELs && len(v) <= 1024 {
			out = append(out, v)
		}
	}
	if v := iq.child(NSVCardTemp, "vCard"); v != nil {
		for _, t := range v.children(NSVCardTemp, "TEL") {
			if num := t.child(NSVCardTemp, "NUMBER"); num != nil {
				add(num.Text)
			}
		}
	}
	if v := iq.child(NSVCard4, "vcard"); v != nil {
		for _, t := range v.children(NSVCard4, "tel") {
			for _, k := range []string{"uri", "text"} {
				if c := t.child(NSVCard4, k); c != nil {
					add(c.Text)
				}
			}
		}
	}
	return out
}
