package muc

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// Namespaces used by the room service.
const (
	NSMUC       = "http://jabber.org/protocol/muc"
	NSMUCUser   = "http://jabber.org/protocol/muc#user"
	NSMUCAdmin  = "http://jabber.org/protocol/muc#admin"
	NSMUCOwner  = "http://jabber.org/protocol/muc#owner"
	NSRoomInfo  = "http://jabber.org/protocol/muc#roominfo"
	NSRoomCfg   = "http://jabber.org/protocol/muc#roomconfig"
	NSDiscoInfo = "http://jabber.org/protocol/disco#info"
	NSDiscoItem = "http://jabber.org/protocol/disco#items"
	NSData      = "jabber:x:data"
	NSPing      = "urn:xmpp:ping"
	NSDelay     = "urn:xmpp:delay"
	NSSID       = "urn:xmpp:sid:0" // XEP-0359 unique and stable stanza ids
	NSStanzas   = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsAccept    = "jabber:component:accept"
	nsClient    = "jabber:client"
	nsServer    = "jabber:server"
	nsXML       = "http://www.w3.org/XML/1998/namespace"
	maxDepth    = 64
)

// node is a small XML element tree: what the service reads from a stanza and
// what it writes. Name.Space "" means "the stanza namespace" (inherited from
// the stream); child elements in another namespace carry it.
type node struct {
	Name xml.Name
	Attr []xml.Attr
	Text string
	Kids []*node
}

var errTooDeep = errors.New("muc: element nested too deeply")

// stanzaNS reports whether ns is one of the namespaces a stanza's own
// children may carry (they all mean "the stanza namespace").
func stanzaNS(ns string) bool {
	return ns == "" || ns == nsAccept || ns == nsClient || ns == nsServer
}

// readNode reads the element opened by start from r, up to and including its
// end element, normalising stanza namespaces to "" and dropping namespace
// declarations.
func readNode(r xml.TokenReader, start xml.StartElement) (*node, error) {
	return readNodeDepth(r, start, 0)
}

func readNodeDepth(r xml.TokenReader, start xml.StartElement, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	n := &node{Name: start.Name}
	if depth <= 1 && stanzaNS(n.Name.Space) {
		n.Name.Space = ""
	}
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		n.Attr = append(n.Attr, a)
	}
	var text []byte
	for {
		// A TokenReader may return the last token together with io.EOF.
		tok, err := r.Token()
		switch t := tok.(type) {
		case xml.StartElement:
			if err != nil {
				return nil, io.ErrUnexpectedEOF
			}
			kid, err := readNodeDepth(r, t, depth+1)
			if err != nil {
				return nil, err
			}
			n.Kids = append(n.Kids, kid)
			continue
		case xml.CharData:
			text = append(text, t...)
		case xml.EndElement:
			n.Text = string(text)
			return n, nil
		}
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
	}
}

// el builds an element in the stanza namespace with the given children.
func el(local string, kids ...*node) *node {
	return &node{Name: xml.Name{Local: local}, Kids: compact(kids)}
}

// elNS builds an element in namespace ns.
func elNS(ns, local string, kids ...*node) *node {
	return &node{Name: xml.Name{Space: ns, Local: local}, Kids: compact(kids)}
}

// textEl builds <local>s</local> in the stanza namespace.
func textEl(local, s string) *node {
	return &node{Name: xml.Name{Local: local}, Text: s}
}

// textNS builds <local xmlns=ns>s</local>.
func textNS(ns, local, s string) *node {
	return &node{Name: xml.Name{Space: ns, Local: local}, Text: s}
}

func compact(kids []*node) []*node {
	out := kids[:0]
	for _, k := range kids {
		if k != nil {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// set sets attribute name to v, or removes it when v is empty. It returns n
// for chaining.
func (n *node) set(name, v string) *node {
	for i, a := range n.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			if v == "" {
				n.Attr = append(n.Attr[:i], n.Attr[i+1:]...)
			} else {
				n.Attr[i].Value = v
			}
			return n
		}
	}
	if v != "" {
		n.Attr = append(n.Attr, xml.Attr{Name: xml.Name{Local: name}, Value: v})
	}
	return n
}

// add appends children and returns n.
func (n *node) add(kids ...*node) *node {
	n.Kids = append(n.Kids, compact(kids)...)
	return n
}

// attr returns the value of the unqualified attribute name.
func (n *node) attr(name string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// child returns the first child called local in namespace ns ("" for the
// stanza namespace), or nil.
func (n *node) child(ns, local string) *node {
	if n == nil {
		return nil
	}
	for _, k := range n.Kids {
		if k.Name.Space == ns && k.Name.Local == local {
			return k
		}
	}
	return nil
}

// children returns every child called local in namespace ns.
func (n *node) children(ns, local string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, k := range n.Kids {
		if k.Name.Space == ns && k.Name.Local == local {
			out = append(out, k)
		}
	}
	return out
}

// childText returns the text of the first child local in the stanza
// namespace, and whether it exists.
func (n *node) childText(local string) (string, bool) {
	c := n.child("", local)
	if c == nil {
		return "", false
	}
	return c.Text, true
}

// clone deep-copies n.
func (n *node) clone() *node {
	if n == nil {
		return nil
	}
	c := &node{Name: n.Name, Text: n.Text, Attr: append([]xml.Attr(nil), n.Attr...)}
	for _, k := range n.Kids {
		c.Kids = append(c.Kids, k.clone())
	}
	return c
}

// appendTokens appends n's tokens to toks. parent is the namespace in scope;
// an element with Space "" inherits it.
func (n *node) appendTokens(toks []xml.Token, parent string) []xml.Token {
	start := xml.StartElement{Name: xml.Name{Local: n.Name.Local}}
	space := parent
	if n.Name.Space != "" && n.Name.Space != parent {
		space = n.Name.Space
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "xmlns"}, Value: space})
	}
	start.Attr = append(start.Attr, n.Attr...)
	toks = append(toks, start)
	if n.Text != "" {
		toks = append(toks, xml.CharData(n.Text))
	}
	for _, k := range n.Kids {
		toks = k.appendTokens(toks, space)
	}
	return append(toks, xml.EndElement{Name: start.Name})
}

// tokenReader returns n as a token stream for mellium's Session.Send.
func (n *node) tokenReader() xml.TokenReader {
	return &sliceReader{toks: n.appendTokens(nil, "")}
}

type sliceReader struct {
	toks []xml.Token
	i    int
}

func (r *sliceReader) Token() (xml.Token, error) {
	if r.i >= len(r.toks) {
		return nil, io.EOF
	}
	t := r.toks[r.i]
	r.i++
	return t, nil
}

// String renders n as XML (tests, logs).
func (n *node) String() string {
	var b bytes.Buffer
	e := xml.NewEncoder(&b)
	for _, t := range n.appendTokens(nil, "") {
		if err := e.EncodeToken(t); err != nil {
			return fmt.Sprintf("<!-- %v -->", err)
		}
	}
	if err := e.Flush(); err != nil {
		return fmt.Sprintf("<!-- %v -->", err)
	}
	return b.String()
}
