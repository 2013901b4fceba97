package xmppserver

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// Namespaces used by the server.
const (
	nsClient    = "jabber:client"
	nsServer    = "jabber:server"
	nsStanzas   = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsRoster    = "jabber:iq:roster"
	nsDiscoInfo = "http://jabber.org/protocol/disco#info"
	nsDiscoItem = "http://jabber.org/protocol/disco#items"
	nsPing      = "urn:xmpp:ping"
	nsVCard     = "vcard-temp"
	nsSASL      = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsStream    = "http://etherx.jabber.org/streams"
	nsStreamErr = "urn:ietf:params:xml:ns:xmpp-streams"
	nsSession   = "urn:ietf:params:xml:ns:xmpp-session"
)

// maxDepth bounds element nesting in a stanza.
const maxDepth = 32

// maxKids bounds the children of one element.
const maxKids = 1000

var (
	errTooDeep   = errors.New("xmppserver: element nested too deeply")
	errTooWide   = errors.New("xmppserver: element with too many children")
	errTruncated = errors.New("xmppserver: element truncated")
)

// elem is a small XML element tree. Name.Space "" means the stanza
// namespace (jabber:client), which stanzas and their direct children in
// that namespace are normalised to.
type elem struct {
	Name xml.Name
	Attr []xml.Attr
	Text string
	Kids []*elem
}

func el(name string, kids ...*elem) *elem { return &elem{Name: xml.Name{Local: name}, Kids: kids} }

func elNS(ns, name string, kids ...*elem) *elem {
	return &elem{Name: xml.Name{Space: ns, Local: name}, Kids: kids}
}

func (e *elem) set(k, v string) *elem {
	for i := range e.Attr {
		if e.Attr[i].Name.Space == "" && e.Attr[i].Name.Local == k {
			if v == "" {
				e.Attr = append(e.Attr[:i], e.Attr[i+1:]...)
			} else {
				e.Attr[i].Value = v
			}
			return e
		}
	}
	if v != "" {
		e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Local: k}, Value: v})
	}
	return e
}

func (e *elem) attr(k string) string {
	for _, a := range e.Attr {
		if a.Name.Space == "" && a.Name.Local == k {
			return a.Value
		}
	}
	return ""
}

func (e *elem) text(t string) *elem { e.Text = t; return e }

// kid returns the first child with the namespace and local name.
func (e *elem) kid(ns, local string) *elem {
	for _, k := range e.Kids {
		if k.Name.Space == ns && k.Name.Local == local {
			return k
		}
	}
	return nil
}

// clone returns a deep copy.
func (e *elem) clone() *elem {
	c := &elem{Name: e.Name, Text: e.Text, Attr: append([]xml.Attr(nil), e.Attr...)}
	for _, k := range e.Kids {
		c.Kids = append(c.Kids, k.clone())
	}
	return c
}

func stanzaNS(ns string) bool {
	return ns == "" || ns == nsClient || ns == nsServer || ns == "jabber:component:accept"
}

// readElem reads the element opened by start from r up to its end,
// normalising the stanza namespace to "" at depth 0 and 1 and dropping
// namespace declarations.
func readElem(r xml.TokenReader, start xml.StartElement) (*elem, error) {
	return readElemDepth(r, start, 0, "")
}

// readElemDepth reads one element. Tokens from an xml.Decoder carry
// resolved namespaces; tokens composed in code (the muc package's) may
// instead carry an xmlns attribute, or inherit the parent's namespace
// (parentNS): both are resolved here.
func readElemDepth(r xml.TokenReader, start xml.StartElement, depth int, parentNS string) (*elem, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	e := &elem{Name: start.Name}
	if e.Name.Space == "" {
		e.Name.Space = parentNS
		for _, a := range start.Attr {
			if a.Name.Space == "" && a.Name.Local == "xmlns" {
				e.Name.Space = a.Value
			}
		}
	}
	if depth <= 1 && stanzaNS(e.Name.Space) {
		e.Name.Space = ""
	}
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		e.Attr = append(e.Attr, a)
	}
	var text strings.Builder
	for {
		tok, err := r.Token()
		switch t := tok.(type) {
		case xml.StartElement:
			if err != nil && err != io.EOF {
				return nil, err
			}
			if len(e.Kids) >= maxKids {
				return nil, errTooWide
			}
			k, kerr := readElemDepth(r, t, depth+1, e.Name.Space)
			if kerr != nil {
				return nil, kerr
			}
			e.Kids = append(e.Kids, k)
			continue
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			e.Text = text.String()
			return e, nil
		}
		if err != nil {
			if err == io.EOF {
				return nil, errTruncated
			}
			return nil, err
		}
	}
}

// tokens appends e's tokens to out.
func (e *elem) tokens(out []xml.Token) []xml.Token {
	// The attributes are copied: encoders (mellium's) rewrite them in
	// place, and one element may be written to several streams at once.
	start := xml.StartElement{Name: e.Name, Attr: append([]xml.Attr(nil), e.Attr...)}
	out = append(out, start)
	if e.Text != "" {
		out = append(out, xml.CharData(e.Text))
	}
	for _, k := range e.Kids {
		out = k.tokens(out)
	}
	return append(out, start.End())
}

// tokenReader returns a reader of e's tokens.
func (e *elem) tokenReader() xml.TokenReader { return &sliceReader{toks: e.tokens(nil)} }

type sliceReader struct {
	toks []xml.Token
	i    int
}

func (s *sliceReader) Token() (xml.Token, error) {
	if s.i >= len(s.toks) {
		return nil, io.EOF
	}
	t := s.toks[s.i]
	s.i++
	return t, nil
}

// String renders e as XML (for storage and logs).
func (e *elem) String() string {
	var b strings.Builder
	enc := xml.NewEncoder(&b)
	for _, t := range e.tokens(nil) {
		if err := enc.EncodeToken(t); err != nil {
			return ""
		}
	}
	_ = enc.Flush()
	return b.String()
}

// parseElem parses one element from XML text.
func parseElem(s string) (*elem, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if st, ok := tok.(xml.StartElement); ok {
			return readElemDepth(d, st, 2, "") // depth 2: keep namespaces as they are
		}
	}
}
