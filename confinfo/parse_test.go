package confinfo

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// The two example documents of RFC 4575 §7: §7.1 "Basic Example" (full,
// version 1) and §7.2 "Rich Example" (partial, version 5).
const (
	rfcBasicFile = "testdata/rfc4575-7.1-basic.xml"
	rfcRichFile  = "testdata/rfc4575-7.2-rich.xml"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t testing.TB, s string) *Document {
	t.Helper()
	d, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, s)
	}
	return d
}

func TestParseRFC4575BasicExample(t *testing.T) {
	d, err := Parse(readFile(t, rfcBasicFile))
	if err != nil {
		t.Fatal(err)
	}
	if d.Entity != "sips:conf233@example.com" || d.State != StateFull || d.Version != 1 {
		t.Fatalf("root = %q %q %d", d.Entity, d.State, d.Version)
	}
	if got := d.Description.Subject; got != "Agenda: This month's goals" {
		t.Errorf("subject = %q", got)
	}
	if got := d.ServiceURIs(PurposeWebPage); !reflect.DeepEqual(got, []string{"http://sharepoint/salesgroup/"}) {
		t.Errorf("web-page service URIs = %q", got)
	}
	if d.ConferenceState == nil || d.ConferenceState.UserCount == nil || *d.ConferenceState.UserCount != 33 {
		t.Errorf("user-count = %+v", d.ConferenceState)
	}
	if d.ConferenceState.Active != nil || d.ConferenceState.Locked != nil {
		t.Errorf("active/locked should be absent: %+v", d.ConferenceState)
	}
	if d.Users == nil || len(d.Users.Users) != 2 {
		t.Fatalf("users = %+v", d.Users)
	}
	bob := d.User("sip:bob@example.com")
	if bob == nil || bob.State != StateFull || bob.DisplayText != "Bob Hoskins" {
		t.Fatalf("bob = %+v", bob)
	}
	laptop := bob.Endpoint("sip:bob@pc33.example.com")
	want := Endpoint{
		Entity:              "sip:bob@pc33.example.com",
		DisplayText:         "Bob's Laptop",
		Status:              StatusDisconnected,
		DisconnectionMethod: DisconnectDeparted,
		DisconnectionInfo:   &Execution{When: "2005-03-04T20:00:00Z", Reason: "bad voice quality", By: "sip:mike@example.com"},
		Media:               []Media{{ID: "1", DisplayText: "main audio", Type: "audio", Label: "34567", SrcID: "432424", Status: MediaSendRecv}},
	}
	if laptop == nil || !reflect.DeepEqual(*laptop, want) {
		t.Errorf("bob's laptop =\n%+v\nwant\n%+v", laptop, want)
	}
	alice := d.User("sip:alice@example.com")
	ep := alice.Endpoint("sip:4kfk4j392jsu@example.com;grid=433kj4j3u")
	if ep == nil || ep.Status != StatusConnected || ep.JoiningMethod != JoinDialedOut ||
		ep.JoiningInfo == nil || ep.JoiningInfo.By != "sip:mike@example.com" || ep.JoiningInfo.Reason != "" {
		t.Errorf("alice's endpoint = %+v", ep)
	}
	if m := ep.MediaByID("1"); m == nil || m.SrcID != "534232" {
		t.Errorf("alice's media = %+v", m)
	}
}

func TestParseRFC4575RichExample(t *testing.T) {
	d, err := Parse(readFile(t, rfcRichFile))
	if err != nil {
		t.Fatal(err)
	}
	if d.State != StatePartial || d.Version != 5 {
		t.Fatalf("root state %q version %d", d.State, d.Version)
	}
	c := d.Description
	if c.DisplayText != "Weekly Sales Meeting" || c.FreeText != "We will start strict on time" {
		t.Errorf("description = %+v", c)
	}
	if !reflect.DeepEqual(c.Keywords, []string{"sales", "meeting", "weekly"}) {
		t.Errorf("keywords = %q", c.Keywords)
	}
	if len(c.ConfURIs.Entries) != 3 || c.ConfURIs.Entries[0] != (URIEntry{URI: "tel:+18005671234", DisplayText: "TTI Bridge", Purpose: PurposeParticipation}) ||
		c.ConfURIs.Entries[2].Purpose != PurposeStreaming {
		t.Errorf("conf-uris = %+v", c.ConfURIs)
	}
	if got := d.ServiceURIs(PurposeRecording); !reflect.DeepEqual(got, []string{"http://quicktime.com/54634/recording.mov"}) {
		t.Errorf("recording = %q", got)
	}
	if c.MaximumUserCount == nil || *c.MaximumUserCount != 100 {
		t.Errorf("maximum-user-count = %v", c.MaximumUserCount)
	}
	wantMedia := []AvailableMedium{
		{Label: "34567", DisplayText: "main audio", Type: "audio", Status: MediaSendRecv},
		{Label: "34569", DisplayText: "main video", Type: "video", Status: MediaInactive},
	}
	if !reflect.DeepEqual(c.AvailableMedia, wantMedia) {
		t.Errorf("available-media = %+v", c.AvailableMedia)
	}
	wantHost := &HostInfo{DisplayText: "Sales Host", WebPage: "http://sharepoint/salesgroup/hosts/",
		URIs: &URIs{Entries: []URIEntry{{URI: "sip:sales@example.com"}}}}
	if !reflect.DeepEqual(d.HostInfo, wantHost) {
		t.Errorf("host-info = %+v", d.HostInfo)
	}
	cs := d.ConferenceState
	if *cs.UserCount != 32 || !*cs.Active || *cs.Locked {
		t.Errorf("conference-state = %d %v %v", *cs.UserCount, *cs.Active, *cs.Locked)
	}
	if d.Users.State != "" || len(d.Users.Users) != 1 {
		t.Fatalf("users = %+v", d.Users)
	}
	bob := d.Users.Users[0]
	if bob.State != "" || !reflect.DeepEqual(bob.Roles, []string{"participant"}) || !reflect.DeepEqual(bob.Languages, []string{"en"}) ||
		bob.AssociatedAORs.Entries[0] != (URIEntry{URI: "mailto:bob@example.com", DisplayText: "email"}) {
		t.Errorf("bob = %+v", bob)
	}
	ep := bob.Endpoints[0]
	if ep.Referred == nil || ep.Referred.Reason != "expert required" || ep.Status != StatusDisconnecting ||
		ep.DisconnectionMethod != DisconnectBooted || ep.JoiningInfo.Reason != "invitation" {
		t.Errorf("endpoint = %+v", ep)
	}
	wantCall := &CallInfo{SIP: &SIPDialogID{DisplayText: "full info", CallID: "hsjh8980vhsb78", FromTag: "vav738dvbs", ToTag: "8954jgjg8432"}}
	if !reflect.DeepEqual(ep.CallInfo, wantCall) {
		t.Errorf("call-info = %+v", ep.CallInfo)
	}
	if d.SidebarsByRef.State != StatePartial || len(d.SidebarsByRef.Entries) != 2 ||
		d.SidebarsByRef.Entries[1].DisplayText != "private with Peter" {
		t.Errorf("sidebars-by-ref = %+v", d.SidebarsByRef)
	}
	sv := d.SidebarsByVal
	if sv.State != StatePartial || len(sv.Entries) != 1 || sv.Entries[0].Entity != "sips:conf233@example.com;grid=77" ||
		sv.Entries[0].State != StatePartial || len(sv.Entries[0].Users.Users) != 3 ||
		sv.Entries[0].Users.Users[2].Entity != "sip:dan@example.com" {
		t.Errorf("sidebars-by-val = %+v", sv)
	}
}

// RFC 7106 §1 shows the grouptextchat service URI inside a
// conference-description; here it is wrapped in a minimal full document,
// once exactly as the RFC writes it and once with the XEP-0045 ?join query.
func TestParseGroupTextChat(t *testing.T) {
	const rfc7106 = `<conference-description>
<subject>Agenda: The goals for this development sprint.</subject>
  <service-uris>
    <entry>
      <uri>xmpp:dev-sprint@conference.example.com</uri>
      <purpose>grouptextchat</purpose>
    </entry>
  </service-uris>
</conference-description>`
	for _, tc := range []struct{ name, uri string }{
		{"rfc7106", "xmpp:dev-sprint@conference.example.com"},
		{"join", "xmpp:dev-sprint@conference.example.com?join"},
		{"join-password", "xmpp:dev-sprint@conference.example.com?join;password=a&amp;b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Replace(rfc7106, "xmpp:dev-sprint@conference.example.com", tc.uri, 1)
			d := mustParse(t, `<?xml version="1.0" encoding="UTF-8"?>
<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:dev-sprint@example.com" state="full" version="0">
`+body+`<users/></conference-info>`)
			want := strings.ReplaceAll(tc.uri, "&amp;", "&")
			if got := d.ServiceURIs(PurposeGroupTextChat); !reflect.DeepEqual(got, []string{want}) {
				t.Fatalf("grouptextchat = %q, want %q", got, want)
			}
			if d.Description.Subject != "Agenda: The goals for this development sprint." {
				t.Errorf("subject = %q", d.Description.Subject)
			}
			// and back: the URI is written byte-for-byte (XML-escaped only).
			out, err := d.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), "<uri>"+tc.uri+"</uri><purpose>grouptextchat</purpose>") {
				t.Errorf("marshalled service-uris not verbatim:\n%s", out)
			}
		})
	}
}

func TestParseTolerance(t *testing.T) {
	// A prefixed namespace, an extension namespace on the root and inside a
	// user, an unknown element of our namespace, a comment and CDATA inside
	// a leaf, children out of schema order, surrounding whitespace on URIs
	// and numbers: all accepted.
	d := mustParse(t, `<ci:conference-info xmlns:ci="urn:ietf:params:xml:ns:conference-info" xmlns:x="urn:example:ext"
  entity=" sip:r@example.com " version=" 7 " x:foo="bar">
 <x:extension><x:deep><ci:users><ci:user entity="sip:evil@example.com"/></ci:users></x:deep></x:extension>
 <ci:users>
  <ci:user entity="sip:a@example.com">
   <ci:endpoint entity="sip:a@host"><ci:status> connected </ci:status><x:rtt>12</x:rtt></ci:endpoint>
   <ci:display-text>A <!-- c --><![CDATA[& B]]></ci:display-text>
   <ci:future-element><ci:display-text>no</ci:display-text></ci:future-element>
  </ci:user>
 </ci:users>
 <ci:conference-state><ci:user-count>
  1 </ci:user-count><ci:active>1</ci:active></ci:conference-state>
</ci:conference-info>`)
	if d.Entity != "sip:r@example.com" || d.Version != 7 || d.State != StateFull {
		t.Fatalf("root = %q %d %q", d.Entity, d.Version, d.State)
	}
	if len(d.Users.Users) != 1 {
		t.Fatalf("extension content leaked into users: %+v", d.Users)
	}
	u := d.Users.Users[0]
	if u.DisplayText != "A & B" || u.Endpoints[0].Status != StatusConnected {
		t.Errorf("user = %+v", u)
	}
	if *d.ConferenceState.UserCount != 1 || !*d.ConferenceState.Active {
		t.Errorf("conference-state = %+v", d.ConferenceState)
	}
}

func TestParseErrors(t *testing.T) {
	const ns = `xmlns="urn:ietf:params:xml:ns:conference-info"`
	deep := strings.Repeat("<x>", MaxDepth) + strings.Repeat("</x>", MaxDepth)
	many := strings.Repeat("<x/>", MaxElements)
	for _, tc := range []struct {
		name, doc string
		want      error
		msg       string
	}{
		{"empty", ``, ErrInvalid, "no conference-info"},
		{"not xml", `hello`, ErrInvalid, "outside the root"},
		{"no namespace", `<conference-info entity="sip:a@b" version="1"/>`, ErrInvalid, "namespace"},
		{"wrong namespace", `<conference-info xmlns="urn:other" entity="sip:a@b" version="1"/>`, ErrInvalid, "namespace"},
		{"wrong root", `<conference ` + ns + ` entity="sip:a@b" version="1"/>`, ErrInvalid, "root element is <conference>"},
		{"no entity", `<conference-info ` + ns + ` version="1"/>`, ErrInvalid, "without entity"},
		{"blank entity", `<conference-info ` + ns + ` entity="  " version="1"/>`, ErrInvalid, "without entity"},
		{"no version", `<conference-info ` + ns + ` entity="sip:a@b"/>`, ErrInvalid, "without version"},
		{"negative version", `<conference-info ` + ns + ` entity="sip:a@b" version="-1"/>`, ErrInvalid, "version"},
		{"big version", `<conference-info ` + ns + ` entity="sip:a@b" version="4294967296"/>`, ErrInvalid, "version"},
		{"text version", `<conference-info ` + ns + ` entity="sip:a@b" version="one"/>`, ErrInvalid, "version"},
		{"bad state", `<conference-info ` + ns + ` entity="sip:a@b" version="1" state="half"/>`, ErrInvalid, "invalid state"},
		{"bad users state", `<conference-info ` + ns + ` entity="sip:a@b" version="1"><users state=""/></conference-info>`, ErrInvalid, "invalid state"},
		{"user without entity", `<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user/></users></conference-info>`, ErrInvalid, "user without entity"},
		{"duplicate user", `<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:x"/><user entity="sip:x"/></users></conference-info>`, ErrInvalid, "duplicate user"},
		{"endpoint without entity", `<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:x"><endpoint/></user></users></conference-info>`, ErrInvalid, "endpoint without entity"},
		{"media without id", `<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:x"><endpoint entity="e"><media/></endpoint></user></users></conference-info>`, ErrInvalid, "media without id"},
		{"duplicate media", `<conference-info ` + ns + ` entity="sip:a@b" version="1"><users><user entity="sip:x"><endpoint entity="e"><media id="1"/><media id="1"/></endpoint></user></users></conference-info>`, ErrInvalid, "duplicate media"},
		{"uri entry without uri", `<conference-info ` + ns + ` entity="sip:a@b" version="1"><conference-description><conf-uris><entry/></conf-uris></conference-description></conference-info>`, ErrInvalid, "without uri"},
		{"available-media without label", `<conference-info ` + ns + ` entity="sip:a@b" version="1"><conference-description><available-media><entry/></available-media></conference-description></conference-info>`, ErrInvalid, "without label"},
		{"bad user-count", `<conference-info ` + ns + ` entity="sip:a@b" version="1"><conference-state><user-count>lots</user-count></conference-state></conference-info>`, ErrInvalid, "user-count"},
		{"bad boolean", `<conference-info ` + ns + ` entity="sip:a@b" version="1"><conference-state><locked>yes</locked></conference-state></conference-info>`, ErrInvalid, "locked"},
		{"second root", `<conference-info ` + ns + ` entity="sip:a@b" version="1"/><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`, ErrInvalid, "after the root"},
		{"unclosed", `<conference-info ` + ns + ` entity="sip:a@b" version="1"><users>`, ErrInvalid, ""},
		{"mismatched tags", `<conference-info ` + ns + ` entity="sip:a@b" version="1"></users>`, ErrInvalid, ""},
		{"unknown entity ref", `<conference-info ` + ns + ` entity="sip:a@b&foo;" version="1"/>`, ErrInvalid, ""},
		{"invalid utf-8", "<conference-info " + ns + " entity=\"sip:\xff\" version=\"1\"/>", ErrInvalid, ""},
		{"latin-1 declared", `<?xml version="1.0" encoding="ISO-8859-1"?><conference-info ` + ns + ` entity="sip:a@b" version="1"/>`, ErrInvalid, ""},
		{"too deep", `<conference-info ` + ns + ` entity="sip:a@b" version="1">` + deep + `</conference-info>`, ErrTooLarge, "nesting"},
		{"too many elements", `<conference-info ` + ns + ` entity="sip:a@b" version="1">` + many + `</conference-info>`, ErrTooLarge, "elements"},
		{"too large", `<conference-info ` + ns + ` entity="sip:a@b" version="1">` + strings.Repeat(" ", MaxDocumentSize) + `</conference-info>`, ErrTooLarge, "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", d)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v does not wrap %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
}

// The limits leave room for real documents: the deepest path of the schema
// and a thousand users parse.
func TestParseWithinLimits(t *testing.T) {
	d := mustParse(t, `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:a@b" version="1">
<sidebars-by-val><entry entity="sip:a@b;grid=1"><users><user entity="sip:x"><endpoint entity="e"><call-info><sip>
<call-id>c</call-id><from-tag>f</from-tag><to-tag>t</to-tag></sip></call-info></endpoint></user></users></entry></sidebars-by-val>
</conference-info>`)
	if got := d.SidebarsByVal.Entries[0].Users.Users[0].Endpoints[0].CallInfo.SIP.CallID; got != "c" {
		t.Errorf("call-id = %q", got)
	}
	big, err := benchDocument(1000).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(big) > MaxDocumentSize {
		t.Fatalf("1000-user document is %d bytes", len(big))
	}
	d2, err := Parse(big)
	if err != nil {
		t.Fatal(err)
	}
	if len(d2.Users.Users) != 1000 {
		t.Errorf("users = %d", len(d2.Users.Users))
	}
}
