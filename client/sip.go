package client

import (
	"cmp"
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

	"cusax.dev/bridge/confinfo"
)

// sipRequestTimeout bounds every SIP transaction the client waits for
// (sipgo's own Timer B/F is 32 s).
const sipRequestTimeout = 8 * time.Second

// subscriptionExpires is the conference subscription lifetime asked for;
// it is refreshed at half of what the focus grants.
const subscriptionExpires = 600

// maxNotifyBody bounds a conference-info document the client parses.
const maxNotifyBody = 1 << 20

// sipUA is the client's SIP user agent: one UDP socket and a TCP listener
// on the same port (a focus sends large NOTIFYs over TCP, RFC 3261 §18).
type sipUA struct {
	log            *slog.Logger
	aor            sip.Uri
	display        string
	server         string // outbound proxy HOST:PORT
	user, password string
	ua             *sipgo.UserAgent
	srv            *sipgo.Server
	cli            *sipgo.Client
	local          netip.AddrPort
	dua            *sipgo.DialogUA
	closer         func() error

	mu    sync.Mutex
	calls map[string]*sipCall // by Call-ID
}

// localIPFor returns the local address that routes to hostport.
func localIPFor(hostport string) (netip.Addr, error) {
	c, err := net.Dial("udp", hostport)
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

func newSIPUA(cfg *Config, log *slog.Logger) (*sipUA, error) {
	var aor sip.Uri
	if err := sip.ParseUri(cfg.SIP, &aor); err != nil {
		return nil, fmt.Errorf("--sip %q: %w", cfg.SIP, err)
	}
	var ip netip.Addr
	var err error
	if cfg.LocalIP != "" {
		if ip, err = netip.ParseAddr(cfg.LocalIP); err != nil {
			return nil, fmt.Errorf("--local-ip: %w", err)
		}
	} else if ip, err = localIPFor(cfg.SIPServer); err != nil {
		return nil, fmt.Errorf("voice: no route to %s: %w", cfg.SIPServer, err)
	}
	u := &sipUA{log: log, aor: aor, display: cfg.Nick, server: cfg.SIPServer, user: cmp.Or(cfg.sipAuthUser, aor.User),
		password: cfg.sipPassword, calls: map[string]*sipCall{}}
	quiet := slog.New(slog.DiscardHandler)
	if u.ua, err = sipgo.NewUA(sipgo.WithUserAgent("cusax-client"), sipgo.WithUserAgentHostname(ip.String()),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {})),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet))); err != nil {
		return nil, err
	}
	if u.srv, err = sipgo.NewServer(u.ua, sipgo.WithServerLogger(quiet)); err != nil {
		return nil, err
	}
	var conn *net.UDPConn
	var ln *net.TCPListener
	for range 50 {
		conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		if err != nil {
			return nil, fmt.Errorf("voice: listen: %w", err)
		}
		ln, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(conn.LocalAddr().(*net.UDPAddr).AddrPort()))
		if err == nil {
			break
		}
		conn.Close()
		conn = nil
	}
	if conn == nil {
		return nil, errors.New("voice: no port free for both UDP and TCP")
	}
	u.local = conn.LocalAddr().(*net.UDPAddr).AddrPort()
	u.closer = func() error { return errors.Join(conn.Close(), ln.Close()) }
	if u.cli, err = sipgo.NewClient(u.ua, sipgo.WithClientHostname(ip.String()), sipgo.WithClientLogger(quiet),
		sipgo.WithClientConnectionAddr(u.local.String())); err != nil {
		u.closer()
		return nil, err
	}
	u.dua = &sipgo.DialogUA{Client: u.cli, ContactHDR: *u.contact()}
	u.srv.OnBye(u.onBye)
	u.srv.OnNotify(u.onNotify)
	u.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
	})
	u.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	u.srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	go func() { _ = u.srv.ServeTCP(ln) }()
	go func() { _ = u.srv.ServeUDP(conn) }()
	for i := 0; ; i++ {
		if c, _ := u.ua.TransportLayer().GetConnection("udp", u.local.String()); c != nil {
			break
		}
		if i == 500 {
			u.close()
			return nil, errors.New("voice: UDP listener not registered")
		}
		time.Sleep(2 * time.Millisecond)
	}
	return u, nil
}

func (u *sipUA) close() {
	_ = u.closer()
	_ = u.ua.Close()
}

func (u *sipUA) contact() *sip.ContactHeader {
	return &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: u.aor.User, Host: u.local.Addr().String(), Port: int(u.local.Port())}}
}

func (u *sipUA) from() *sip.FromHeader {
	f := &sip.FromHeader{DisplayName: u.display, Address: sip.Uri{Scheme: "sip", User: u.aor.User, Host: u.aor.Host}, Params: sip.NewParams()}
	f.Params.Add("tag", sip.GenerateTagN(16))
	return f
}

// probe checks the SIP server answers (OPTIONS; any response will do),
// or registers when a registrar is configured.
func (u *sipUA) probe(ctx context.Context, registrar string) error {
	ctx, cancel := context.WithTimeout(ctx, sipRequestTimeout)
	defer cancel()
	if registrar != "" {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: u.aor.Host})
		req.AppendHeader(u.from())
		req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: u.aor.User, Host: u.aor.Host}, Params: sip.NewParams()})
		req.AppendHeader(u.contact())
		req.AppendHeader(sip.NewHeader("Expires", "3600"))
		req.SetDestination(registrar)
		res, err := u.cli.Do(ctx, req, sipgo.ClientRequestRegisterBuild)
		if err != nil {
			return unreachable(registrar, err)
		}
		if res.StatusCode == 401 || res.StatusCode == 407 {
			if u.password == "" {
				return fmt.Errorf("the registrar asks for a password (%d): give --sip-password-file", res.StatusCode)
			}
			res, err = u.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: u.user, Password: u.password})
			if err != nil {
				return unreachable(registrar, err)
			}
		}
		if !res.IsSuccess() {
			if res.StatusCode == 401 || res.StatusCode == 403 || res.StatusCode == 407 {
				return fmt.Errorf("%w: registration refused: wrong SIP user or password (%d %s)", ErrAuth, res.StatusCode, res.Reason)
			}
			return fmt.Errorf("registration refused: %d %s", res.StatusCode, res.Reason)
		}
		return nil
	}
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: u.aor.Host})
	req.AppendHeader(u.from())
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", Host: u.aor.Host}, Params: sip.NewParams()})
	req.AppendHeader(u.contact())
	req.SetDestination(u.server)
	if _, err := u.cli.Do(ctx, req); err != nil {
		return unreachable(u.server, err)
	}
	return nil
}

func unreachable(addr string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: SIP server %s: no answer within %v", ErrUnreachable, addr, sipRequestTimeout)
	}
	return fmt.Errorf("%w: SIP server %s: %v", ErrUnreachable, addr, err)
}

// sipCall is one call to a conference with its conference subscription.
type sipCall struct {
	u       *sipUA
	dlg     *sipgo.DialogClientSession
	callID  string
	target  string
	isFocus bool
	media   *rtpEndpoint
	life    context.Context // ends with the call
	cancel  context.CancelFunc

	mu       sync.Mutex
	state    confinfo.State
	first    chan struct{} // closed on the first applied document
	gotFirst bool
	onChange func()
	onEnd    func(reason string)
	ended    bool
	version  uint64
}

// call INVITEs target with an SDP offer and the Call-Info binding hint
// (RFC 7081 §6 practice 6: <xmpp:JID>;purpose=impp), answers a digest
// challenge, ACKs and starts the media. It does not subscribe.
func (u *sipUA) call(ctx context.Context, target string, ownJID string, media *rtpEndpoint) (*sipCall, error) {
	var to sip.Uri
	if err := sip.ParseUri(target, &to); err != nil {
		return nil, fmt.Errorf("%q is not a SIP URI: %w", target, err)
	}
	dest := u.server
	if to.Port != 0 {
		dest = net.JoinHostPort(strings.Trim(to.Host, "[]"), strconv.Itoa(to.Port))
	}
	offer, err := offerSDP(u.local.Addr(), media.Port(), 1, "sendrecv")
	if err != nil {
		return nil, err
	}
	req := sip.NewRequest(sip.INVITE, to)
	req.AppendHeader(u.from())
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: to.Scheme, User: to.User, Host: to.Host, Port: to.Port}, Params: sip.NewParams()})
	req.AppendHeader(u.contact())
	if ownJID != "" {
		req.AppendHeader(sip.NewHeader("Call-Info", "<xmpp:"+ownJID+">;purpose=impp"))
	}
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, NOTIFY, OPTIONS"))
	req.AppendHeader(sip.NewHeader("Supported", "replaces"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	req.SetDestination(dest)
	ictx, cancel := context.WithTimeout(ctx, 2*sipRequestTimeout)
	defer cancel()
	dlg, err := u.dua.WriteInvite(ictx, req)
	if err != nil {
		return nil, unreachable(dest, err)
	}
	if err := dlg.WaitAnswer(ictx, sipgo.AnswerOptions{Username: u.user, Password: u.password}); err != nil {
		dlg.Close()
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			r := de.Res
			switch r.StatusCode {
			case 401, 407:
				if u.password == "" {
					return nil, fmt.Errorf("%s asks for a password (%d): give --sip-password-file", target, r.StatusCode)
				}
				return nil, fmt.Errorf("%s refused the call: wrong SIP user or password (%d %s)", target, r.StatusCode, r.Reason)
			case 404:
				return nil, fmt.Errorf("%s does not exist (404 %s)", target, r.Reason)
			case 403:
				return nil, fmt.Errorf("%s refused the call: forbidden (403 %s)", target, r.Reason)
			}
			return nil, fmt.Errorf("%s refused the call: %d %s", target, r.StatusCode, r.Reason)
		}
		if ictx.Err() != nil {
			return nil, fmt.Errorf("%s: no answer within %v", target, 2*sipRequestTimeout)
		}
		return nil, fmt.Errorf("%s: %w", target, err)
	}
	c := &sipCall{u: u, dlg: dlg, callID: req.CallID().Value(), target: target, media: media, first: make(chan struct{}), version: 1}
	if err := dlg.Ack(ictx); err != nil {
		dlg.Close()
		return nil, fmt.Errorf("%s: ACK: %w", target, err)
	}
	if ct := dlg.InviteResponse.Contact(); ct != nil && ct.Params != nil && ct.Params.Has("isfocus") {
		c.isFocus = true
	}
	u.mu.Lock()
	u.calls[c.callID] = c
	u.mu.Unlock()
	ans, err := parseAnswer(dlg.InviteResponse.Body())
	if err != nil {
		c.hangup()
		return nil, fmt.Errorf("%s: %w", target, err)
	}
	mctx, mcancel := context.WithCancel(context.Background())
	c.life, c.cancel = mctx, mcancel
	media.start(mctx, ans.codec, ans.dtmfPT, ans.remote)
	return c, nil
}

// subscribe sends SUBSCRIBE Event: conference inside the call's dialog
// and waits for the first NOTIFY.
func (c *sipCall) subscribe(ctx context.Context, expires int) error {
	req := sip.NewRequest(sip.SUBSCRIBE, *c.dlg.InviteResponse.Contact().Address.Clone())
	req.AppendHeader(sip.NewHeader("Event", "conference"))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	req.AppendHeader(sip.NewHeader("Accept", "application/conference-info+xml"))
	req.SetDestination(c.dlg.InviteRequest.Destination())
	sctx, cancel := context.WithTimeout(ctx, sipRequestTimeout)
	defer cancel()
	res, err := c.dlg.Do(sctx, req)
	if err != nil {
		return fmt.Errorf("SUBSCRIBE: %w", err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("the focus refused the conference subscription: %d %s", res.StatusCode, res.Reason)
	}
	if expires == 0 {
		return nil
	}
	c.mu.Lock()
	first := c.first
	c.mu.Unlock()
	select {
	case <-first:
		return nil
	case <-sctx.Done():
		return errors.New("no conference state (NOTIFY) within the timeout")
	}
}

// refresh re-subscribes (a Gap: RFC 4575 §4.6 asks for a full document).
func (c *sipCall) refresh() {
	c.mu.Lock()
	c.state.Reset()
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), sipRequestTimeout)
	defer cancel()
	if err := c.subscribe(ctx, subscriptionExpires); err != nil {
		c.u.log.Warn("conference subscription refresh failed", "err", err)
	}
}

// refreshLoop re-subscribes periodically until ctx ends.
func (c *sipCall) refreshLoop(ctx context.Context) {
	t := time.NewTicker(subscriptionExpires / 2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sctx, cancel := context.WithTimeout(ctx, sipRequestTimeout)
			_ = c.subscribe(sctx, subscriptionExpires)
			cancel()
		}
	}
}

// document returns the merged conference state (nil before the first
// NOTIFY).
func (c *sipCall) document() *confinfo.Document {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.Document()
}

func (u *sipUA) callOf(req *sip.Request) *sipCall {
	id := req.CallID()
	if id == nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls[id.Value()]
}

func (u *sipUA) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	c := u.callOf(req)
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Subscription Does Not Exist", nil))
		return
	}
	ev := req.GetHeader("Event")
	if ev == nil || !strings.EqualFold(strings.TrimSpace(strings.SplitN(ev.Value(), ";", 2)[0]), "conference") {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 489, "Bad Event", nil))
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	body := req.Body()
	if len(body) == 0 || len(body) > maxNotifyBody {
		return
	}
	doc, err := confinfo.Parse(body)
	if err != nil {
		u.log.Warn("unreadable conference state from the focus", "err", err)
		return
	}
	c.mu.Lock()
	res, err := c.state.Apply(doc)
	if err == nil && (res == confinfo.Applied || res == confinfo.Replaced) && !c.gotFirst {
		c.gotFirst = true
		close(c.first)
	}
	onChange := c.onChange
	c.mu.Unlock()
	switch {
	case err != nil:
		u.log.Warn("conference state not applied", "err", err)
	case res == confinfo.Gap:
		go c.refresh()
	case res == confinfo.Applied, res == confinfo.Replaced, res == confinfo.Deleted:
		if onChange != nil {
			onChange()
		}
	}
}

func (u *sipUA) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := u.callOf(req)
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	_ = c.dlg.ReadBye(req, tx)
	reason := "the focus hung up"
	if h := req.GetHeader("Reason"); h != nil {
		reason += " (" + h.Value() + ")"
	}
	c.end(reason)
}

// end releases the call's resources once and reports why it ended.
func (c *sipCall) end(reason string) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	onEnd := c.onEnd
	c.mu.Unlock()
	c.u.mu.Lock()
	delete(c.u.calls, c.callID)
	c.u.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
	_ = c.media.close()
	c.dlg.Close()
	if onEnd != nil && reason != "" {
		onEnd(reason)
	}
}

// hangup sends BYE (bounded) and ends the call.
func (c *sipCall) hangup() {
	c.mu.Lock()
	ended := c.ended
	c.mu.Unlock()
	if ended {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), sipRequestTimeout)
	defer cancel()
	_ = c.dlg.Bye(ctx)
	c.end("")
}

// setHold sends a re-INVITE offering sendonly (hold) or sendrecv.
func (c *sipCall) setHold(ctx context.Context, hold bool) error {
	dir := "sendrecv"
	if hold {
		dir = "sendonly"
	}
	c.mu.Lock()
	c.version++
	v := c.version
	c.mu.Unlock()
	offer, err := offerSDP(c.u.local.Addr(), c.media.Port(), v, dir)
	if err != nil {
		return err
	}
	req := sip.NewRequest(sip.INVITE, *c.dlg.InviteResponse.Contact().Address.Clone())
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	req.SetDestination(c.dlg.InviteRequest.Destination())
	ctx, cancel := context.WithTimeout(ctx, sipRequestTimeout)
	defer cancel()
	res, err := c.dlg.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("re-INVITE: %w", err)
	}
	ack := sip.NewRequest(sip.ACK, *c.dlg.InviteResponse.Contact().Address.Clone())
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: req.CSeq().SeqNo, MethodName: sip.ACK})
	ack.SetDestination(c.dlg.InviteRequest.Destination())
	if res.IsSuccess() {
		if err := c.dlg.WriteRequest(ack); err != nil {
			return fmt.Errorf("ACK: %w", err)
		}
		c.media.setHold(hold)
		return nil
	}
	return fmt.Errorf("the focus refused the re-INVITE: %d %s", res.StatusCode, res.Reason)
}
