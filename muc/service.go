package muc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/metrics"
)

// Config configures the MUC component.
type Config struct {
	// Server is the XEP-0114 endpoint of the XMPP server (host:port).
	Server string
	// Domain is the component's JID, which is the MUC domain
	// (e.g. conference.example.com).
	Domain string
	// Secret is the component secret shared with the server.
	Secret string
	// SIPDomain is the SIP domain of the conference URIs the rooms
	// advertise as audio-video-uri (ConferenceURI). Empty omits the field.
	SIPDomain string
	// Name is the service's disco identity name. Default "Conferences".
	Name string

	Logger  *slog.Logger
	Metrics *metrics.Metrics // nil: no metrics

	// MinBackoff and MaxBackoff bound the reconnect delay, which doubles
	// after each failed attempt and is jittered down by up to half. Defaults
	// 250 ms and 2 s: the link is back within MaxBackoff of the server's
	// return plus the handshake, well inside the 5 s the bridge promises,
	// also on a loaded machine.
	MinBackoff, MaxBackoff time.Duration
	// DialTimeout bounds the TCP connect and the handshake. Default 5 s.
	DialTimeout time.Duration
	// WriteTimeout bounds each write on the component connection; a write
	// that times out closes the link, which then reconnects. Default 10 s.
	WriteTimeout time.Duration
	// PingInterval is how often occupants' clients are pinged to find ghosts
	// (they are always pinged after a reconnect). Default 5 min; negative
	// disables the periodic ping.
	PingInterval time.Duration
	// PingTimeout is how long an occupant's client has to answer. Default 10 s.
	PingTimeout time.Duration
	// MaxStanzaBytes caps every stanza the service sends (an upper bound
	// of its serialised size): a bigger one is not sent, an IQ result is
	// replaced by a resource-constraint error, and the refusal is counted.
	// The XMPP server cuts the component connection for a stanza over its
	// own limit (Prosody: 512 KiB). Default DefaultMaxStanzaBytes.
	MaxStanzaBytes int
}

func (c *Config) defaults() {
	if c.MaxStanzaBytes <= 0 {
		c.MaxStanzaBytes = DefaultMaxStanzaBytes
	}
	if c.Name == "" {
		c.Name = "Conferences"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 250 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 2 * time.Second
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = 5 * time.Minute
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 10 * time.Second
	}
}

// ConferenceURI is the SIP conference URI of room in sipDomain,
// "sip:ROOM@SIP_DOMAIN": the value of the room's audio-video-uri, which
// must be byte-identical to the conf-uris the SIP focus publishes.
func ConferenceURI(room, sipDomain string) string {
	return conference.Addresses{SIPDomain: sipDomain}.ConferenceURI(room)
}

// Service is the MUC component: one XEP-0114 link and the room service on
// it. Create it with New and run it with Run.
type Service struct {
	cfg    Config
	reg    *conference.Registry
	log    *slog.Logger
	m      *metrics.Metrics
	domain jid.JID

	running   atomic.Bool
	connected atomic.Bool
	link      link

	// sendFn replaces the link in tests and fuzzing.
	sendFn func(*node)

	// progress is how far the renderer has got in the event stream; IQ
	// results wait on it (see afterRendered).
	progress renderProgress

	// work runs the stanza handlers, per room, off the read loop (set by
	// Run; atomic because an embedded server may Deliver at any time).
	work atomic.Pointer[workers]
	// invites remembers relayed invitations for declines and rate limits.
	invites *invitations
	// vcards caches vCard look-ups (VCardTELs).
	vcards vcardCache

	mu      sync.Mutex
	rooms   map[string]*roomView
	pending map[occKey]*pendingJoin
	leaving map[occKey][]*node
}

// occKey identifies an occupant's client: room name and full real JID.
type occKey struct{ room, jid string }

// New returns a Service for cfg over the conference registry reg. It does not
// connect; Run does.
func New(cfg Config, reg *conference.Registry) (*Service, error) {
	if reg == nil {
		return nil, errors.New("muc: nil registry")
	}
	cfg.defaults()
	d, err := jid.Parse(cfg.Domain)
	if err != nil || cfg.Domain == "" || d.Localpart() != "" || d.Resourcepart() != "" {
		return nil, fmt.Errorf("muc: xmpp.domain %q is not a domain JID", cfg.Domain)
	}
	return &Service{
		cfg: cfg, reg: reg, log: cfg.Logger.With("component", "muc"), m: cfg.Metrics, domain: d,
		rooms: map[string]*roomView{}, pending: map[occKey]*pendingJoin{}, leaving: map[occKey][]*node{},
		invites: newInvitations(), vcards: vcardCache{now: time.Now},
	}, nil
}

// Connected reports whether the component link to the XMPP server is up.
func (s *Service) Connected() bool { return s.connected.Load() }

// Run follows the conference events and keeps the component connected,
// reconnecting with capped exponential backoff, until ctx ends. The rooms
// live in the core, so they survive link failures; occupants whose clients
// are gone are removed after a reconnect. Run returns nil when ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if strings.TrimSpace(s.cfg.Server) == "" {
		return errors.New("muc: xmpp.server is empty")
	}
	return s.run(ctx, s.connectLoop)
}

// run follows the conference events and runs serve (which keeps the
// service connected) until ctx ends.
func (s *Service) run(ctx context.Context, serve func(ctx context.Context, rendered <-chan struct{})) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("muc: Run called twice")
	}
	defer s.running.Store(false)
	stream := s.reg.Subscribe()
	// Events emitted before the subscription never reach the stream: count
	// them as rendered. The views are built from the stream alone (see
	// roomView).
	s.progress.reset(s.reg.Seq())
	rendered := make(chan struct{})
	go func() {
		defer close(rendered)
		defer s.progress.stop()
		s.render(ctx, stream)
	}()
	work := newWorkers(func(n *node) { s.handleQueued(ctx, n) })
	s.work.Store(work)
	serve(ctx, rendered)
	s.work.Store(nil)
	work.close()
	stream.Close()
	<-rendered
	return nil
}

// handlerTimeout bounds the handling of one stanza.
const handlerTimeout = 15 * time.Second

// handleQueued handles a stanza a worker took from its queue. A panic is
// logged and the stanza dropped; the service goes on.
func (s *Service) handleQueued(ctx context.Context, n *node) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("stanza handler panic", "panic", r, "stanza", n.Name.Local)
		}
	}()
	hctx, cancel := context.WithTimeout(ctx, handlerTimeout)
	defer cancel()
	s.handle(hctx, n)
}

// roomJID returns room@domain.
func (s *Service) roomJID(room string) string { return room + "@" + s.domain.Domainpart() }

// occJID returns room@domain/nick.
func (s *Service) occJID(room, nick string) string { return s.roomJID(room) + "/" + nick }

// send writes one stanza to the XMPP server; it is dropped (and logged) when
// the link is down. A nil stanza is ignored.
func (s *Service) send(n *node) {
	if n == nil {
		return
	}
	if size := n.sizeBound(); size > s.cfg.MaxStanzaBytes {
		n = s.tooBig(n, size)
		if n == nil {
			return
		}
	}
	s.count(n.Name.Local, "out")
	if n.attr("type") == "error" {
		s.log.Debug("stanza error", "kind", n.Name.Local, "to", n.attr("to"), "from", n.attr("from"), "condition", errorCondition(n))
	}
	if s.sendFn != nil {
		s.sendFn(n)
		return
	}
	switch err := s.link.send(n); {
	case errors.Is(err, errLinkDown):
		s.log.Debug("stanza not sent: link down", "kind", n.Name.Local, "to", n.attr("to"))
	case err != nil:
		s.log.Warn("stanza not sent; closing the link", "kind", n.Name.Local, "to", n.attr("to"), "err", err)
	}
}

func (s *Service) count(kind, dir string) {
	if s.m == nil {
		return
	}
	switch kind {
	case "presence", "message", "iq":
	default:
		kind = "other"
	}
	s.m.MUCStanzas.WithLabelValues(kind, dir).Inc()
}

// tooBig handles a stanza over MaxStanzaBytes: it is counted and logged,
// and replaced by a resource-constraint error when it answers an IQ (so
// that the requester is not left waiting); anything else is dropped (nil).
func (s *Service) tooBig(n *node, size int) *node {
	s.m.Refuse(metrics.RefuseStanzaTooBig)
	s.log.Warn("stanza over the size cap not sent", "kind", n.Name.Local, "type", n.attr("type"), "to", n.attr("to"),
		"size", size, "cap", s.cfg.MaxStanzaBytes)
	if n.Name.Local != "iq" || n.attr("type") != "result" {
		return nil
	}
	e := el("error", elNS(NSStanzas, condResourceLimit.name), textNS(NSStanzas, "text", "answer too big")).set("type", condResourceLimit.typ)
	return el("iq", e).set("type", "error").set("id", n.attr("id")).set("from", n.attr("from")).set("to", n.attr("to"))
}
