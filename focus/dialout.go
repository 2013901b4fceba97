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
	"cusax.dev/bridge/metrics"
	"cusax.dev/bridge/mixer"
)

// DefaultMaxDialOuts is Config.MaxDialOuts' default.
const DefaultMaxDialOuts = 16

// dialOut calls target into room (RFC 4579 §5.5, REFER without method): a
// mixer leg first, then an INVITE from the conference URI with the isfocus
// Contact and an SDP offer; provisional 180/183 are reported to the
// referrer. On 2xx the focus ACKs, applies the answer and the callee joins
// with joining-method dialed-out; the call is then like any other (BYE,
// re-INVITE, kick). An INVITE unanswered after DialTimeout (or at
// shutdown) is canceled. It returns the status for the final refer NOTIFY:
// 200, or the failure (the callee's final status, 408 on timeout, 488 for
// an unusable answer, the core's refusal of the join).
//
// The INVITE transaction is sipgo's dialog client (DialogClientSession):
// WaitAnswer sends the CANCEL when its context ends (after a provisional
// response, as RFC 3261 §9.1 asks, and waits for the 487 by the RFC's
// timers), Ack sends the ACK and re-sends it for every retransmitted 2xx
// while the transaction lasts (RFC 6026). The established call is the
// focus's own dialog, built from the 2xx, like every other call.
func (f *Focus) dialOut(room string, target sip.Uri, rep *referReport) (int, string) {
	log := f.log.With("room", room, "target", target.String())
	if f.stopping() {
		return 503, "Service Unavailable"
	}
	select {
	case f.dialing <- struct{}{}:
	default:
		log.Warn("dial-out refused: too many unanswered", "max", cap(f.dialing))
		f.m.Refuse(metrics.RefuseDialOutLimit)
		return 503, "Service Unavailable"
	}
	leg, err := f.media.Allocate()
	if err != nil {
		<-f.dialing
		log.Warn("dial-out: no RTP port", "err", err)
		return 503, "Service Unavailable"
	}
	local := localMedia{Addr: f.advertise, Port: leg.Port(), SessionID: rand.Uint64() >> 2, Version: 1,
		SRTP: f.cfg.SRTP, SRTPKey: newSRTPKey(f.cfg.SRTP)}
	d := f.dialOutDialog(room, target)
	res, canceled := f.inviteOut(d, createOffer(local, mixer.SendRecv), rep, log)
	<-f.dialing // answered or given up: the call is an ordinary one now
	if res == nil || !res.IsSuccess() {
		_ = leg.Close()
		if canceled {
			f.abandoned.add(d, time.Now())
		}
		switch {
		case res == nil || canceled:
			log.Info("dial-out unanswered")
			return 408, "Request Timeout"
		default:
			log.Info("dial-out refused", "status", res.StatusCode)
			return res.StatusCode, headerSafe(res.Reason)
		}
	}
	name := d.confirmedBy(res, target.User)

	drop := func(code int, reason, why string) (int, string) {
		log.Info("dial-out answered but dropped", "why", why)
		ctx, cancel := context.WithTimeout(f.detached(), byeTimeout)
		defer cancel()
		_, _ = f.do(ctx, d.request(sip.BYE))
		_ = leg.Close()
		return code, reason
	}
	switch {
	case canceled:
		return drop(408, "Request Timeout", "answered after CANCEL")
	case d.key.remoteTag == "":
		return drop(502, "Bad Gateway", "2xx without To-tag")
	}
	n, err := acceptAnswer(res.Body(), local)
	if err != nil {
		return drop(488, "Not Acceptable Here", "answer: "+err.Error())
	}
	joined, err := f.joinDialedOut(room, target, name, d, n)
	if err != nil {
		code, reason := joinStatus(err)
		return drop(code, reason, "join: "+err.Error())
	}
	c := newCall(d, room, joined.Participant.ID, leg, local)
	c.established = true
	c.acked() // the focus sent the ACK itself
	leg.SetMuted(joined.Participant.Muted)
	if code, reason := f.startDialedOut(c, n); code != 200 {
		return code, reason
	}
	log.Info("dial-out call established", "call-id", d.key.callID, "participant", c.pid, "codec", n.Codec.Name)
	return 200, "OK"
}

// dialOutDialog is the focus's dialog for a call to target from room,
// before the callee's answer (no remote tag yet).
func (f *Focus) dialOutDialog(room string, target sip.Uri) *dialog {
	transport := "UDP"
	if v, ok := target.UriParams.Get("transport"); ok && strings.EqualFold(v, "tcp") {
		transport = "TCP"
	}
	return &dialog{
		key:          dialogKey{callID: sip.GenerateTagN(24) + "@" + f.advertise.String(), localTag: sip.GenerateTagN(16)},
		local:        sip.Uri{Scheme: "sip", User: room, Host: f.cfg.Domain},
		remote:       sip.Uri{Scheme: target.Scheme, User: target.User, Host: target.Host, Port: target.Port},
		transport:    transport,
		contact:      f.contact(room, transport),
		remoteTarget: *target.Clone(),
		source:       uriDest(target, transport),
		localSeq:     1,
	}
}

// inviteOut sends the dial-out INVITE with offer on sipgo's dialog client
// and waits for its final response, reporting 180/183 to the referrer. The
// wait ends after DialTimeout or at shutdown: WaitAnswer then cancels the
// INVITE. A 2xx is acknowledged (also when it crossed the CANCEL). res is
// the last response seen (nil when none came); canceled says the wait
// ended by timeout or shutdown.
func (f *Focus) inviteOut(d *dialog, offer []byte, rep *referReport, log *slog.Logger) (res *sip.Response, canceled bool) {
	d.mu.Lock()
	inv := d.build(sip.INVITE, 1)
	d.mu.Unlock()
	inv.AppendHeader(sip.NewHeader("Allow", strings.Join(f.allow, ", ")))
	inv.AppendHeader(sip.NewHeader("Supported", strings.Join(supported, ", ")))
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody(offer)
	f.prepare(inv)

	ctx, cancel := context.WithTimeout(f.life, f.cfg.DialTimeout)
	defer cancel()
	// RewriteContact: with no Record-Route, the ACK goes where the 2xx
	// came from, like every request of the focus's own dialogs.
	ua := &sipgo.DialogUA{Client: f.cli, ContactHDR: *d.contact, RewriteContact: true}
	sess, err := ua.WriteInvite(ctx, inv, sipgo.ClientRequestBuild)
	if err != nil {
		log.Info("dial-out INVITE not sent", "err", err)
		return nil, false
	}
	defer sess.Close()
	reported := map[int]bool{}
	for {
		seen := 0
		err = sess.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(r *sip.Response) error {
			seen++
			if r != nil && (r.StatusCode == 180 || r.StatusCode == 183) && !reported[r.StatusCode] {
				reported[r.StatusCode] = true
				f.report(rep, r.StatusCode, headerSafe(r.Reason), false)
			}
			return nil
		}})
		// WaitAnswer gives up after ten responses without a final one;
		// a callee that keeps ringing is waited for until DialTimeout.
		if err != nil && seen > 10 && ctx.Err() == nil && sess.InviteResponse != nil && sess.InviteResponse.IsProvisional() {
			continue
		}
		break
	}
	res, canceled = sess.InviteResponse, ctx.Err() != nil
	var refused *sipgo.ErrDialogResponse
	switch {
	case res != nil && res.IsSuccess():
		if err := sess.Ack(f.detached()); err != nil {
			log.Warn("dial-out: ACK not sent", "err", err)
		}
	case canceled:
		log.Info("dial-out INVITE canceled", "err", err)
	case errors.As(err, &refused):
	case err != nil:
		log.Info("dial-out INVITE transaction failed", "err", err)
	}
	return res, canceled
}

// confirmedBy completes d with the callee's 2xx (RFC 3261 §12.1.2): the
// remote tag, the remote target, the route set and where the callee's
// signalling comes from. It returns the callee's display name (or name).
// The response comes from the network: sipgo matched it by Via and CSeq
// only, so To (and anything else) may be missing.
func (d *dialog) confirmedBy(res *sip.Response, name string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
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
	return name
}

// joinDialedOut has the callee of d join room as dialed-out.
func (f *Focus) joinDialedOut(room string, target sip.Uri, name string, d *dialog, n negotiated) (conference.JoinResult, error) {
	ctx, cancel := f.coreCtx()
	defer cancel()
	callee := aor(target)
	return f.reg.Join(ctx, room, conference.JoinRequest{DisplayName: name, AOR: callee, Origin: conference.OriginSIP,
		Audio: &conference.Audio{AOR: callee, Endpoint: d.remoteTarget.Addr(), CallID: d.key.callID, LocalTag: d.key.localTag,
			RemoteTag: d.key.remoteTag, JoiningMethod: "dialed-out", Codec: n.Codec.Name, OnHold: n.OnHold()}})
}

// startDialedOut puts a joined dial-out call into force: media, the call
// table, the mute the core has for it. On failure the call is hung up and
// the status for the referrer returned; 200 otherwise.
func (f *Focus) startDialedOut(c *call, n negotiated) (int, string) {
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
	return 200, "OK"
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

// onUnmatchedResponse sees responses no transaction wants. A 2xx to a
// dial-out INVITE the focus canceled (the answer crossed a CANCEL that the
// callee refused, and the INVITE transaction is gone) is acknowledged and
// the call hung up (hangUpLateAnswer); others are logged. A 2xx
// retransmitted to an established dial-out is re-acknowledged by its
// transaction (see inviteOut).
func (f *Focus) onUnmatchedResponse(r *sip.Response) {
	if cseq := r.CSeq(); cseq != nil && cseq.MethodName == sip.INVITE && r.IsSuccess() {
		if d, first := f.abandoned.answered(r, time.Now()); d != nil {
			f.hangUpLateAnswer(d, r, first)
			return
		}
	}
	f.log.Debug("unmatched SIP response", "response", r.StartLine(), "call-id", callID(r))
}

// hangUpLateAnswer acknowledges a 2xx to an abandoned dial-out and, the
// first time, ends the call it confirmed with a BYE (on a goroutine counted
// with the handlers, which shutdown waits for).
func (f *Focus) hangUpLateAnswer(d *dialog, r *sip.Response, first bool) {
	d.mu.Lock()
	ack := d.build(sip.ACK, 1)
	d.mu.Unlock()
	f.prepare(ack)
	if err := f.cli.WriteRequest(ack, sipgo.ClientRequestBuild); err != nil {
		f.log.Debug("ACK of a late answer not sent", "call-id", d.key.callID, "err", err)
	}
	if !first || !f.enter() {
		return
	}
	go func() {
		defer f.handlers.Done()
		f.safely("BYE after a late answer", func() {
			f.log.Info("dial-out answered after it was canceled; hanging up", "call-id", d.key.callID)
			ctx, cancel := context.WithTimeout(f.detached(), byeTimeout)
			defer cancel()
			_, _ = f.do(ctx, d.request(sip.BYE))
		})
	}()
}

// abandonedKeep is how long a canceled dial-out's 2xx is still answered:
// as long as a callee retransmits a 2xx (64*T1).
const abandonedKeep = 32 * time.Second

// abandonedDialOuts remembers the dial-outs the focus canceled without an
// answer, for abandonedKeep, by Call-ID. Expired entries are dropped when
// a new one is added, so it holds no more than the dial-outs of that
// window. It is safe for concurrent use.
type abandonedDialOuts struct {
	mu sync.Mutex
	m  map[string]*abandonedDialOut
}

type abandonedDialOut struct {
	d        *dialog
	until    time.Time
	answered bool
}

func (a *abandonedDialOuts) add(d *dialog, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]*abandonedDialOut{}
	}
	for id, e := range a.m {
		if now.After(e.until) {
			delete(a.m, id)
		}
	}
	a.m[d.key.callID] = &abandonedDialOut{d: d, until: now.Add(abandonedKeep)}
}

// answered returns the abandoned dial-out a 2xx belongs to (nil if none or
// expired), its dialog completed by the first such 2xx (retransmissions
// repeat it), and whether this is the first.
func (a *abandonedDialOuts) answered(res *sip.Response, now time.Time) (*dialog, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.m[callID(res)]
	if e == nil || now.After(e.until) {
		return nil, false
	}
	first := !e.answered
	if first {
		e.answered = true
		e.d.confirmedBy(res, "")
	}
	return e.d, first
}
