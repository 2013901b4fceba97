package confinfo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// checkParseMatchesReference requires Parse, and the parser fed by
// encoding/xml alone, to return what referenceParse returns for in: equal
// documents, or errors with the same text. It reports whether the fast
// scanner handed the input over to encoding/xml.
func checkParseMatchesReference(t *testing.T, in []byte) (bailed bool) {
	t.Helper()
	want, wantErr := referenceParse(in)
	got, err := Parse(in)
	if msg := sameParse(got, err, want, wantErr); msg != "" {
		t.Fatalf("Parse differs from the reference: %s\ninput %q", msg, in)
	}
	if len(in) > MaxDocumentSize {
		return false
	}
	slow, err := parseFrom(nil, &xmlSource{dec: xml.NewDecoder(bytes.NewReader(in))})
	if err != nil {
		err = fmt.Errorf("confinfo: parse: %w", err)
	}
	if msg := sameParse(slow, err, want, wantErr); msg != "" {
		t.Fatalf("the encoding/xml route differs from the reference: %s\ninput %q", msg, in)
	}
	_, err = parseFrom(&scanner{in: in}, nil)
	return err == errBail
}

func sameParse(got *Document, err error, want *Document, wantErr error) string {
	switch {
	case (err == nil) != (wantErr == nil):
		return fmt.Sprintf("error %v, reference error %v", err, wantErr)
	case err != nil && err.Error() != wantErr.Error():
		return fmt.Sprintf("error %q, reference error %q", err, wantErr)
	case err != nil && (errors.Is(err, ErrInvalid) != errors.Is(wantErr, ErrInvalid) || errors.Is(err, ErrTooLarge) != errors.Is(wantErr, ErrTooLarge)):
		return fmt.Sprintf("error %v wraps other sentinels than %v", err, wantErr)
	case !reflect.DeepEqual(got, want):
		return fmt.Sprintf("document\n%#v\nreference\n%#v", got, want)
	}
	return ""
}

const ns = `xmlns="urn:ietf:params:xml:ns:conference-info"`

// xmlEdgeCases are documents that exercise the XML syntax the scanner
// handles itself or must hand over: references, line ends, CDATA,
// comments, processing instructions, directives, namespace declarations
// and prefixes, attribute syntax and characters XML forbids.
var xmlEdgeCases = []string{
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<conference-info ` + ns + ` entity='sip:a@b' version = '1' ></conference-info >`,
	`<conference-info ` + ns + ` entity="sip:a@b"version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1" entity="sip:c@d"/>`,
	`<conference-info ` + ns + ` entity="sip:&lt;&gt;&amp;&apos;&quot;" version="&#49;&#x32;"/>`,
	`<conference-info ` + ns + ` entity="sip:&#xd800;&#x10FFFF;&#0065;" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:&#x110000;" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:&#0;" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:&#X41;" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:&#x;" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:&#4a;" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:&#a;" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:&#x1g;" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:&#;" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:&#99999999999999999999999;" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:&amp" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:&ampx;" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:&nbsp;" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:a]]>b" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:a<b" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:a>b" version="1"/>`,
	"<conference-info " + ns + " entity=\"sip:a\r\nb\rc\n\" version=\"1\"/>",
	"<conference-info " + ns + " entity=\"sip:a\tb\" version=\"1\"/>",
	"<conference-info " + ns + " entity=\"sip:a\x01b\" version=\"1\"/>",
	"<conference-info " + ns + " entity=\"sip:a\xef\xbf\xbeb\" version=\"1\"/>",
	"<conference-info " + ns + " entity=\"sip:a\xef\xbf\xbdb\" version=\"1\"/>",
	"<conference-info " + ns + " entity=\"sip:\xc3\xa9\xf0\x9f\x98\x80\" version=\"1\"/>",
	"<conference-info " + ns + " entity=\"sip:\xed\xa0\x80\" version=\"1\"/>",
	`<conference-info ` + ns + ` entity=sip:a@b version="1"/>`,
	`<conference-info ` + ns + ` entity version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"/ >`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1">`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"></conference-info`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"></conference-info x>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"></ conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"></conference-info></conference-info>`,
	`</conference-info>`,
	`<?xml version="1.0" encoding="UTF-8"?><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<?xml version='1.0' encoding='utf-8' standalone='yes'?><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<?xml version="1.1"?><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<?xml encoding="Utf-8"?><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<?xml encoding="US-ASCII"?><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<?xml encoding=utf-16?><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<?xml version="1.0" encoding="utf-8"><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<?xml?><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<?xml-stylesheet href="a"?><conference-info ` + ns + ` entity="sip:a@b" version="1"/><?pi after?>`,
	`<??><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<?1?><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><?xml version="2.0"?></conference-info>`,
	`<!DOCTYPE conference-info><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<!DOCTYPE x [<!ENTITY e "v">]><conference-info ` + ns + ` entity="sip:&e;" version="1"/>`,
	`<!-- c --><conference-info ` + ns + ` entity="sip:a@b" version="1"><!----></conference-info><!-- - -->`,
	`<!-- a -- b --><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<!-- a ---><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<!-- a`,
	`<!- a --><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	"<!-- \xff\x00 --><conference-info " + ns + " entity=\"sip:a@b\" version=\"1\"/>",
	`<![CDATA[ ]]><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<![CDATA[x]]><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<![CDAT[x]]><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	"\xef\xbb\xbf<conference-info " + ns + " entity=\"sip:a@b\" version=\"1\"/>",
	"\u00a0<conference-info " + ns + " entity=\"sip:a@b\" version=\"1\"/>\u0085",
	"\r\n<conference-info " + ns + " entity=\"sip:a@b\" version=\"1\"/>\r\n",
	"\x00<conference-info " + ns + " entity=\"sip:a@b\" version=\"1\"/>",
	`<ci:conference-info xmlns:ci="urn:ietf:params:xml:ns:conference-info" entity="sip:a@b" version="1"></ci:conference-info>`,
	`<ci:conference-info xmlns:ci="urn:ietf:params:xml:ns:conference-info" entity="sip:a@b" version="1"></conference-info>`,
	`<ci:conference-info entity="sip:a@b" version="1"/>`,
	`<:conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:a@b" version="1"/>`,
	`<a:b:conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:a@b" version="1"/>`,
	`<conference-info: xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:a@b" version="1"/>`,
	`<xml:conference-info xmlns:xml="urn:ietf:params:xml:ns:conference-info" entity="sip:a@b" version="1"/>`,
	`<xmlns:conference-info xmlns:xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:a@b" version="1"/>`,
	`<conférence-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	`<conference-info xmlns="urn:ietf:params:xml:ns:conference&#x2D;info" entity="sip:a@b" version="1"/>`,
	`<conference-info xmlns:p="" ` + ns + ` p:entity="sip:p@b" version="1"/>`,
	`<conference-info xmlns:p="urn:x" ` + ns + ` p:entity="sip:p@b" entity="sip:a@b" version="1"/>`,
	`<conference-info xmlns:xml="urn:x" ` + ns + ` xml:entity="sip:p@b" entity="sip:a@b" version="1"/>`,
	`<conference-info ` + ns + ` :entity="sip:p@b" version="1"/>`,
	`<conference-info ` + ns + ` entity:="sip:p@b" version="1"/>`,
	`<conference-info ` + ns + ` a:b:c="x" entity="sip:p@b" version="1"/>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users xmlns="urn:other"><user entity="x"/></users></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><x:users xmlns:x="urn:ietf:params:xml:ns:conference-info"><user entity="sip:u"/></x:users></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:u" xmlns=""><display-text>x</display-text></user></users></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users xmlns:p="urn:ietf:params:xml:ns:conference-info"><p:user entity="sip:u"/></users><p:users/></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:u"><display-text>a<![CDATA[<&]]>b&#13;c` + "\r\n\r" + `<!--x-->d<x>e</x>f</display-text></user></users></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:u"><display-text>]]></display-text></user></users></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:u"><display-text>]]&gt;]>]&#93;></display-text></user></users></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:u"><display-text><![CDATA[a]]]]><![CDATA[>b]]></display-text></user></users></conference-info>`,
	"<conference-info " + ns + " entity=\"sip:a@b\" version=\"1\"><users><user entity=\"sip:u\"><display-text><![CDATA[a\r\nb\rc\x01]]></display-text></user></users></conference-info>",
	"<conference-info " + ns + " entity=\"sip:a@b\" version=\"1\"><users><user entity=\"sip:u\"><display-text><![CDATA[a\r\nb\rc]]></display-text></user></users></conference-info>",
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:u"><display-text><![CDATA[never ends</display-text></user></users></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><conference-state><user-count> 0042 </user-count><active>0</active><locked> true </locked></conference-state></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><conference-state><user-count>+1</user-count></conference-state></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><conference-state><user-count>4294967295</user-count></conference-state></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><conference-state><user-count>4294967296</user-count></conference-state></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1_0"/>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="0x1"/>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version=" 4294967295 "/>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1" state=" partial "/>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1" state="Partial"/>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users state="bad"/></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:u" state="x"/></users></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:u"><endpoint entity="e" state="x"/></user></users></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:u"><associated-aors state="x"/></user></users></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:u"><associated-aors><entry state="x"><uri>u</uri></entry></associated-aors></user></users></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><sidebars-by-val state="x"/></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><sidebars-by-val><entry entity="s" state="x"/></sidebars-by-val></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><sidebars-by-val><entry entity="s" version="x"/></sidebars-by-val></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><sidebars-by-val><entry entity="s"/><entry entity="s" state="x"/></sidebars-by-val></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><sidebars-by-val><entry/></sidebars-by-val></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><sidebars-by-val><entry entity="s"><sidebars-by-val><entry entity="t"/></sidebars-by-val><sidebars-by-ref/></entry></sidebars-by-val></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><conference-description><available-media><entry label="1"/><entry label=" 1 "/></available-media></conference-description></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><conference-description><keywords> a  b	c </keywords><maximum-user-count>x</maximum-user-count></conference-description></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><host-info><uris><entry><uri>a</uri></entry><entry><uri> a </uri></entry></uris></host-info></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:u"><roles><entry> participant </entry><entry/><other/></roles><languages>en  fr</languages></user></users></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:u"><endpoint entity="e"><media id="1"/><media id=" 1"/></endpoint></user></users></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:u"><endpoint entity="e"><call-info><sip><call-id>c</call-id></sip><sip/></call-info></endpoint></user></users></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:u"><endpoint entity="e"/><endpoint entity=" e "/></user></users></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="u"/><user entity="u"/></users></conference-info>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"/><x/>`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"/>text`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"/>]]>`,
	`text<conference-info ` + ns + ` entity="sip:a@b" version="1"/>`,
	``,
	`   `,
	`<`,
	`<conference-info`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"></`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1">&`,
	`<conference-info ` + ns + ` entity="sip:a@b" version="1"><users/>`,
}

// TestParseMatchesReference runs the edge cases, the test documents and
// single-byte edits of a small document through Parse and referenceParse.
func TestParseMatchesReference(t *testing.T) {
	var inputs [][]byte
	for _, s := range xmlEdgeCases {
		inputs = append(inputs, []byte(s))
	}
	inputs = append(inputs, fuzzSeeds(t)...)
	for _, in := range inputs {
		checkParseMatchesReference(t, in)
	}

	// Namespace declarations up to and beyond the scanner's bound.
	for _, n := range []int{maxNSDecls - 1, maxNSDecls, maxNSDecls + 1, 5000} {
		var decls strings.Builder
		for i := range n {
			fmt.Fprintf(&decls, ` xmlns:p%d="urn:p%d"`, i, i)
		}
		in := `<conference-info ` + ns + decls.String() + ` entity="sip:a@b" version="1"><users><user entity="sip:u"/><p1:user entity="sip:v"/></users></conference-info>`
		bailed := checkParseMatchesReference(t, []byte(in))
		if bailed != (n > maxNSDecls-1) {
			t.Errorf("%d declarations: bailed %v", n, bailed)
		}
	}

	// Many keyed siblings, the last one repeating an early one.
	for _, list := range []struct{ open, item, close string }{
		{`<conference-description><available-media>`, `<entry label="%d"/>`, `</available-media></conference-description>`},
		{`<users>`, `<user entity="sip:%d"/>`, `</users>`},
		{`<users><user entity="u">`, `<endpoint entity="e%d"/>`, `</user></users>`},
		{`<users><user entity="u"><endpoint entity="e">`, `<media id="%d"/>`, `</endpoint></user></users>`},
		{`<sidebars-by-ref>`, `<entry><uri>sip:%d</uri></entry>`, `</sidebars-by-ref>`},
		{`<sidebars-by-val>`, `<entry entity="sip:%d"/>`, `</sidebars-by-val>`},
	} {
		var b strings.Builder
		b.WriteString(`<conference-info ` + ns + ` entity="sip:a@b" version="1">` + list.open)
		for i := range 40 {
			fmt.Fprintf(&b, list.item, i)
		}
		body := b.String()
		for _, last := range []int{40, 3, 39} {
			checkParseMatchesReference(t, []byte(body+fmt.Sprintf(list.item, last)+list.close+`</conference-info>`))
		}
	}

	// Every ASCII byte at the start and inside of element, attribute and
	// processing-instruction names, and in text and attribute values.
	for c := range 128 {
		b := string(rune(c))
		for _, in := range []string{
			`<conference-info ` + ns + ` entity="sip:a@b" version="1"><` + b + `a/></conference-info>`,
			`<conference-info ` + ns + ` entity="sip:a@b" version="1"><a` + b + `a/></conference-info>`,
			`<conference-info ` + ns + ` entity="sip:a@b" version="1"><a ` + b + `a="1"/></conference-info>`,
			`<conference-info ` + ns + ` entity="sip:a@b" version="1"><a a` + b + `a="1"/></conference-info>`,
			`<conference-info ` + ns + ` entity="sip:a@b" version="1"><?` + b + `a?><?a` + b + `a?></conference-info>`,
			`<conference-info ` + ns + ` entity="sip:a` + b + `b" version="1">x` + b + `y</conference-info>`,
		} {
			checkParseMatchesReference(t, []byte(in))
		}
	}

	// Every position of a compact document with the markup bytes, bad
	// bytes and references inserted, or written over it.
	small := []byte(`<?xml version="1.0"?><ci:conference-info xmlns:ci="urn:ietf:params:xml:ns:conference-info" xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:a@b" version="1"><users state="partial"><user entity="sip:u"><display-text>A&amp;B</display-text><endpoint entity="e"><status>connected</status><media id="1"><src-id>7</src-id></media></endpoint></user></users><!--c--></ci:conference-info>`)
	edits := []string{"<", ">", "/", "&", ";", "'", `"`, "=", ":", "?", "!", "-", "]", " ", "\r", "\x00", "\xff", "\xc3\xa9", "x", "]]>", "&#x41;", "<!--", "<![CDATA[", "xmlns:", `xmlns=""`, "</x>", "<x>"}
	for i := 0; i <= len(small); i++ {
		for _, e := range edits {
			ins := append(append(append([]byte{}, small[:i]...), e...), small[i:]...)
			checkParseMatchesReference(t, ins)
			if i < len(small) {
				over := append(append(append([]byte{}, small[:i]...), e...), small[min(i+len(e), len(small)):]...)
				checkParseMatchesReference(t, over)
			}
		}
		if i < len(small) {
			checkParseMatchesReference(t, append(append([]byte{}, small[:i]...), small[i+1:]...))
		}
	}
}

// The documents a focus sends, and the RFC's examples, take the fast path.
func TestParseFastPath(t *testing.T) {
	docs := map[string][]byte{
		"rfc basic": readFile(t, rfcBasicFile),
		"rfc rich":  readFile(t, rfcRichFile),
		"base":      []byte(baseFull),
		"crlf":      []byte(strings.ReplaceAll(baseFull, "\n", "\r\n")),
		"markup": []byte(`<?xml version="1.0"?><!-- c --><conference-info ` + ns + ` entity="sip:a@b" version="1">` +
			`<users><user entity="sip:&#x75;&#117;"><display-text>a<![CDATA[<&]]>b&#13;c&lt;&gt;&amp;&apos;&quot;` + "\r\n\r" + `<!--x-->d<x>e</x>f</display-text></user></users></conference-info>`),
	}
	for name, d := range map[string]*Document{"small": smallDocument(), "bench": benchDocument(60)} {
		b, err := d.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		docs[name] = b
	}
	for name, in := range docs {
		if bailed := checkParseMatchesReference(t, in); bailed {
			t.Errorf("%s: the scanner handed the document to encoding/xml", name)
		}
	}
}
