package confinfo

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// errBail is returned by the scanner for input it does not handle itself:
// anything malformed, and well-formed constructs outside the common subset
// (DOCTYPE and other directives, names with non-ASCII characters, entity
// references other than the five predefined ones and character references).
// Parse then runs the document through encoding/xml, which decides.
var errBail = errors.New("confinfo: input outside the fast scanner's subset")

// scanner is Parse's fast tokenizer: it reads the document in place,
// resolves namespaces itself and allocates nothing per token. It accepts a
// subset of what encoding/xml's Decoder.Token accepts in strict mode (with
// no CharsetReader and no Entity map) and produces exactly the tokens that
// Decoder.Token would for it; everything else makes it return errBail. The
// rules it follows are encoding/xml's (Go 1.26), not the XML specification's
// where the two differ.
type scanner struct {
	in  []byte
	pos int
	// open holds the qualified names of the open elements, innermost last.
	open [][]byte
	// ns holds the namespace declarations in scope, innermost last.
	ns []nsDecl
	// closing is set after a self-closing start tag: its end comes next.
	closing bool
	attrBuf []byte // decoded attribute values of the current start tag
	textBuf []byte // decoded character data of the current text token
	attrs   []qattr
}

// nsDecl is one xmlns or xmlns:prefix attribute of the open element at
// depth.
type nsDecl struct {
	prefix, uri []byte
	depth       int
}

// qattr is an attribute with its name split into prefix and local part.
type qattr struct {
	prefix, local, value []byte
}

// maxNSDecls bounds the namespace declarations in scope the scanner keeps
// (real documents have one or two); beyond it encoding/xml takes over.
const maxNSDecls = 64

// xmlURL is the namespace name the xml prefix is bound to.
const xmlURL = "http://www.w3.org/XML/1998/namespace"

func (s *scanner) next(t *token) error {
	if s.closing {
		s.closing = false
		s.pop()
		t.kind = tokEnd
		return nil
	}
	for {
		if s.pos >= len(s.in) {
			if len(s.open) > 0 {
				return errBail // encoding/xml: unexpected EOF
			}
			return io.EOF
		}
		if s.in[s.pos] != '<' {
			return s.text(t)
		}
		rest := s.in[s.pos:]
		if len(rest) < 2 {
			return errBail
		}
		switch rest[1] {
		case '/':
			return s.endTag(t)
		case '?':
			if err := s.procInst(); err != nil {
				return err
			}
		case '!':
			switch {
			case bytes.HasPrefix(rest, []byte("<!--")):
				if err := s.comment(); err != nil {
					return err
				}
			case bytes.HasPrefix(rest, []byte("<![CDATA[")):
				return s.cdata(t)
			default:
				return errBail // a directive, or malformed
			}
		default:
			return s.startTag(t)
		}
	}
}

// pop closes the innermost element and forgets its declarations.
func (s *scanner) pop() {
	depth := len(s.open)
	for len(s.ns) > 0 && s.ns[len(s.ns)-1].depth == depth {
		s.ns = s.ns[:len(s.ns)-1]
	}
	s.open = s.open[:depth-1]
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\r' || c == '\n' || c == '\t' }

func (s *scanner) skipSpace() {
	for s.pos < len(s.in) && isSpaceByte(s.in[s.pos]) {
		s.pos++
	}
}

// Bit sets of the ASCII bytes that may start an XML name (letters, '_',
// ':') and that may continue one (also digits, '.', '-'), as encoding/xml's
// isName tables have them.
const (
	nameStartLo = 1 << ':'
	nameStartHi = (1<<26-1)<<('A'-64) | 1<<('_'-64) | (1<<26-1)<<('a'-64)
	nameLo      = nameStartLo | (1<<10-1)<<'0' | 1<<'.' | 1<<'-'
	nameHi      = nameStartHi
)

func inSet(c byte, lo, hi uint64) bool {
	if c < 64 {
		return lo>>c&1 != 0
	}
	return c < 128 && hi>>(c-64)&1 != 0
}

func isNameStartByte(c byte) bool { return inSet(c, nameStartLo, nameStartHi) }

func isNameByteASCII(c byte) bool { return inSet(c, nameLo, nameHi) }

// name reads an XML name made of ASCII characters at s.pos. A name with
// other characters, a missing name or a name running into the end of the
// input is refused (ok false).
func (s *scanner) name() (name []byte, ok bool) {
	start := s.pos
	if s.pos >= len(s.in) || !isNameStartByte(s.in[s.pos]) {
		return nil, false
	}
	s.pos++
	for s.pos < len(s.in) && isNameByteASCII(s.in[s.pos]) {
		s.pos++
	}
	if s.pos >= len(s.in) || s.in[s.pos] >= utf8.RuneSelf {
		return nil, false
	}
	return s.in[start:s.pos], true
}

// splitName splits a qualified name as encoding/xml does: at its only
// colon unless that is first or last; a second colon is an error.
func splitName(name []byte) (prefix, local []byte, ok bool) {
	i := bytes.IndexByte(name, ':')
	if i < 0 {
		return nil, name, true
	}
	if bytes.IndexByte(name[i+1:], ':') >= 0 {
		return nil, nil, false
	}
	if i == 0 || i == len(name)-1 {
		return nil, name, true
	}
	return name[:i], name[i+1:], true
}

// lookup returns the namespace bound to prefix ("" for the default one).
func (s *scanner) lookup(prefix []byte) ([]byte, bool) {
	for i := len(s.ns) - 1; i >= 0; i-- {
		if bytes.Equal(s.ns[i].prefix, prefix) {
			return s.ns[i].uri, true
		}
	}
	return nil, false
}

func (s *scanner) startTag(t *token) error {
	s.pos++ // <
	qname, ok := s.name()
	if !ok {
		return errBail
	}
	prefix, local, ok := splitName(qname)
	if !ok {
		return errBail
	}
	s.attrs = s.attrs[:0]
	s.attrBuf = s.attrBuf[:0]
	empty := false
	for {
		s.skipSpace()
		if s.pos >= len(s.in) {
			return errBail
		}
		c := s.in[s.pos]
		if c == '/' {
			if s.pos+1 >= len(s.in) || s.in[s.pos+1] != '>' {
				return errBail
			}
			s.pos += 2
			empty = true
			break
		}
		if c == '>' {
			s.pos++
			break
		}
		aname, ok := s.name()
		if !ok {
			return errBail
		}
		ap, al, ok := splitName(aname)
		if !ok {
			return errBail
		}
		s.skipSpace()
		if s.pos >= len(s.in) || s.in[s.pos] != '=' {
			return errBail
		}
		s.pos++
		s.skipSpace()
		if s.pos >= len(s.in) || s.in[s.pos] != '"' && s.in[s.pos] != '\'' {
			return errBail
		}
		v, err := s.attrValue()
		if err != nil {
			return err
		}
		s.attrs = append(s.attrs, qattr{prefix: ap, local: al, value: v})
	}

	// As Decoder.Token: the element's declarations apply to its own name.
	s.open = append(s.open, qname)
	depth := len(s.open)
	for _, a := range s.attrs {
		switch {
		case string(a.prefix) == "xmlns":
			s.ns = append(s.ns, nsDecl{prefix: a.local, uri: a.value, depth: depth})
		case a.prefix == nil && string(a.local) == "xmlns":
			s.ns = append(s.ns, nsDecl{prefix: nil, uri: a.value, depth: depth})
		}
	}
	if len(s.ns) > maxNSDecls {
		return errBail // lookups are linear; encoding/xml uses a map
	}
	t.kind = tokStart
	t.local = local
	switch {
	case string(prefix) == "xmlns":
		t.space = prefix
	case string(prefix) == "xml":
		t.space = []byte(xmlURL)
	case prefix == nil && string(local) == "xmlns":
		t.space = nil
	default:
		if uri, ok := s.lookup(prefix); ok {
			t.space = uri
		} else {
			t.space = prefix // unbound: encoding/xml leaves the prefix
		}
	}
	// The attributes in no namespace: unprefixed ones, and those whose
	// prefix is bound to the empty namespace name.
	t.attrs = t.attrs[:0]
	for _, a := range s.attrs {
		switch {
		case a.prefix == nil:
		case string(a.prefix) == "xmlns", string(a.prefix) == "xml":
			continue
		default:
			if uri, ok := s.lookup(a.prefix); !ok || len(uri) != 0 {
				continue
			}
		}
		t.attrs = append(t.attrs, attr{name: a.local, value: a.value})
	}
	s.closing = empty
	return nil
}

func (s *scanner) endTag(t *token) error {
	s.pos += 2 // </
	qname, ok := s.name()
	if !ok {
		return errBail
	}
	if _, _, ok := splitName(qname); !ok {
		return errBail
	}
	s.skipSpace()
	if s.pos >= len(s.in) || s.in[s.pos] != '>' {
		return errBail
	}
	s.pos++
	if len(s.open) == 0 || !bytes.Equal(s.open[len(s.open)-1], qname) {
		return errBail
	}
	s.pop()
	t.kind = tokEnd
	return nil
}

// attrValue reads a quoted attribute value starting at its quote.
func (s *scanner) attrValue() ([]byte, error) {
	quote := s.in[s.pos]
	s.pos++
	end := bytes.IndexByte(s.in[s.pos:], quote)
	if end < 0 {
		return nil, errBail
	}
	raw := s.in[s.pos : s.pos+end]
	s.pos += end + 1
	if bytes.IndexByte(raw, '<') >= 0 {
		return nil, errBail
	}
	if bytes.IndexByte(raw, '&') < 0 && bytes.IndexByte(raw, '\r') < 0 {
		if !validChars(raw) {
			return nil, errBail
		}
		return raw, nil
	}
	from := len(s.attrBuf)
	buf, ok := decodeText(s.attrBuf, raw)
	if !ok {
		return nil, errBail
	}
	s.attrBuf = buf
	// Later values may grow attrBuf into a new array; this one keeps
	// pointing at the bytes written now, which are never overwritten.
	return buf[from:len(buf):len(buf)], nil
}

// text reads character data up to the next '<' or the end of the input.
func (s *scanner) text(t *token) error {
	rest := s.in[s.pos:]
	end := bytes.IndexByte(rest, '<')
	if end < 0 {
		end = len(rest)
	}
	raw := rest[:end]
	s.pos += end
	// encoding/xml refuses "]]>" outside CDATA sections.
	if bytes.IndexByte(raw, '>') >= 0 && bytes.Contains(raw, []byte("]]>")) {
		return errBail
	}
	t.kind = tokText
	if bytes.IndexByte(raw, '&') < 0 && bytes.IndexByte(raw, '\r') < 0 {
		if !validChars(raw) {
			return errBail
		}
		t.text = raw
		return nil
	}
	buf, ok := decodeText(s.textBuf[:0], raw)
	if !ok {
		return errBail
	}
	s.textBuf = buf
	t.text = buf
	return nil
}

// cdata reads a CDATA section as character data.
func (s *scanner) cdata(t *token) error {
	s.pos += len("<![CDATA[")
	end := bytes.Index(s.in[s.pos:], []byte("]]>"))
	if end < 0 {
		return errBail
	}
	raw := s.in[s.pos : s.pos+end]
	s.pos += end + len("]]>")
	t.kind = tokText
	if bytes.IndexByte(raw, '\r') < 0 {
		if !validChars(raw) {
			return errBail
		}
		t.text = raw
		return nil
	}
	buf := s.textBuf[:0]
	for i := 0; i < len(raw); i++ {
		buf = appendNormalizingCR(buf, raw, &i)
	}
	s.textBuf = buf
	if !validChars(buf) {
		return errBail
	}
	t.text = buf
	return nil
}

// comment skips a comment. As in encoding/xml, its content is not checked
// beyond "--" having to end it.
func (s *scanner) comment() error {
	body := s.in[s.pos+len("<!--"):]
	i := bytes.Index(body, []byte("--"))
	if i < 0 || i+2 >= len(body) || body[i+2] != '>' {
		return errBail
	}
	s.pos += len("<!--") + i + len("-->")
	return nil
}

// procInst skips a processing instruction; for the XML declaration it
// applies encoding/xml's checks of version and encoding.
func (s *scanner) procInst() error {
	s.pos += 2 // <?
	target, ok := s.name()
	if !ok {
		return errBail
	}
	s.skipSpace()
	end := bytes.Index(s.in[s.pos:], []byte("?>"))
	if end < 0 {
		return errBail
	}
	content := s.in[s.pos : s.pos+end]
	s.pos += end + len("?>")
	if string(target) == "xml" {
		c := string(content)
		if ver := procInst("version", c); ver != "" && ver != "1.0" {
			return errBail
		}
		if enc := procInst("encoding", c); enc != "" && !equalFoldASCII(enc, "utf-8") {
			return errBail
		}
	}
	return nil
}

// procInst returns the value of param in the content of an XML
// declaration, found the way encoding/xml finds it.
func procInst(param, s string) string {
	param += "="
	lenp := len(param)
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := strings.Index(sub, param)
		if k < 0 || lenp+k >= len(sub) {
			return ""
		}
		i += lenp + k + 1
		if c := sub[lenp+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return ""
	}
	j := strings.IndexByte(s[i:], sep)
	if j < 0 {
		return ""
	}
	return s[i : i+j]
}

// equalFoldASCII reports whether s equals the lower-case ASCII t ignoring
// case. Unlike strings.EqualFold it does not fold non-ASCII letters (K and
// the Kelvin sign), so it accepts only what that accepts too.
func equalFoldASCII(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != t[i] {
			return false
		}
	}
	return true
}

// validChars reports whether b is UTF-8 made of characters XML allows.
func validChars(b []byte) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
			return false
		}
		i += size
	}
	return true
}

// appendNormalizingCR appends raw[*i] to buf, turning "\r\n" and a lone
// "\r" into "\n" as encoding/xml does; it advances *i past a "\n" it joined.
func appendNormalizingCR(buf, raw []byte, i *int) []byte {
	c := raw[*i]
	if c != '\r' {
		return append(buf, c)
	}
	if *i+1 < len(raw) && raw[*i+1] == '\n' {
		*i++
	}
	return append(buf, '\n')
}

// decodeText appends raw character data to buf with its references
// resolved and line ends normalised, and checks the result's characters.
// It refuses (ok false) references other than the predefined entities and
// well-formed character references.
func decodeText(buf, raw []byte) ([]byte, bool) {
	from := len(buf)
	for i := 0; i < len(raw); i++ {
		if raw[i] != '&' {
			buf = appendNormalizingCR(buf, raw, &i)
			continue
		}
		rest := raw[i+1:]
		semi := bytes.IndexByte(rest, ';')
		if semi < 0 {
			return buf, false
		}
		ref := rest[:semi]
		switch string(ref) {
		case "lt":
			buf = append(buf, '<')
		case "gt":
			buf = append(buf, '>')
		case "amp":
			buf = append(buf, '&')
		case "apos":
			buf = append(buf, '\'')
		case "quot":
			buf = append(buf, '"')
		default:
			r, ok := charRef(ref)
			if !ok {
				return buf, false
			}
			// A surrogate is written as U+FFFD, as string(rune(n)) does.
			buf = utf8.AppendRune(buf, r)
		}
		i += 1 + semi
	}
	if !validChars(buf[from:]) {
		return buf, false
	}
	return buf, true
}

// charRef decodes the body of a character reference ("#65", "#x41"): a
// decimal or (lower-case x) hexadecimal number of at most 0x10FFFF.
func charRef(ref []byte) (rune, bool) {
	if len(ref) < 2 || ref[0] != '#' {
		return 0, false
	}
	digits, base := ref[1:], rune(10)
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 {
		return 0, false
	}
	var n rune
	for _, c := range digits {
		var d rune
		switch {
		case '0' <= c && c <= '9':
			d = rune(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			d = rune(c-'A') + 10
		default:
			return 0, false
		}
		if n = n*base + d; n > utf8.MaxRune {
			return 0, false
		}
	}
	return n, true
}
