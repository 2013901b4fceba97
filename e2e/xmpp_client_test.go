package e2e

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

// XMPP namespaces the tests look at.
const (
	nsMUC      = "http://jabber.org/protocol/muc"
	nsMUCUser  = "http://jabber.org/protocol/muc#user"
	nsMUCAdmin = "http://jabber.org/protocol/muc#admin"
	nsMUCOwner = "http://jabber.org/protocol/muc#owner"
	nsDisco    = "http://jabber.org/protocol/disco#info"
	nsData     = "jabber:x:data"
	nsPing     = "urn:xmpp:ping"
	nsStanzas  = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsClient   = "jabber:client"
)

// Elem is a parsed XML element.
type Elem struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Kids    []*Elem    `xml:",any"`
}

// Attr returns an unqualified attribute.
func (e *Elem) Attr(name string) string {
	if e == nil {
		return ""
	}
	for _, a := range e.Attrs {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// Child returns the first child in ns called local ("" ns: the client
// namespace), or nil.
func (e *Elem) Child(ns, local string) *Elem {
	if e == nil {
		return nil
	}
	if ns == "" {
		ns = nsClient
	}
	for _, k := range e.Kids {
		if k.XMLName.Space == ns && k.XMLName.Local == local {
			return k
		}
	}
	return nil
}

// Children returns every child in ns called local.
func (e *Elem) Children(ns, local string) []*Elem {
	var out []*Elem
	if e == nil {
		return nil
	}
	for _, k := range e.Kids {
		if k.XMLName.Space == ns && k.XMLName.Local == local {
			out = append(out, k)
		}
	}
	return out
}

// String renders the element (for failure messages).
func (e *Elem) String() string {
	b, err := xml.Marshal(e)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// Codes returns the muc#user status codes.
func (e *Elem) Codes() []string {
	var out []string
	for _, s := range e.Child(nsMUCUser, "x").Children(nsMUCUser, "status") {
		out = append(out, s.Attr("code"))
	}
	return out
}

// Item returns the muc#user item of a presence.
func (e *Elem) Item() *Elem { return e.Child(nsMUCUser, "x").Child(nsMUCUser, "item") }

// ErrorCondition returns the defined condition of an error stanza.
func (e *Elem) ErrorCondition() string {
	for _, k := range e.Child("", "error").Kids {
		if k.XMLName.Space == nsStanzas && k.XMLName.Local != "text" {
			return k.XMLName.Local
		}
	}
	return ""
}

// XMPPClient is a c2s test client on mellium, with its own muc#user
// handling (mellium's muc client does not report other occupants).
type XMPPClient struct {
	t    testing.TB
	JID  string // full JID after binding
	Bare string
	sess *xmpp.Session
	in   chan *Elem
	mu   sync.Mutex
	held []*Elem
	done chan struct{}
	// dropped counts stanzas lost because nobody consumed the queue.
	dropped atomic.Int64
	// NoPing makes the client answer pings as one without XEP-0199 does
	// (service-unavailable); it still answers disco#info, as every client.
	NoPing atomic.Bool
	// Pings counts the pings the client received.
	Pings atomic.Int64
}

// DialXMPP logs user@domain in over plaintext loopback (PLAIN, as the test
// Prosody allows) and sends initial presence. It answers pings and
// disco#info queries.
func DialXMPP(t testing.TB, addr, user, domain, password string) *XMPPClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial c2s: %v", err)
	}
	conn := clientConn{Conn: raw}
	origin := jid.MustParse(user + "@" + domain)
	sess, err := xmpp.NewSession(ctx, origin.Domain(), origin, conn, xmpp.Secure, xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
		return xmpp.StreamConfig{Features: []xmpp.StreamFeature{xmpp.SASL("", password, sasl.ScramSha256, sasl.ScramSha1, sasl.Plain), xmpp.BindResource()}}
	}))
	if err != nil {
		conn.Close()
		t.Fatalf("xmpp login %s: %v", origin, err)
	}
	c := &XMPPClient{t: t, JID: sess.LocalAddr().String(), Bare: origin.String(), sess: sess, in: make(chan *Elem, 4096), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		_ = sess.Serve(xmpp.HandlerFunc(c.handle))
	}()
	t.Cleanup(c.Close)
	c.Send(`<presence/>`)
	return c
}

// clientConn bounds each write itself and ignores mellium's write
// deadlines: mellium (v0.22) sets the write deadline to the past from a
// goroutine when a Send's context ends, which can land on a later write once
// the call has returned and break the session's encoder for good (the muc
// package's writeConn explains it).
type clientConn struct{ net.Conn }

func (c clientConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

func (c clientConn) SetDeadline(t time.Time) error    { return c.Conn.SetReadDeadline(t) }
func (c clientConn) SetWriteDeadline(time.Time) error { return nil }

func (c *XMPPClient) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	var e Elem
	// The handler's reader starts after start; give the decoder the whole element.
	if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t)).Decode(&e); err != nil {
		return nil
	}
	if e.XMLName.Local == "iq" && e.Attr("type") == "get" {
		var res string
		switch {
		case e.Child(nsPing, "ping") != nil && c.NoPing.Load():
			c.Pings.Add(1)
			res = fmt.Sprintf(`<iq xmlns='jabber:client' type='error' id=%q to=%q><ping xmlns='%s'/><error type='cancel'><service-unavailable xmlns='%s'/></error></iq>`,
				e.Attr("id"), e.Attr("from"), nsPing, nsStanzas)
		case e.Child(nsPing, "ping") != nil:
			c.Pings.Add(1)
			res = fmt.Sprintf(`<iq xmlns='jabber:client' type='result' id=%q to=%q/>`, e.Attr("id"), e.Attr("from"))
		case e.Child(nsDisco, "query") != nil:
			res = fmt.Sprintf(`<iq xmlns='jabber:client' type='result' id=%q to=%q><query xmlns='%s'><identity category='client' type='pc'/><feature var='%s'/></query></iq>`,
				e.Attr("id"), e.Attr("from"), nsDisco, nsDisco)
		}
		if res != "" {
			_, _ = xmlstream.Copy(t, rawTokens(res))
			return nil
		}
	}
	select {
	case c.in <- &e:
	default:
		c.dropped.Add(1)
	}
	return nil
}

// rawTokens turns XML text into a token stream that keeps its namespaces.
func rawTokens(s string) xml.TokenReader {
	return rawReader{xml.NewDecoder(strings.NewReader(s))}
}

type rawReader struct{ d *xml.Decoder }

func (r rawReader) Token() (xml.Token, error) { return r.d.RawToken() }

// Send writes one raw stanza.
func (c *XMPPClient) Send(format string, args ...any) {
	c.t.Helper()
	// No deadline on the context: clientConn bounds the write (see there).
	if err := c.sess.Send(context.Background(), rawTokens(fmt.Sprintf(format, args...))); err != nil {
		c.t.Fatalf("%s: send: %v", c.Bare, err)
	}
}

// Next returns the first received stanza (held or new) matching match.
func (c *XMPPClient) Next(what string, match func(*Elem) bool) *Elem {
	c.t.Helper()
	c.mu.Lock()
	for i, e := range c.held {
		if match(e) {
			c.held = slices.Delete(c.held, i, i+1)
			c.mu.Unlock()
			return e
		}
	}
	c.mu.Unlock()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-c.in:
			if match(e) {
				return e
			}
			c.hold(e)
			continue
		default:
		}
		// Everything received before the stream ended has been looked at (the
		// handler queues a stanza before Serve returns): waiting is of no use.
		select {
		case <-c.done:
			c.fail("the stream ended while waiting for " + what)
			return nil
		default:
		}
		select {
		case e := <-c.in:
			if match(e) {
				return e
			}
			c.hold(e)
		case <-c.done:
		case <-deadline:
			c.fail("timed out waiting for " + what)
			return nil
		}
	}
}

func (c *XMPPClient) hold(e *Elem) {
	c.mu.Lock()
	c.held = append(c.held, e)
	c.mu.Unlock()
}

func (c *XMPPClient) fail(why string) {
	c.t.Helper()
	c.mu.Lock()
	var held []string
	for _, h := range c.held {
		held = append(held, h.String())
	}
	c.mu.Unlock()
	c.t.Fatalf("%s: %s (%d stanzas dropped: queue full); unconsumed:\n%s", c.Bare, why, c.dropped.Load(), strings.Join(held, "\n"))
}

// Received reports whether a stanza matching match has already arrived and
// is still unconsumed, without waiting: after Next returned a stanza, that
// covers everything received before it.
func (c *XMPPClient) Received(match func(*Elem) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.held, match)
}

// NextFrom returns the next stanza of kind from the given address.
func (c *XMPPClient) NextFrom(kind, from string) *Elem {
	c.t.Helper()
	return c.Next(kind+" from "+from, func(e *Elem) bool { return e.XMLName.Local == kind && e.Attr("from") == from })
}

// IQ sends an IQ and waits for its answer.
func (c *XMPPClient) IQ(to, typ, payload string) *Elem {
	c.t.Helper()
	id := fmt.Sprintf("iq%d", time.Now().UnixNano())
	c.Send(`<iq xmlns='jabber:client' type=%q to=%q id=%q>%s</iq>`, typ, to, id, payload)
	return c.Next("answer to "+id, func(e *Elem) bool { return e.XMLName.Local == "iq" && e.Attr("id") == id })
}

// Join sends a join presence and returns everything up to and including the
// subject (or the error presence).
func (c *XMPPClient) Join(room, nick, extra string) []*Elem {
	c.t.Helper()
	id := fmt.Sprintf("join%d", time.Now().UnixNano())
	c.Send(`<presence xmlns='jabber:client' to='%s/%s' id=%q><x xmlns='%s'>%s</x></presence>`, room, nick, id, nsMUC, extra)
	var got []*Elem
	for {
		e := c.Next("join of "+room, func(e *Elem) bool { return strings.HasPrefix(e.Attr("from"), room) })
		got = append(got, e)
		if e.Attr("type") == "error" || (e.XMLName.Local == "message" && e.Child("", "subject") != nil) {
			return got
		}
	}
}

// Close ends the session.
func (c *XMPPClient) Close() {
	_ = c.sess.Close()
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
		_ = c.sess.Conn().Close()
		<-c.done
	}
}
