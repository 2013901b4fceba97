package focus

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"cusax.dev/bridge/conference"
)

// supported are the option tags the focus implements (Supported header,
// and the only ones a Require may name).
var supported = []string{"replaces", "norefersub"}

// RFC 3891 Replaces: a new INVITE to the conference takes over the seat of
// an established call (attended transfer into the conference, call pickup).
// The new caller joins as usual; once its call is confirmed the replaced
// call gets a BYE and leaves the conference. Only an authenticated caller
// whom the core allows (conference.Registry.CanReplace) may replace a
// call; see replacedCall.

// parseReplaces reads "call-id;to-tag=X;from-tag=Y[;early-only]". The tags
// are seen from the focus (the recipient): to-tag is the focus's own tag.
func parseReplaces(v string) (dialogKey, bool, bool) {
	parts := strings.Split(v, ";")
	k := dialogKey{callID: strings.TrimSpace(parts[0])}
	early := false
	for _, p := range parts[1:] {
		name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "to-tag":
			k.localTag = strings.TrimSpace(val)
		case "from-tag":
			k.remoteTag = strings.TrimSpace(val)
		case "early-only":
			early = true
		}
	}
	return k, early, k.callID != "" && k.localTag != "" && k.remoteTag != ""
}

// replacedCall finds the call an INVITE's Replaces header names and
// checks that the caller may take it over (RFC 3891 §6: the replacing
// request must be authorised). Without a Replaces header it returns nil,
// caller, true. Otherwise it answers the INVITE and returns ok=false when
// the header is bad (400); when the caller cannot be authenticated (403
// without configured accounts, else the digest challenge or refusal of
// authenticate); when the header names no established call of this
// conference (481) or asks for an early dialog only (486); and when the
// core says the authenticated caller may not replace that participant
// (403: only the same digest identity or a moderator who may kick it). The
// returned identity is the authenticated caller, who joins as such.
//
// The Call-ID and tags a Replaces names are no secret (conference-info
// publishes them to every subscriber, RFC 4575 call-info), so they never
// authorise anything by themselves.
func (f *Focus) replacedCall(req *sip.Request, tx sip.ServerTransaction, room string, caller identity) (*call, identity, bool) {
	hs := req.GetHeaders("Replaces")
	if len(hs) == 0 {
		return nil, caller, true
	}
	k, earlyOnly, ok := parseReplaces(hs[0].Value())
	if len(hs) > 1 || !ok {
		f.reply(tx, req, 400, "Bad Request", nil, f.warning(399, "Bad Replaces header"))
		return nil, caller, false
	}
	log := f.log.With("call-id", callID(req), "room", room, "replaces", k.callID)
	if !caller.authenticated {
		if f.cfg.Accounts == nil {
			log.Info("Replaces refused: no accounts to authenticate the caller")
			f.reply(tx, req, 403, "Forbidden", nil, f.warning(399, "Replaces requires an authenticated caller"))
			return nil, caller, false
		}
		id, ok := f.authenticate(req, tx)
		if !ok {
			return nil, caller, false
		}
		caller = id
	}
	c := f.calls.get(k)
	established := false
	if c != nil {
		c.mu.Lock()
		established = c.established
		c.mu.Unlock()
	}
	switch {
	case !established || c.room != room:
		f.reply(tx, req, 481, "Call/Transaction Does Not Exist", nil)
		return nil, caller, false
	case earlyOnly:
		f.reply(tx, req, 486, "Busy Here", nil)
		return nil, caller, false
	}
	actor := conference.Actor{AOR: caller.aor, Authenticated: true, Name: caller.aor}
	if !f.reg.CanReplace(room, c.pid, actor) {
		log.Info("Replaces refused by the conference", "aor", caller.aor, "participant", c.pid)
		f.reply(tx, req, 403, "Forbidden", nil, f.warning(399, "Not allowed to replace this call"))
		return nil, caller, false
	}
	return c, caller, true
}
