package focus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/focus/confstate"
	"cusax.dev/bridge/focus/digest"
	"cusax.dev/bridge/metrics"
	"cusax.dev/bridge/mixer"
)

// Config configures a Focus.
type Config struct {
	// Listen lists the SIP listeners as "udp:HOST:PORT", "tcp:HOST:PORT"
	// or "tls:HOST:PORT" (with Config.TLS);
	// port 0 picks a free port (see Addrs).
	Listen []string
	// Domain is SIP_DOMAIN: conferences are sip:ROOM@Domain.
	Domain string
	// AdvertisedIP goes into SDP c=/o= and the Contact. Empty means the
	// first listener's IP, or the first non-loopback address of the host
	// when that listener is unspecified (0.0.0.0, ::).
	AdvertisedIP string
	// AdvertisedIPAlt is the address of the other family (IPv6 when
	// AdvertisedIP is IPv4, or the reverse) for offers in that family
	// (dual-stack media); it needs the media engine to bind that family.
	// Empty: the first listener of that family with a specific address,
	// else the engine's specific bind address of that family, else none,
	// and offers of that family get 488 (Warning 301).
	AdvertisedIPAlt string
	// AckTimeout is how long a 2xx to INVITE waits for its ACK before the
	// focus ends the call with BYE. Default 32 s (64*T1).
	AckTimeout time.Duration
	// AnswerDelay lets the focus ring (180) this long before it answers;
	// 0 answers at once. A CANCEL in the meantime gets the INVITE a 487.
	AnswerDelay time.Duration
	// ShutdownTimeout bounds the BYEs sent when Run's context ends.
	// Default 5 s.
	ShutdownTimeout time.Duration
	// RetryAfter is the Retry-After value (seconds) of a 503 when the RTP
	// ports are exhausted or the focus is shutting down. Default 5.
	RetryAfter int
	// UserAgent is the User-Agent and Server header value. Default
	// "cusax-bridge".
	UserAgent string

	// NotifyInterval is the shortest time between two conference NOTIFYs
	// to one subscriber; changes within it are merged. Default 1 s.
	NotifyInterval time.Duration
	// SubscriptionExpires is the default and the longest lifetime of a
	// conference subscription. Default 1 h (RFC 4575 §3.3).
	SubscriptionExpires time.Duration
	// NotifyTimeout bounds one NOTIFY transaction; a NOTIFY without answer
	// in time ends its subscription (RFC 6665 §4.2.2). Default 10 s.
	NotifyTimeout time.Duration
	// MUCDomain is the XMPP MUC domain: documents carry
	// xmpp:ROOM@MUCDomain?join as the grouptextchat service URI (RFC 7106).
	// Empty publishes none (no MUC component).
	MUCDomain string

	// AuthRealm is the SIP digest realm. Default: Domain.
	AuthRealm string
	// Accounts looks up digest passwords; nil means no accounts, so every
	// request that needs authentication is refused.
	Accounts digest.Lookup
	// AccountsHA1 looks up the stored digest HA1 of users Accounts does not
	// know (the embedded service's shared accounts, kept without their
	// password): user, algorithm (digest.MD5 or digest.SHA256) → hex HA1
	// for AuthRealm. Optional.
	AccountsHA1 func(user, algorithm string) (string, bool)
	// RequireAuthForCalls challenges every INVITE to a conference; the
	// caller then joins as its authenticated AOR (and as moderator when the
	// room lists that AOR). REFERs (ejection, dial-out) are always
	// challenged.
	RequireAuthForCalls bool
	// TrustedPeers are the sources (sip.trusted_peers) whose
	// P-Asserted-Identity is a caller's trusted identity (RFC 3325); their
	// INVITEs carrying one are not challenged.
	TrustedPeers []netip.Prefix
	// AuthFreeFailures is how many digest failures in a row a user or a
	// source address may have before each further failure locks it out
	// for a growing delay (1 s, doubled per failure, up to AuthMaxDelay).
	// Default 3 (digest.DefaultFreeFailures).
	AuthFreeFailures int
	// AuthMaxDelay caps that lockout. Default 1 min.
	AuthMaxDelay time.Duration
	// TCPMaxConnections bounds the SIP TCP connections accepted and open
	// at once (over all TCP listeners each); one more is closed at once.
	// 0: no total limit (cmd/bridge derives one from RLIMIT_NOFILE).
	TCPMaxConnections int
	// TCPMaxPerSource bounds the connections from one IP address.
	// Default DefaultTCPMaxPerSource; negative: no limit.
	TCPMaxPerSource int
	// TCPIdleTimeout closes an accepted connection that sent nothing for
	// this long. Default DefaultTCPIdleTimeout; negative: never.
	TCPIdleTimeout time.Duration
	// SRTP is the SRTP policy (rtp.srtp); "" is SRTPOff.
	SRTP SRTPPolicy
	// TLS is the server configuration of "tls:" listeners (sip.tls.cert
	// and key); required when one is listed.
	TLS *tls.Config
	// Subscriptions limits the conference subscriptions.
	Subscriptions SubscriptionLimits
	// FDReserve is how many descriptors must stay free for a new call to
	// get RTP ports: below that the INVITE gets 503 with Retry-After,
	// before socket(2) or accept(2) can fail. Default 64; negative: no
	// check.
	FDReserve int
	// DialTimeout bounds a dial-out INVITE (REFER without method) waiting
	// for its final answer; then it is canceled. Default 60 s.
	DialTimeout time.Duration
	// MaxDialOuts bounds the dial-outs whose INVITE is unanswered at one
	// time (REFERs and the control surfaces' requests together); another
	// is refused with 503 (dial_out_limit). Default DefaultMaxDialOuts.
	MaxDialOuts int

	// RTPTimeout hangs up a call whose leg received neither RTP nor RTCP
	// for this long since the later of its answer, its last re-INVITE and
	// its last packet: BYE, media closed, departure "failed" (RFC 4575
	// disconnection-method). It applies while the peer's SDP says it sends
	// (sendrecv). 0 disables it. See rtptimeout.go.
	RTPTimeout time.Duration
	// RTPHoldTimeout is RTPTimeout for a call on hold or otherwise not
	// sending (the peer's SDP direction is sendonly, recvonly or
	// inactive, or c=0.0.0.0): no RTP is expected then. 0 (the default)
	// never hangs such a call up.
	RTPHoldTimeout time.Duration

	Logger  *slog.Logger
	Metrics *metrics.Metrics // nil: no metrics
}

func (c Config) withDefaults() (Config, error) {
	if len(c.Listen) == 0 {
		return c, errors.New("focus: no SIP listener configured")
	}
	if c.Domain == "" {
		return c, errors.New("focus: empty SIP domain")
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 64 * sip.T1
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 5 * time.Second
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 5
	}
	if c.UserAgent == "" {
		c.UserAgent = "cusax-bridge"
	}
	if c.NotifyInterval <= 0 {
		c.NotifyInterval = time.Second
	}
	if c.SubscriptionExpires <= 0 {
		c.SubscriptionExpires = time.Hour
	}
	if c.NotifyTimeout <= 0 {
		c.NotifyTimeout = 10 * time.Second
	}
	if c.AuthRealm == "" {
		c.AuthRealm = c.Domain
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 60 * time.Second
	}
	if c.MaxDialOuts <= 0 {
		c.MaxDialOuts = DefaultMaxDialOuts
	}
	if c.TCPMaxPerSource == 0 {
		c.TCPMaxPerSource = DefaultTCPMaxPerSource
	}
	if c.TCPIdleTimeout == 0 {
		c.TCPIdleTimeout = DefaultTCPIdleTimeout
	}
	c.Subscriptions = c.Subscriptions.withDefaults()
	switch c.SRTP {
	case "":
		c.SRTP = SRTPOff
	case SRTPOff, SRTPOffer, SRTPRequired:
	default:
		return c, fmt.Errorf("focus: SRTP policy %q (want off, offer or required)", c.SRTP)
	}
	if c.FDReserve == 0 {
		c.FDReserve = 64
	}
	if c.RTPTimeout < 0 || c.RTPHoldTimeout < 0 {
		return c, fmt.Errorf("focus: negative RTP timeout (%v, hold %v)", c.RTPTimeout, c.RTPHoldTimeout)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// listenSpec is one parsed Config.Listen entry.
type listenSpec struct {
	network string // "udp" or "tcp"
	addr    string // host:port
}

func parseListen(s string) (listenSpec, error) {
	network, addr, ok := strings.Cut(s, ":")
	network = strings.ToLower(network)
	if !ok || (network != "udp" && network != "tcp" && network != "tls") {
		return listenSpec{}, fmt.Errorf("focus: listener %q: want udp:HOST:PORT, tcp:HOST:PORT or tls:HOST:PORT", s)
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return listenSpec{}, fmt.Errorf("focus: listener %q: %w", s, err)
	}
	return listenSpec{network: network, addr: ap.String()}, nil
}

// Focus is the SIP conference focus. Create it with New, then Run it.
type Focus struct {
	cfg       Config
	log       *slog.Logger
	m         *metrics.Metrics
	reg       *conference.Registry
	media     *mixer.Engine
	specs     []listenSpec
	advertise netip.Addr
	// advertiseAlt is the SDP address for offers of the other family; zero
	// when the focus serves one family.
	advertiseAlt netip.Addr

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	cli *sipgo.Client

	// allow is the Allow header value: every method with a handler.
	allow []string
	// accept is the Accept header value: the bodies the focus reads.
	accept []string
	// eventPackages is the Allow-Events header value; the RFC 4575
	// notifier adds "conference" when it registers its SUBSCRIBE handler.
	eventPackages []string

	calls *callTable
	subs  *subTable
	// abandoned are the dial-outs canceled without an answer (dialout.go).
	abandoned abandonedDialOuts
	// dialing holds a token per dial-out INVITE not yet answered
	// (Config.MaxDialOuts): each ties up an RTP port pair, a goroutine and
	// a transaction for up to DialTimeout.
	dialing chan struct{}
	auth    *digest.Server
	guard   *digest.Guard // auth with failure limits per user and source
	// render publishes conference state (RFC 4575).
	render confstate.Renderer

	ready    chan struct{}
	mu       sync.Mutex
	ports    map[string]int  // transport (lower case) → port of its first listener
	udpLocal *net.UDPAddr    // the first UDP listener: requests from the focus leave from it
	addrs    []string        // bound listeners, "udp:127.0.0.1:5060"
	hosts    map[string]bool // Request-URI hosts that are ours (lower case)
	closers  []func() error  // listeners
	running  atomic.Bool     // Run was called

	// life is the focus's lifetime, derived from Run's context in Run and
	// canceled (stopLife) when that ends or a listener fails: shutdown
	// starts then. Handlers bound their work with timeouts under it; what
	// must still finish while the focus shuts down (the BYEs, the core's
	// Leave, final NOTIFYs) runs under detached().
	life     context.Context
	stopLife context.CancelCauseFunc

	// Every goroutine the focus starts has one owner that waits for it:
	handlers sync.WaitGroup // request handlers (wrap, enter); shutdown waits after the calls ended
	closing  bool           // guarded by mu; no more handlers enter
	work     sync.WaitGroup // the event follower, the RTP sweep and the hang-ups they start (goWork)
	serving  sync.WaitGroup // listener loops; they end when their sockets close

	// testHook, when set (by tests, before Run), is called at the named
	// points of a call's setup.
	testHook func(f *Focus, point hookPoint, c *call)
}

// hookPoint names a point in onNewCall where testHook runs.
type hookPoint int

const (
	hookAdded     hookPoint = iota // the call is in the table, its mute not yet synced
	hookAnswering                  // the 2xx is about to go out
)

// hook calls testHook, if any.
func (f *Focus) hook(p hookPoint, c *call) {
	if f.testHook != nil {
		f.testHook(f, p, c)
	}
}

// New checks cfg and prepares a focus on the conference registry reg with
// the media engine media. No socket is opened until Run.
func New(cfg Config, reg *conference.Registry, media *mixer.Engine) (*Focus, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if reg == nil || media == nil {
		return nil, errors.New("focus: registry and media engine are required")
	}
	f := &Focus{
		cfg: cfg, log: cfg.Logger, m: cfg.Metrics, reg: reg, media: media,
		accept:  []string{"application/sdp", "application/conference-info+xml"},
		calls:   newCallTable(),
		dialing: make(chan struct{}, cfg.MaxDialOuts),
		subs:    newSubTable(),
		render:  confstate.Renderer{SIPDomain: strings.ToLower(cfg.Domain), MUCDomain: cfg.MUCDomain},
		ready:   make(chan struct{}),
		life:    context.Background(), // until Run derives the real one
		ports:   map[string]int{},
		hosts:   map[string]bool{},
	}
	f.subs.limits = cfg.Subscriptions
	for _, l := range cfg.Listen {
		spec, err := parseListen(l)
		if err != nil {
			return nil, err
		}
		f.specs = append(f.specs, spec)
	}
	if f.advertise, err = advertisedAddr(cfg.AdvertisedIP, f.specs); err != nil {
		return nil, err
	}
	if f.advertiseAlt, err = alternateAddr(cfg.AdvertisedIPAlt, f.advertise, f.specs, media); err != nil {
		return nil, err
	}
	if f.auth, err = digest.NewServer(digest.Options{Realm: cfg.AuthRealm, Logger: cfg.Logger, HA1: cfg.AccountsHA1}); err != nil {
		return nil, fmt.Errorf("focus: digest: %w", err)
	}
	f.guard = digest.NewGuard(f.auth, digest.ThrottleOptions{FreeFailures: cfg.AuthFreeFailures, MaxDelay: cfg.AuthMaxDelay})
	sipLog := cfg.Logger.With("layer", "sipgo")
	f.ua, err = sipgo.NewUA(sipgo.WithUserAgent(cfg.UserAgent), sipgo.WithUserAgentHostname(f.advertise.String()),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(sipLog),
			sip.WithTransactionLayerUnhandledResponseHandler(f.onUnmatchedResponse)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sipLog)))
	if err != nil {
		return nil, fmt.Errorf("focus: user agent: %w", err)
	}
	if f.srv, err = sipgo.NewServer(f.ua, sipgo.WithServerLogger(sipLog)); err != nil {
		return nil, fmt.Errorf("focus: server: %w", err)
	}
	if f.cli, err = sipgo.NewClient(f.ua, sipgo.WithClientHostname(f.advertise.String()), sipgo.WithClientLogger(sipLog)); err != nil {
		return nil, fmt.Errorf("focus: client: %w", err)
	}
	f.handle(sip.INVITE, f.onInvite)
	f.handle(sip.ACK, f.onAck)
	f.handle(sip.CANCEL, f.onCancel)
	f.handle(sip.BYE, f.onBye)
	f.handle(sip.OPTIONS, f.onOptions)
	f.handle(sip.INFO, f.onInfo)
	f.handle(sip.SUBSCRIBE, f.onSubscribe)
	f.handle(sip.REFER, f.onRefer)
	f.eventPackages = append(f.eventPackages, eventConference)
	f.srv.OnNoRoute(f.wrap(f.onUnknown))
	return f, nil
}

// advertisedAddr picks the address for SDP and Contact.
func advertisedAddr(configured string, specs []listenSpec) (netip.Addr, error) {
	if configured != "" {
		a, err := netip.ParseAddr(configured)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("focus: advertised IP %q: %w", configured, err)
		}
		return a.Unmap(), nil
	}
	first := netip.MustParseAddrPort(specs[0].addr).Addr().Unmap()
	if !first.IsUnspecified() {
		return first, nil
	}
	ifaddrs, _ := net.InterfaceAddrs()
	for _, ia := range ifaddrs {
		p, err := netip.ParsePrefix(ia.String())
		if err != nil {
			continue
		}
		a := p.Addr().Unmap()
		if !a.IsLoopback() && !a.IsLinkLocalUnicast() && a.Is4() == first.Is4() {
			return a, nil
		}
	}
	if first.Is4() {
		return netip.MustParseAddr("127.0.0.1"), nil
	}
	return netip.IPv6Loopback(), nil
}

// alternateAddr picks the SDP address for offers of the other family than
// primary's (see Config.AdvertisedIPAlt).
func alternateAddr(configured string, primary netip.Addr, specs []listenSpec, media *mixer.Engine) (netip.Addr, error) {
	v6 := primary.Is4()
	if _, ok := media.BindAddr(v6); !ok {
		if configured != "" {
			return netip.Addr{}, fmt.Errorf("focus: advertised IP %s has no RTP bind address of its family", configured)
		}
		return netip.Addr{}, nil
	}
	if configured != "" {
		a, err := netip.ParseAddr(configured)
		if err != nil || a.Unmap().Is6() != v6 {
			return netip.Addr{}, fmt.Errorf("focus: second advertised IP %q must be of the other family than %v", configured, primary)
		}
		return a.Unmap(), nil
	}
	for _, s := range specs {
		if a := netip.MustParseAddrPort(s.addr).Addr().Unmap(); a.Is6() == v6 && !a.IsUnspecified() {
			return a, nil
		}
	}
	if a, _ := media.BindAddr(v6); !a.IsUnspecified() {
		return a, nil
	}
	return netip.Addr{}, nil
}

// advertiseFor is the focus's SDP address for a new call with this offer:
// the one of the offer's address family (the primary one for a late offer
// or an offer parseOffer will refuse anyway).
func (f *Focus) advertiseFor(offer []byte) netip.Addr {
	if !f.advertiseAlt.IsValid() || len(offer) == 0 {
		return f.advertise
	}
	if _, ra, err := parseSDP(offer, f.cfg.SRTP); err == nil && ra.addr.Unmap().Is4() == f.advertiseAlt.Is4() {
		return f.advertiseAlt
	}
	return f.advertise
}

// handle registers h for method; the method then appears in Allow. The
// subscription and REFER code of the focus registers its methods the same
// way, in New (never after Run started).
func (f *Focus) handle(method sip.RequestMethod, h sipgo.RequestHandler) {
	f.srv.OnRequest(method, f.wrap(h))
	f.allow = append(f.allow, method.String())
}

// wrap counts the request and keeps track of running handlers so that
// shutdown can wait for them. A handler that panics is logged with its
// stack and its request answered 500 (when it is not an ACK): one bad
// request never takes the process down.
func (f *Focus) wrap(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if f.m != nil {
			f.m.SIPRequests.WithLabelValues(req.Method.String()).Inc()
		}
		if !f.enter() {
			if !req.IsAck() {
				f.reply(tx, req, 503, "Service Unavailable", nil, f.retryAfter())
			}
			return
		}
		defer f.handlers.Done()
		defer func() {
			if r := recover(); r != nil {
				f.log.Error("SIP request handler panic", "panic", r, "method", req.Method, "call-id", callID(req),
					"source", req.Source(), "stack", string(debug.Stack()))
				if !req.IsAck() {
					f.safely("500 after a panic", func() { f.reply(tx, req, 500, "Server Internal Error", nil) })
				}
			}
		}()
		if !req.IsAck() && req.Method != sip.REGISTER && f.refuseWildcard(req, tx) {
			return
		}
		if !req.IsAck() && strings.EqualFold(req.Recipient.Scheme, "sips") && !strings.EqualFold(req.Transport(), "TLS") {
			// RFC 3261 §26.2.2: a SIPS Request-URI must arrive over TLS.
			f.reply(tx, req, 416, "Unsupported URI Scheme", nil, f.warning(399, "sips: needs TLS"))
			return
		}
		h(req, tx)
	}
}

// safely runs fn; a panic in it is logged (at error, with the stack) and
// goes no further. Every goroutine the focus starts runs its work through
// it (see goWork), like the request handlers through wrap.
func (f *Focus) safely(what string, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			f.log.Error("SIP focus panic", "in", what, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// goWork runs fn on a goroutine counted in f.work (shutdown waits for it),
// recovering a panic. Only the event follower and the RTP sweep, which are
// in f.work themselves, start such work, so the count never rises from
// zero while shutdown waits.
func (f *Focus) goWork(what string, fn func()) {
	f.work.Go(func() { f.safely(what, fn) })
}

// stopping reports whether shutdown has started: new calls, subscriptions
// and REFERs are refused (503).
func (f *Focus) stopping() bool { return f.life.Err() != nil }

// detached is the focus's lifetime without its cancellation, for work that
// must finish while the focus shuts down; callers bound it with a timeout.
func (f *Focus) detached() context.Context { return context.WithoutCancel(f.life) }

// coreCtx bounds a call into the conference core made while handling a
// request or a media event: coreTimeout, or shutdown.
func (f *Focus) coreCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(f.life, coreTimeout)
}

// enter registers a running handler; false once shutdown has finished
// the calls.
func (f *Focus) enter() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing {
		return false
	}
	f.handlers.Add(1)
	return true
}

// Ready is closed when every listener is bound.
func (f *Focus) Ready() <-chan struct{} { return f.ready }

// Addrs returns the bound listeners as "udp:IP:PORT" / "tcp:IP:PORT", in
// the order of Config.Listen; nil before Ready.
func (f *Focus) Addrs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.addrs)
}

// AdvertisedAddr is the address the focus puts into SDP and Contact.
func (f *Focus) AdvertisedAddr() netip.Addr { return f.advertise }

// Calls returns how many calls the focus currently holds.
func (f *Focus) Calls() int { return f.calls.len() }

// Run binds every listener, serves SIP and follows the conference core's
// events until ctx ends. Then it sends every call a BYE (bounded by
// ShutdownTimeout), releases their RTP ports, closes the listeners and
// returns. A listener that cannot be bound is an error before serving; one
// that fails while serving ends Run with its error.
func (f *Focus) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("focus: Run called twice")
	}
	f.life, f.stopLife = context.WithCancelCause(ctx)
	defer f.stopLife(nil)
	if err := f.listen(); err != nil {
		f.stopLife(err)
		f.closeListeners()
		_ = f.ua.Close()
		f.serving.Wait()
		return err
	}
	stream := f.reg.Subscribe()
	f.work.Go(func() { f.follow(stream) })
	f.goWork("RTP sweep", f.sweepMedia)
	close(f.ready)
	f.log.Info("SIP focus listening", "listeners", f.Addrs(), "domain", f.cfg.Domain, "advertised", f.advertise)

	<-f.life.Done()
	var err error
	if se := (serveError{}); errors.As(context.Cause(f.life), &se) {
		err = se.err
		f.log.Error("SIP listener failed", "err", err)
	}
	f.shutdown(stream)
	return err
}

// serveError is the cause of a lifetime ended by a failed listener.
type serveError struct{ err error }

func (e serveError) Error() string { return e.err.Error() }

// listen binds the listeners and serves each in a goroutine (in f.serving).
// A listener that fails while serving ends the focus's lifetime.
func (f *Focus) listen() error {
	for _, s := range f.specs {
		var (
			local netip.AddrPort
			serve func() error
		)
		switch s.network {
		case "udp":
			conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s.addr)))
			if err != nil {
				return fmt.Errorf("focus: listen udp %s: %w", s.addr, err)
			}
			local = conn.LocalAddr().(*net.UDPAddr).AddrPort()
			f.mu.Lock()
			if f.udpLocal == nil {
				f.udpLocal = conn.LocalAddr().(*net.UDPAddr)
			}
			f.mu.Unlock()
			f.closers = append(f.closers, conn.Close)
			serve = func() error { return f.srv.ServeUDP(conn) }
		case "tcp":
			ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s.addr)))
			if err != nil {
				return fmt.Errorf("focus: listen tcp %s: %w", s.addr, err)
			}
			local = ln.Addr().(*net.TCPAddr).AddrPort()
			g := newTCPGuard(ln, f.cfg.TCPMaxPerSource, f.cfg.TCPMaxConnections, f.cfg.TCPIdleTimeout, f.log, f.m)
			f.closers = append(f.closers, g.Close)
			serve = func() error { return f.srv.ServeTCP(g) }
		case "tls":
			if f.cfg.TLS == nil {
				return fmt.Errorf("focus: listen tls %s: no certificate configured", s.addr)
			}
			ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s.addr)))
			if err != nil {
				return fmt.Errorf("focus: listen tls %s: %w", s.addr, err)
			}
			local = ln.Addr().(*net.TCPAddr).AddrPort()
			// The guard sits under TLS: limits and the idle timeout apply
			// to the handshake too.
			g := newTCPGuard(ln, f.cfg.TCPMaxPerSource, f.cfg.TCPMaxConnections, f.cfg.TCPIdleTimeout, f.log, f.m)
			f.closers = append(f.closers, g.Close)
			tl := tls.NewListener(g, f.cfg.TLS)
			serve = func() error { return f.srv.ServeTLS(tl) }
		}
		f.mu.Lock()
		f.addrs = append(f.addrs, s.network+":"+netip.AddrPortFrom(local.Addr().Unmap(), local.Port()).String())
		if _, ok := f.ports[s.network]; !ok {
			f.ports[s.network] = int(local.Port())
		}
		f.addHosts(local.Addr().Unmap())
		f.mu.Unlock()
		f.serving.Go(func() {
			if err := serve(); err != nil && !errors.Is(err, net.ErrClosed) {
				f.stopLife(serveError{fmt.Errorf("focus: serve %s %s: %w", s.network, s.addr, err)})
			}
		})
	}
	f.mu.Lock()
	f.addHosts(f.advertise)
	f.hosts[strings.ToLower(f.cfg.Domain)] = true
	f.mu.Unlock()
	return nil
}

// addHosts records the Request-URI hosts that address this focus: the
// listener's IP, or every local IP for an unspecified listener. f.mu held.
func (f *Focus) addHosts(a netip.Addr) {
	if !a.IsUnspecified() {
		f.hosts[a.String()] = true
		return
	}
	ifaddrs, _ := net.InterfaceAddrs()
	for _, ia := range ifaddrs {
		if p, err := netip.ParsePrefix(ia.String()); err == nil {
			f.hosts[p.Addr().Unmap().String()] = true
		}
	}
}

func (f *Focus) closeListeners() {
	for _, c := range f.closers {
		_ = c()
	}
	f.closers = nil
}

// ours reports whether a Request-URI host addresses this focus: the SIP
// domain, the advertised address or an address it listens on. Anything
// else is not a conference here (404), so the focus never acts as a proxy.
func (f *Focus) ours(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if a, err := netip.ParseAddr(h); err == nil {
		h = a.Unmap().String()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hosts[h]
}

// contact returns the focus's Contact for room over the request's
// transport: <sip:ROOM@HOST:PORT[;transport=tcp]>;isfocus.
// contactTo is the Contact for a response to req or a dialog it forms:
// with dual-stack media (advertiseAlt) its host is the advertised address
// of the request's source family, so an IPv6 peer of an IPv4-first focus
// (on a dual-stack [::] listener) gets an address it can reach.
func (f *Focus) contactTo(room string, req *sip.Request) *sip.ContactHeader {
	h := f.contact(room, req.Transport())
	if !f.advertiseAlt.IsValid() {
		return h
	}
	if src, err := netip.ParseAddrPort(req.Source()); err == nil && src.Addr().Unmap().Is4() == f.advertiseAlt.Is4() {
		h.Address.Host = f.advertiseAlt.String()
		if port := f.listenPort(req.Transport(), f.advertiseAlt.Is6()); port != 0 {
			h.Address.Port = port
		}
	}
	return h
}

// listenPort is the port of the first listener of a transport whose
// address is of the given family (a dual-stack [::] one serves both); 0
// when there is none.
func (f *Focus) listenPort(transport string, v6 bool) int {
	network := strings.ToLower(transport)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.addrs {
		n, hp, ok := strings.Cut(a, ":")
		if !ok || n != network {
			continue
		}
		ap, err := netip.ParseAddrPort(hp)
		if err != nil {
			continue
		}
		if ip := ap.Addr(); ip.Is6() == v6 || ip.IsUnspecified() && ip.Is6() {
			return int(ap.Port())
		}
	}
	return 0
}

func (f *Focus) contact(room string, transport string) *sip.ContactHeader {
	network := strings.ToLower(transport)
	f.mu.Lock()
	port, ok := f.ports[network]
	if !ok {
		for _, p := range f.ports {
			port = p
			break
		}
	}
	f.mu.Unlock()
	h := &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: room, Host: f.advertise.String(), Port: port}}
	if network == "tls" {
		h.Address.Scheme = "sips" // RFC 5630 §3.1.2: a request over TLS gets a SIPS Contact
	}
	if network == "tcp" {
		h.Address.UriParams = sip.NewParams()
		h.Address.UriParams.Add("transport", "tcp")
	}
	if room != "" {
		h.Params = sip.NewParams()
		h.Params.Add("isfocus", "")
	}
	return h
}

// capabilities appends Allow, Accept, Allow-Events and Supported: only what
// the focus implements (Allow-Events stays out until a package is
// registered).
func (f *Focus) capabilities(res *sip.Response) {
	res.AppendHeader(sip.NewHeader("Allow", strings.Join(f.allow, ", ")))
	res.AppendHeader(sip.NewHeader("Accept", strings.Join(f.accept, ", ")))
	if len(f.eventPackages) > 0 {
		res.AppendHeader(sip.NewHeader("Allow-Events", strings.Join(f.eventPackages, ", ")))
	}
	res.AppendHeader(sip.NewHeader("Supported", strings.Join(supported, ", ")))
}

// response builds a response to req with the focus's Server header.
func (f *Focus) response(req *sip.Request, code int, reason string, body []byte, hdrs ...sip.Header) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, reason, body)
	res.AppendHeader(sip.NewHeader("Server", f.cfg.UserAgent))
	for _, h := range hdrs {
		if h != nil {
			res.AppendHeader(h)
		}
	}
	return res
}

// reply sends a response built with response and counts it.
func (f *Focus) reply(tx sip.ServerTransaction, req *sip.Request, code int, reason string, body []byte, hdrs ...sip.Header) {
	f.send(tx, req, f.response(req, code, reason, body, hdrs...))
}

// send sends res on tx and counts it.
func (f *Focus) send(tx sip.ServerTransaction, req *sip.Request, res *sip.Response) error {
	f.countResponse(req.Method, res.StatusCode)
	if err := tx.Respond(res); err != nil {
		f.log.Debug("respond failed", "response", res.StartLine(), "method", req.Method, "call-id", callID(req), "err", err)
		return err
	}
	return nil
}

func (f *Focus) countResponse(method sip.RequestMethod, code int) {
	if f.m != nil {
		f.m.SIPResponses.WithLabelValues(method.String(), metrics.StatusClass(code)).Inc()
	}
}

// retryAfter is the Retry-After header of a 503.
func (f *Focus) retryAfter() sip.Header {
	return sip.NewHeader("Retry-After", strconv.Itoa(f.cfg.RetryAfter))
}

// warning is a Warning header (RFC 3261 §20.43) naming the focus.
func (f *Focus) warning(code int, text string) sip.Header {
	agent := f.advertise.String()
	if f.advertise.Is6() {
		agent = "[" + agent + "]"
	}
	return sip.NewHeader("Warning", fmt.Sprintf("%d %s \"%s\"", code, agent, headerSafe(text)))
}

// onUnknown answers methods without a handler: 405 with Allow.
func (f *Focus) onUnknown(req *sip.Request, tx sip.ServerTransaction) {
	if req.IsAck() {
		return
	}
	f.reply(tx, req, 405, "Method Not Allowed", nil, sip.NewHeader("Allow", strings.Join(f.allow, ", ")))
}

// callID returns a message's Call-ID for logs.
func callID(m sip.Message) string {
	if h := m.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// aor is a From or To URI as an address of record: scheme:user@host.
func aor(u sip.Uri) string {
	scheme := strings.ToLower(u.Scheme)
	if scheme == "" {
		scheme = "sip"
	}
	if u.User == "" {
		return scheme + ":" + strings.ToLower(u.Host)
	}
	return scheme + ":" + u.User + "@" + strings.ToLower(u.Host)
}
