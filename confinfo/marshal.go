package confinfo

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// flushAt is the buffered size at which MarshalTo hands bytes to its writer.
const flushAt = 4096

// Marshal renders d as a UTF-8 conference-info document: the XML declaration,
// then compact XML with the namespace as the default xmlns on the root and no
// prefixes, children in XSD order, absent (nil/empty) elements omitted. The
// output is byte-stable: the same document always gives the same bytes, and
// URIs are written verbatim (escaped only where XML requires it).
//
// Marshal checks what Parse would reject (missing entity or key attributes,
// bad state values); it does not look for duplicate keys (see Validate).
// Characters that XML cannot carry are replaced with U+FFFD.
func (d *Document) Marshal() ([]byte, error) {
	return d.AppendTo(make([]byte, 0, d.sizeHint()))
}

// sizeHint guesses the rendered size so that Marshal rarely grows its slice.
func (d *Document) sizeHint() int {
	n := 1024
	if d != nil && d.Users != nil {
		n += 768 * len(d.Users.Users)
	}
	return n
}

// AppendTo appends the rendering of d (as Marshal) to dst and returns the
// extended slice. With enough capacity in dst it does not allocate.
func (d *Document) AppendTo(dst []byte) ([]byte, error) {
	e := encoder{buf: dst}
	e.document(d)
	if e.err != nil {
		return dst, e.err
	}
	return e.buf, nil
}

// MarshalTo writes the rendering of d (as Marshal) to w. If w offers
// AvailableBuffer (bytes.Buffer, bufio.Writer) the document is built in it
// and written with one call; otherwise it is written in chunks of about
// 4 KiB. On a validation error nothing is written.
func (d *Document) MarshalTo(w io.Writer) error {
	if ab, ok := w.(interface{ AvailableBuffer() []byte }); ok {
		b, err := d.AppendTo(ab.AvailableBuffer())
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	if err := d.check(); err != nil {
		return err
	}
	e := encoder{buf: make([]byte, 0, flushAt+512), w: w}
	e.document(d)
	e.flush()
	return e.err
}

// check runs the validation part of the encoder without keeping output.
func (d *Document) check() error {
	e := encoder{dry: true}
	e.document(d)
	return e.err
}

type encoder struct {
	buf []byte
	w   io.Writer // nil: append only
	dry bool      // validate only, write nothing
	err error
}

func (e *encoder) fail(format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf("confinfo: marshal: %w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
}

func (e *encoder) flush() {
	if e.w == nil || e.err != nil || len(e.buf) == 0 {
		return
	}
	if _, err := e.w.Write(e.buf); err != nil {
		e.err = fmt.Errorf("confinfo: marshal: %w", err)
	}
	e.buf = e.buf[:0]
}

func (e *encoder) raw(s string) {
	if e.dry || e.err != nil {
		return
	}
	e.buf = append(e.buf, s...)
	if e.w != nil && len(e.buf) >= flushAt {
		e.flush()
	}
}

func (e *encoder) open(name string) {
	e.raw("<")
	e.raw(name)
	e.raw(">")
}

func (e *encoder) close(name string) {
	e.raw("</")
	e.raw(name)
	e.raw(">")
}

// startTag writes "<name" without the closing bracket, for attributes.
func (e *encoder) startTag(name string) {
	e.raw("<")
	e.raw(name)
}

func (e *encoder) attr(name, value string) {
	e.raw(" ")
	e.raw(name)
	e.raw(`="`)
	e.escape(value, true)
	e.raw(`"`)
}

func (e *encoder) stateAttr(s ElementState, where string) {
	if !s.valid() {
		e.fail("%s: invalid state %q", where, string(s))
		return
	}
	if s != "" {
		e.attr("state", string(s))
	}
}

// text writes <name>value</name> when value is not empty.
func (e *encoder) text(name, value string) {
	if value != "" {
		e.element(name, value)
	}
}

// element writes <name>value</name>.
func (e *encoder) element(name, value string) {
	e.open(name)
	e.escape(value, false)
	e.close(name)
}

// keyed writes the start tag of a keyed element (what) but for its closing
// bracket: its key attribute, which must not be empty, and its state.
func (e *encoder) keyed(name, keyAttr, key string, state ElementState, what string) {
	if key == "" {
		e.fail("%s without %s", what, keyAttr)
	}
	e.startTag(name)
	e.attr(keyAttr, key)
	e.stateAttr(state, what)
}

func (e *encoder) uint(name string, v *uint32) {
	if v == nil {
		return
	}
	e.open(name)
	if !e.dry && e.err == nil {
		e.buf = strconv.AppendUint(e.buf, uint64(*v), 10)
	}
	e.close(name)
}

func (e *encoder) bool(name string, v *bool) {
	if v == nil {
		return
	}
	e.open(name)
	if *v {
		e.raw("true")
	} else {
		e.raw("false")
	}
	e.close(name)
}

func (e *encoder) list(name string, items []string) {
	if len(items) == 0 {
		return
	}
	e.open(name)
	for i, s := range items {
		if i > 0 {
			e.raw(" ")
		}
		e.escape(s, false)
	}
	e.close(name)
}

// escape writes s with the XML special characters escaped. In attributes
// tab, newline and carriage return become character references so that they
// survive attribute-value handling; in text a carriage return does, so that
// it survives line-end normalisation. Characters outside the XML Char
// production (and invalid UTF-8) become U+FFFD.
func (e *encoder) escape(s string, inAttr bool) {
	if e.dry || e.err != nil {
		return
	}
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '&' && c != '<' && c != '>' && c != '"' && c != '\'' {
			i++
			continue
		}
		r, width := rune(c), 1
		if c >= utf8.RuneSelf {
			r, width = utf8.DecodeRuneInString(s[i:])
		}
		var rep string
		switch {
		case r == '&':
			rep = "&amp;"
		case r == '<':
			rep = "&lt;"
		case r == '>':
			rep = "&gt;"
		case r == '"':
			rep = "&quot;"
		case r == '\'':
			rep = "&apos;"
		case r == '\r':
			rep = "&#xD;"
		case r == '\n' && inAttr:
			rep = "&#xA;"
		case r == '\t' && inAttr:
			rep = "&#x9;"
		case r == '\n' || r == '\t':
			i += width
			continue
		case r == utf8.RuneError && width == 1, !isXMLChar(r):
			rep = "\uFFFD"
		default:
			i += width
			continue
		}
		e.buf = append(e.buf, s[last:i]...)
		e.buf = append(e.buf, rep...)
		i += width
		last = i
	}
	e.buf = append(e.buf, s[last:]...)
	if e.w != nil && len(e.buf) >= flushAt {
		e.flush()
	}
}

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

func (e *encoder) document(d *Document) {
	if d == nil {
		e.fail("nil document")
		return
	}
	if d.Entity == "" {
		e.fail("conference-info without entity")
	}
	state := d.State
	if state == "" {
		state = StateFull
	}
	if !state.valid() {
		e.fail("conference-info: invalid state %q", string(state))
		return
	}
	e.raw(xmlHeader)
	e.startTag("conference-info")
	e.attr("xmlns", Namespace)
	e.attr("entity", d.Entity)
	e.attr("state", string(state))
	e.raw(` version="`)
	if !e.dry && e.err == nil {
		e.buf = strconv.AppendUint(e.buf, uint64(d.Version), 10)
	}
	e.raw(`">`)
	e.description(d.Description)
	e.hostInfo(d.HostInfo)
	e.confState(d.ConferenceState)
	e.users(d.Users)
	e.uris("sidebars-by-ref", d.SidebarsByRef)
	e.sidebarsByVal(d.SidebarsByVal)
	e.raw("</conference-info>\n")
}

func (e *encoder) description(c *ConferenceDescription) {
	if c == nil {
		return
	}
	e.open("conference-description")
	e.text("display-text", c.DisplayText)
	e.text("subject", c.Subject)
	e.text("free-text", c.FreeText)
	e.list("keywords", c.Keywords)
	e.uris("conf-uris", c.ConfURIs)
	e.uris("service-uris", c.ServiceURIs)
	e.uint("maximum-user-count", c.MaximumUserCount)
	if len(c.AvailableMedia) > 0 {
		e.open("available-media")
		for i := range c.AvailableMedia {
			m := &c.AvailableMedia[i]
			e.keyed("entry", "label", m.Label, "", "available-media entry")
			e.raw(">")
			e.text("display-text", m.DisplayText)
			e.text("type", m.Type)
			e.text("status", string(m.Status))
			e.close("entry")
		}
		e.close("available-media")
	}
	e.close("conference-description")
}

func (e *encoder) hostInfo(h *HostInfo) {
	if h == nil {
		return
	}
	e.open("host-info")
	e.text("display-text", h.DisplayText)
	e.text("web-page", h.WebPage)
	e.uris("uris", h.URIs)
	e.close("host-info")
}

func (e *encoder) confState(s *ConferenceState) {
	if s == nil {
		return
	}
	e.open("conference-state")
	e.uint("user-count", s.UserCount)
	e.bool("active", s.Active)
	e.bool("locked", s.Locked)
	e.close("conference-state")
}

func (e *encoder) uris(name string, u *URIs) {
	if u == nil {
		return
	}
	e.startTag(name)
	e.stateAttr(u.State, name)
	e.raw(">")
	for i := range u.Entries {
		en := &u.Entries[i]
		if en.URI == "" {
			e.fail("%s entry without uri", name)
		}
		e.startTag("entry")
		if !en.State.valid() {
			e.fail("%s entry: invalid state %q", name, string(en.State))
		}
		e.stateAttr(en.State, "entry")
		e.raw(">")
		e.text("uri", en.URI)
		e.text("display-text", en.DisplayText)
		e.text("purpose", en.Purpose)
		e.execution("modified", en.Modified)
		e.close("entry")
	}
	e.close(name)
}

func (e *encoder) execution(name string, x *Execution) {
	if x == nil {
		return
	}
	e.open(name)
	e.text("when", x.When)
	e.text("reason", x.Reason)
	e.text("by", x.By)
	e.close(name)
}

func (e *encoder) users(u *Users) {
	if u == nil {
		return
	}
	e.startTag("users")
	e.stateAttr(u.State, "users")
	e.raw(">")
	for i := range u.Users {
		e.user(&u.Users[i])
	}
	e.close("users")
}

func (e *encoder) user(u *User) {
	e.keyed("user", "entity", u.Entity, u.State, "user")
	e.raw(">")
	e.text("display-text", u.DisplayText)
	e.uris("associated-aors", u.AssociatedAORs)
	if len(u.Roles) > 0 {
		e.open("roles")
		for _, r := range u.Roles {
			e.element("entry", r)
		}
		e.close("roles")
	}
	e.list("languages", u.Languages)
	e.text("cascaded-focus", u.CascadedFocus)
	for i := range u.Endpoints {
		e.endpoint(&u.Endpoints[i])
	}
	e.close("user")
}

func (e *encoder) endpoint(ep *Endpoint) {
	e.keyed("endpoint", "entity", ep.Entity, ep.State, "endpoint")
	e.raw(">")
	e.text("display-text", ep.DisplayText)
	e.execution("referred", ep.Referred)
	e.text("status", string(ep.Status))
	e.text("joining-method", string(ep.JoiningMethod))
	e.execution("joining-info", ep.JoiningInfo)
	e.text("disconnection-method", string(ep.DisconnectionMethod))
	e.execution("disconnection-info", ep.DisconnectionInfo)
	for i := range ep.Media {
		m := &ep.Media[i]
		e.keyed("media", "id", m.ID, "", "media")
		e.raw(">")
		e.text("display-text", m.DisplayText)
		e.text("type", m.Type)
		e.text("label", m.Label)
		e.text("src-id", m.SrcID)
		e.text("status", string(m.Status))
		e.close("media")
	}
	if ci := ep.CallInfo; ci != nil {
		e.open("call-info")
		if s := ci.SIP; s != nil {
			e.open("sip")
			e.text("display-text", s.DisplayText)
			// call-id, from-tag and to-tag are required by the schema:
			// written even when empty.
			e.element("call-id", s.CallID)
			e.element("from-tag", s.FromTag)
			e.element("to-tag", s.ToTag)
			e.close("sip")
		}
		e.close("call-info")
	}
	e.close("endpoint")
}

func (e *encoder) sidebarsByVal(s *SidebarsByVal) {
	if s == nil {
		return
	}
	e.startTag("sidebars-by-val")
	e.stateAttr(s.State, "sidebars-by-val")
	e.raw(">")
	for i := range s.Entries {
		sb := &s.Entries[i]
		e.keyed("entry", "entity", sb.Entity, sb.State, "sidebars-by-val entry")
		if sb.Version != nil {
			e.attr("version", strconv.FormatUint(uint64(*sb.Version), 10))
		}
		e.raw(">")
		e.description(sb.Description)
		e.hostInfo(sb.HostInfo)
		e.confState(sb.ConferenceState)
		e.users(sb.Users)
		e.close("entry")
	}
	e.close("sidebars-by-val")
}

// String renders d for logs: the marshalled XML, or the error.
func (d *Document) String() string {
	b, err := d.Marshal()
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return strings.TrimSpace(string(b))
}

// ErrInvalid is wrapped by every error about a malformed or invalid
// document, from Parse, Marshal or Validate.
var ErrInvalid = errors.New("invalid conference-info")
