// Package sipua is a small SIP user agent for tests, built on sipgo: it
// calls a conference (INVITE with or without SDP, ACK when told, re-INVITE,
// INFO, BYE, CANCEL), answers the BYEs and other in-dialog requests a focus
// sends (200) and hands them to the test, and exposes every response so
// tests can assert on headers. It does no media; pair it with
// mixer/audiotest.Phone for RTP.
package sipua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Config configures a UA.
type Config struct {
	Transport   string // "udp" (default) or "tcp"
	Host        string // local IP to listen on; default 127.0.0.1
	User        string // From user part; default "alice"
	DisplayName string
	Domain      string // From host; default Host
	// NAT adds ;rport to Via (RFC 3581).
	NAT bool
	// AlsoTCP makes a UDP UA listen on TCP at the same port too, as RFC
	// 3261 §18 asks of every UA (a focus sends big NOTIFYs over TCP).
	AlsoTCP bool
	Logger  *slog.Logger // default: discard
}

// UA is a test user agent listening on one loopback socket.
type UA struct {
	cfg   Config
	ua    *sipgo.UserAgent
	srv   *sipgo.Server
	cli   *sipgo.Client
	local netip.AddrPort
	close func() error

	mu       sync.Mutex
	calls    map[string]*Call         // by Call-ID
	subs     map[string]*Subscription // by Call-ID: SUBSCRIBE and REFER dialogs
	incoming func(*sip.Request) (int, []byte)
}

// New starts a UA listening on cfg.Host with a free port.
func New(cfg Config) (*UA, error) {
	if cfg.Transport == "" {
		cfg.Transport = "udp"
	}
	cfg.Transport = strings.ToLower(cfg.Transport)
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.User == "" {
		cfg.User = "alice"
	}
	if cfg.Domain == "" {
		cfg.Domain = cfg.Host
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	u := &UA{cfg: cfg, calls: map[string]*Call{}, subs: map[string]*Subscription{}}
	var err error
	if u.ua, err = sipgo.NewUA(sipgo.WithUserAgent("sipua-test"), sipgo.WithUserAgentHostname(cfg.Domain),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(cfg.Logger),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {})),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(cfg.Logger))); err != nil {
		return nil, err
	}
	if u.srv, err = sipgo.NewServer(u.ua, sipgo.WithServerLogger(cfg.Logger)); err != nil {
		return nil, err
	}
	ip := netip.MustParseAddr(cfg.Host)
	var serve func() error
	switch cfg.Transport {
	case "udp":
		conn, ln, err := listenUDP(ip, cfg.AlsoTCP)
		if err != nil {
			return nil, err
		}
		u.local = conn.LocalAddr().(*net.UDPAddr).AddrPort()
		u.close = conn.Close
		serve = func() error { return u.srv.ServeUDP(conn) }
		if ln != nil {
			u.close = func() error { return errors.Join(conn.Close(), ln.Close()) }
			serveUDP := serve
			serve = func() error {
				go func() { _ = u.srv.ServeTCP(ln) }()
				return serveUDP()
			}
		}
	case "tcp":
		ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		if err != nil {
			return nil, err
		}
		u.local = ln.Addr().(*net.TCPAddr).AddrPort()
		u.close = ln.Close
		serve = func() error { return u.srv.ServeTCP(ln) }
	default:
		return nil, fmt.Errorf("sipua: transport %q", cfg.Transport)
	}
	opts := []sipgo.ClientOption{sipgo.WithClientHostname(cfg.Host), sipgo.WithClientLogger(cfg.Logger)}
	if cfg.Transport == "udp" {
		opts = append(opts, sipgo.WithClientConnectionAddr(u.local.String()))
	}
	if cfg.NAT {
		opts = append(opts, sipgo.WithClientNAT())
	}
	if u.cli, err = sipgo.NewClient(u.ua, opts...); err != nil {
		return nil, err
	}
	u.srv.OnBye(u.onRequest)
	u.srv.OnInfo(u.onRequest)
	u.srv.OnNotify(u.onRequest)
	u.srv.OnOptions(u.onRequest)
	u.srv.OnInvite(u.onRequest)
	u.srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	go func() { _ = serve() }()
	// Requests must leave from the listening socket, which the transport
	// layer knows only once it serves it.
	for i := 0; cfg.Transport == "udp"; i++ {
		if c, _ := u.ua.TransportLayer().GetConnection("udp", u.local.String()); c != nil {
			break
		}
		if i == 500 {
			u.Close()
			return nil, errors.New("sipua: UDP listener not registered")
		}
		time.Sleep(2 * time.Millisecond)
	}
	return u, nil
}

// listenUDP binds a UDP socket on a free port of ip and, with tcp, a TCP
// listener on the same port.
func listenUDP(ip netip.Addr, tcp bool) (*net.UDPConn, *net.TCPListener, error) {
	for range 50 {
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		if err != nil || !tcp {
			return conn, nil, err
		}
		ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(conn.LocalAddr().(*net.UDPAddr).AddrPort()))
		if err == nil {
			return conn, ln, nil
		}
		conn.Close()
	}
	return nil, nil, errors.New("sipua: no port free for both UDP and TCP")
}

// Close stops the UA.
func (u *UA) Close() error {
	err := u.close()
	return errors.Join(err, u.ua.Close())
}

// Addr is the UA's listening address.
func (u *UA) Addr() netip.AddrPort { return u.local }

// Client is the UA's sipgo client, for hand-made requests.
func (u *UA) Client() *sipgo.Client { return u.cli }

// Contact is the UA's Contact header.
func (u *UA) Contact() *sip.ContactHeader {
	h := &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: u.cfg.User, Host: u.local.Addr().String(), Port: int(u.local.Port())}}
	if u.cfg.Transport == "tcp" {
		h.Address.UriParams = sip.NewParams()
		h.Address.UriParams.Add("transport", "tcp")
	}
	return h
}

// Target returns the URI sip:user@hostport (with ;transport=tcp for a TCP UA).
func (u *UA) Target(user, hostport string) sip.Uri {
	host, port, _ := sip.ParseAddr(hostport)
	uri := sip.Uri{Scheme: "sip", User: user, Host: host, Port: port}
	if u.cfg.Transport == "tcp" {
		uri.UriParams = sip.NewParams()
		uri.UriParams.Add("transport", "tcp")
	}
	return uri
}

// onRequest answers a request from the far end with 200 (re-INVITE: 488,
// not supported here) and queues it on its call; NOTIFYs go to their
// subscription, new INVITEs to the OnInvite handler.
func (u *UA) onRequest(req *sip.Request, tx sip.ServerTransaction) {
	if req.IsInvite() && req.To() != nil && !req.To().Params.Has("tag") {
		u.onIncoming(req, tx)
		return
	}
	code, reason := 200, "OK"
	if req.IsInvite() {
		code, reason = 488, "Not Acceptable Here"
	}
	var sub *Subscription
	u.mu.Lock()
	c := u.calls[callID(req)]
	if ev := req.GetHeader("Event"); ev != nil && req.Method == sip.NOTIFY {
		sub = u.subs[subIndex(callID(req), ev.Value())]
	}
	u.mu.Unlock()
	if req.Method == sip.NOTIFY && sub != nil {
		sub.onNotify(req, tx)
		return
	}
	if c == nil && req.Method != sip.OPTIONS {
		code, reason = 481, "Call/Transaction Does Not Exist"
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
	if c != nil {
		select {
		case c.requests <- req:
		default:
		}
	}
}

func callID(m sip.Message) string {
	if h := m.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// Call is one INVITE dialog seen from the UA.
type Call struct {
	u *UA
	// Invite is the INVITE as sent.
	Invite *sip.Request
	// Provisional are the 1xx responses received, in order.
	Provisional []*sip.Response
	// Response is the final response to the last INVITE (or re-INVITE).
	Response *sip.Response

	tx       sip.ClientTransaction
	requests chan *sip.Request

	mu           sync.Mutex
	uas          bool // the far end called (Invite was received)
	localTag     string
	remoteTag    string
	remoteTarget sip.Uri
	routes       []string
	cseq         uint32
	outbound     string // fixed next hop (WithOutbound)
}

// Option adjusts an INVITE before it is sent.
type Option func(*sip.Request)

// WithHeader adds a header.
func WithHeader(name, value string) Option {
	return func(r *sip.Request) { r.AppendHeader(sip.NewHeader(name, value)) }
}

// WithOutbound sends the INVITE and every later request of the call to
// addr (host:port), whatever the Request-URI or the far end's Contact say,
// like an outbound proxy would.
func WithOutbound(addr string) Option {
	return func(r *sip.Request) { r.SetDestination(addr) }
}

// WithContentType sets the body's Content-Type (default application/sdp).
func WithContentType(ct string) Option {
	return func(r *sip.Request) { r.ReplaceHeader(sip.NewHeader("Content-Type", ct)) }
}

// Start sends an INVITE to target with body (nil: late offer) and returns
// once the first response (any) arrives or ctx ends; use Wait for the
// final one and Cancel to cancel it.
func (u *UA) Start(ctx context.Context, target sip.Uri, body []byte, opts ...Option) (*Call, error) {
	req := sip.NewRequest(sip.INVITE, target)
	from := &sip.FromHeader{DisplayName: u.cfg.DisplayName, Address: sip.Uri{Scheme: "sip", User: u.cfg.User, Host: u.cfg.Domain}, Params: sip.NewParams()}
	tag := sip.GenerateTagN(12)
	from.Params.Add("tag", tag)
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: target.User, Host: target.Host}, Params: sip.NewParams()}
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(u.Contact())
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	req.SetBody(body)
	req.SetDestination(dest(target))
	for _, o := range opts {
		o(req)
	}
	c := &Call{u: u, Invite: req, localTag: tag, cseq: 1, requests: make(chan *sip.Request, 16)}
	if d := req.Destination(); d != dest(target) {
		c.outbound = d
	}
	tx, err := u.cli.TransactionRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	c.tx = tx
	u.mu.Lock()
	u.calls[callID(req)] = c
	u.mu.Unlock()
	return c, nil
}

// Invite sends an INVITE and waits for its final response (it does not
// ACK a 2xx: call Ack).
func (u *UA) Invite(ctx context.Context, target sip.Uri, body []byte, opts ...Option) (*Call, error) {
	c, err := u.Start(ctx, target, body, opts...)
	if err != nil {
		return nil, err
	}
	if _, err := c.Wait(ctx); err != nil {
		return c, err
	}
	return c, nil
}

// InviteAuth is Invite answering a 401 once with creds (the new INVITE
// carries Authorization and the next CSeq).
func (u *UA) InviteAuth(ctx context.Context, target sip.Uri, body []byte, creds Credentials, opts ...Option) (*Call, error) {
	c, err := u.Invite(ctx, target, body, opts...)
	if err != nil || c.Response.StatusCode != 401 {
		return c, err
	}
	tx, err := u.cli.TransactionDigestAuth(ctx, c.Invite, c.Response, sipgo.DigestAuth{Username: creds.User, Password: creds.Password})
	if err != nil {
		return c, err
	}
	c.mu.Lock()
	c.tx = tx
	c.cseq = c.Invite.CSeq().SeqNo
	c.mu.Unlock()
	_, err = c.Wait(ctx)
	return c, err
}

// Wait returns the final response to the INVITE; provisional ones are
// collected in Provisional.
func (c *Call) Wait(ctx context.Context) (*sip.Response, error) {
	for {
		select {
		case res := <-c.tx.Responses():
			if res.IsProvisional() {
				c.Provisional = append(c.Provisional, res)
				continue
			}
			c.setFinal(res)
			return res, nil
		case <-c.tx.Done():
			return nil, fmt.Errorf("sipua: INVITE transaction ended: %w", c.tx.Err())
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// WaitProvisional waits for a provisional response with code.
func (c *Call) WaitProvisional(ctx context.Context, code int) (*sip.Response, error) {
	for _, r := range c.Provisional {
		if r.StatusCode == code {
			return r, nil
		}
	}
	for {
		select {
		case res := <-c.tx.Responses():
			if !res.IsProvisional() {
				c.setFinal(res)
				return nil, fmt.Errorf("sipua: final %d before %d", res.StatusCode, code)
			}
			c.Provisional = append(c.Provisional, res)
			if res.StatusCode == code {
				return res, nil
			}
		case <-c.tx.Done():
			return nil, fmt.Errorf("sipua: INVITE transaction ended: %w", c.tx.Err())
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (c *Call) setFinal(res *sip.Response) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Response = res
	if !res.IsSuccess() {
		return
	}
	if to := res.To(); to != nil {
		c.remoteTag, _ = to.Params.Get("tag")
	}
	if ct := res.Contact(); ct != nil {
		c.remoteTarget = *ct.Address.Clone()
	}
	if len(c.routes) == 0 {
		rrs := res.GetHeaders("Record-Route")
		for i := len(rrs) - 1; i >= 0; i-- { // UAC: reverse order
			c.routes = append(c.routes, rrs[i].Value())
		}
	}
}

// RemoteTag is the focus's tag from the 2xx.
func (c *Call) RemoteTag() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteTag
}

// CallID is the call's Call-ID.
func (c *Call) CallID() string { return callID(c.Invite) }

// Ack acknowledges the last 2xx, with body (the answer to a late offer) if
// not nil.
func (c *Call) Ack(body []byte) error {
	req := c.request(sip.ACK, false)
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	req.SetBody(body)
	return c.u.cli.WriteRequest(req, sipgo.ClientRequestAddVia)
}

// request builds an in-dialog request; next increments CSeq.
func (c *Call) request(method sip.RequestMethod, next bool) *sip.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	if next {
		c.cseq++
	}
	req := sip.NewRequest(method, *c.remoteTarget.Clone())
	from := sip.HeaderClone(c.Invite.From()).(*sip.FromHeader)
	to := sip.HeaderClone(c.Invite.To()).(*sip.ToHeader)
	to.Params.Add("tag", c.remoteTag)
	if c.uas {
		f := c.Invite.To().AsFrom()
		f.Params = sip.NewParams()
		f.Params.Add("tag", c.localTag)
		t := c.Invite.From().AsTo()
		from, to = &f, &t
	}
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(sip.HeaderClone(c.Invite.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: c.cseq, MethodName: method})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	for _, r := range c.routes {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	req.AppendHeader(c.u.Contact())
	req.SetTransport(c.Invite.Transport())
	req.SetDestination(dest(c.remoteTarget))
	if c.outbound != "" {
		req.SetDestination(c.outbound)
	}
	req.Laddr = c.Invite.Laddr
	if c.uas && c.u.cfg.Transport == "udp" {
		req.Laddr = sip.Addr{IP: c.u.local.Addr().AsSlice(), Port: int(c.u.local.Port())}
	}
	return req
}

// Request sends an in-dialog request (BYE, INFO, OPTIONS, …) with an
// optional body and returns the final response.
func (c *Call) Request(ctx context.Context, method sip.RequestMethod, contentType string, body []byte) (*sip.Response, error) {
	req := c.request(method, true)
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	}
	req.SetBody(body)
	return c.u.cli.Do(ctx, req, sipgo.ClientRequestAddVia)
}

// Bye hangs up.
func (c *Call) Bye(ctx context.Context) (*sip.Response, error) {
	return c.Request(ctx, sip.BYE, "", nil)
}

// ReInvite sends a re-INVITE with body (nil: no offer) and returns its
// final response; it does not ACK.
func (c *Call) ReInvite(ctx context.Context, body []byte) (*sip.Response, error) {
	req := c.request(sip.INVITE, true)
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	req.SetBody(body)
	tx, err := c.u.cli.TransactionRequest(ctx, req, sipgo.ClientRequestAddVia)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			c.setFinal(res)
			return res, nil
		case <-tx.Done():
			return nil, fmt.Errorf("sipua: re-INVITE transaction ended: %w", tx.Err())
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// NextRequest returns the next request the far end sent in this dialog
// (already answered).
func (c *Call) NextRequest(ctx context.Context) (*sip.Request, error) {
	select {
	case r := <-c.requests:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// WaitBye waits for the far end's BYE (already answered 200).
func (c *Call) WaitBye(ctx context.Context) (*sip.Request, error) {
	for {
		r, err := c.NextRequest(ctx)
		if err != nil {
			return nil, fmt.Errorf("sipua: no BYE: %w", err)
		}
		if r.Method == sip.BYE {
			return r, nil
		}
	}
}

// Options sends an out-of-dialog OPTIONS to target.
func (u *UA) Options(ctx context.Context, target sip.Uri) (*sip.Response, error) {
	req := sip.NewRequest(sip.OPTIONS, target)
	req.AppendHeader(u.Contact())
	req.SetDestination(dest(target))
	return u.cli.Do(ctx, req)
}

// dest is host:port of a URI for sending, with IPv6 brackets (sipgo's own
// Destination omits them).
func dest(u sip.Uri) string {
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return net.JoinHostPort(strings.Trim(u.Host, "[]"), strconv.Itoa(port))
}

// AudioPort returns the port and connection address of the first audio
// m-line of an SDP body (a minimal reader for tests).
func AudioPort(sdp []byte) (netip.AddrPort, error) {
	var addr netip.Addr
	var port int
	for _, line := range strings.Split(string(sdp), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "c=IN IP"):
			f := strings.Fields(line)
			if len(f) == 3 {
				if a, err := netip.ParseAddr(f[2]); err == nil {
					addr = a
				}
			}
		case strings.HasPrefix(line, "m=audio ") && port == 0:
			f := strings.Fields(line)
			p, err := strconv.Atoi(f[1])
			if err != nil {
				return netip.AddrPort{}, err
			}
			port = p
		}
	}
	if !addr.IsValid() || port == 0 {
		return netip.AddrPort{}, errors.New("sipua: no audio address in SDP")
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// Offer returns a plain SDP offer from addr (port = RTP port) with the
// given payload types, e.g. Offer(a, "0 8 101") with telephone-event 101.
func Offer(addr netip.AddrPort, formats string, extra ...string) []byte {
	at := "IP4"
	if addr.Addr().Is6() {
		at = "IP6"
	}
	lines := []string{
		"v=0",
		"o=sipua 1 1 IN " + at + " " + addr.Addr().String(),
		"s=sipua",
		"c=IN " + at + " " + addr.Addr().String(),
		"t=0 0",
		"m=audio " + strconv.Itoa(int(addr.Port())) + " RTP/AVP " + formats,
	}
	for _, f := range strings.Fields(formats) {
		switch f {
		case "0":
			lines = append(lines, "a=rtpmap:0 PCMU/8000")
		case "8":
			lines = append(lines, "a=rtpmap:8 PCMA/8000")
		case "101":
			lines = append(lines, "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15")
		}
	}
	lines = append(lines, "a=ptime:20")
	lines = append(lines, extra...)
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}
