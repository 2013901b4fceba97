package focus

import (
	"mime"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// onOptions answers capability queries (RFC 3261 §11). For a conference URI
// the Contact carries isfocus (RFC 4579 §4.3); an OPTIONS to the focus's
// host without user part gets the capabilities without isfocus; an unknown
// room is 404. Inside a dialog it must match one (481).
func (f *Focus) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	room := ""
	if to := req.To(); to != nil && to.Params.Has("tag") {
		c, ok := f.inDialogCall(req, tx)
		if !ok {
			return
		}
		room = c.room
	} else if req.Recipient.User != "" {
		var code int
		var reason string
		if room, code, reason = f.roomOf(req.Recipient); code != 0 {
			f.reply(tx, req, code, reason, nil)
			return
		}
	} else if !f.ours(req.Recipient.Host) {
		f.reply(tx, req, 404, "Not Found", nil)
		return
	}
	res := f.response(req, 200, "OK", nil, f.contactTo(room, req))
	f.capabilities(res)
	f.send(tx, req, res)
}

// onCancel sees only CANCELs that match no pending INVITE: the transaction
// layer answers the others itself (200, then 487 to the INVITE).
func (f *Focus) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	f.reply(tx, req, 481, "Call/Transaction Does Not Exist", nil)
}

// onInfo takes SIP INFO inside a call. DTMF sent as application/dtmf-relay
// ("Signal=5") or application/dtmf ("5") goes to the conference like RFC
// 4733 digits; an empty INFO is a keep-alive; other bodies get 415.
func (f *Focus) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c, ok := f.inDialogCall(req, tx)
	if !ok {
		return
	}
	if len(req.Body()) == 0 {
		f.reply(tx, req, 200, "OK", nil)
		return
	}
	mt := ""
	if ct := req.ContentType(); ct != nil {
		mt, _, _ = mime.ParseMediaType(ct.Value())
	}
	if mt != "application/dtmf-relay" && mt != "application/dtmf" {
		f.reply(tx, req, 415, "Unsupported Media Type", nil, sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		return
	}
	digit, ok := infoDigit(mt, string(req.Body()))
	if !ok {
		f.reply(tx, req, 400, "Bad Request", nil, f.warning(399, "No DTMF signal in body"))
		return
	}
	// The digit reaches the core before the 200 goes out, so that a UA
	// sending one INFO per digit (each after the previous 200) has its
	// digits taken in order.
	ctx, cancel := f.coreCtx()
	defer cancel()
	if err := f.reg.DTMF(ctx, c.room, c.pid, digit); err != nil {
		f.log.Debug("INFO DTMF not taken", "room", c.room, "participant", c.pid, "err", err)
	}
	f.reply(tx, req, 200, "OK", nil)
}

// infoDigit reads one DTMF digit from an INFO body of type mt.
func infoDigit(mt, body string) (rune, bool) {
	var sig string
	switch mt {
	case "application/dtmf-relay":
		for _, line := range strings.Split(body, "\n") {
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				sig = strings.TrimSpace(v)
			}
		}
	case "application/dtmf":
		sig = strings.TrimSpace(body)
	default:
		return 0, false
	}
	switch {
	case len(sig) == 1 && strings.ContainsRune("0123456789*#ABCDabcd", rune(sig[0])):
		return rune(strings.ToUpper(sig)[0]), true
	case sig == "10":
		return '*', true
	case sig == "11":
		return '#', true
	}
	return 0, false
}
