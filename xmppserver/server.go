package xmppserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"

	"cusax.dev/bridge/accounts"
	"cusax.dev/bridge/metrics"
	"cusax.dev/bridge/store"
)

// Component is an in-process service for one domain (the MUC rooms):
// Deliver takes one whole stanza whose 'from' the server has stamped. The
// muc package's *Service implements it.
type Component interface {
	Deliver(r xml.TokenReader)
}

// Config configures a Server.
type Config struct {
	// Host is the XMPP domain of the accounts (xmpp.host).
	Host string
	// TLS is the server's TLS configuration (a certificate is required).
	TLS *tls.Config
	// AllowPlaintextLoopback lets clients on loopback addresses log in
	// without STARTTLS (SCRAM only; PLAIN still needs TLS).
	AllowPlaintextLoopback bool
	// Accounts are the users; Store keeps their rosters and vCards.
	Accounts *accounts.Accounts
	Store    store.AccountStore
	Logger   *slog.Logger
	Metrics  *metrics.XMPPServer // nil: none

	// Limits; the defaults apply to zero values.
	MaxStanzaBytes   int           // default 256 KiB
	MaxRosterItems   int           // default 1000
	MaxConns         int           // default 10000
	MaxConnsPerIP    int           // default 50
	MaxAuthFailures  int           // failures per account and per source per AuthWindow; default 5 (20 per source)
	AuthWindow       time.Duration // default 5 min
	NegotiateTimeout time.Duration // stream set-up up to a bound resource; default 30 s
	IdleTimeout      time.Duration // a stream with no traffic is closed; default 10 min
	WriteTimeout     time.Duration // default 10 s
	SendQueue        int           // stanzas queued per client; default 1024
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxStanzaBytes, 256<<10)
	def(&c.MaxRosterItems, 1000)
	def(&c.MaxConns, 10000)
	def(&c.MaxConnsPerIP, 50)
	def(&c.MaxAuthFailures, 5)
	def(&c.SendQueue, 1024)
	defd(&c.AuthWindow, 5*time.Minute)
	defd(&c.NegotiateTimeout, 30*time.Second)
	defd(&c.IdleTimeout, 10*time.Minute)
	defd(&c.WriteTimeout, 10*time.Second)
}

// Server is the embedded XMPP service. Create it with New, attach the MUC
// component with AttachComponent, and run it with Serve.
type Server struct {
	cfg  Config
	log  *slog.Logger
	m    *metrics.XMPPServer
	host jid.JID

	conns       *connLimiter
	failAccount *accounts.FailLimiter
	failSource  *accounts.FailLimiter

	mu       sync.RWMutex
	sessions map[string]map[string]*c2s // bare JID → resource → session
	all      map[*c2s]struct{}
	comps    map[string]*compLink // domain → component

	secret [32]byte // per run: keys the salts shown for unknown accounts
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	cfg.defaults()
	if cfg.Accounts == nil {
		return nil, errors.New("xmppserver: no accounts")
	}
	if cfg.Store == nil {
		return nil, errors.New("xmppserver: no account store")
	}
	if cfg.TLS == nil || len(cfg.TLS.Certificates) == 0 {
		return nil, errors.New("xmppserver: no TLS certificate")
	}
	host, err := jid.Parse(cfg.Host)
	if err != nil || host.Localpart() != "" || host.Resourcepart() != "" {
		return nil, fmt.Errorf("xmppserver: xmpp.host %q is not a domain", cfg.Host)
	}
	srv := &Server{
		cfg: cfg, log: cfg.Logger.With("component", "xmppserver"), m: cfg.Metrics, host: host,
		conns:       newConnLimiter(cfg.MaxConns, cfg.MaxConnsPerIP),
		failAccount: accounts.NewFailLimiter(cfg.MaxAuthFailures, cfg.AuthWindow, 100000),
		failSource:  accounts.NewFailLimiter(4*cfg.MaxAuthFailures, cfg.AuthWindow, 100000),
		sessions:    map[string]map[string]*c2s{},
		all:         map[*c2s]struct{}{},
		comps:       map[string]*compLink{},
	}
	if _, err := rand.Read(srv.secret[:]); err != nil {
		return nil, fmt.Errorf("xmppserver: random: %w", err)
	}
	return srv, nil
}

// Host returns the served domain.
func (s *Server) Host() string { return s.host.String() }

// AttachComponent routes the stanzas for domain to c and returns the
// connection c sends on (its muc.Conn).
func (s *Server) AttachComponent(domain string, c Component) *Link {
	l := &compLink{srv: s, domain: domain, comp: c, pending: map[string]chan *elem{}}
	s.mu.Lock()
	s.comps[domain] = l
	s.mu.Unlock()
	return &Link{l: l}
}

// Serve accepts client connections on ln until ctx ends, then closes every
// stream (system-shutdown) and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	s.log.Info("xmpp c2s listening", "addr", ln.Addr().String(), "host", s.host.String())
	var err error
	backoff := acceptBackoffMin
	for {
		var conn net.Conn
		conn, err = ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				err = nil
				break
			}
			if errors.Is(err, net.ErrClosed) {
				break
			}
			// EMFILE, ENFILE, ECONNABORTED …: a flood must not end the
			// service; wait and try again (like the SIP listener's guard)
			s.count("accept_failed")
			s.log.Warn("xmpp accept failed; retrying", "err", err, "after", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, acceptBackoffMax)
			continue
		}
		backoff = acceptBackoffMin
		src := sourceOf(conn.RemoteAddr())
		if ok, why := s.conns.acquire(src); !ok {
			s.count("conn_refused_" + why)
			s.log.Info("xmpp connection refused: limit", "source", src, "limit", why)
			refuse(conn, "policy-violation", "too many connections") // inline: no goroutine per refused connection
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.conns.release(src)
			c := newC2S(s, conn, src)
			c.run(ctx)
		}()
	}
	s.mu.RLock()
	for c := range s.all {
		c.shutdown("system-shutdown", "the server is shutting down")
	}
	s.mu.RUnlock()
	wg.Wait()
	return err
}

func sourceOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// acceptBackoffMin and acceptBackoffMax bound the pause after a failed
// accept before the next try.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// refuse writes a stream error to a connection the server will not serve
// and closes it. The write goes to a fresh socket's empty buffer; the short
// deadline keeps the accept loop from ever waiting on it.
func refuse(conn net.Conn, cond, text string) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(50 * time.Millisecond))
	var b bytes.Buffer
	b.WriteString(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' id='refused'>`)
	writeStreamError(&b, cond, text)
	b.WriteString(`</stream:stream>`)
	_, _ = conn.Write(b.Bytes())
}

func writeStreamError(b *bytes.Buffer, cond, text string) {
	b.WriteString(`<stream:error><` + cond + ` xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`)
	if text != "" {
		b.WriteString(`<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>`)
		_ = xml.EscapeText(b, []byte(text))
		b.WriteString(`</text>`)
	}
	b.WriteString(`</stream:error>`)
}

// streamError is the token stream of a stream error.
func streamError(cond, text string) xml.TokenReader {
	e := &elem{Name: xml.Name{Space: nsStream, Local: "error"}}
	e.Kids = append(e.Kids, elNS(nsStreamErr, cond))
	if text != "" {
		e.Kids = append(e.Kids, elNS(nsStreamErr, "text").text(text))
	}
	return e.tokenReader()
}

func (s *Server) count(event string) {
	if s.m == nil {
		return
	}
	s.m.Events.WithLabelValues(event).Inc()
}

// register adds a bound session to the routing table; a session already
// bound to the same full JID is closed with a conflict stream error.
func (s *Server) register(c *c2s) {
	bare := c.jid.Bare().String()
	res := c.jid.Resourcepart()
	s.mu.Lock()
	rs := s.sessions[bare]
	if rs == nil {
		rs = map[string]*c2s{}
		s.sessions[bare] = rs
	}
	old := rs[res]
	rs[res] = c
	s.all[c] = struct{}{}
	n := len(s.all)
	s.mu.Unlock()
	if old != nil {
		old.shutdown("conflict", "replaced by a new connection for the same resource")
	}
	s.setClients(n)
}

func (s *Server) unregister(c *c2s) {
	bare := c.jid.Bare().String()
	s.mu.Lock()
	if rs := s.sessions[bare]; rs != nil && rs[c.jid.Resourcepart()] == c {
		delete(rs, c.jid.Resourcepart())
		if len(rs) == 0 {
			delete(s.sessions, bare)
		}
	}
	delete(s.all, c)
	n := len(s.all)
	s.mu.Unlock()
	s.setClients(n)
}

func (s *Server) setClients(n int) {
	if s.m != nil {
		s.m.Clients.Set(float64(n))
	}
}

// resources returns the sessions of a bare JID.
func (s *Server) resources(bare string) []*c2s {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rs := s.sessions[bare]
	out := make([]*c2s, 0, len(rs))
	for _, c := range rs {
		out = append(out, c)
	}
	return out
}

// session returns the session bound to full, or nil.
func (s *Server) session(full jid.JID) *c2s {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sessions[full.Bare().String()][full.Resourcepart()]
}

func (s *Server) component(domain string) *compLink {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.comps[domain]
}

// Link is the connection an attached component sends on; it implements
// muc.Conn.
type Link struct{ l *compLink }

// Send routes the stanza read from r as sent by the component.
func (k *Link) Send(ctx context.Context, r xml.TokenReader) error { return k.l.send(ctx, r) }

// SendIQ routes the IQ read from r and waits for its response.
func (k *Link) SendIQ(ctx context.Context, r xml.TokenReader) (xmlstream.TokenReadCloser, error) {
	return k.l.sendIQ(ctx, r)
}
