package focus

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/mixer"
)

// cancelWait bounds the wait for the final response after the focus
// cancels a dial-out INVITE, the CANCEL's own transaction included (and
// both by ShutdownTimeout).
const cancelWait = 4 * time.Second

// dialOut calls target into room (RFC 4579 §5.5, REFER without method): a
// mixer leg first, then an INVITE from the conference URI with the isfocus
// Contact and an SDP offer; provisional 180/183 are reported to the
// referrer. On 2xx the focus ACKs, applies the answer and the callee joins
// with joining-method dialed-out; the call is then like any other (BYE,
// re-INVITE, kick). An INVITE unanswered after DialTimeout (or at
// shutdown) is canceled. It returns the status for the final refer NOTIFY:
// 200, or the failure (the callee's final status, 408 on timeout, 488 for
// an unusable answer, the core's refusal of the join).
func (f *Focus) dialOut(room string, target sip.Uri, rep *referReport) (int, string) {
	log := f.log.With("room", room, "target", target.String())
	if f.stopping() {
		return 503, "Service Unavailable"
	}
	leg, err := f.media.Allocate()
	if err != nil {
		log.Warn("dial-out: no RTP port", "err", err)
		return 503, "Service Unavailable"
	}
	local := localMedia{Addr: f.advertise, Port: leg.Port(), SessionID: rand.Uint64() >> 2, Version: 1}
	transport := "UDP"
	if v, ok := target.UriParams.Get("transport"); ok && strings.EqualFold(v, "tcp") {
		transport = "TCP"
	}
	d := &dialog{
		key:          dialogKey{callID: sip.GenerateTagN(24) + "@" + f.advertise.String(), localTag: sip.GenerateTagN(16)},
		local:        sip.Uri{Scheme: "sip", User: room, Host: f.cfg.Domain},
		remote:       sip.Uri{Scheme: target.Scheme, User: target.User, Host: target.Host, Port: target.Port},
		transport:    transport,
		contact:      f.contact(room, transport),
		remoteTarget: *target.Clone(),
		source:       uriDest(target, transport),
		localSeq:     1,
	}
	d.mu.Lock()
	inv := d.build(sip.INVITE, 1)
	d.mu.Unlock()
	inv.AppendHeader(sip.NewHeader("Allow", strings.Join(f.allow, ", ")))
	inv.AppendHeader(sip.NewHeader("Supported", strings.Join(supported, ", ")))
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody(createOffer(local, mixer.SendRecv))
	f.prepare(inv)

	res, canceled := f.invite(inv, rep, log)
	if res == nil || !res.IsSuccess() {
		_ = leg.Close()
		switch {
		case res == nil || canceled:
			log.Info("dial-out unanswered")
			return 408, "Request Timeout"
		default:
			log.Info("dial-out refused", "status", res.StatusCode)
			return res.StatusCode, headerSafe(res.Reason)
		}
	}
	// 2xx: the dialog is confirmed by our ACK (RFC 3261 §13.2.2.4). The
	// response comes from the network: sipgo matched it by Via and CSeq
	// only, so To (and anything else) may be missing.
	d.mu.Lock()
	name := target.User
	if to := res.To(); to != nil {
		d.key.remoteTag, _ = to.Params.Get("tag")
		if to.DisplayName != "" {
			name = to.DisplayName
		}
	}
	if ct := res.Contact(); ct != nil && ct.Address.Host != "" {
		d.remoteTarget = *ct.Address.Clone()
	}
	rrs := res.GetHeaders("Record-Route")
	for i := len(rrs) - 1; i >= 0; i-- { // UAC: reverse order
		d.routeSet = append(d.routeSet, rrs[i].Value())
	}
	if src := res.Source(); src != "" {
		d.source = src
	}
	d.mu.Unlock()
	ack := d.ack(1)
	f.prepare(ack)
	if err := f.cli.WriteRequest(ack, sipgo.ClientRequestBuild); err != nil {
		log.Warn("dial-out: ACK not sent", "err", err)
	}
	f.acks.put(d.key.callID, ack)

	drop := func(code int, reason, why string) (int, string) {
		log.Info("dial-out answered but dropped", "why", why)
		ctx, cancel := context.WithTimeout(f.detached(), byeTimeout)
		defer cancel()
		_, _ = f.do(ctx, d.request(sip.BYE))
		_ = leg.Close()
		return code, reason
	}
	if canceled {
		return drop(408, "Request Timeout", "answered after CANCEL")
	}
	if d.key.remoteTag == "" {
		return drop(502, "Bad Gateway", "2xx without To-tag")
	}
	n, err := acceptAnswer(res.Body(), local)
	if err != nil {
		return drop(488, "Not Acceptable Here", "answer: "+err.Error())
	}
	ctx, cancel := f.coreCtx()
	callee := aor(target)
	joined, err := f.reg.Join(ctx, room, conference.JoinRequest{DisplayName: name, AOR: callee, Origin: conference.OriginSIP,
		Audio: &conference.Audio{AOR: callee, Endpoint: d.remoteTarget.Addr(), CallID: d.key.callID, LocalTag: d.key.localTag,
			RemoteTag: d.key.remoteTag, JoiningMethod: "dialed-out", Codec: n.Codec.Name, OnHold: n.OnHold()}})
	cancel()
	if err != nil {
		code, reason := joinStatus(err)
		return drop(code, reason, "join: "+err.Error())
	}
	c := newCall(d, room, joined.Participant.ID, leg, local)
	c.established = true
	c.acked() // the focus sent the ACK itself
	leg.SetMuted(joined.Participant.Muted)
	if err := f.applyMedia(c, n); err != nil {
		f.hangupNow(c, conference.Failed)
		return 500, "Server Internal Error"
	}
	if !f.calls.add(c) {
		f.hangupNow(c, conference.Departed)
		return 503, "Service Unavailable"
	}
	if !f.syncMute(c) {
		f.hangupNow(c, conference.Departed) // removed between Join and now
		return 480, "Temporarily Unavailable"
	}
	c.resetClock()
	log.Info("dial-out call established", "call-id", d.key.callID, "participant", c.pid, "codec", n.Codec.Name)
	return 200, "OK"
}

// invite runs the dial-out INVITE transaction until its final response,
// reporting 180/183 to the referrer; it cancels the INVITE after
// DialTimeout or at shutdown. res is nil when no final response came;
// canceled says a CANCEL was sent.
func (f *Focus) invite(inv *sip.Request, rep *referReport, log *slog.Logger) (res *sip.Response, canceled bool) {
	ctx, stop := context.WithCancel(f.detached()) // shutdown CANCELs it, below
	defer stop()
	tx, err := f.cli.TransactionRequest(ctx, inv, sipgo.ClientRequestBuild)
	if err != nil {
		log.Info("dial-out INVITE not sent", "err", err)
		return nil, false
	}
	defer tx.Terminate()
	timer := time.NewTimer(f.cfg.DialTimeout)
	defer timer.Stop()
	stopping := f.life.Done()
	reported := map[int]bool{}
	cancel := func() {
		if !canceled {
			canceled = true
			// The CANCEL runs here, not on a goroutine of its own, so
			// that it is over when the REFER's handler is (shutdown
			// waits for handlers before it closes the SIP stack). The
			// INVITE's responses wait in its transaction meanwhile.
			wait := min(cancelWait, f.cfg.ShutdownTimeout)
			deadline := time.Now().Add(wait)
			f.cancelInvite(inv, wait)
			timer.Reset(max(time.Until(deadline), 0))
		}
	}
	for {
		select {
		case r := <-tx.Responses():
			if r.IsProvisional() {
				if (r.StatusCode == 180 || r.StatusCode == 183) && !reported[r.StatusCode] {
					reported[r.StatusCode] = true
					f.report(rep, r.StatusCode, headerSafe(r.Reason), false)
				}
				continue
			}
			return r, canceled
		case <-tx.Done():
			if err := tx.Err(); err != nil && !errors.Is(err, context.Canceled) {
				log.Info("dial-out INVITE transaction failed", "err", err)
			}
			return nil, canceled
		case <-timer.C:
			if canceled {
				return nil, true
			}
			cancel()
		case <-stopping:
			stopping = nil
			cancel()
		}
	}
}

// cancelInvite sends CANCEL for a pending INVITE (RFC 3261 §9.1): same
// Request-URI, top Via, From, To, Call-ID and CSeq number. It waits at
// most wait for the CANCEL's answer.
func (f *Focus) cancelInvite(inv *sip.Request, wait time.Duration) {
	req := sip.NewRequest(sip.CANCEL, inv.Recipient)
	req.AppendHeader(sip.HeaderClone(inv.Via()))
	req.AppendHeader(sip.HeaderClone(inv.From()))
	req.AppendHeader(sip.HeaderClone(inv.To()))
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	req.SetBody(nil)
	req.SetTransport(inv.Transport())
	req.SetDestination(inv.Destination())
	req.Laddr = inv.Laddr
	ctx, cancel := context.WithTimeout(f.detached(), wait)
	defer cancel()
	if _, err := f.cli.Do(ctx, req, func(*sipgo.Client, *sip.Request) error { return nil }); err != nil {
		f.log.Debug("CANCEL got no answer", "call-id", callID(inv), "err", err)
	}
}

// uriDest is the host:port a request to u goes to (no DNS SRV/NAPTR: the
// URI's host and port, else the transport's default port).
func uriDest(u sip.Uri, transport string) string {
	port := u.Port
	if port == 0 {
		port = sip.DefaultPort(transport)
	}
	return net.JoinHostPort(strings.Trim(u.Host, "[]"), strconv.Itoa(port))
}

// ackCache keeps the ACKs of dial-out calls for a while, so that a 2xx
// retransmitted after the INVITE transaction ended is acknowledged again
// (RFC 3261 §13.2.2.4; sipgo leaves this to the transaction user).
type ackCache struct {
	mu   sync.Mutex
	acks map[string]*sip.Request // by Call-ID
}

// ackKeep is how long an ACK is kept: until the callee stops
// retransmitting its 2xx (64*T1).
const ackKeep = 32 * time.Second

func newAckCache() *ackCache { return &ackCache{acks: map[string]*sip.Request{}} }

func (a *ackCache) put(callID string, ack *sip.Request) {
	a.mu.Lock()
	a.acks[callID] = ack.Clone()
	a.mu.Unlock()
	time.AfterFunc(ackKeep, func() {
		a.mu.Lock()
		delete(a.acks, callID)
		a.mu.Unlock()
	})
}

func (a *ackCache) get(callID string) *sip.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ack := a.acks[callID]; ack != nil {
		return ack.Clone()
	}
	return nil
}

// onUnmatchedResponse sees responses no transaction wants: a retransmitted
// 2xx to a dial-out INVITE gets its ACK again; others are logged.
func (f *Focus) onUnmatchedResponse(r *sip.Response) {
	if cseq := r.CSeq(); cseq != nil && cseq.MethodName == sip.INVITE && r.IsSuccess() {
		if ack := f.acks.get(callID(r)); ack != nil {
			f.prepare(ack)
			if err := f.cli.WriteRequest(ack); err != nil {
				f.log.Debug("re-ACK failed", "call-id", callID(r), "err", err)
			}
			return
		}
	}
	f.log.Debug("unmatched SIP response", "response", r.StartLine(), "call-id", callID(r))
}
