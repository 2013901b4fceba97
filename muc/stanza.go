package muc

import (
	"errors"

	"mellium.im/xmpp/jid"
)

// stanza is an incoming stanza: its element tree and the parsed addresses.
type stanza struct {
	el       *node
	kind     string // presence, message or iq
	id       string
	typ      string
	from, to jid.JID
}

var errNoAddress = errors.New("muc: stanza without valid from/to")

// newStanza checks the addressing of a parsed stanza. A stanza that cannot be
// answered (no valid from) is returned with an error.
func newStanza(n *node) (*stanza, error) {
	st := &stanza{el: n, kind: n.Name.Local, id: n.attr("id"), typ: n.attr("type")}
	from, err := jid.Parse(n.attr("from"))
	if err != nil || n.attr("from") == "" {
		return nil, errNoAddress
	}
	st.from = from
	to, err := jid.Parse(n.attr("to"))
	if err != nil || n.attr("to") == "" {
		return st, errNoAddress
	}
	st.to = to
	return st, nil
}

// condition is a stanza error condition (RFC 6120 §8.3.3) with its default
// error type.
type condition struct {
	name, typ string
}

// Stanza error conditions used by the room service.
var (
	condBadRequest      = condition{"bad-request", "modify"}
	condConflict        = condition{"conflict", "cancel"}
	condForbidden       = condition{"forbidden", "auth"}
	condInternal        = condition{"internal-server-error", "wait"}
	condItemNotFound    = condition{"item-not-found", "cancel"}
	condJIDMalformed    = condition{"jid-malformed", "modify"}
	condNotAcceptable   = condition{"not-acceptable", "modify"}
	condNotAllowed      = condition{"not-allowed", "cancel"}
	condNotAuthorized   = condition{"not-authorized", "auth"}
	condPolicyViolation = condition{"policy-violation", "wait"} // a rate limit: retry later
	condResourceLimit   = condition{"resource-constraint", "wait"}
	condRegistrationReq = condition{"registration-required", "auth"}
	condServiceUnavail  = condition{"service-unavailable", "cancel"}
	condFull            = condition{"service-unavailable", "wait"} // room full, XEP-0045 §7.2.10
)

// errorReply builds the error answer to st: same kind and id, addresses
// swapped, an <error/> with cond and optional text, and extra children (for
// instance the <x xmlns=muc/> of a refused join). by names the entity that
// returns the error (the room), if set.
func errorReply(st *stanza, cond condition, text, by string, extra ...*node) *node {
	e := el("error", elNS(NSStanzas, cond.name)).set("type", cond.typ).set("by", by)
	if text != "" {
		e.add(textNS(NSStanzas, "text", text))
	}
	r := el(st.kind, extra...).set("type", "error").set("id", st.id).set("from", st.to.String()).set("to", st.from.String())
	return r.add(e)
}

// iqResult builds the result answer to an IQ with an optional payload.
func iqResult(st *stanza, payload *node) *node {
	return el("iq", payload).set("type", "result").set("id", st.id).set("from", st.to.String()).set("to", st.from.String())
}

// errorCondition returns the defined condition of an error stanza, or "".
func errorCondition(n *node) string {
	e := n.child("", "error")
	if e == nil {
		return ""
	}
	for _, k := range e.Kids {
		if k.Name.Space == NSStanzas && k.Name.Local != "text" {
			return k.Name.Local
		}
	}
	return ""
}
