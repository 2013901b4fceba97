package client

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

// xmppTimeout bounds connecting and every IQ round trip.
const xmppTimeout = 10 * time.Second

// maxOccupants bounds the occupants the client tracks per room.
const maxOccupants = 2000

// xmppConn is the Chat connection: a mellium c2s session (STARTTLS, SCRAM,
// resource binding) with the client's own stanza handling (mellium's muc
// client does not report other occupants, LIBRARIES.md §2.5).
type xmppConn struct {
	log  *slog.Logger
	sess *xmpp.Session
	me   jid.JID // full JID
	done chan struct{}
	seq  atomic.Uint64

	mu       sync.Mutex
	pending  map[string]chan *elem // IQ id → reply
	onStanza func(*elem)           // presence and message
}

// writeConn bounds each write itself and ignores mellium's write
// deadlines: mellium (v0.22) sets the write deadline from a goroutine when a
// Send's context ends, which can land on a later write and break the
// session's encoder (the muc package's writeConn explains it).
type writeConn struct{ net.Conn }

func (c writeConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(xmppTimeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

func (c writeConn) SetDeadline(t time.Time) error    { return c.Conn.SetReadDeadline(t) }
func (c writeConn) SetWriteDeadline(time.Time) error { return nil }

// ErrAuth marks a rejected password (exit code 4).
var ErrAuth = errors.New("authentication failed")

// ErrUnreachable marks a server that could not be reached (exit code 3).
var ErrUnreachable = errors.New("server unreachable")

func dialXMPP(ctx context.Context, cfg *Config, log *slog.Logger, onStanza func(*elem)) (*xmppConn, error) {
	origin := jid.MustParse(cfg.JID)
	var pin []byte
	var err error
	if cfg.TLSPin != "" {
		if pin, err = parsePin(cfg.TLSPin); err != nil {
			return nil, fmt.Errorf("--tls-pin: %w", err)
		}
	}
	tc, err := tlsConfig(origin.Domainpart(), cfg.CAFile, pin)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, xmppTimeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", cfg.XMPPServer)
	if err != nil {
		return nil, fmt.Errorf("%w: XMPP server %s: %v", ErrUnreachable, cfg.XMPPServer, err)
	}
	sess, err := xmpp.NewClientSession(ctx, origin, writeConn{raw},
		xmpp.StartTLS(tc),
		xmpp.SASL("", cfg.xmppPassword, sasl.ScramSha256, sasl.ScramSha1, sasl.Plain),
		xmpp.BindResource(),
	)
	if err != nil {
		raw.Close()
		msg := err.Error()
		cond, isSASL := saslCondition(err)
		switch {
		case isSASL && (cond == "not-authorized" || cond == "credentials-expired" || cond == "account-disabled"):
			return nil, fmt.Errorf("%w: the XMPP server rejected the password of %s (%s: %s)", ErrAuth, origin, cond, msg)
		case isSASL:
			return nil, fmt.Errorf("XMPP server %s refused the login (%s: %s)", cfg.XMPPServer, cond, msg)
		case strings.Contains(msg, "x509") || strings.Contains(msg, "certificate"):
			return nil, fmt.Errorf("XMPP server %s: TLS certificate not trusted (%v); give --ca-file or --tls-pin", cfg.XMPPServer, err)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%w: XMPP server %s did not complete the login within %v", ErrUnreachable, cfg.XMPPServer, xmppTimeout)
		}
		return nil, fmt.Errorf("XMPP login to %s failed (STARTTLS, SASL, bind): %w", cfg.XMPPServer, err)
	}
	x := &xmppConn{log: log, sess: sess, me: sess.LocalAddr(), done: make(chan struct{}),
		pending: map[string]chan *elem{}, onStanza: onStanza}
	go func() {
		defer close(x.done)
		_ = sess.Serve(xmpp.HandlerFunc(x.handle))
	}()
	return x, nil
}

func (x *xmppConn) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = x.send(ctx, `<presence xmlns='jabber:client' type='unavailable'/>`)
	_ = x.sess.Close()
	select {
	case <-x.done:
	case <-time.After(3 * time.Second):
		_ = x.sess.Conn().Close()
		<-x.done
	}
}

// saslCondition finds mellium's SASL failure in err (its type is
// internal, so it is recognised by package path) and returns the defined
// condition (RFC 6120 §6.5).
func saslCondition(err error) (string, bool) {
	for err != nil {
		v := reflect.ValueOf(err)
		if v.Kind() == reflect.Struct && v.Type().PkgPath() == "mellium.im/xmpp/internal/saslerr" {
			if f := v.FieldByName("Condition"); f.IsValid() {
				return fmt.Sprint(f.Interface()), true
			}
		}
		err = errors.Unwrap(err)
	}
	return "", false
}

// rawTokens turns XML text into a token stream that keeps its namespaces.
type rawReader struct{ d *xml.Decoder }

func (r rawReader) Token() (xml.Token, error) { return r.d.RawToken() }

func (x *xmppConn) send(ctx context.Context, s string) error {
	return x.sess.Send(ctx, rawReader{xml.NewDecoder(strings.NewReader(s))})
}

func (x *xmppConn) id(prefix string) string {
	return prefix + strconv.FormatUint(x.seq.Add(1), 10)
}

// iq sends an IQ (typ get or set) with payload and returns the reply, or
// an error in words for an error reply.
func (x *xmppConn) iq(ctx context.Context, to, typ, payload string) (*elem, error) {
	id := x.id("iq")
	ch := make(chan *elem, 1)
	x.mu.Lock()
	x.pending[id] = ch
	x.mu.Unlock()
	defer func() {
		x.mu.Lock()
		delete(x.pending, id)
		x.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, xmppTimeout)
	defer cancel()
	toAttr := ""
	if to != "" {
		toAttr = fmt.Sprintf(" to='%s'", esc(to))
	}
	if err := x.send(ctx, fmt.Sprintf(`<iq xmlns='jabber:client' type='%s' id='%s'%s>%s</iq>`, typ, id, toAttr, payload)); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		if r.attr("type") == "error" {
			return r, &stanzaError{cond: r.errorCondition(), text: r.errorText()}
		}
		return r, nil
	case <-x.done:
		return nil, errors.New("the chat connection closed")
	case <-ctx.Done():
		return nil, fmt.Errorf("no answer from %s within %v", to, xmppTimeout)
	}
}

// stanzaError is an XMPP error reply.
type stanzaError struct{ cond, text string }

func (e *stanzaError) Error() string { return e.text }

func (x *xmppConn) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	var e elem
	if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t)).Decode(&e); err != nil {
		return nil
	}
	if e.XMLName.Local == "iq" {
		switch e.attr("type") {
		case "result", "error":
			x.mu.Lock()
			ch := x.pending[e.attr("id")]
			x.mu.Unlock()
			if ch != nil {
				select {
				case ch <- &e:
				default:
				}
			}
		case "get", "set":
			var res string
			switch {
			case e.child(nsPing, "ping") != nil:
				res = fmt.Sprintf(`<iq xmlns='jabber:client' type='result' id='%s' to='%s'/>`, esc(e.attr("id")), esc(e.attr("from")))
			case e.child(nsDiscoInfo, "query") != nil && e.attr("type") == "get":
				res = fmt.Sprintf(`<iq xmlns='jabber:client' type='result' id='%s' to='%s'><query xmlns='%s'><identity category='client' type='pc' name='cusax client'/><feature var='%s'/><feature var='%s'/><feature var='%s'/></query></iq>`,
					esc(e.attr("id")), esc(e.attr("from")), nsDiscoInfo, nsDiscoInfo, nsPing, nsMUC)
			case e.child(nsRoster, "query") != nil && e.attr("type") == "set":
				res = fmt.Sprintf(`<iq xmlns='jabber:client' type='result' id='%s'/>`, esc(e.attr("id")))
			default:
				res = fmt.Sprintf(`<iq xmlns='jabber:client' type='error' id='%s' to='%s'><error type='cancel'><service-unavailable xmlns='%s'/></error></iq>`,
					esc(e.attr("id")), esc(e.attr("from")), nsStanzas)
			}
			_, _ = xmlstream.Copy(t, rawReader{xml.NewDecoder(strings.NewReader(res))})
		}
		return nil
	}
	if x.onStanza != nil {
		x.onStanza(&e)
	}
	return nil
}

// roster fetches the roster (RFC 6121 §2.1.3).
func (x *xmppConn) roster(ctx context.Context) ([]Contact, error) {
	r, err := x.iq(ctx, "", "get", `<query xmlns='jabber:iq:roster'/>`)
	if err != nil {
		return nil, err
	}
	out := []Contact{}
	for _, it := range r.child(nsRoster, "query").children(nsRoster, "item") {
		if len(out) >= 500 {
			break
		}
		out = append(out, Contact{JID: it.attr("jid"), Name: it.attr("name")})
	}
	return out, nil
}

// vcardTEL returns the first TEL of a contact's vcard-temp (XEP-0054).
func (x *xmppConn) vcardTEL(ctx context.Context, bare string) string {
	r, err := x.iq(ctx, bare, "get", `<vCard xmlns='vcard-temp'/>`)
	if err != nil {
		return ""
	}
	for _, tel := range r.child(nsVCard, "vCard").children(nsVCard, "TEL") {
		if n := strings.TrimSpace(tel.text(nsVCard, "NUMBER")); n != "" {
			return n
		}
	}
	return ""
}

// roomInfo reads a room's disco#info form fields (muc#roominfo).
func (x *xmppConn) roomInfo(ctx context.Context, room string) (map[string]string, error) {
	r, err := x.iq(ctx, room, "get", `<query xmlns='`+nsDiscoInfo+`'/>`)
	if err != nil {
		return nil, err
	}
	vals := map[string]string{}
	for _, f := range r.child(nsDiscoInfo, "query").children(nsData, "x") {
		for _, fl := range f.children(nsData, "field") {
			vals[fl.attr("var")] = fl.text(nsData, "value")
		}
	}
	return vals, nil
}
