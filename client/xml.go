package client

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// XMPP namespaces the client speaks.
const (
	nsClient    = "jabber:client"
	nsMUC       = "http://jabber.org/protocol/muc"
	nsMUCUser   = "http://jabber.org/protocol/muc#user"
	nsMUCAdmin  = "http://jabber.org/protocol/muc#admin"
	nsMUCOwner  = "http://jabber.org/protocol/muc#owner"
	nsDiscoInfo = "http://jabber.org/protocol/disco#info"
	nsData      = "jabber:x:data"
	nsPing      = "urn:xmpp:ping"
	nsStanzas   = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsRoster    = "jabber:iq:roster"
	nsVCard     = "vcard-temp"
	nsDelay     = "urn:xmpp:delay"
	// nsParticipation is the bridge's participation element in occupant
	// presence: <participation text='true' audio='true' muted='false'/>.
	nsParticipation = "urn:cusax:participation:0"
)

// elem is a received XML element, decoded whole.
type elem struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Kids    []*elem    `xml:",any"`
}

// attr returns an unqualified attribute.
func (e *elem) attr(name string) string {
	if e == nil {
		return ""
	}
	for _, a := range e.Attrs {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// child returns the first child in ns ("" = jabber:client) called local.
func (e *elem) child(ns, local string) *elem {
	if e == nil {
		return nil
	}
	if ns == "" {
		ns = nsClient
	}
	for _, k := range e.Kids {
		if k.XMLName.Space == ns && k.XMLName.Local == local {
			return k
		}
	}
	return nil
}

// children returns every child in ns called local.
func (e *elem) children(ns, local string) []*elem {
	if e == nil {
		return nil
	}
	var out []*elem
	for _, k := range e.Kids {
		if k.XMLName.Space == ns && k.XMLName.Local == local {
			out = append(out, k)
		}
	}
	return out
}

// text returns the character data of the child in ns called local.
func (e *elem) text(ns, local string) string {
	if c := e.child(ns, local); c != nil {
		return c.Text
	}
	return ""
}

// errorText describes the stanza error of e in words: the defined
// condition and the server's text, if any.
func (e *elem) errorText() string {
	er := e.child("", "error")
	if er == nil {
		return "unknown error"
	}
	cond, text := "", ""
	for _, k := range er.Kids {
		if k.XMLName.Space != nsStanzas {
			continue
		}
		if k.XMLName.Local == "text" {
			text = k.Text
		} else if cond == "" {
			cond = k.XMLName.Local
		}
	}
	if cond == "" {
		cond = "undefined-condition"
	}
	if text != "" {
		return fmt.Sprintf("%s (%s)", cond, text)
	}
	return cond
}

// errorCondition is the defined condition of an error stanza.
func (e *elem) errorCondition() string {
	for _, k := range e.child("", "error").Kids {
		if k.XMLName.Space == nsStanzas && k.XMLName.Local != "text" {
			return k.XMLName.Local
		}
	}
	return ""
}

// statusCodes returns the muc#user status codes of a presence or message.
func (e *elem) statusCodes() map[string]bool {
	out := map[string]bool{}
	for _, s := range e.child(nsMUCUser, "x").children(nsMUCUser, "status") {
		out[s.attr("code")] = true
	}
	return out
}

// esc escapes s for XML text and attribute values.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
