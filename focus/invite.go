package focus

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/metrics"
	"cusax.dev/bridge/mixer"
)

var (
	errNoAck     = errors.New("focus: 2xx never acknowledged")
	errCallEnded = errors.New("focus: call ended while answering")
	// errNotAnswered: the call ended (kick, ban, conference end,
	// shutdown) before its 2xx went out; the INVITE still needs a final
	// response.
	errNotAnswered = errors.New("focus: call ended before its answer")
)

// onInvite routes an INVITE: with a To-tag it belongs to a dialog
// (re-INVITE), without one it is a call into a conference.
func (f *Focus) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if req.To() == nil || req.From() == nil || req.CSeq() == nil {
		f.reply(tx, req, 400, "Bad Request", nil)
		return
	}
	if req.To().Params.Has("tag") {
		f.onReInvite(req, tx)
		return
	}
	f.onNewCall(req, tx)
}

// roomOf maps the Request-URI to a room name, or to the status refusing
// it: 416 for other schemes than sip: and sips: (sips: only over TLS, see wrap), 404 for another host
// or an invalid room name.
func (f *Focus) roomOf(u sip.Uri) (string, int, string) {
	if !strings.EqualFold(u.Scheme, "sip") && !strings.EqualFold(u.Scheme, "sips") {
		return "", 416, "Unsupported URI Scheme"
	}
	if !f.ours(u.Host) {
		return "", 404, "Not Found"
	}
	user, err := url.PathUnescape(u.User)
	if err != nil {
		return "", 404, "Not Found"
	}
	room, ok := conference.NormalizeName(user)
	if !ok {
		return "", 404, "Not Found"
	}
	return room, 0, ""
}

// unsupported lists the Require option tags the focus does not implement.
func unsupported(req *sip.Request) []string {
	var tags []string
	for _, h := range req.GetHeaders("Require") {
		for _, t := range strings.Split(h.Value(), ",") {
			if t = strings.TrimSpace(t); t != "" && !slices.Contains(supported, strings.ToLower(t)) {
				tags = append(tags, t)
			}
		}
	}
	return tags
}

// checkInvite applies the checks every INVITE passes before its body is
// looked at: Require (420) and the body type (415). It answers and returns
// false when the request is refused.
func (f *Focus) checkInvite(req *sip.Request, tx sip.ServerTransaction) bool {
	if tags := unsupported(req); len(tags) > 0 {
		f.reply(tx, req, 420, "Bad Extension", nil, sip.NewHeader("Unsupported", strings.Join(tags, ", ")))
		return false
	}
	if len(req.Body()) > 0 && !isSDP(req) {
		f.reply(tx, req, 415, "Unsupported Media Type", nil, sip.NewHeader("Accept", "application/sdp"))
		return false
	}
	return true
}

// isSDP reports whether a message's body is declared application/sdp.
func isSDP(m *sip.Request) bool {
	ct := m.ContentType()
	if ct == nil {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct.Value())
	return err == nil && mt == "application/sdp"
}

// refuseSDP answers an offer the focus cannot accept.
func (f *Focus) refuseSDP(req *sip.Request, tx sip.ServerTransaction, err error) {
	se := asSDPError(err)
	reason := "Not Acceptable Here"
	if se.Status == 400 {
		reason = "Bad Request"
	}
	f.reply(tx, req, se.Status, reason, nil, f.warning(se.Warn, se.Text))
}

// joinStatus maps a core join error to a SIP status.
func joinStatus(err error) (int, string) {
	switch {
	case errors.Is(err, conference.ErrInvalidName), errors.Is(err, conference.ErrNotFound):
		return 404, "Not Found"
	case errors.Is(err, conference.ErrFull):
		return 486, "Busy Here"
	case errors.Is(err, conference.ErrBanned), errors.Is(err, conference.ErrMembersOnly),
		errors.Is(err, conference.ErrCreationRestricted), errors.Is(err, conference.ErrLocked),
		errors.Is(err, conference.ErrPasswordRequired), errors.Is(err, conference.ErrForbidden),
		errors.Is(err, conference.ErrRoomQuota):
		return 403, "Forbidden"
	case errors.Is(err, conference.ErrClosed), errors.Is(err, context.Canceled):
		return 503, "Service Unavailable" // the core or the focus shutting down
	}
	return 500, "Server Internal Error"
}

// onNewCall handles an INVITE to a conference URI. Everything that can
// refuse the call without side effects runs first (admitCall: URI,
// Require, authentication, SDP, Replaces), then a port pair is taken, the
// caller joins the conference (joinCaller), the call takes its seat
// (seatCall), and the 2xx is sent and retransmitted until its ACK arrives
// (answerCall). Every failure path returns the port and the seat.
func (f *Focus) onNewCall(req *sip.Request, tx sip.ServerTransaction) {
	log := f.log.With("call-id", callID(req))
	in, ok := f.admitCall(req, tx, log)
	if !ok {
		return
	}
	leg, ok := f.allocateLeg(req, tx, in.room, in.local, log)
	if !ok {
		return
	}
	f.reply(tx, req, 100, "Trying", nil)

	canceled := f.watchCancel(tx)
	if f.cfg.AnswerDelay > 0 {
		if why := f.ring(tx, req, in.dlg.key.localTag, in.room, canceled); why != "" {
			log.Info("call abandoned before answer", "room", in.room, "why", why)
			_ = leg.Close()
			return
		}
	}
	c, ok := f.joinCaller(req, tx, in, leg, log)
	if !ok {
		return
	}
	c.invite <- struct{}{} // this INVITE transaction runs until its ACK is processed
	defer c.endInvite()
	log = log.With("room", in.room, "participant", c.pid)
	body, ok := f.seatCall(req, tx, c, in.off, log)
	if !ok {
		return
	}
	ack, ok := f.answerCall(req, tx, c, body, log)
	if !ok {
		return
	}
	if in.off == nil {
		n, err := f.answerFromAck(c, ack)
		if err != nil {
			log.Info("late-offer answer in ACK refused; hanging up", "err", err)
			f.hangupNow(c, conference.Failed)
			return
		}
		f.updateCore(c, n)
	}
	c.resetClock()
	log.Info("call established", "codec", c.codec(), "remote", c.remote())
	if in.replaced != nil {
		log.Info("call replaces another", "replaced-call-id", in.replaced.dlg.key.callID, "replaced-participant", in.replaced.pid)
		f.hangupNow(in.replaced, conference.Departed)
	}
}

// incoming is a new call admitted by admitCall, before it takes any
// resource.
type incoming struct {
	room     string
	caller   identity
	off      *offer     // nil: no offer in the INVITE (the focus offers in the 2xx)
	local    netip.Addr // the focus's SDP address, in the offer's family
	replaced *call      // the call it replaces (RFC 3891), if any
	dlg      *dialog
}

// admitCall runs the checks that refuse a new call without side effects:
// shutdown (503), the Request-URI, Require and body type, authentication
// when calls need it, the SDP offer, Replaces, and the dialog the INVITE
// forms. It answers and returns false when the call is refused.
func (f *Focus) admitCall(req *sip.Request, tx sip.ServerTransaction, log *slog.Logger) (incoming, bool) {
	if f.stopping() {
		f.reply(tx, req, 503, "Service Unavailable", nil, f.retryAfter())
		return incoming{}, false
	}
	room, code, reason := f.roomOf(req.Recipient)
	if code != 0 {
		log.Info("INVITE refused", "uri", req.Recipient.String(), "status", code)
		f.reply(tx, req, code, reason, nil)
		return incoming{}, false
	}
	if !f.checkInvite(req, tx) {
		return incoming{}, false
	}
	in := incoming{room: room, caller: identity{aor: aor(req.From().Address)}}
	if id, ok := f.assertedIdentity(req); ok {
		// A trusted peer authenticated the user (RFC 3325): no challenge.
		log.Info("caller asserted by a trusted peer", "from", in.caller.aor, "aor", id.aor)
		in.caller = id
	} else if f.cfg.RequireAuthForCalls {
		id, ok := f.authenticate(req, tx)
		if !ok {
			return incoming{}, false
		}
		if !id.fromMatches {
			log.Info("caller authenticated as another AOR than its From", "from", in.caller.aor, "aor", id.aor)
		}
		in.caller = id
	}
	in.local = f.advertiseFor(req.Body())
	if len(req.Body()) > 0 {
		o, err := parseOffer(req.Body(), in.local, f.cfg.SRTP)
		if err != nil {
			log.Info("offer refused", "room", room, "err", err)
			f.refuseSDP(req, tx, err)
			return incoming{}, false
		}
		in.off = &o
	}
	var ok bool
	if in.replaced, in.caller, ok = f.replacedCall(req, tx, room, in.caller); !ok {
		return incoming{}, false
	}
	dlg, err := newDialog(req, sip.GenerateTagN(16))
	if err != nil {
		log.Info("INVITE cannot form a dialog", "err", err)
		f.reply(tx, req, 400, "Bad Request", nil, f.warning(399, err.Error()))
		return incoming{}, false
	}
	dlg.contact = f.contactTo(room, req)
	f.noteRouteSet(req, dlg)
	in.dlg = dlg
	return in, true
}

// allocateLeg takes a mixer leg (an RTP port pair) for a new call, or
// answers 503 when there is none.
func (f *Focus) allocateLeg(req *sip.Request, tx sip.ServerTransaction, room string, local netip.Addr, log *slog.Logger) (*mixer.Leg, bool) {
	if f.lowOnDescriptors() {
		log.Warn("INVITE refused: file descriptors near RLIMIT_NOFILE", "room", room, "reserve", f.cfg.FDReserve)
		f.m.Refuse(metrics.RefuseFDReserve)
		f.reply(tx, req, 503, "Service Unavailable", nil, f.retryAfter(), f.warning(399, "Out of resources"))
		return nil, false
	}
	leg, err := f.media.AllocateFor(local)
	if err == nil {
		return leg, true
	}
	if errors.Is(err, mixer.ErrPortsExhausted) {
		log.Warn("RTP ports exhausted", "room", room)
	} else {
		log.Error("RTP port allocation failed", "room", room, "err", err)
	}
	f.reply(tx, req, 503, "Service Unavailable", nil, f.retryAfter())
	return nil, false
}

// joinCaller has the caller join the conference and returns its call, or
// answers the core's refusal (and frees the leg).
func (f *Focus) joinCaller(req *sip.Request, tx sip.ServerTransaction, in incoming, leg *mixer.Leg, log *slog.Logger) (*call, bool) {
	audio := &conference.Audio{AOR: in.caller.aor, Endpoint: req.Contact().Address.Addr(), CallID: in.dlg.key.callID,
		LocalTag: in.dlg.key.localTag, RemoteTag: in.dlg.key.remoteTag, JoiningMethod: "dialed-in"}
	if in.off != nil {
		audio.Codec, audio.OnHold = in.off.n.Codec.Name, in.off.n.OnHold()
	}
	ctx, cancel := f.coreCtx()
	hint := parseCallInfoIMPP(headerValues(req, "Call-Info", ""))
	joined, err := f.reg.Join(ctx, in.room, conference.JoinRequest{DisplayName: req.From().DisplayName, AOR: audio.AOR,
		Authenticated: in.caller.authenticated, Audio: audio, Origin: conference.OriginSIP, Source: sourceIP(req), JIDHint: hint})
	cancel()
	if err != nil {
		code, reason := joinStatus(err)
		if code >= 500 {
			log.Error("conference join failed", "room", in.room, "err", err)
		} else {
			log.Info("conference join refused", "room", in.room, "status", code, "err", err)
		}
		_ = leg.Close()
		var hdrs []sip.Header
		if errors.Is(err, conference.ErrBanned) {
			hdrs = append(hdrs, reasonHeader(403, "banned from this conference"))
		}
		f.reply(tx, req, code, reason, nil, hdrs...)
		return nil, false
	}
	if p := joined.Participant; hint != "" {
		log.Info("caller named a JID (Call-Info purpose=impp)", "jid", hint, "bound", p.Bound, "trusted", in.caller.authenticated)
	}
	c := newCall(in.dlg, in.room, joined.Participant.ID, leg, localMedia{Addr: in.local, Port: leg.Port(), SessionID: rand.Uint64() >> 2, Version: 1,
		SRTP: f.cfg.SRTP, SRTPKey: newSRTPKey(f.cfg.SRTP)})
	leg.SetMuted(joined.Participant.Muted) // before any media flows; syncMute keeps it current
	return c, true
}

// seatCall prepares the 2xx body (the answer to the caller's offer, whose
// media it puts into force, or the focus's offer), puts the call into the
// table and syncs its mute with the core. It answers the INVITE itself and
// returns false when the call cannot go on.
func (f *Focus) seatCall(req *sip.Request, tx sip.ServerTransaction, c *call, off *offer, log *slog.Logger) ([]byte, bool) {
	fail := func(code int, reason, why string) ([]byte, bool) {
		log.Error("call setup failed", "why", why)
		if f.end(c) {
			f.leave(c, conference.Failed, conference.OriginSIP)
		}
		f.reply(tx, req, code, reason, nil)
		return nil, false
	}
	body := createOffer(c.local, mixer.SendRecv)
	if off != nil {
		var err error
		if body, err = off.answer(c.local); err != nil {
			return fail(500, "Server Internal Error", err.Error())
		}
		if err := f.applyMedia(c, off.n); err != nil {
			return fail(500, "Server Internal Error", "start media: "+err.Error())
		}
	}
	if !f.calls.add(c) {
		return fail(503, "Service Unavailable", "shutting down")
	}
	f.hook(hookAdded, c)
	if !f.syncMute(c) {
		// Removed (kicked, banned, conference ended) between Join and
		// now. The event that said so may have found the call in the
		// table and ended it already, or found none: either way the
		// INVITE gets its final response here.
		log.Info("participant gone before answer")
		f.end(c)
		code, reason := f.goneStatus(c)
		f.reply(tx, req, code, reason, nil)
		return nil, false
	}
	f.hook(hookAnswering, c)
	return body, true
}

// answerCall sends the 2xx with body and waits for its ACK (confirm). It
// returns the ACK, or false when the call did not get established (it
// then answered or hung up as the case asks).
func (f *Focus) answerCall(req *sip.Request, tx sip.ServerTransaction, c *call, body []byte, log *slog.Logger) (*sip.Request, bool) {
	res := f.answerResponse(req, c.dlg.key.localTag, c.room, body)
	ack, err := f.confirm(c, tx, req, res)
	switch {
	case err == nil:
		return ack, true
	case errors.Is(err, errNotAnswered):
		log.Info("call ended before answer")
		code, reason := f.goneStatus(c)
		f.reply(tx, req, code, reason, nil)
	case errors.Is(err, sip.ErrTransactionCanceled):
		// CANCEL won the race against the 2xx: the caller got 487.
		log.Info("call canceled before answer")
		if f.end(c) {
			f.leave(c, conference.Departed, conference.OriginSIP)
		}
	case errors.Is(err, errCallEnded):
		// BYE, kick or shutdown while waiting for the ACK
	default:
		log.Warn("call not confirmed; hanging up", "err", err)
		f.hangupNow(c, conference.Failed)
	}
	return nil, false
}

// goneStatus is the final response to the INVITE of a call that ended
// before its answer: 403 when its participant was kicked or banned, else
// 480 (conference ended, shutdown, left meanwhile).
func (f *Focus) goneStatus(c *call) (int, string) {
	if conf := f.reg.Lookup(c.room); conf != nil {
		for _, p := range conf.Snapshot().Departed {
			if p.ID == c.pid && p.Left != nil && p.Left.Method == conference.Booted {
				return 403, "Forbidden"
			}
		}
	}
	return 480, "Temporarily Unavailable"
}

// watchCancel returns a channel closed when a CANCEL hits the INVITE
// transaction. The transaction layer answers such a CANCEL itself (200,
// and 487 to the INVITE); this counts those responses.
func (f *Focus) watchCancel(tx sip.ServerTransaction) <-chan struct{} {
	canceled := make(chan struct{})
	var once sync.Once
	onCancel := func(*sip.Request) {
		once.Do(func() {
			if f.m != nil {
				f.m.SIPRequests.WithLabelValues("CANCEL").Inc()
			}
			f.countResponse(sip.CANCEL, 200)
			f.countResponse(sip.INVITE, 487)
			close(canceled)
		})
	}
	if !tx.OnCancel(onCancel) {
		onCancel(nil) // canceled already
	}
	return canceled
}

// ring sends 180 and waits AnswerDelay. It returns why the call was
// abandoned meanwhile (CANCEL, transaction gone, shutdown: 503), or "".
func (f *Focus) ring(tx sip.ServerTransaction, req *sip.Request, localTag, room string, canceled <-chan struct{}) string {
	f.send(tx, req, f.earlyResponse(req, localTag, room, 180, "Ringing"))
	timer := time.NewTimer(f.cfg.AnswerDelay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return ""
	case <-canceled:
		return "canceled"
	case <-tx.Done():
		return "transaction ended"
	case <-f.life.Done():
		f.reply(tx, req, 503, "Service Unavailable", nil, f.retryAfter())
		return "shutting down"
	}
}

// answerFromAck takes the answer to the focus's offer from an ACK and puts
// it into force.
func (f *Focus) answerFromAck(c *call, ack *sip.Request) (negotiated, error) {
	if len(ack.Body()) == 0 || !isSDP(ack) {
		return negotiated{}, errors.New("no SDP answer in ACK")
	}
	c.mu.Lock()
	local := c.local
	c.mu.Unlock()
	n, err := acceptAnswer(ack.Body(), local)
	if err != nil {
		return negotiated{}, err
	}
	if err := f.applyMedia(c, n); err != nil {
		return negotiated{}, err
	}
	return n, nil
}

// earlyResponse builds a provisional response with the focus's tag.
func (f *Focus) earlyResponse(req *sip.Request, localTag, room string, code int, reason string) *sip.Response {
	res := f.response(req, code, reason, nil, f.contactTo(room, req))
	res.To().Params.Add("tag", localTag)
	return res
}

// answerResponse builds the 2xx to an INVITE: SDP, isfocus Contact and the
// focus's capabilities.
func (f *Focus) answerResponse(req *sip.Request, localTag, room string, body []byte) *sip.Response {
	res := f.response(req, 200, "OK", body, f.contactTo(room, req), sip.NewHeader("Content-Type", "application/sdp"))
	res.To().Params.Add("tag", localTag)
	f.capabilities(res)
	return res
}

// confirm sends the 2xx to an INVITE and waits for the ACK with its CSeq.
// Over UDP the focus retransmits the 2xx itself, from T1 doubling up to T2
// (RFC 3261 §13.3.1.4, RFC 6026): sipgo's transaction leaves that to the
// transaction user. The wait ends with the ACK, errNoAck after AckTimeout,
// or the transaction's error (sip.ErrTransactionCanceled when a CANCEL beat
// the 2xx). A call that ended before the 2xx went out gets none
// (errNotAnswered). One that ends after it returns errCallEnded: at once
// for a re-INVITE; for the initial INVITE once the ACK came or after
// ackBeforeBye, meanwhile the 2xx is still retransmitted, since the
// focus's BYE waits for that ACK (RFC 3261 §15, see awaitAck).
func (f *Focus) confirm(c *call, tx sip.ServerTransaction, req *sip.Request, res *sip.Response) (*sip.Request, error) {
	seq := req.CSeq().SeqNo
	initial := !closed(c.ackDone)
	acks := c.expectAck(seq)
	if initial {
		f.calls.awaitAck(c)
		defer func() {
			f.calls.ackOver(c)
			c.acked()
		}()
	}
	c.mu.Lock()
	if c.isEnded() {
		c.mu.Unlock()
		return nil, errNotAnswered
	}
	was := c.established
	c.established = true // before sending: a BYE racing the 2xx must go out
	c.mu.Unlock()
	if err := f.send(tx, req, res); err != nil {
		c.mu.Lock()
		c.established = was
		c.mu.Unlock()
		return nil, err
	}
	interval := sip.T1
	retransmit := time.NewTimer(interval)
	defer retransmit.Stop()
	if sip.IsReliable(req.Transport()) {
		retransmit.Stop()
	}
	deadline := time.NewTimer(f.cfg.AckTimeout)
	defer deadline.Stop()
	ended := c.ended
	var grace <-chan time.Time
	for {
		select {
		case ack := <-acks:
			if ended == nil {
				return nil, errCallEnded
			}
			return ack, nil
		case ack := <-tx.Acks():
			// An ACK that reused the INVITE's branch lands on the
			// transaction instead of OnAck.
			if c.deliverAck(ack) {
				if ended == nil {
					return nil, errCallEnded
				}
				return ack, nil
			}
		case <-retransmit.C:
			if err := tx.Respond(res); err != nil {
				f.log.Debug("2xx retransmission failed", "call-id", c.dlg.key.callID, "err", err)
			} else {
				interval = min(2*interval, sip.T2)
				retransmit.Reset(interval)
			}
		case <-deadline.C:
			if ended == nil {
				return nil, errCallEnded
			}
			return nil, errNoAck
		case <-ended:
			if !initial {
				return nil, errCallEnded
			}
			ended = nil
			g := time.NewTimer(min(ackBeforeBye, f.cfg.AckTimeout))
			defer g.Stop()
			grace = g.C
		case <-grace:
			return nil, errCallEnded
		}
	}
}

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// onAck hands an ACK to the INVITE transaction of its dialog. ACKs get no
// response; a stray one is only logged.
func (f *Focus) onAck(req *sip.Request, tx sip.ServerTransaction) {
	key, ok := keyOf(req)
	var c *call
	if ok {
		c = f.calls.forAck(key)
	}
	if c == nil {
		f.log.Debug("ACK for no dialog", "call-id", callID(req))
		return
	}
	if err := c.dlg.accept(req); err != nil {
		f.log.Info("ACK not from the dialog's peer; ignored", "call-id", key.callID, "source", req.Source())
		return
	}
	if !c.deliverAck(req) {
		f.log.Debug("ACK not awaited (retransmission?)", "call-id", callID(req))
	}
}

// onReInvite handles an INVITE inside a dialog: hold and resume, a codec
// change, a new address. The answer keeps the call's port and bumps the
// o= version; a refused offer leaves the call as it was (RFC 3261 §14.2).
func (f *Focus) onReInvite(req *sip.Request, tx sip.ServerTransaction) {
	c, ok := f.inDialogCall(req, tx)
	if !ok {
		return
	}
	key := c.dlg.key
	log := f.log.With("call-id", key.callID, "room", c.room, "participant", c.pid)
	if !c.beginInvite() {
		// RFC 3261 §14.2: an INVITE while another is pending.
		f.reply(tx, req, 500, "Server Internal Error", nil, sip.NewHeader("Retry-After", "1"))
		return
	}
	defer c.endInvite()
	c.resetClock() // the phone is alive: the RTP timeout starts again
	if !f.checkInvite(req, tx) {
		return
	}
	var off *offer
	if len(req.Body()) > 0 {
		c.mu.Lock()
		family := c.local.Addr // the leg's socket keeps its family
		c.mu.Unlock()
		o, err := parseOffer(req.Body(), family, f.cfg.SRTP)
		if err != nil {
			log.Info("re-INVITE offer refused", "err", err)
			f.refuseSDP(req, tx, err)
			return
		}
		off = &o
	}
	c.mu.Lock()
	c.local.Version++
	local, current := c.local, c.neg
	c.mu.Unlock()
	local.RTCPMuxed = c.leg.RTCPMuxed() // its RTCP port is gone: keep RTCP on the RTP port
	var body []byte
	if off != nil {
		var err error
		if body, err = off.answer(local); err != nil {
			f.reply(tx, req, 500, "Server Internal Error", nil)
			return
		}
		if err := f.applyMedia(c, off.n); err != nil {
			log.Error("media update failed", "err", err)
			f.reply(tx, req, 500, "Server Internal Error", nil)
			return
		}
	} else {
		body = createOffer(local, current.Answer())
	}
	c.dlg.refreshTarget(req)
	res := f.answerResponse(req, key.localTag, c.room, body)
	ack, err := f.confirm(c, tx, req, res)
	switch {
	case errors.Is(err, errNotAnswered):
		f.reply(tx, req, 481, "Call/Transaction Does Not Exist", nil)
		return
	case errors.Is(err, errCallEnded):
		return
	case err != nil:
		log.Warn("re-INVITE not confirmed; hanging up", "err", err)
		f.hangupNow(c, conference.Failed)
		return
	}
	n := current
	if off != nil {
		n = off.n
	} else if n, err = f.answerFromAck(c, ack); err != nil {
		log.Info("answer in ACK refused; hanging up", "err", err)
		f.hangupNow(c, conference.Failed)
		return
	}
	f.updateCore(c, n)
	c.resetClock() // and again once the new media is in force
	log.Info("call updated", "codec", n.Codec.Name, "remote", n.Remote, "hold", n.OnHold(), "direction", n.Answer())
}

// codec and remote describe the media in force, for logs.
func (c *call) codec() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.neg.Codec.Name
}

func (c *call) remote() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.neg.Remote.String()
}
