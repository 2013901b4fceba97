package sipua

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Subscription is a subscription dialog seen from the subscriber: one made
// by SUBSCRIBE (RFC 6665) or the implicit one of a REFER (RFC 3515). It
// answers the NOTIFYs (200 unless told otherwise) and queues them.
type Subscription struct {
	u *UA
	// Request is the dialog-creating request as last sent.
	Request *sip.Request
	// Response is the final response to the last SUBSCRIBE or REFER.
	Response *sip.Response

	notifies chan *sip.Request

	mu           sync.Mutex
	call         *Call // set for a subscription inside a call's dialog
	localTag     string
	remoteTag    string
	remoteTarget sip.Uri
	cseq         uint32
	event        string
	answer       int           // status for NOTIFYs; 200 by default
	delay        time.Duration // before answering a NOTIFY
}

// NotifyQueue is how many unread NOTIFYs a subscription keeps; more are
// answered but dropped.
const NotifyQueue = 4096

// SetNotifyAnswer makes the subscription answer later NOTIFYs with code
// (e.g. 481 to end it from the subscriber's side); 0 restores 200.
func (s *Subscription) SetNotifyAnswer(code int) {
	s.mu.Lock()
	s.answer = code
	s.mu.Unlock()
}

// SetNotifyDelay makes the subscription wait d before it answers each
// later NOTIFY (a slow subscriber); 0 answers at once.
func (s *Subscription) SetNotifyDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

func (s *Subscription) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	s.mu.Lock()
	code, delay := s.answer, s.delay
	if code == 0 {
		code = 200
	}
	if s.remoteTag == "" && req.From() != nil {
		// The NOTIFY may overtake the 2xx (RFC 6665 §4.1.2.4).
		s.remoteTag, _ = req.From().Params.Get("tag")
		if ct := req.Contact(); ct != nil {
			s.remoteTarget = *ct.Address.Clone()
		}
	}
	s.mu.Unlock()
	// Queue before answering: the notifier sends the next NOTIFY only
	// after this answer, so the queue keeps their order.
	if code < 300 {
		select {
		case s.notifies <- req:
		default:
		}
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, code, reasonOf(code), nil))
}

// NextNotify returns the next NOTIFY received (already answered).
func (s *Subscription) NextNotify(ctx context.Context) (*sip.Request, error) {
	select {
	case r := <-s.notifies:
		return r, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("sipua: no NOTIFY: %w", ctx.Err())
	}
}

// Pending returns the NOTIFYs received and not read yet, without waiting.
func (s *Subscription) Pending() []*sip.Request {
	var out []*sip.Request
	for {
		select {
		case r := <-s.notifies:
			out = append(out, r)
		default:
			return out
		}
	}
}

// CallID is the subscription dialog's Call-ID.
func (s *Subscription) CallID() string { return callID(s.Request) }

func (s *Subscription) setFinal(res *sip.Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Response = res
	if !res.IsSuccess() {
		return
	}
	if to := res.To(); to != nil {
		if t, ok := to.Params.Get("tag"); ok {
			s.remoteTag = t
		}
	}
	if ct := res.Contact(); ct != nil {
		s.remoteTarget = *ct.Address.Clone()
	}
}

// Subscribe sends SUBSCRIBE for event to target outside any dialog, with
// Expires (a negative value leaves the header out) and
// Accept: application/conference-info+xml unless an option replaces it,
// and returns once the final response arrived (check Response).
func (u *UA) Subscribe(ctx context.Context, target sip.Uri, event string, expires int, opts ...Option) (*Subscription, error) {
	req := sip.NewRequest(sip.SUBSCRIBE, target)
	tag := sip.GenerateTagN(12)
	from := &sip.FromHeader{DisplayName: u.cfg.DisplayName, Address: sip.Uri{Scheme: "sip", User: u.cfg.User, Host: u.cfg.Domain}, Params: sip.NewParams()}
	from.Params.Add("tag", tag)
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: target.User, Host: target.Host}, Params: sip.NewParams()}
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(u.Contact())
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.SUBSCRIBE})
	req.AppendHeader(sip.NewHeader("Event", event))
	if expires >= 0 {
		req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	}
	req.AppendHeader(sip.NewHeader("Accept", "application/conference-info+xml"))
	req.SetDestination(dest(target))
	for _, o := range opts {
		o(req)
	}
	s := u.newSubscription(req, tag, event)
	res, err := u.cli.Do(ctx, req)
	if err != nil {
		return s, err
	}
	s.setFinal(res)
	return s, nil
}

func (u *UA) newSubscription(req *sip.Request, tag, event string) *Subscription {
	if req.CallID() == nil {
		cid := sip.CallIDHeader(sip.GenerateTagN(20))
		req.AppendHeader(&cid)
	}
	s := &Subscription{u: u, Request: req, localTag: tag, cseq: req.CSeq().SeqNo, event: event,
		notifies: make(chan *sip.Request, NotifyQueue)}
	u.mu.Lock()
	u.subs[subIndex(callID(req), event)] = s
	u.mu.Unlock()
	return s
}

// subIndex keys subscriptions by dialog and event package (a call's
// dialog may carry a conference and a refer subscription at once).
func subIndex(callID, event string) string {
	pkg, _, _ := strings.Cut(event, ";")
	return callID + "|" + strings.ToLower(strings.TrimSpace(pkg))
}

// Refresh sends a SUBSCRIBE in the subscription's dialog with Expires
// (0 unsubscribes) and returns its final response.
func (s *Subscription) Refresh(ctx context.Context, expires int) (*sip.Response, error) {
	var req *sip.Request
	if s.call != nil {
		req = s.call.request(sip.SUBSCRIBE, true)
	} else {
		req = s.request(sip.SUBSCRIBE)
	}
	req.AppendHeader(sip.NewHeader("Event", s.event))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	req.AppendHeader(sip.NewHeader("Accept", "application/conference-info+xml"))
	req.SetBody(nil)
	res, err := s.u.cli.Do(ctx, req, sipgo.ClientRequestAddVia)
	if err == nil {
		s.setFinal(res)
	}
	return res, err
}

// request builds the next in-dialog request of a standalone subscription.
func (s *Subscription) request(method sip.RequestMethod) *sip.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cseq++
	req := sip.NewRequest(method, *s.remoteTarget.Clone())
	from := sip.HeaderClone(s.Request.From()).(*sip.FromHeader)
	to := sip.HeaderClone(s.Request.To()).(*sip.ToHeader)
	to.Params = sip.NewParams()
	to.Params.Add("tag", s.remoteTag)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(sip.HeaderClone(s.Request.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: s.cseq, MethodName: method})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	req.AppendHeader(s.u.Contact())
	req.SetTransport(s.Request.Transport())
	req.SetDestination(s.Request.Destination())
	req.Laddr = s.Request.Laddr
	return req
}

// Subscribe sends a SUBSCRIBE for event inside the call's dialog (dialog
// reuse); NOTIFYs of the call's dialog then go to the subscription.
func (c *Call) Subscribe(ctx context.Context, event string, expires int) (*Subscription, error) {
	req := c.request(sip.SUBSCRIBE, true)
	req.AppendHeader(sip.NewHeader("Event", event))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	req.AppendHeader(sip.NewHeader("Accept", "application/conference-info+xml"))
	req.SetBody(nil)
	s := &Subscription{u: c.u, Request: req, call: c, event: event, notifies: make(chan *sip.Request, NotifyQueue)}
	c.u.mu.Lock()
	c.u.subs[subIndex(c.CallID(), event)] = s
	c.u.mu.Unlock()
	res, err := c.u.cli.Do(ctx, req, sipgo.ClientRequestAddVia)
	if err != nil {
		return s, err
	}
	s.setFinal(res)
	return s, nil
}

// Credentials are a digest user and password for requests the focus
// challenges.
type Credentials struct {
	User, Password string
}

// Refer sends REFER to target outside any dialog with one Refer-To per
// referTo value, answering a 401 with creds (when not nil), and returns
// the implicit subscription (Response is the final response).
func (u *UA) Refer(ctx context.Context, target sip.Uri, referTo []string, creds *Credentials, opts ...Option) (*Subscription, error) {
	req := sip.NewRequest(sip.REFER, target)
	tag := sip.GenerateTagN(12)
	from := &sip.FromHeader{DisplayName: u.cfg.DisplayName, Address: sip.Uri{Scheme: "sip", User: u.cfg.User, Host: u.cfg.Domain}, Params: sip.NewParams()}
	from.Params.Add("tag", tag)
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: target.User, Host: target.Host}, Params: sip.NewParams()}
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(u.Contact())
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.REFER})
	for _, r := range referTo {
		req.AppendHeader(sip.NewHeader("Refer-To", r))
	}
	req.SetDestination(dest(target))
	for _, o := range opts {
		o(req)
	}
	s := u.newSubscription(req, tag, "refer")
	res, err := u.doAuth(ctx, req, creds, sipgo.ClientRequestBuild)
	if err != nil {
		return s, err
	}
	s.setFinal(res)
	return s, nil
}

// Refer sends REFER inside the call's dialog (answering a 401 with creds)
// and returns the implicit subscription, which shares the call's dialog.
func (c *Call) Refer(ctx context.Context, referTo []string, creds *Credentials) (*Subscription, error) {
	req := c.request(sip.REFER, true)
	for _, r := range referTo {
		req.AppendHeader(sip.NewHeader("Refer-To", r))
	}
	req.SetBody(nil)
	s := &Subscription{u: c.u, Request: req, call: c, event: "refer", notifies: make(chan *sip.Request, NotifyQueue)}
	c.u.mu.Lock()
	c.u.subs[subIndex(c.CallID(), "refer")] = s
	c.u.mu.Unlock()
	res, err := c.u.doAuth(ctx, req, creds, sipgo.ClientRequestAddVia)
	c.mu.Lock()
	c.cseq = max(c.cseq, req.CSeq().SeqNo)
	c.mu.Unlock()
	if err != nil {
		return s, err
	}
	s.setFinal(res)
	return s, nil
}

// doAuth sends req and, on 401 with creds, once more with credentials.
func (u *UA) doAuth(ctx context.Context, req *sip.Request, creds *Credentials, build sipgo.ClientRequestOption) (*sip.Response, error) {
	res, err := u.cli.Do(ctx, req, build)
	if err != nil || res.StatusCode != 401 || creds == nil {
		return res, err
	}
	return u.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: creds.User, Password: creds.Password})
}

// OnInvite makes the UA answer INVITEs that start a call (from a focus
// dialing out): answer returns the final status and, for 2xx, the SDP
// answer. Without a handler such INVITEs get 480. Answered calls are
// returned by Incoming.
func (u *UA) OnInvite(answer func(req *sip.Request) (int, []byte)) {
	u.mu.Lock()
	u.incoming = answer
	u.mu.Unlock()
}

// Incoming returns the call the far end placed with Call-ID id, once
// answered with 2xx.
func (u *UA) Incoming(id string) *Call {
	u.mu.Lock()
	defer u.mu.Unlock()
	if c := u.calls[id]; c != nil && c.uas {
		return c
	}
	return nil
}

func (u *UA) onIncoming(req *sip.Request, tx sip.ServerTransaction) {
	u.mu.Lock()
	answer := u.incoming
	u.mu.Unlock()
	if answer == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 480, "Temporarily Unavailable", nil))
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 180, "Ringing", nil))
	code, body := answer(req)
	res := sip.NewResponseFromRequest(req, code, reasonOf(code), body)
	if code < 200 || code >= 300 {
		_ = tx.Respond(res)
		return
	}
	tag, _ := res.To().Params.Get("tag")
	res.AppendHeader(u.Contact())
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	c := &Call{u: u, Invite: req, Response: res, uas: true, localTag: tag, cseq: 1, requests: make(chan *sip.Request, 16)}
	c.remoteTag, _ = req.From().Params.Get("tag")
	if ct := req.Contact(); ct != nil {
		c.remoteTarget = *ct.Address.Clone()
	}
	rrs := req.GetHeaders("Record-Route")
	for _, rr := range rrs {
		c.routes = append(c.routes, rr.Value())
	}
	u.mu.Lock()
	u.calls[callID(req)] = c
	u.mu.Unlock()
	_ = tx.Respond(res)
}

// SubscriptionState is a parsed Subscription-State header (RFC 6665
// §8.2.3).
type SubscriptionState struct {
	State      string // "active", "pending", "terminated" (lower case)
	Reason     string // for terminated
	Expires    int    // -1 when absent
	RetryAfter int    // -1 when absent
}

// ParseSubscriptionState reads a Subscription-State value such as
// "active;expires=3600" or "terminated;reason=noresource".
func ParseSubscriptionState(v string) (SubscriptionState, error) {
	if len(v) > 1024 {
		return SubscriptionState{}, errors.New("sipua: Subscription-State too long")
	}
	parts := strings.Split(v, ";")
	st := SubscriptionState{State: strings.ToLower(strings.TrimSpace(parts[0])), Expires: -1, RetryAfter: -1}
	switch st.State {
	case "active", "pending", "terminated":
	default:
		if st.State == "" || strings.ContainsAny(st.State, " \t,=\"") {
			return SubscriptionState{}, fmt.Errorf("sipua: Subscription-State %q", v)
		}
		// extension state: kept as is
	}
	for _, p := range parts[1:] {
		name, val, _ := strings.Cut(p, "=")
		name, val = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(val)
		switch name {
		case "reason":
			st.Reason = strings.ToLower(val)
		case "expires", "retry-after":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return SubscriptionState{}, fmt.Errorf("sipua: Subscription-State %s %q", name, val)
			}
			if name == "expires" {
				st.Expires = n
			} else {
				st.RetryAfter = n
			}
		}
	}
	return st, nil
}

// State returns a NOTIFY's parsed Subscription-State.
func State(notify *sip.Request) (SubscriptionState, error) {
	h := notify.GetHeader("Subscription-State")
	if h == nil {
		return SubscriptionState{}, errors.New("sipua: NOTIFY without Subscription-State")
	}
	return ParseSubscriptionState(h.Value())
}

// reasonOf is a reason phrase for the status codes tests answer with.
func reasonOf(code int) string {
	switch code {
	case 200:
		return "OK"
	case 404:
		return "Not Found"
	case 408:
		return "Request Timeout"
	case 480:
		return "Temporarily Unavailable"
	case 481:
		return "Call/Transaction Does Not Exist"
	case 486:
		return "Busy Here"
	case 488:
		return "Not Acceptable Here"
	case 500:
		return "Server Internal Error"
	case 503:
		return "Service Unavailable"
	case 603:
		return "Decline"
	}
	return "Status " + strconv.Itoa(code)
}
