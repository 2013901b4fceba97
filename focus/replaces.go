package focus

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// supported are the option tags the focus implements (Supported header,
// and the only ones a Require may name).
var supported = []string{"replaces", "norefersub"}

// RFC 3891 Replaces: a new INVITE to the conference takes over the seat of
// an established call (attended transfer into the conference, call pickup).
// The new caller joins as usual; once its call is confirmed the replaced
// call gets a BYE and leaves the conference.

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

// replacedCall finds the call an INVITE's Replaces header names. It answers
// the INVITE and returns ok=false when the header is bad (400), names no
// established call of the focus (481) or asks for an early dialog only
// (486). Without a Replaces header it returns nil, true.
func (f *Focus) replacedCall(req *sip.Request, tx sip.ServerTransaction) (*call, bool) {
	hs := req.GetHeaders("Replaces")
	if len(hs) == 0 {
		return nil, true
	}
	k, earlyOnly, ok := parseReplaces(hs[0].Value())
	if len(hs) > 1 || !ok {
		f.reply(tx, req, 400, "Bad Request", nil, f.warning(399, "Bad Replaces header"))
		return nil, false
	}
	c := f.calls.get(k)
	established := false
	if c != nil {
		c.mu.Lock()
		established = c.established
		c.mu.Unlock()
	}
	switch {
	case !established:
		f.reply(tx, req, 481, "Call/Transaction Does Not Exist", nil)
		return nil, false
	case earlyOnly:
		f.reply(tx, req, 486, "Busy Here", nil)
		return nil, false
	}
	return c, true
}
