package xmppserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

// c2s is one client connection.
type c2s struct {
	srv  *Server
	raw  net.Conn
	conn *limitConn
	src  string

	sess *xmpp.Session
	user string  // authenticated account (set by SASL)
	jid  jid.JID // bound full JID
	tls  bool    // TLS is up (set by the negotiator)
	// plainOK: a loopback client with xmpp.allow_plaintext_loopback: STARTTLS
	// is offered but optional, and SASL (SCRAM) is offered before it.
	plainOK bool

	out      chan *elem
	done     chan struct{}
	stopOnce sync.Once
	stopWhy  [2]string

	mu        sync.Mutex
	available bool
	presence  *elem // last available broadcast presence
	priority  int
	interest  bool // the client fetched its roster: it gets pushes
	directed  map[string]bool
}

func newC2S(s *Server, conn net.Conn, src string) *c2s {
	lc := &limitConn{Conn: conn, writeTimeout: s.cfg.WriteTimeout}
	lc.budget.Store(int64(s.cfg.MaxStanzaBytes))
	return &c2s{srv: s, raw: conn, conn: lc, src: src, out: make(chan *elem, s.cfg.SendQueue), done: make(chan struct{}), directed: map[string]bool{}}
}

func (c *c2s) loopback() bool {
	a, err := netip.ParseAddr(c.src)
	return err == nil && a.Unmap().IsLoopback()
}

// run serves the connection until it ends or ctx ends.
func (c *c2s) run(ctx context.Context) {
	log := c.srv.log.With("source", c.src)
	defer c.raw.Close()
	c.srv.count("conn")
	rw, refused := c.checkHeader()
	if refused {
		return
	}
	nctx, cancel := context.WithTimeout(ctx, c.srv.cfg.NegotiateTimeout)
	_ = c.conn.SetDeadline(time.Now().Add(c.srv.cfg.NegotiateTimeout))
	c.plainOK = c.srv.cfg.AllowPlaintextLoopback && c.loopback()
	sess, err := xmpp.ReceiveSession(nctx, rw, 0, xmpp.NewNegotiator(c.features))
	cancel()
	if err != nil {
		c.srv.count("negotiation_failed")
		log.Info("xmpp stream negotiation failed", "user", c.user, "err", err)
		if !c.tls {
			// Still in plain text: tell the client why (e.g. a SASL attempt
			// before STARTTLS, which is a policy violation).
			var b bytes.Buffer
			writeStreamError(&b, "policy-violation", negotiationText(err))
			b.WriteString(`</stream:stream>`)
			_, _ = c.conn.Write(b.Bytes())
		}
		return
	}
	c.sess = sess
	if c.user == "" || c.jid.Equal(jid.JID{}) {
		log.Info("xmpp stream ended before authentication and binding")
		_ = sess.Close()
		return
	}
	c.srv.register(c)
	c.srv.count("bound")
	log.Debug("xmpp client bound", "jid", c.jid.String(), "tls", c.tls)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writer()
	}()
	stop := context.AfterFunc(ctx, func() { c.shutdown("system-shutdown", "the server is shutting down") })
	err = c.readLoop()
	stop()
	c.srv.unregister(c)
	c.goneOffline()
	c.shutdown("", "")
	wg.Wait()
	_ = sess.Close()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		log.Debug("xmpp stream ended", "jid", c.jid.String(), "err", err)
	}
}

func negotiationText(err error) string {
	if strings.Contains(err.Error(), "policy-violation") {
		return "STARTTLS is required before authentication"
	}
	return "stream negotiation failed"
}

// checkHeader reads the client's stream header (bounded) and refuses a
// server-to-server stream with a clear stream error. It returns the
// connection to negotiate on, with the header bytes put back in front.
func (c *c2s) checkHeader() (io.ReadWriter, bool) {
	_ = c.raw.SetReadDeadline(time.Now().Add(c.srv.cfg.NegotiateTimeout))
	br := bufio.NewReaderSize(c.conn, 4096)
	var head []byte
	for len(head) < 4096 {
		b, err := br.ReadByte()
		if err != nil {
			return nil, true
		}
		head = append(head, b)
		if b == '>' && bytes.Contains(head, []byte("stream")) && !bytes.HasSuffix(head, []byte("?>")) {
			break
		}
	}
	if bytes.Contains(head, []byte("jabber:server")) {
		c.srv.count("s2s_refused")
		c.srv.log.Info("xmpp server-to-server stream refused", "source", c.src)
		var b bytes.Buffer
		b.WriteString(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' id='refused'>`)
		writeStreamError(&b, "unsupported-stanza-type", "server-to-server federation is not provided by this embedded server; use Prosody or ejabberd with the bridge in component mode")
		b.WriteString(`</stream:stream>`)
		_, _ = c.conn.Write(b.Bytes())
		return nil, true
	}
	if m := streamTo.FindSubmatch(head); m != nil && !strings.EqualFold(string(m[2]), c.srv.host.Domainpart()) {
		c.srv.count("host_unknown")
		c.srv.log.Info("xmpp stream for another domain refused", "source", c.src, "to", string(m[2]))
		refuse(c.conn, "host-unknown", "this server serves "+c.srv.host.Domainpart()+" only")
		return nil, true
	}
	return prefixConn{limitConnRW: c.conn, r: io.MultiReader(bytes.NewReader(head), br)}, false
}

// streamTo finds the 'to' attribute of a stream header.
var streamTo = regexp.MustCompile(`\sto\s*=\s*(['"])([^'"]*)['"]`)

// limitConnRW is the part of *limitConn prefixConn forwards.
type limitConnRW = *limitConn

// prefixConn replays the bytes read by checkHeader before the connection's
// own; it is still a net.Conn so that mellium can start TLS on it.
type prefixConn struct {
	limitConnRW
	r io.Reader
}

func (p prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// features lists the stream features for the current stream.
func (c *c2s) features(s *xmpp.Session, _ *xmpp.StreamConfig) xmpp.StreamConfig {
	if s == nil {
		return xmpp.StreamConfig{}
	}
	c.tls = s.ConnectionState().Version != 0
	mechs := []sasl.Mechanism{sasl.ScramSha256, sasl.ScramSha1}
	if c.tls {
		mechs = append(mechs, sasl.Plain)
	}
	return xmpp.StreamConfig{Features: []xmpp.StreamFeature{
		c.startTLS(),
		c.saslFeature(mechs),
		xmpp.BindCustom(c.bind),
	}}
}

// startTLS is mellium's STARTTLS feature, listed as required unless plain
// text is allowed for this client (mellium always lists it as required).
func (c *c2s) startTLS() xmpp.StreamFeature {
	f := xmpp.StartTLS(c.srv.cfg.TLS)
	required := !c.plainOK
	f.List = func(ctx context.Context, e xmlstream.TokenWriter, start xml.StartElement) (bool, error) {
		x := &elem{Name: start.Name}
		if required {
			x.Kids = append(x.Kids, elNS(start.Name.Space, "required"))
		}
		_, err := xmlstream.Copy(e, x.tokenReader())
		return required, err
	}
	return f
}

// bind chooses the full JID: the requested resource if it is valid, else a
// random one. A resource in use is taken over (the old stream gets a
// conflict error, RFC 6120 §7.7.2.2).
func (c *c2s) bind(_ jid.JID, res string) (jid.JID, error) {
	if c.user == "" {
		return jid.JID{}, errors.New("bind before authentication")
	}
	if len(res) > 256 || strings.ContainsAny(res, "\x00") {
		res = ""
	}
	j, err := jid.New(c.user, c.srv.host.Domainpart(), res)
	if err != nil || res == "" {
		j, err = jid.New(c.user, c.srv.host.Domainpart(), "r-"+randomID())
	}
	if err != nil {
		return jid.JID{}, err
	}
	c.jid = j
	return j, nil
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// readLoop reads stanzas until the stream ends.
func (c *c2s) readLoop() error {
	r := c.sess.TokenReader()
	defer r.Close()
	for {
		c.conn.budget.Store(int64(c.srv.cfg.MaxStanzaBytes))
		_ = c.conn.SetDeadline(time.Now().Add(c.srv.cfg.IdleTimeout))
		tok, err := r.Token()
		if err != nil {
			if errors.Is(err, errStanzaTooBig) || strings.Contains(err.Error(), errTooBig{}.Error()) {
				c.srv.count("stanza_too_big")
				c.shutdown("policy-violation", "stanza too big")
			}
			return err
		}
		switch t := tok.(type) {
		case xml.CharData:
			continue // whitespace keepalive
		case xml.EndElement:
			return io.EOF // the client closed its stream
		case xml.StartElement:
			if t.Name.Space == nsStream && t.Name.Local == "error" {
				return io.EOF
			}
			e, err := readElem(r, t)
			if err != nil {
				if errors.Is(err, errStanzaTooBig) || strings.Contains(err.Error(), errTooBig{}.Error()) {
					c.srv.count("stanza_too_big")
					c.shutdown("policy-violation", "stanza too big")
				} else {
					c.srv.count("bad_xml")
					c.shutdown("not-well-formed", "")
				}
				return err
			}
			if e.Name.Space != "" || (e.Name.Local != "message" && e.Name.Local != "presence" && e.Name.Local != "iq") {
				c.srv.count("bad_stanza")
				c.shutdown("unsupported-stanza-type", "")
				return io.EOF
			}
			c.srv.count("stanza_in")
			c.srv.fromClient(c, e)
		default:
			continue
		}
	}
}

// deliver queues e for the client. A client that does not read and lets its
// queue fill is disconnected.
func (c *c2s) deliver(e *elem) {
	select {
	case <-c.done:
		return
	default:
	}
	select {
	case c.out <- e:
	default:
		c.srv.count("send_queue_full")
		c.shutdown("policy-violation", "too many stanzas waiting; the client does not read")
	}
}

// writer sends queued stanzas until the connection is shut down, then the
// stream error, if any.
func (c *c2s) writer() {
	for {
		select {
		case e := <-c.out:
			if err := c.sess.Send(context.Background(), e.tokenReader()); err != nil {
				c.shutdown("", "")
				_ = c.raw.Close()
				return
			}
		case <-c.done:
			// What was queued before the end still goes out (e.g. the
			// rooms' shutdown presence), as far as the client reads.
		drain:
			for {
				select {
				case e := <-c.out:
					if c.sess.Send(context.Background(), e.tokenReader()) != nil {
						break drain
					}
				default:
					break drain
				}
			}
			if cond := c.stopWhy[0]; cond != "" {
				_ = c.sess.Send(context.Background(), streamError(cond, c.stopWhy[1]))
			}
			_ = c.sess.Close()
			// Unblock the read loop if the client does not close its side.
			_ = c.conn.SetDeadline(time.Now().Add(time.Second))
			return
		}
	}
}

// shutdown ends the connection, with a stream error cond unless it is "".
func (c *c2s) shutdown(cond, text string) {
	c.stopOnce.Do(func() {
		c.stopWhy = [2]string{cond, text}
		close(c.done)
		if c.sess == nil {
			_ = c.raw.Close()
		}
	})
}
