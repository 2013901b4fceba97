package focus

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"cusax.dev/bridge/conference"
)

// referSubExpires is the expires value of the implicit refer subscription
// while its outcome is pending (RFC 3515 §2.4.4).
const referSubExpires = 60

// sipfragType is the body type of refer NOTIFYs (RFC 3515 §2.4.5).
const sipfragType = "message/sipfrag;version=2.0"

// referReport is the implicit subscription a REFER creates (RFC 3515
// §2.4.4): NOTIFYs with Event: refer and a message/sipfrag status line,
// sent in the REFER's dialog, the last one terminated. It is used by the
// REFER's handler goroutine only.
type referReport struct {
	dlg   *dialog
	event string // "refer", or "refer;id=CSEQ" inside a call's dialog
	off   bool   // Refer-Sub: false (RFC 4488), or a NOTIFY failed
}

// report sends the referrer the progress (final=false) or outcome of the
// REFER as a sipfrag status line.
func (f *Focus) report(r *referReport, code int, reason string, final bool) {
	if r.off {
		return
	}
	state := "active;expires=" + strconv.Itoa(referSubExpires)
	if final {
		state = "terminated;reason=noresource"
	}
	body := []byte("SIP/2.0 " + strconv.Itoa(code) + " " + reason + "\r\n")
	// Progress is not worth holding up a shutdown for: a slow referrer
	// must not keep a ringing dial-out from being canceled before the SIP
	// stack closes. The outcome goes out also while the focus shuts down.
	ctx := f.life
	if final {
		ctx = f.detached()
	}
	res, err := f.notify(ctx, r.dlg, r.event, sipfragType, body, state)
	switch {
	case err != nil && ctx.Err() != nil:
		f.log.Info("refer NOTIFY abandoned at shutdown", "call-id", r.dlg.key.callID)
	case err != nil:
		f.log.Info("refer NOTIFY got no answer", "call-id", r.dlg.key.callID, "err", err)
		r.off = true
	case !res.IsSuccess():
		f.log.Info("refer NOTIFY refused", "call-id", r.dlg.key.callID, "status", res.StatusCode)
		r.off = true
	}
}

// onRefer serves REFER to a conference URI (RFC 4579 §5.5, §5.11), inside a
// participant's call or outside any dialog:
//
//   - Refer-To: <sip:AOR;method=BYE> ejects the participants with that AOR
//     (the core kicks them, the event follower sends the BYEs);
//   - Refer-To without method (or method=INVITE) makes the focus call the
//     URI into the conference (dial-out).
//
// The request must carry exactly one Refer-To (else 400), and its sender
// must authenticate by digest (401 challenge; wrong credentials 403) with
// a From equal to the digest user's AOR (else 403) and be allowed to
// moderate the room by the core (listed moderator AOR or an owner/admin
// binding; else 403, and nothing happens). Then the focus answers 202 and
// reports progress with refer NOTIFYs: "SIP/2.0 100 Trying", then the
// outcome (200 OK; 404 for an AOR not in the conference; the dial-out's
// final status), the last one terminated. Refer-Sub: false suppresses the
// NOTIFYs (RFC 4488).
func (f *Focus) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	if req.From() == nil || req.To() == nil || req.CSeq() == nil || req.CallID() == nil {
		f.reply(tx, req, 400, "Bad Request", nil)
		return
	}
	if f.stopping() {
		f.reply(tx, req, 503, "Service Unavailable", nil, f.retryAfter())
		return
	}
	in, room, ok := f.referScope(req, tx)
	if !ok {
		return
	}
	log := f.log.With("call-id", callID(req), "room", room)
	target, ok := f.referTarget(req, tx, log)
	if !ok {
		return
	}
	actor, ok := f.referActor(req, tx, room, in, log)
	if !ok {
		return
	}
	rep, ok := f.acceptRefer(req, tx, room, in)
	if !ok {
		return
	}
	f.report(rep, 100, "Trying", false)
	var code int
	var reason string
	if target.method == "BYE" {
		log.Info("REFER: ejecting", "target", target.uri.String(), "by", actor.AOR)
		name := target.uri.String()
		if target.uri.Scheme != "xmpp" {
			name = aor(target.uri)
		}
		code, reason = f.eject(room, name, actor, referReason(req, actor))
	} else {
		log.Info("REFER: dialing out", "target", target.uri.String(), "by", actor.AOR)
		code, reason = f.dialOut(room, target.uri, rep)
	}
	f.report(rep, code, reason, true)
}

// referScope finds where a REFER applies: inside a participant's call (a
// To-tag; the call is returned) or to a conference URI. It answers and
// returns false otherwise.
func (f *Focus) referScope(req *sip.Request, tx sip.ServerTransaction) (*call, string, bool) {
	if req.To().Params.Has("tag") {
		in, ok := f.inDialogCall(req, tx)
		if !ok {
			return nil, "", false
		}
		return in, in.room, true
	}
	room, code, reason := f.roomOf(req.Recipient)
	if code != 0 {
		f.reply(tx, req, code, reason, nil)
		return nil, "", false
	}
	return nil, room, true
}

// referTarget reads the one Refer-To a REFER must carry: a sip: or sips:
// URI with no method, method=INVITE or method=BYE. It answers 400 and
// returns false otherwise.
func (f *Focus) referTarget(req *sip.Request, tx sip.ServerTransaction, log *slog.Logger) (referTarget, bool) {
	vals := headerValues(req, "Refer-To", "r")
	if len(vals) != 1 {
		log.Info("REFER refused: not exactly one Refer-To", "count", len(vals))
		f.reply(tx, req, 400, "Bad Request", nil, f.warning(399, "Exactly one Refer-To is required"))
		return referTarget{}, false
	}
	target, err := parseReferTo(vals[0])
	if err == nil && strings.EqualFold(target.uri.Scheme, "xmpp") {
		// A chat participant's entity (xmpp:JID) as conference-info
		// shows it; only an ejection can name one.
		target = xmppReferTarget(target.uri.String())
		if target.method != "BYE" {
			err = errors.New("an xmpp: Refer-To needs method=BYE")
		}
	} else if err == nil && target.uri.Scheme != "sip" && target.uri.Scheme != "sips" {
		err = errors.New("only sip:, sips: and (to eject) xmpp: URIs are supported")
	}
	if err == nil && target.method != "" && target.method != "BYE" && target.method != "INVITE" {
		err = errors.New("method " + target.method + " in Refer-To is not supported")
	}
	if err != nil {
		log.Info("REFER refused: bad Refer-To", "refer-to", vals[0], "err", err)
		f.reply(tx, req, 400, "Bad Request", nil, f.warning(399, err.Error()))
		return referTarget{}, false
	}
	return target, true
}

// referActor authenticates the referrer (a trusted peer's
// P-Asserted-Identity, else digest with a From equal to the digest user's
// AOR) and has the core decide whether it may moderate room. In a
// call, the call's participant lends its standing (a moderator role won by
// PIN, say) only to its own authenticated identity. It answers (401, 403,
// the core's refusal) and returns false when the REFER may not act.
func (f *Focus) referActor(req *sip.Request, tx sip.ServerTransaction, room string, in *call, log *slog.Logger) (conference.Actor, bool) {
	id, ok := f.assertedIdentity(req)
	if ok {
		// A trusted peer authenticated the user (RFC 3325): no challenge,
		// and the From need not be the asserted AOR (a proxy may rewrite it).
		id.fromMatches = true
	} else if id, ok = f.authenticate(req, tx); !ok {
		return conference.Actor{}, false
	}
	if !id.fromMatches {
		log.Info("REFER refused: From is not the authenticated user", "from", aor(req.From().Address), "aor", id.aor)
		f.reply(tx, req, 403, "Forbidden", nil, f.warning(399, "From does not match the authenticated user"))
		return conference.Actor{}, false
	}
	ctx, cancel := f.coreCtx()
	_, err := f.reg.Conference(ctx, room)
	cancel()
	if err != nil {
		code, reason := joinStatus(err)
		f.reply(tx, req, code, reason, nil)
		return conference.Actor{}, false
	}
	actor := conference.Actor{AOR: id.aor, Authenticated: true, Name: id.aor}
	if in != nil {
		if p, ok := f.reg.Participant(room, in.pid); ok && p.Authenticated && conference.SameAOR(p.AOR, id.aor) {
			actor.ParticipantID = in.pid
		}
	}
	if !f.reg.CanModerate(room, actor) {
		log.Info("REFER refused: not a moderator", "aor", id.aor)
		f.reply(tx, req, 403, "Forbidden", nil, f.warning(399, "Not a moderator of this conference"))
		return conference.Actor{}, false
	}
	return actor, true
}

// acceptRefer answers 202 and returns the REFER's implicit subscription:
// in the call's dialog for a REFER inside a call (event refer;id=CSEQ),
// else in a dialog the 202 creates, none with Refer-Sub: false.
func (f *Focus) acceptRefer(req *sip.Request, tx sip.ServerTransaction, room string, in *call) (*referReport, bool) {
	rep := &referReport{off: referSubFalse(req), event: eventRefer}
	if in != nil {
		rep.dlg = in.dlg
		rep.event = eventRefer + ";id=" + strconv.FormatUint(uint64(req.CSeq().SeqNo), 10)
	} else if !rep.off {
		var err error
		if rep.dlg, err = newDialog(req, sip.GenerateTagN(16)); err != nil {
			f.reply(tx, req, 400, "Bad Request", nil, f.warning(399, err.Error()))
			return nil, false
		}
		rep.dlg.contact = f.contactTo(room, req)
	}
	res := f.response(req, 202, "Accepted", nil, f.contactTo(room, req))
	if rep.dlg != nil && in == nil {
		res.To().Params.Add("tag", rep.dlg.key.localTag)
	}
	if rep.off {
		res.AppendHeader(sip.NewHeader("Refer-Sub", "false"))
	}
	f.capabilities(res)
	return rep, f.send(tx, req, res) == nil
}

// eject has the core kick every participant of room that target names
// (see names; a chat-only occupant too)
// and waits (bounded) until their calls are hung up. It returns the status
// for the final refer NOTIFY: 200 when someone was ejected, 404 when
// nobody in the conference has that AOR, 403 when the core refuses (a
// moderator may not eject itself nor an owner).
func (f *Focus) eject(room, target string, actor conference.Actor, why string) (int, string) {
	reveals := false
	if c := f.reg.Lookup(room); c != nil {
		reveals = c.Snapshot().Config.WhoisPolicy().Reveals(conference.Everyone)
	}
	ps := f.reg.Find(room, func(p *conference.Participant) bool { return f.names(p, target, reveals) })
	if len(ps) == 0 {
		return 404, "Not Found"
	}
	code, reason := 404, "Not Found"
	var hungUp []*call
	kicked := 0
	for _, p := range ps {
		c := f.calls.participant(p.ID)
		ctx, cancel := f.coreCtx()
		err := f.reg.Kick(ctx, room, p.ID, actor, conference.OriginSIP, why)
		cancel()
		if err != nil {
			code, reason = kickStatus(err)
			f.log.Info("ejection refused by the conference", "room", room, "participant", p.ID, "err", err)
			continue
		}
		kicked++
		if c != nil {
			hungUp = append(hungUp, c)
		}
	}
	deadline := time.NewTimer(byeTimeout + time.Second)
	defer deadline.Stop()
	for _, c := range hungUp {
		select {
		case <-c.byeDone:
		case <-deadline.C:
			f.log.Info("ejected call still hanging up", "room", room, "participant", c.pid)
		}
	}
	if kicked > 0 {
		return 200, "OK"
	}
	return code, reason
}

// kickStatus maps a core Kick error to a sipfrag status.
func kickStatus(err error) (int, string) {
	switch {
	case errors.Is(err, conference.ErrNotFound):
		return 404, "Not Found"
	case errors.Is(err, conference.ErrForbidden), errors.Is(err, conference.ErrNotAllowed), errors.Is(err, conference.ErrConflict):
		return 403, "Forbidden"
	case errors.Is(err, conference.ErrClosed), errors.Is(err, context.Canceled):
		return 503, "Service Unavailable" // the core or the focus shutting down
	}
	return 500, "Server Internal Error"
}

// names reports whether a Refer-To target names participant p as the
// referrer's conference-info shows it: its user entity (an AOR, xmpp:JID,
// or the anonymous entity of a semi-anonymous room), its SIP AOR, or its
// xmpp:JID when the room shows real JIDs to everyone (reveals).
func (f *Focus) names(p *conference.Participant, target string, reveals bool) bool {
	switch {
	case p.Entity == target:
		return true
	case strings.HasPrefix(strings.ToLower(target), "xmpp:"):
		return reveals && p.JID != "" && f.reg.SameIdentity(p.JID, target)
	}
	return p.AOR != "" && f.reg.SameIdentity(p.AOR, target)
}

// xmppReferTarget reads an xmpp: Refer-To URI (sipgo keeps such a URI
// whole): the method parameter (";method=BYE" as RFC 4579 writes it, or
// "?method=BYE") comes off, the rest is the URI.
func xmppReferTarget(u string) referTarget {
	t := referTarget{}
	uri, method := u, ""
	if i := strings.IndexAny(u, ";?"); i >= 0 {
		uri = u[:i]
		for _, p := range strings.FieldsFunc(u[i+1:], func(r rune) bool { return r == ';' || r == '&' || r == '?' }) {
			if k, v, _ := strings.Cut(p, "="); strings.EqualFold(k, "method") {
				method = strings.ToUpper(v)
			}
		}
	}
	t.uri = sip.Uri{Scheme: "xmpp", Host: strings.TrimPrefix(uri[len("xmpp:"):], "//")}
	t.method = method
	return t
}

// referReason is the reason an ejection records (and the MUC shows with
// the 307): the text of the REFER's Reason header (RFC 3326), else who
// ejected.
func referReason(req *sip.Request, actor conference.Actor) string {
	for _, v := range headerValues(req, "Reason", "") {
		if r, ok := parseReason(v); ok && r.text != "" {
			return r.text
		}
	}
	return "ejected by " + actor.AOR
}
