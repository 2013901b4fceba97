package confinfo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits Parse enforces so that hostile input costs bounded memory and time.
const (
	// MaxDocumentSize is the largest body Parse accepts, in bytes.
	MaxDocumentSize = 1 << 20
	// MaxDepth is the deepest element nesting Parse accepts, the root being
	// depth 1. Real documents need at most 9 (a sidebar's call-id).
	MaxDepth = 32
	// MaxElements is the most elements (of any namespace) Parse accepts in
	// one document: room for well over a thousand users.
	MaxElements = 50000
)

// ErrTooLarge is wrapped by Parse errors for input beyond MaxDocumentSize,
// MaxDepth or MaxElements.
var ErrTooLarge = errors.New("conference-info exceeds a limit")

// Parse decodes a conference-info document.
//
// It is strict about what the merge depends on: the root must be
// <conference-info> in the RFC 4575 namespace (any prefix), with an entity,
// a valid state (absent means full) and a version that is an unsigned 32-bit
// integer; user and endpoint entities, media ids, available-media labels and
// uris-type <uri>s must be present and unique among their siblings; numbers,
// booleans and state attributes must be well-formed. It is tolerant of
// everything else: elements of other namespaces and unknown elements are
// skipped, children may come in any order (for a repeated single element the
// last one wins), and unknown enumeration values (status, methods) are kept
// as text. URIs, numbers, booleans and enumerations are trimmed of
// surrounding whitespace; free text (display-text, subject, reason…) is kept
// as is.
//
// Errors wrap ErrInvalid or ErrTooLarge.
//
// The document is read by a scanner of its own that works in place; input
// it does not handle itself (malformed XML, DOCTYPE, non-ASCII names,
// references other than the predefined and character ones) is read again
// by encoding/xml, whose verdict and error text stand.
func Parse(b []byte) (*Document, error) {
	if len(b) > MaxDocumentSize {
		return nil, fmt.Errorf("confinfo: parse: %w: %d bytes, limit %d", ErrTooLarge, len(b), MaxDocumentSize)
	}
	doc, err := parseFrom(&scanner{in: b}, nil)
	if err == errBail {
		doc, err = parseFrom(nil, &xmlSource{dec: xml.NewDecoder(bytes.NewReader(b))})
	}
	if err != nil {
		return nil, fmt.Errorf("confinfo: parse: %w", err)
	}
	return doc, nil
}

// parseFrom builds a document from the tokens of the scanner, or if that
// is nil of encoding/xml. It returns errBail unwrapped when the scanner gave
// up.
func parseFrom(sc *scanner, xs *xmlSource) (*Document, error) {
	p := parser{sc: sc, xs: xs}
	doc := p.document()
	if p.err != nil {
		return nil, p.err
	}
	return doc, nil
}

// tokKind is the kind of a token.
type tokKind uint8

const (
	tokStart tokKind = iota + 1
	tokEnd
	tokText
)

// token is an element start or end, or character data. Its slices are
// valid until the next token is read.
type token struct {
	kind tokKind
	// space and local are the namespace name and local name of a start.
	space, local []byte
	// attrs are a start's attributes in no namespace, in document order.
	attrs []attr
	// text is character data with references resolved.
	text []byte
}

type attr struct{ name, value []byte }

// xmlSource reads tokens with encoding/xml. Like the scanner, its next
// leaves out comments, processing instructions and directives, and returns
// io.EOF at the end of the input.
type xmlSource struct{ dec *xml.Decoder }

func (s *xmlSource) next(t *token) error {
	for {
		tok, err := s.dec.Token()
		if err != nil {
			if err == io.EOF {
				return io.EOF
			}
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			t.kind, t.space, t.local, t.attrs = tokStart, []byte(x.Name.Space), []byte(x.Name.Local), t.attrs[:0]
			for _, a := range x.Attr {
				if a.Name.Space == "" {
					t.attrs = append(t.attrs, attr{name: []byte(a.Name.Local), value: []byte(a.Value)})
				}
			}
			return nil
		case xml.EndElement:
			t.kind = tokEnd
			return nil
		case xml.CharData:
			t.kind, t.text = tokText, x
			return nil
		}
	}
}

// parser builds a Document from tokens. The first error sticks: after it
// no token is read and every method returns at once, so the error reported
// is the first one in document order.
type parser struct {
	// The tokens come from sc, or from xs when sc is nil. (Two fields
	// rather than an interface keep the parser and its token off the heap.)
	sc       *scanner
	xs       *xmlSource
	tok      token
	eof      bool
	err      error
	depth    int
	elements int
	text     []byte // scratch for leaf text
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func (p *parser) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

// next reads the next token, keeping depth and element counts and
// enforcing the limits. It returns false at the end of the input (p.eof)
// or on an error (p.err).
func (p *parser) next() bool {
	if p.err != nil || p.eof {
		return false
	}
	var err error
	if p.sc != nil {
		err = p.sc.next(&p.tok)
	} else {
		err = p.xs.next(&p.tok)
	}
	if err != nil {
		if err == io.EOF {
			p.eof = true
		} else {
			p.err = err
		}
		return false
	}
	switch p.tok.kind {
	case tokStart:
		p.depth++
		p.elements++
		if p.depth > MaxDepth {
			p.err = fmt.Errorf("%w: nesting deeper than %d", ErrTooLarge, MaxDepth)
			return false
		}
		if p.elements > MaxElements {
			p.err = fmt.Errorf("%w: more than %d elements", ErrTooLarge, MaxElements)
			return false
		}
	case tokEnd:
		p.depth--
	}
	return true
}

// nextIn is next for use inside an element, where the end of the input is
// an error.
func (p *parser) nextIn() bool {
	if p.next() {
		return true
	}
	if p.eof {
		p.fail(invalid("unexpected end of document"))
	}
	return false
}

// skip consumes the rest of the element whose start was just read.
func (p *parser) skip() {
	for depth := 1; depth > 0 && p.nextIn(); {
		switch p.tok.kind {
		case tokStart:
			depth++
		case tokEnd:
			depth--
		}
	}
}

// child moves to the next child element in the conference-info namespace
// of the element whose start was read, skipping all others. It returns
// false after that element's end (or on an error). The caller must consume
// the child it is given.
func (p *parser) child() bool {
	for p.nextIn() {
		switch p.tok.kind {
		case tokStart:
			if string(p.tok.space) == Namespace {
				return true
			}
			p.skip()
		case tokEnd:
			return false
		}
	}
	return false
}

// leafBytes returns the character data of the element whose start was just
// read, skipping any child elements, and consumes its end. The result is
// valid until the next leaf.
func (p *parser) leafBytes() []byte {
	p.text = p.text[:0]
	for p.nextIn() {
		switch p.tok.kind {
		case tokText:
			p.text = append(p.text, p.tok.text...)
		case tokStart:
			p.skip()
		case tokEnd:
			return p.text
		}
	}
	return nil
}

// leaf is leafBytes as a string: free text, kept as is.
func (p *parser) leaf() string { return string(p.leafBytes()) }

// token is a leaf whose value is an XSD token-like type (URI, number,
// boolean, enumeration): surrounding whitespace is dropped.
func (p *parser) token() string { return intern(trimXMLSpaceBytes(p.leafBytes())) }

func (p *parser) uint32Leaf(name string) *uint32 {
	s := trimXMLSpaceBytes(p.leafBytes())
	if p.err != nil {
		return nil
	}
	v, ok := parseUint32(s)
	if !ok {
		p.fail(invalid("<%s>: %q is not an unsigned 32-bit integer", name, s))
		return nil
	}
	return &v
}

func (p *parser) boolLeaf(name string) *bool {
	s := trimXMLSpaceBytes(p.leafBytes())
	if p.err != nil {
		return nil
	}
	var v bool
	switch string(s) {
	case "true", "1":
		v = true
	case "false", "0":
	default:
		p.fail(invalid("<%s>: %q is not a boolean", name, s))
		return nil
	}
	return &v
}

// parseUint32 is strconv.ParseUint(s, 10, 32) on bytes.
func parseUint32(s []byte) (uint32, bool) {
	if len(s) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n = n*10 + uint64(c-'0'); n > 1<<32-1 {
			return 0, false
		}
	}
	return uint32(n), true
}

func trimXMLSpaceBytes(b []byte) []byte {
	for len(b) > 0 && isSpaceByte(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpaceByte(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// trimmed returns an attribute value (or a leaf) trimmed, as a string.
func trimmed(b []byte) string { return intern(trimXMLSpaceBytes(b)) }

// intern returns b as a string, without allocating for the enumeration
// values and common words of conference-info.
func intern(b []byte) string {
	switch string(b) {
	case "":
		return ""
	case "connected":
		return "connected"
	case "disconnected":
		return "disconnected"
	case "muted-via-focus":
		return "muted-via-focus"
	case "on-hold":
		return "on-hold"
	case "pending":
		return "pending"
	case "alerting":
		return "alerting"
	case "dialing-in":
		return "dialing-in"
	case "dialing-out":
		return "dialing-out"
	case "disconnecting":
		return "disconnecting"
	case "dialed-in":
		return "dialed-in"
	case "dialed-out":
		return "dialed-out"
	case "focus-owner":
		return "focus-owner"
	case "departed":
		return "departed"
	case "booted":
		return "booted"
	case "failed":
		return "failed"
	case "busy":
		return "busy"
	case "sendrecv":
		return "sendrecv"
	case "sendonly":
		return "sendonly"
	case "recvonly":
		return "recvonly"
	case "inactive":
		return "inactive"
	case "audio":
		return "audio"
	case "video":
		return "video"
	case "text":
		return "text"
	case "participation":
		return "participation"
	case "streaming":
		return "streaming"
	case "web-page":
		return "web-page"
	case "recording":
		return "recording"
	case "event":
		return "event"
	case "grouptextchat":
		return "grouptextchat"
	case "participant":
		return "participant"
	case "moderator":
		return "moderator"
	case "visitor":
		return "visitor"
	case "1":
		return "1"
	case "2":
		return "2"
	}
	return string(b)
}

// attrs returns the values of the attributes named (at most three) of the
// start just read, in the order named; the last of repeated ones wins.
func (p *parser) attrs(names ...string) [3]attrVal {
	var out [3]attrVal
	for _, a := range p.tok.attrs {
		for i, n := range names {
			if string(a.name) == n {
				out[i] = attrVal{v: a.value, ok: true}
			}
		}
	}
	return out
}

// attrVal is an attribute's value and whether it was present.
type attrVal struct {
	v  []byte
	ok bool
}

// state parses a state attribute, empty when absent; what+key names the
// element for the error (built only then).
func (p *parser) state(a attrVal, what, key string) ElementState {
	if !a.ok || p.err != nil {
		return ""
	}
	switch string(trimXMLSpaceBytes(a.v)) {
	case "full":
		return StateFull
	case "partial":
		return StatePartial
	case "deleted":
		return StateDeleted
	}
	p.fail(invalid("%s%s: invalid state %q", what, key, a.v))
	return ""
}

func (p *parser) document() *Document {
	var doc *Document
	for p.next() {
		switch p.tok.kind {
		case tokStart:
			if doc != nil {
				p.fail(invalid("element <%s> after the root", p.tok.local))
				return nil
			}
			if string(p.tok.local) != "conference-info" {
				p.fail(invalid("root element is <%s>, want <conference-info>", p.tok.local))
				return nil
			}
			if string(p.tok.space) != Namespace {
				p.fail(invalid("root element namespace is %q, want %q", p.tok.space, Namespace))
				return nil
			}
			if doc = p.root(); p.err != nil {
				return nil
			}
		case tokText:
			if len(bytes.TrimSpace(p.tok.text)) != 0 {
				p.fail(invalid("text outside the root element"))
				return nil
			}
		}
	}
	if p.err != nil {
		return nil
	}
	if doc == nil {
		p.fail(invalid("no conference-info element"))
	}
	return doc
}

func (p *parser) root() *Document {
	a := p.attrs("entity", "state", "version")
	doc := &Document{State: StateFull}
	if doc.Entity = string(trimXMLSpaceBytes(a[0].v)); doc.Entity == "" {
		p.fail(invalid("conference-info without entity"))
		return nil
	}
	if a[1].ok {
		doc.State = p.state(a[1], "conference-info", "")
	}
	if p.err != nil {
		return nil
	}
	if !a[2].ok {
		p.fail(invalid("conference-info without version (RFC 4575 §4.3)"))
		return nil
	}
	v, ok := parseUint32(trimXMLSpaceBytes(a[2].v))
	if !ok {
		p.fail(invalid("conference-info version %q is not an unsigned 32-bit integer", a[2].v))
		return nil
	}
	doc.Version = v
	p.conferenceBody(doc, false)
	return doc
}

// conferenceBody parses the children of a conference-type element into d.
// Inside a sidebar (nested) further sidebars are skipped.
func (p *parser) conferenceBody(d *Document, nested bool) {
	for p.child() {
		switch string(p.tok.local) {
		case "conference-description":
			d.Description = p.description()
		case "host-info":
			d.HostInfo = p.hostInfo()
		case "conference-state":
			d.ConferenceState = p.confState()
		case "users":
			d.Users = p.users()
		case "sidebars-by-ref":
			if nested {
				p.skip()
				continue
			}
			d.SidebarsByRef = p.uris("sidebars-by-ref")
		case "sidebars-by-val":
			if nested {
				p.skip()
				continue
			}
			d.SidebarsByVal = p.sidebarsByVal()
		default:
			p.skip()
		}
	}
}

func (p *parser) description() *ConferenceDescription {
	c := &ConferenceDescription{}
	for p.child() {
		switch string(p.tok.local) {
		case "display-text":
			c.DisplayText = p.leaf()
		case "subject":
			c.Subject = p.leaf()
		case "free-text":
			c.FreeText = p.leaf()
		case "keywords":
			c.Keywords = fields(p.leaf())
		case "conf-uris":
			c.ConfURIs = p.uris("conf-uris")
		case "service-uris":
			c.ServiceURIs = p.uris("service-uris")
		case "maximum-user-count":
			c.MaximumUserCount = p.uint32Leaf("maximum-user-count")
		case "available-media":
			c.AvailableMedia = p.availableMedia()
		default:
			p.skip()
		}
	}
	return c
}

func (p *parser) availableMedia() []AvailableMedium {
	var out []AvailableMedium
	var seen map[string]struct{}
	for p.child() {
		if string(p.tok.local) != "entry" {
			p.skip()
			continue
		}
		m := AvailableMedium{Label: trimmed(p.attrs("label")[0].v)}
		if m.Label == "" {
			p.fail(invalid("available-media entry without label"))
			return out
		}
		if seenKey(out, labelKey, m.Label, &seen) {
			p.fail(invalid("available-media: duplicate label %q", m.Label))
			return out
		}
		for p.child() {
			switch string(p.tok.local) {
			case "display-text":
				m.DisplayText = p.leaf()
			case "type":
				m.Type = p.token()
			case "status":
				m.Status = MediaStatus(p.token())
			default:
				p.skip()
			}
		}
		out = append(out, m)
	}
	return out
}

func (p *parser) hostInfo() *HostInfo {
	h := &HostInfo{}
	for p.child() {
		switch string(p.tok.local) {
		case "display-text":
			h.DisplayText = p.leaf()
		case "web-page":
			h.WebPage = p.token()
		case "uris":
			h.URIs = p.uris("host-info uris")
		default:
			p.skip()
		}
	}
	return h
}

func (p *parser) confState() *ConferenceState {
	s := &ConferenceState{}
	for p.child() {
		switch string(p.tok.local) {
		case "user-count":
			s.UserCount = p.uint32Leaf("user-count")
		case "active":
			s.Active = p.boolLeaf("active")
		case "locked":
			s.Locked = p.boolLeaf("locked")
		default:
			p.skip()
		}
	}
	return s
}

// seenKey reports whether key is the key of one of the siblings already
// parsed; a few are scanned, more are indexed in *set, built on first use
// and kept up to date (the caller appends the sibling when it gets false).
func seenKey[T any](siblings []T, keyOf func(*T) string, key string, set *map[string]struct{}) bool {
	if *set == nil {
		if len(siblings) < 16 {
			for i := range siblings {
				if keyOf(&siblings[i]) == key {
					return true
				}
			}
			return false
		}
		*set = make(map[string]struct{}, 2*len(siblings))
		for i := range siblings {
			(*set)[keyOf(&siblings[i])] = struct{}{}
		}
	}
	if _, dup := (*set)[key]; dup {
		return true
	}
	(*set)[key] = struct{}{}
	return false
}

func labelKey(m *AvailableMedium) string { return m.Label }
func uriKey(e *URIEntry) string          { return e.URI }
func userKey(u *User) string             { return u.Entity }
func endpointKey(e *Endpoint) string     { return e.Entity }
func mediaKey(m *Media) string           { return m.ID }
func sidebarKey(s *Sidebar) string       { return s.Entity }

func (p *parser) uris(name string) *URIs {
	u := &URIs{State: p.state(p.attrs("state")[0], name, "")}
	if p.err != nil {
		return nil
	}
	var seen map[string]struct{}
	for p.child() {
		if string(p.tok.local) != "entry" {
			p.skip()
			continue
		}
		e := URIEntry{State: p.state(p.attrs("state")[0], name, " entry")}
		if p.err != nil {
			return nil
		}
		for p.child() {
			switch string(p.tok.local) {
			case "uri":
				e.URI = p.token()
			case "display-text":
				e.DisplayText = p.leaf()
			case "purpose":
				e.Purpose = p.token()
			case "modified":
				e.Modified = p.execution()
			default:
				p.skip()
			}
		}
		if p.err != nil {
			return nil
		}
		if e.URI == "" {
			p.fail(invalid("%s entry without uri", name))
			return nil
		}
		if seenKey(u.Entries, uriKey, e.URI, &seen) {
			p.fail(invalid("%s: duplicate uri %q", name, e.URI))
			return nil
		}
		u.Entries = append(u.Entries, e)
	}
	if p.err != nil {
		return nil
	}
	return u
}

func (p *parser) execution() *Execution {
	x := &Execution{}
	for p.child() {
		switch string(p.tok.local) {
		case "when":
			x.When = p.token()
		case "reason":
			x.Reason = p.leaf()
		case "by":
			x.By = p.token()
		default:
			p.skip()
		}
	}
	return x
}

func (p *parser) users() *Users {
	us := &Users{State: p.state(p.attrs("state")[0], "users", "")}
	if p.err != nil {
		return nil
	}
	var seen map[string]struct{}
	for p.child() {
		if string(p.tok.local) != "user" {
			p.skip()
			continue
		}
		u := p.user()
		if p.err != nil {
			return nil
		}
		if seenKey(us.Users, userKey, u.Entity, &seen) {
			p.fail(invalid("duplicate user entity %q", u.Entity))
			return nil
		}
		us.Users = append(us.Users, u)
	}
	if p.err != nil {
		return nil
	}
	return us
}

func (p *parser) user() User {
	var u User
	a := p.attrs("entity", "state")
	if u.Entity = string(trimXMLSpaceBytes(a[0].v)); u.Entity == "" {
		p.fail(invalid("user without entity"))
		return u
	}
	if u.State = p.state(a[1], "user ", u.Entity); p.err != nil {
		return u
	}
	var seen map[string]struct{}
	for p.child() {
		switch string(p.tok.local) {
		case "display-text":
			u.DisplayText = p.leaf()
		case "associated-aors":
			u.AssociatedAORs = p.uris("associated-aors")
		case "roles":
			u.Roles = p.roles()
		case "languages":
			u.Languages = fields(p.leaf())
		case "cascaded-focus":
			u.CascadedFocus = p.token()
		case "endpoint":
			ep := p.endpoint()
			if p.err != nil {
				return u
			}
			if seenKey(u.Endpoints, endpointKey, ep.Entity, &seen) {
				p.fail(invalid("user %q: duplicate endpoint entity %q", u.Entity, ep.Entity))
				return u
			}
			u.Endpoints = append(u.Endpoints, ep)
		default:
			p.skip()
		}
	}
	return u
}

func (p *parser) roles() []string {
	var out []string
	for p.child() {
		if string(p.tok.local) != "entry" {
			p.skip()
			continue
		}
		out = append(out, intern(p.leafBytes()))
	}
	return out
}

func (p *parser) endpoint() Endpoint {
	var ep Endpoint
	a := p.attrs("entity", "state")
	if ep.Entity = string(trimXMLSpaceBytes(a[0].v)); ep.Entity == "" {
		p.fail(invalid("endpoint without entity"))
		return ep
	}
	if ep.State = p.state(a[1], "endpoint ", ep.Entity); p.err != nil {
		return ep
	}
	var seen map[string]struct{}
	for p.child() {
		switch string(p.tok.local) {
		case "display-text":
			ep.DisplayText = p.leaf()
		case "referred":
			ep.Referred = p.execution()
		case "status":
			ep.Status = EndpointStatus(p.token())
		case "joining-method":
			ep.JoiningMethod = JoiningMethod(p.token())
		case "joining-info":
			ep.JoiningInfo = p.execution()
		case "disconnection-method":
			ep.DisconnectionMethod = DisconnectionMethod(p.token())
		case "disconnection-info":
			ep.DisconnectionInfo = p.execution()
		case "media":
			m := p.media()
			if p.err != nil {
				return ep
			}
			if seenKey(ep.Media, mediaKey, m.ID, &seen) {
				p.fail(invalid("endpoint %q: duplicate media id %q", ep.Entity, m.ID))
				return ep
			}
			ep.Media = append(ep.Media, m)
		case "call-info":
			ep.CallInfo = p.callInfo()
		default:
			p.skip()
		}
	}
	return ep
}

func (p *parser) media() Media {
	m := Media{ID: trimmed(p.attrs("id")[0].v)}
	if m.ID == "" {
		p.fail(invalid("media without id"))
		return m
	}
	for p.child() {
		switch string(p.tok.local) {
		case "display-text":
			m.DisplayText = p.leaf()
		case "type":
			m.Type = p.token()
		case "label":
			m.Label = p.token()
		case "src-id":
			m.SrcID = p.token()
		case "status":
			m.Status = MediaStatus(p.token())
		default:
			p.skip()
		}
	}
	return m
}

func (p *parser) callInfo() *CallInfo {
	ci := &CallInfo{}
	for p.child() {
		if string(p.tok.local) != "sip" {
			p.skip()
			continue
		}
		s := &SIPDialogID{}
		ci.SIP = s
		for p.child() {
			switch string(p.tok.local) {
			case "display-text":
				s.DisplayText = p.leaf()
			case "call-id":
				s.CallID = p.token()
			case "from-tag":
				s.FromTag = p.token()
			case "to-tag":
				s.ToTag = p.token()
			default:
				p.skip()
			}
		}
	}
	return ci
}

func (p *parser) sidebarsByVal() *SidebarsByVal {
	sv := &SidebarsByVal{State: p.state(p.attrs("state")[0], "sidebars-by-val", "")}
	if p.err != nil {
		return nil
	}
	var seen map[string]struct{}
	for p.child() {
		if string(p.tok.local) != "entry" {
			p.skip()
			continue
		}
		a := p.attrs("entity", "state", "version")
		sb := Sidebar{Entity: string(trimXMLSpaceBytes(a[0].v))}
		if sb.Entity == "" {
			p.fail(invalid("sidebars-by-val entry without entity"))
			return nil
		}
		if seenKey(sv.Entries, sidebarKey, sb.Entity, &seen) {
			p.fail(invalid("sidebars-by-val: duplicate entity %q", sb.Entity))
			return nil
		}
		if sb.State = p.state(a[1], "sidebar ", sb.Entity); p.err != nil {
			return nil
		}
		if a[2].ok {
			v, ok := parseUint32(trimXMLSpaceBytes(a[2].v))
			if !ok {
				p.fail(invalid("sidebar %q: version %q is not an unsigned 32-bit integer", sb.Entity, a[2].v))
				return nil
			}
			sb.Version = Ptr(v)
		}
		var body Document
		p.conferenceBody(&body, true)
		sb.Description, sb.HostInfo, sb.ConferenceState, sb.Users =
			body.Description, body.HostInfo, body.ConferenceState, body.Users
		sv.Entries = append(sv.Entries, sb)
	}
	if p.err != nil {
		return nil
	}
	return sv
}

// keys detects duplicate keys among siblings; small lists are scanned, larger
// ones use a map.
type keys struct {
	list []string
	set  map[string]struct{}
}

func (k *keys) add(key string) bool {
	if k.set != nil {
		if _, dup := k.set[key]; dup {
			return false
		}
		k.set[key] = struct{}{}
		return true
	}
	for _, s := range k.list {
		if s == key {
			return false
		}
	}
	k.list = append(k.list, key)
	if len(k.list) > 16 {
		k.set = make(map[string]struct{}, 2*len(k.list))
		for _, s := range k.list {
			k.set[s] = struct{}{}
		}
		k.list = nil
	}
	return true
}

// Validate reports whether d satisfies what Parse enforces: an entity on the
// root, valid state values, present and unique keys (user and endpoint
// entities, media ids, available-media labels, uris-type uris, sidebar
// entities). A document that validates marshals into one that parses.
func (d *Document) Validate() error {
	if err := d.check(); err != nil {
		return err
	}
	var errs []string
	dup := func(what string, list func(yield func(string))) {
		var k keys
		list(func(key string) {
			if !k.add(key) {
				errs = append(errs, fmt.Sprintf("duplicate %s %q", what, key))
			}
		})
	}
	urisDup := func(name string, u *URIs) {
		if u == nil {
			return
		}
		dup(name+" uri", func(y func(string)) {
			for _, e := range u.Entries {
				y(e.URI)
			}
		})
	}
	body := func(desc *ConferenceDescription, host *HostInfo, users *Users) {
		if desc != nil {
			urisDup("conf-uris", desc.ConfURIs)
			urisDup("service-uris", desc.ServiceURIs)
			dup("available-media label", func(y func(string)) {
				for _, m := range desc.AvailableMedia {
					y(m.Label)
				}
			})
		}
		if host != nil {
			urisDup("host-info uris", host.URIs)
		}
		if users == nil {
			return
		}
		dup("user entity", func(y func(string)) {
			for _, u := range users.Users {
				y(u.Entity)
			}
		})
		for _, u := range users.Users {
			urisDup("associated-aors", u.AssociatedAORs)
			dup("endpoint entity", func(y func(string)) {
				for _, ep := range u.Endpoints {
					y(ep.Entity)
				}
			})
			for _, ep := range u.Endpoints {
				dup("media id", func(y func(string)) {
					for _, m := range ep.Media {
						y(m.ID)
					}
				})
			}
		}
	}
	body(d.Description, d.HostInfo, d.Users)
	urisDup("sidebars-by-ref", d.SidebarsByRef)
	if d.SidebarsByVal != nil {
		dup("sidebar entity", func(y func(string)) {
			for _, s := range d.SidebarsByVal.Entries {
				y(s.Entity)
			}
		})
		for _, s := range d.SidebarsByVal.Entries {
			body(s.Description, s.HostInfo, s.Users)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("confinfo: %w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}
