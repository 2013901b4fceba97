package confinfo

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// referenceParse is Parse as first written, on encoding/xml's Token, kept
// as the executable specification of what Parse accepts, returns and
// reports: FuzzParse and TestParseMatchesReference require Parse to agree
// with it on every input, down to the error text.
func referenceParse(b []byte) (*Document, error) {
	if len(b) > MaxDocumentSize {
		return nil, fmt.Errorf("confinfo: parse: %w: %d bytes, limit %d", ErrTooLarge, len(b), MaxDocumentSize)
	}
	p := refParser{dec: xml.NewDecoder(bytes.NewReader(b))}
	doc, err := p.document()
	if err != nil {
		return nil, fmt.Errorf("confinfo: parse: %w", err)
	}
	return doc, nil
}

type refParser struct {
	dec      *xml.Decoder
	depth    int
	elements int
	text     []byte // scratch for leaf text
}

// next returns the next token, keeping depth and element counts and
// enforcing the limits. io.EOF is returned as is.
func (p *refParser) next() (xml.Token, error) {
	tok, err := p.dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	switch tok.(type) {
	case xml.StartElement:
		p.depth++
		p.elements++
		if p.depth > MaxDepth {
			return nil, fmt.Errorf("%w: nesting deeper than %d", ErrTooLarge, MaxDepth)
		}
		if p.elements > MaxElements {
			return nil, fmt.Errorf("%w: more than %d elements", ErrTooLarge, MaxElements)
		}
	case xml.EndElement:
		p.depth--
	}
	return tok, nil
}

// nextIn is next for use inside an element, where EOF is an error.
func (p *refParser) nextIn() (xml.Token, error) {
	tok, err := p.next()
	if err == io.EOF {
		return nil, invalid("unexpected end of document")
	}
	return tok, err
}

// skip consumes the rest of the element whose start was just read.
func (p *refParser) skip() error {
	for depth := 1; depth > 0; {
		tok, err := p.nextIn()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return nil
}

// children calls fn for each child element in the conference-info namespace
// of the element whose start was just read, skipping all others, and
// returns after that element's end. fn must consume the child it is given.
func (p *refParser) children(fn func(se xml.StartElement) error) error {
	for {
		tok, err := p.nextIn()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space != Namespace {
				if err := p.skip(); err != nil {
					return err
				}
				continue
			}
			if err := fn(t); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

// leaf returns the character data of the element whose start was just read,
// skipping any child elements, and consumes its end.
func (p *refParser) leaf() (string, error) {
	p.text = p.text[:0]
	for {
		tok, err := p.nextIn()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			p.text = append(p.text, t...)
		case xml.StartElement:
			if err := p.skip(); err != nil {
				return "", err
			}
		case xml.EndElement:
			return string(p.text), nil
		}
	}
}

// token is a leaf whose value is an XSD token-like type (URI, number,
// boolean, enumeration): surrounding whitespace is dropped.
func (p *refParser) token() (string, error) {
	s, err := p.leaf()
	return trimXMLSpace(s), err
}

func (p *refParser) uint32Leaf(name string) (*uint32, error) {
	s, err := p.token()
	if err != nil {
		return nil, err
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return nil, invalid("<%s>: %q is not an unsigned 32-bit integer", name, s)
	}
	u := uint32(v)
	return &u, nil
}

func (p *refParser) boolLeaf(name string) (*bool, error) {
	s, err := p.token()
	if err != nil {
		return nil, err
	}
	var v bool
	switch s {
	case "true", "1":
		v = true
	case "false", "0":
	default:
		return nil, invalid("<%s>: %q is not a boolean", name, s)
	}
	return &v, nil
}

func refParseState(s, where string) (ElementState, error) {
	st := ElementState(trimXMLSpace(s))
	if st == "" || !st.valid() {
		return "", invalid("%s: invalid state %q", where, s)
	}
	return st, nil
}

// refAttrVal is an attribute's value and whether it was present.
type refAttrVal struct {
	v  string
	ok bool
}

// attrs extracts the unqualified attributes named (at most three) from se,
// in the order named.
func refAttrs(se xml.StartElement, names ...string) [3]refAttrVal {
	var out [3]refAttrVal
	for _, a := range se.Attr {
		if a.Name.Space != "" {
			continue
		}
		for i, n := range names {
			if a.Name.Local == n {
				out[i] = refAttrVal{v: a.Value, ok: true}
			}
		}
	}
	return out
}

func (p *refParser) document() (*Document, error) {
	var doc *Document
	for {
		tok, err := p.next()
		if err == io.EOF {
			if doc == nil {
				return nil, invalid("no conference-info element")
			}
			return doc, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if doc != nil {
				return nil, invalid("element <%s> after the root", t.Name.Local)
			}
			if t.Name.Local != "conference-info" {
				return nil, invalid("root element is <%s>, want <conference-info>", t.Name.Local)
			}
			if t.Name.Space != Namespace {
				return nil, invalid("root element namespace is %q, want %q", t.Name.Space, Namespace)
			}
			if doc, err = p.root(t); err != nil {
				return nil, err
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, invalid("text outside the root element")
			}
		}
	}
}

func (p *refParser) root(se xml.StartElement) (*Document, error) {
	a := refAttrs(se, "entity", "state", "version")
	doc := &Document{State: StateFull}
	doc.Entity = trimXMLSpace(a[0].v)
	if doc.Entity == "" {
		return nil, invalid("conference-info without entity")
	}
	if a[1].ok {
		st, err := refParseState(a[1].v, "conference-info")
		if err != nil {
			return nil, err
		}
		doc.State = st
	}
	if !a[2].ok {
		return nil, invalid("conference-info without version (RFC 4575 §4.3)")
	}
	v, err := strconv.ParseUint(trimXMLSpace(a[2].v), 10, 32)
	if err != nil {
		return nil, invalid("conference-info version %q is not an unsigned 32-bit integer", a[2].v)
	}
	doc.Version = uint32(v)
	if err := p.conferenceBody(doc, false); err != nil {
		return nil, err
	}
	return doc, nil
}

// conferenceBody parses the children of a conference-type element into d.
// Inside a sidebar (nested) further sidebars are skipped.
func (p *refParser) conferenceBody(d *Document, nested bool) error {
	return p.children(func(se xml.StartElement) error {
		var err error
		switch se.Name.Local {
		case "conference-description":
			d.Description, err = p.description()
		case "host-info":
			d.HostInfo, err = p.hostInfo()
		case "conference-state":
			d.ConferenceState, err = p.confState()
		case "users":
			d.Users, err = p.users(se)
		case "sidebars-by-ref":
			if nested {
				return p.skip()
			}
			d.SidebarsByRef, err = p.uris(se, "sidebars-by-ref")
		case "sidebars-by-val":
			if nested {
				return p.skip()
			}
			d.SidebarsByVal, err = p.sidebarsByVal(se)
		default:
			return p.skip()
		}
		return err
	})
}

func (p *refParser) description() (*ConferenceDescription, error) {
	c := &ConferenceDescription{}
	err := p.children(func(se xml.StartElement) error {
		var err error
		switch se.Name.Local {
		case "display-text":
			c.DisplayText, err = p.leaf()
		case "subject":
			c.Subject, err = p.leaf()
		case "free-text":
			c.FreeText, err = p.leaf()
		case "keywords":
			var s string
			s, err = p.leaf()
			c.Keywords = fields(s)
		case "conf-uris":
			c.ConfURIs, err = p.uris(se, "conf-uris")
		case "service-uris":
			c.ServiceURIs, err = p.uris(se, "service-uris")
		case "maximum-user-count":
			c.MaximumUserCount, err = p.uint32Leaf("maximum-user-count")
		case "available-media":
			c.AvailableMedia, err = p.availableMedia()
		default:
			return p.skip()
		}
		return err
	})
	return c, err
}

func (p *refParser) availableMedia() ([]AvailableMedium, error) {
	var out []AvailableMedium
	err := p.children(func(se xml.StartElement) error {
		if se.Name.Local != "entry" {
			return p.skip()
		}
		m := AvailableMedium{Label: trimXMLSpace(refAttrs(se, "label")[0].v)}
		if m.Label == "" {
			return invalid("available-media entry without label")
		}
		for i := range out {
			if out[i].Label == m.Label {
				return invalid("available-media: duplicate label %q", m.Label)
			}
		}
		err := p.children(func(se xml.StartElement) error {
			var err error
			switch se.Name.Local {
			case "display-text":
				m.DisplayText, err = p.leaf()
			case "type":
				m.Type, err = p.token()
			case "status":
				var s string
				s, err = p.token()
				m.Status = MediaStatus(s)
			default:
				return p.skip()
			}
			return err
		})
		out = append(out, m)
		return err
	})
	return out, err
}

func (p *refParser) hostInfo() (*HostInfo, error) {
	h := &HostInfo{}
	err := p.children(func(se xml.StartElement) error {
		var err error
		switch se.Name.Local {
		case "display-text":
			h.DisplayText, err = p.leaf()
		case "web-page":
			h.WebPage, err = p.token()
		case "uris":
			h.URIs, err = p.uris(se, "host-info uris")
		default:
			return p.skip()
		}
		return err
	})
	return h, err
}

func (p *refParser) confState() (*ConferenceState, error) {
	s := &ConferenceState{}
	err := p.children(func(se xml.StartElement) error {
		var err error
		switch se.Name.Local {
		case "user-count":
			s.UserCount, err = p.uint32Leaf("user-count")
		case "active":
			s.Active, err = p.boolLeaf("active")
		case "locked":
			s.Locked, err = p.boolLeaf("locked")
		default:
			return p.skip()
		}
		return err
	})
	return s, err
}

func (p *refParser) uris(se xml.StartElement, name string) (*URIs, error) {
	u := &URIs{}
	if a := refAttrs(se, "state")[0]; a.ok {
		st, err := refParseState(a.v, name)
		if err != nil {
			return nil, err
		}
		u.State = st
	}
	var seen keys
	err := p.children(func(se xml.StartElement) error {
		if se.Name.Local != "entry" {
			return p.skip()
		}
		var e URIEntry
		if a := refAttrs(se, "state")[0]; a.ok {
			st, err := refParseState(a.v, name+" entry")
			if err != nil {
				return err
			}
			e.State = st
		}
		err := p.children(func(se xml.StartElement) error {
			var err error
			switch se.Name.Local {
			case "uri":
				e.URI, err = p.token()
			case "display-text":
				e.DisplayText, err = p.leaf()
			case "purpose":
				e.Purpose, err = p.token()
			case "modified":
				e.Modified, err = p.execution()
			default:
				return p.skip()
			}
			return err
		})
		if err != nil {
			return err
		}
		if e.URI == "" {
			return invalid("%s entry without uri", name)
		}
		if !seen.add(e.URI) {
			return invalid("%s: duplicate uri %q", name, e.URI)
		}
		u.Entries = append(u.Entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func (p *refParser) execution() (*Execution, error) {
	x := &Execution{}
	err := p.children(func(se xml.StartElement) error {
		var err error
		switch se.Name.Local {
		case "when":
			x.When, err = p.token()
		case "reason":
			x.Reason, err = p.leaf()
		case "by":
			x.By, err = p.token()
		default:
			return p.skip()
		}
		return err
	})
	return x, err
}

func (p *refParser) users(se xml.StartElement) (*Users, error) {
	us := &Users{}
	if a := refAttrs(se, "state")[0]; a.ok {
		st, err := refParseState(a.v, "users")
		if err != nil {
			return nil, err
		}
		us.State = st
	}
	var seen keys
	err := p.children(func(se xml.StartElement) error {
		if se.Name.Local != "user" {
			return p.skip()
		}
		u, err := p.user(se)
		if err != nil {
			return err
		}
		if !seen.add(u.Entity) {
			return invalid("duplicate user entity %q", u.Entity)
		}
		us.Users = append(us.Users, u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return us, nil
}

func (p *refParser) user(se xml.StartElement) (User, error) {
	var u User
	a := refAttrs(se, "entity", "state")
	u.Entity = trimXMLSpace(a[0].v)
	if u.Entity == "" {
		return u, invalid("user without entity")
	}
	if a[1].ok {
		st, err := refParseState(a[1].v, "user "+u.Entity)
		if err != nil {
			return u, err
		}
		u.State = st
	}
	var seen keys
	err := p.children(func(se xml.StartElement) error {
		var err error
		switch se.Name.Local {
		case "display-text":
			u.DisplayText, err = p.leaf()
		case "associated-aors":
			u.AssociatedAORs, err = p.uris(se, "associated-aors")
		case "roles":
			u.Roles, err = p.roles()
		case "languages":
			var s string
			s, err = p.leaf()
			u.Languages = fields(s)
		case "cascaded-focus":
			u.CascadedFocus, err = p.token()
		case "endpoint":
			var ep Endpoint
			if ep, err = p.endpoint(se); err != nil {
				return err
			}
			if !seen.add(ep.Entity) {
				return invalid("user %q: duplicate endpoint entity %q", u.Entity, ep.Entity)
			}
			u.Endpoints = append(u.Endpoints, ep)
		default:
			return p.skip()
		}
		return err
	})
	return u, err
}

func (p *refParser) roles() ([]string, error) {
	var out []string
	err := p.children(func(se xml.StartElement) error {
		if se.Name.Local != "entry" {
			return p.skip()
		}
		s, err := p.leaf()
		out = append(out, s)
		return err
	})
	return out, err
}

func (p *refParser) endpoint(se xml.StartElement) (Endpoint, error) {
	var ep Endpoint
	a := refAttrs(se, "entity", "state")
	ep.Entity = trimXMLSpace(a[0].v)
	if ep.Entity == "" {
		return ep, invalid("endpoint without entity")
	}
	if a[1].ok {
		st, err := refParseState(a[1].v, "endpoint "+ep.Entity)
		if err != nil {
			return ep, err
		}
		ep.State = st
	}
	var seen keys
	err := p.children(func(se xml.StartElement) error {
		var err error
		var s string
		switch se.Name.Local {
		case "display-text":
			ep.DisplayText, err = p.leaf()
		case "referred":
			ep.Referred, err = p.execution()
		case "status":
			s, err = p.token()
			ep.Status = EndpointStatus(s)
		case "joining-method":
			s, err = p.token()
			ep.JoiningMethod = JoiningMethod(s)
		case "joining-info":
			ep.JoiningInfo, err = p.execution()
		case "disconnection-method":
			s, err = p.token()
			ep.DisconnectionMethod = DisconnectionMethod(s)
		case "disconnection-info":
			ep.DisconnectionInfo, err = p.execution()
		case "media":
			var m Media
			if m, err = p.media(se); err != nil {
				return err
			}
			if !seen.add(m.ID) {
				return invalid("endpoint %q: duplicate media id %q", ep.Entity, m.ID)
			}
			ep.Media = append(ep.Media, m)
		case "call-info":
			ep.CallInfo, err = p.callInfo()
		default:
			return p.skip()
		}
		return err
	})
	return ep, err
}

func (p *refParser) media(se xml.StartElement) (Media, error) {
	m := Media{ID: trimXMLSpace(refAttrs(se, "id")[0].v)}
	if m.ID == "" {
		return m, invalid("media without id")
	}
	err := p.children(func(se xml.StartElement) error {
		var err error
		var s string
		switch se.Name.Local {
		case "display-text":
			m.DisplayText, err = p.leaf()
		case "type":
			m.Type, err = p.token()
		case "label":
			m.Label, err = p.token()
		case "src-id":
			m.SrcID, err = p.token()
		case "status":
			s, err = p.token()
			m.Status = MediaStatus(s)
		default:
			return p.skip()
		}
		return err
	})
	return m, err
}

func (p *refParser) callInfo() (*CallInfo, error) {
	ci := &CallInfo{}
	err := p.children(func(se xml.StartElement) error {
		if se.Name.Local != "sip" {
			return p.skip()
		}
		s := &SIPDialogID{}
		ci.SIP = s
		return p.children(func(se xml.StartElement) error {
			var err error
			switch se.Name.Local {
			case "display-text":
				s.DisplayText, err = p.leaf()
			case "call-id":
				s.CallID, err = p.token()
			case "from-tag":
				s.FromTag, err = p.token()
			case "to-tag":
				s.ToTag, err = p.token()
			default:
				return p.skip()
			}
			return err
		})
	})
	return ci, err
}

func (p *refParser) sidebarsByVal(se xml.StartElement) (*SidebarsByVal, error) {
	sv := &SidebarsByVal{}
	if a := refAttrs(se, "state")[0]; a.ok {
		st, err := refParseState(a.v, "sidebars-by-val")
		if err != nil {
			return nil, err
		}
		sv.State = st
	}
	var seen keys
	err := p.children(func(se xml.StartElement) error {
		if se.Name.Local != "entry" {
			return p.skip()
		}
		a := refAttrs(se, "entity", "state", "version")
		sb := Sidebar{Entity: trimXMLSpace(a[0].v)}
		if sb.Entity == "" {
			return invalid("sidebars-by-val entry without entity")
		}
		if !seen.add(sb.Entity) {
			return invalid("sidebars-by-val: duplicate entity %q", sb.Entity)
		}
		if a[1].ok {
			st, err := refParseState(a[1].v, "sidebar "+sb.Entity)
			if err != nil {
				return err
			}
			sb.State = st
		}
		if a[2].ok {
			v, err := strconv.ParseUint(trimXMLSpace(a[2].v), 10, 32)
			if err != nil {
				return invalid("sidebar %q: version %q is not an unsigned 32-bit integer", sb.Entity, a[2].v)
			}
			sb.Version = Ptr(uint32(v))
		}
		var body Document
		if err := p.conferenceBody(&body, true); err != nil {
			return err
		}
		sb.Description, sb.HostInfo, sb.ConferenceState, sb.Users =
			body.Description, body.HostInfo, body.ConferenceState, body.Users
		sv.Entries = append(sv.Entries, sb)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sv, nil
}

func trimXMLSpace(s string) string {
	return strings.TrimFunc(s, isXMLSpace)
}
