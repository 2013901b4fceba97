package confinfo

import (
	"bufio"
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// smallDocument touches every element the focus renders, each once.
func smallDocument() *Document {
	return &Document{
		Entity:  "sip:team@example.com",
		State:   StateFull,
		Version: 3,
		Description: &ConferenceDescription{
			DisplayText: "Team",
			Subject:     "Weekly sync",
			FreeText:    "Bring notes",
			Keywords:    []string{"team", "sync"},
			ConfURIs: &URIs{Entries: []URIEntry{
				{URI: "sip:team@example.com", DisplayText: "Audio", Purpose: PurposeParticipation},
			}},
			ServiceURIs: &URIs{Entries: []URIEntry{
				{URI: "xmpp:team@conference.example.com?join", Purpose: PurposeGroupTextChat},
			}},
			MaximumUserCount: Ptr(uint32(10)),
			AvailableMedia:   []AvailableMedium{{Label: "1", DisplayText: "main audio", Type: MediaTypeAudio, Status: MediaSendRecv}},
		},
		HostInfo:        &HostInfo{DisplayText: "Bridge", WebPage: "http://example.com/", URIs: &URIs{Entries: []URIEntry{{URI: "sip:host@example.com"}}}},
		ConferenceState: &ConferenceState{UserCount: Ptr(uint32(1)), Active: Ptr(true), Locked: Ptr(false)},
		Users: &Users{Users: []User{{
			Entity:         "sip:alice@example.com",
			DisplayText:    "Alice",
			AssociatedAORs: &URIs{Entries: []URIEntry{{URI: "xmpp:alice@example.com", Modified: &Execution{When: "2026-01-02T03:04:05Z"}}}},
			Roles:          []string{"moderator", "participant"},
			Languages:      []string{"en", "fr"},
			CascadedFocus:  "sip:other@example.com",
			Endpoints: []Endpoint{{
				Entity:              "sip:alice@192.0.2.1:5060",
				DisplayText:         "Phone",
				Referred:            &Execution{By: "sip:bob@example.com"},
				Status:              StatusConnected,
				JoiningMethod:       JoinDialedIn,
				JoiningInfo:         &Execution{When: "2026-01-02T03:04:05Z", Reason: "invite"},
				DisconnectionMethod: DisconnectBooted,
				DisconnectionInfo:   &Execution{By: "xmpp:mod@example.com"},
				Media:               []Media{{ID: "1", DisplayText: "voice", Type: MediaTypeAudio, Label: "1", SrcID: "305419896", Status: MediaSendRecv}},
				CallInfo:            &CallInfo{SIP: &SIPDialogID{DisplayText: "leg", CallID: "abc@192.0.2.1", FromTag: "f1", ToTag: "t1"}},
			}},
		}}},
		SidebarsByRef: &URIs{Entries: []URIEntry{{URI: "sip:team@example.com;grid=1"}}},
		SidebarsByVal: &SidebarsByVal{Entries: []Sidebar{{Entity: "sip:team@example.com;grid=2", Version: Ptr(uint32(4)), Users: &Users{Users: []User{{Entity: "sip:carol@example.com"}}}}}},
	}
}

// The exact bytes pin the XSD element order of RFC 4575 §6 for every
// complex type, the root attributes and the compact form.
func TestMarshalExactXSDOrder(t *testing.T) {
	want := `<?xml version="1.0" encoding="UTF-8"?>
<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:team@example.com" state="full" version="3">` +
		`<conference-description>` +
		`<display-text>Team</display-text><subject>Weekly sync</subject><free-text>Bring notes</free-text><keywords>team sync</keywords>` +
		`<conf-uris><entry><uri>sip:team@example.com</uri><display-text>Audio</display-text><purpose>participation</purpose></entry></conf-uris>` +
		`<service-uris><entry><uri>xmpp:team@conference.example.com?join</uri><purpose>grouptextchat</purpose></entry></service-uris>` +
		`<maximum-user-count>10</maximum-user-count>` +
		`<available-media><entry label="1"><display-text>main audio</display-text><type>audio</type><status>sendrecv</status></entry></available-media>` +
		`</conference-description>` +
		`<host-info><display-text>Bridge</display-text><web-page>http://example.com/</web-page><uris><entry><uri>sip:host@example.com</uri></entry></uris></host-info>` +
		`<conference-state><user-count>1</user-count><active>true</active><locked>false</locked></conference-state>` +
		`<users><user entity="sip:alice@example.com"><display-text>Alice</display-text>` +
		`<associated-aors><entry><uri>xmpp:alice@example.com</uri><modified><when>2026-01-02T03:04:05Z</when></modified></entry></associated-aors>` +
		`<roles><entry>moderator</entry><entry>participant</entry></roles><languages>en fr</languages><cascaded-focus>sip:other@example.com</cascaded-focus>` +
		`<endpoint entity="sip:alice@192.0.2.1:5060"><display-text>Phone</display-text><referred><by>sip:bob@example.com</by></referred>` +
		`<status>connected</status><joining-method>dialed-in</joining-method><joining-info><when>2026-01-02T03:04:05Z</when><reason>invite</reason></joining-info>` +
		`<disconnection-method>booted</disconnection-method><disconnection-info><by>xmpp:mod@example.com</by></disconnection-info>` +
		`<media id="1"><display-text>voice</display-text><type>audio</type><label>1</label><src-id>305419896</src-id><status>sendrecv</status></media>` +
		`<call-info><sip><display-text>leg</display-text><call-id>abc@192.0.2.1</call-id><from-tag>f1</from-tag><to-tag>t1</to-tag></sip></call-info>` +
		`</endpoint></user></users>` +
		`<sidebars-by-ref><entry><uri>sip:team@example.com;grid=1</uri></entry></sidebars-by-ref>` +
		`<sidebars-by-val><entry entity="sip:team@example.com;grid=2" version="4"><users><user entity="sip:carol@example.com"></user></users></entry></sidebars-by-val>` +
		"</conference-info>\n"
	got, err := smallDocument().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("Marshal mismatch\n got: %s\nwant: %s", got, want)
	}
}

func TestMarshalPartialAndStates(t *testing.T) {
	d := &Document{
		Entity: "sip:conf1@conf.example.com", State: StatePartial, Version: 7,
		Users: &Users{State: StatePartial, Users: []User{{
			Entity: "sip:carol@example.com", State: StatePartial,
			Endpoints: []Endpoint{{
				Entity: "sip:carol@client.example.com", State: StatePartial,
				Status: StatusDisconnected, DisconnectionMethod: DisconnectBooted,
				DisconnectionInfo: &Execution{By: "sip:alice@example.com"},
			}},
		}, {Entity: "sip:dave@example.com", State: StateDeleted}}},
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>
<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:conf1@conf.example.com" state="partial" version="7">` +
		`<users state="partial"><user entity="sip:carol@example.com" state="partial">` +
		`<endpoint entity="sip:carol@client.example.com" state="partial"><status>disconnected</status>` +
		`<disconnection-method>booted</disconnection-method><disconnection-info><by>sip:alice@example.com</by></disconnection-info></endpoint></user>` +
		`<user entity="sip:dave@example.com" state="deleted"></user></users></conference-info>` + "\n"
	got, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// An absent root state is written as full; version is always written.
	got, err = (&Document{Entity: "sip:x@y"}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got, []byte(`entity="sip:x@y" state="full" version="0"></conference-info>`)) {
		t.Errorf("minimal document: %s", got)
	}
}

func TestMarshalEscaping(t *testing.T) {
	d := &Document{
		Entity: `sip:a&b@example.com;x="1"`, Version: 1,
		Description: &ConferenceDescription{
			Subject:     "a < b > c & 'd' \"e\"\r\nline\ttab",
			DisplayText: "bad\x00ctl\x1f\xffend",
			ServiceURIs: &URIs{Entries: []URIEntry{{URI: "xmpp:r@muc.example.com?join;password=a&b", Purpose: PurposeGroupTextChat}}},
		},
		Users: &Users{Users: []User{{Entity: "sip:tab\there@example.com\n"}}},
	}
	out, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{
		`entity="sip:a&amp;b@example.com;x=&quot;1&quot;"`,
		`<subject>a &lt; b &gt; c &amp; &apos;d&apos; &quot;e&quot;&#xD;` + "\nline\ttab</subject>",
		"<display-text>bad\uFFFDctl\uFFFD\uFFFDend</display-text>",
		`<uri>xmpp:r@muc.example.com?join;password=a&amp;b</uri>`,
		`entity="sip:tab&#x9;here@example.com&#xA;"`,
	} {
		if !strings.Contains(string(out), frag) {
			t.Errorf("missing %q in\n%s", frag, out)
		}
	}
	back, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if back.Entity != d.Entity || back.Description.Subject != d.Description.Subject ||
		back.ServiceURIs(PurposeGroupTextChat)[0] != d.Description.ServiceURIs.Entries[0].URI {
		t.Errorf("escaped values did not survive: %+v", back)
	}
	// Entities are trimmed of surrounding XML whitespace on parse.
	if got := back.Users.Users[0].Entity; got != "sip:tab\there@example.com" {
		t.Errorf("user entity = %q", got)
	}
}

func TestMarshalErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  *Document
		msg  string
	}{
		{"nil", nil, "nil document"},
		{"no entity", &Document{Version: 1}, "without entity"},
		{"bad root state", &Document{Entity: "e", State: "half"}, "invalid state"},
		{"bad users state", &Document{Entity: "e", Users: &Users{State: "x"}}, "invalid state"},
		{"user without entity", &Document{Entity: "e", Users: &Users{Users: []User{{}}}}, "user without entity"},
		{"endpoint without entity", &Document{Entity: "e", Users: &Users{Users: []User{{Entity: "u", Endpoints: []Endpoint{{}}}}}}, "endpoint without entity"},
		{"media without id", &Document{Entity: "e", Users: &Users{Users: []User{{Entity: "u", Endpoints: []Endpoint{{Entity: "p", Media: []Media{{}}}}}}}}, "media without id"},
		{"entry without uri", &Document{Entity: "e", SidebarsByRef: &URIs{Entries: []URIEntry{{}}}}, "without uri"},
		{"available-media without label", &Document{Entity: "e", Description: &ConferenceDescription{AvailableMedia: []AvailableMedium{{}}}}, "without label"},
		{"sidebar without entity", &Document{Entity: "e", SidebarsByVal: &SidebarsByVal{Entries: []Sidebar{{}}}}, "without entity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.doc.Marshal()
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Marshal error = %v, want ErrInvalid mentioning %q", err, tc.msg)
			}
			var buf bytes.Buffer
			if err := tc.doc.MarshalTo(&buf); err == nil || buf.Len() != 0 {
				t.Errorf("MarshalTo = %v, wrote %d bytes", err, buf.Len())
			}
			var plain plainWriter
			if err := tc.doc.MarshalTo(&plain); err == nil || plain.Len() != 0 {
				t.Errorf("MarshalTo(plain) = %v, wrote %d bytes", err, plain.Len())
			}
		})
	}
}

// plainWriter hides bytes.Buffer's AvailableBuffer, forcing the chunked path.
type plainWriter struct{ b bytes.Buffer }

func (w *plainWriter) Write(p []byte) (int, error) { return w.b.Write(p) }
func (w *plainWriter) Len() int                    { return w.b.Len() }

func TestMarshalToMatchesMarshal(t *testing.T) {
	for _, d := range []*Document{smallDocument(), benchDocument(60)} {
		want, err := d.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := d.MarshalTo(&buf); err != nil {
			t.Fatal(err)
		}
		var plain plainWriter
		if err := d.MarshalTo(&plain); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		bw := bufio.NewWriterSize(&out, 64)
		if err := d.MarshalTo(bw); err != nil {
			t.Fatal(err)
		}
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) || !bytes.Equal(plain.b.Bytes(), want) || !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("MarshalTo differs from Marshal (%d bytes)", len(want))
		}
		prefix := []byte("prefix")
		app, err := d.AppendTo(prefix)
		if err != nil || !bytes.Equal(app[len(prefix):], want) || string(app[:len(prefix)]) != "prefix" {
			t.Fatalf("AppendTo = %v", err)
		}
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errors.New("disk full")
}

func TestMarshalToWriteError(t *testing.T) {
	w := &failWriter{}
	err := benchDocument(60).MarshalTo(w)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v", err)
	}
	if w.n != 1 {
		t.Errorf("writes after a failure: %d", w.n)
	}
}

func TestMarshalByteStable(t *testing.T) {
	d := smallDocument()
	a, _ := d.Marshal()
	b, _ := d.Clone().Marshal()
	c, _ := mustParse(t, string(a)).Marshal()
	if !bytes.Equal(a, b) || !bytes.Equal(a, c) {
		t.Fatalf("not byte-stable:\n%s\n%s\n%s", a, b, c)
	}
}

func TestRoundTrip(t *testing.T) {
	partial := &Document{
		Entity: "sip:r@example.com", State: StatePartial, Version: 8,
		ConferenceState: &ConferenceState{UserCount: Ptr(uint32(0))},
		Users: &Users{State: StatePartial, Users: []User{
			{Entity: "sip:a@example.com", State: StatePartial, Endpoints: []Endpoint{{
				Entity: "sip:a@h", State: StatePartial, Status: StatusMutedViaFocus,
				Media: []Media{{ID: "1", Status: MediaRecvOnly}},
			}}},
			{Entity: "sip:b@example.com", State: StateDeleted},
			{Entity: "xmpp:c@example.com", State: StateFull, DisplayText: "C", Roles: []string{"visitor"}},
		}},
		SidebarsByRef: &URIs{State: StatePartial, Entries: []URIEntry{{URI: "sip:r@example.com;grid=1", State: StateDeleted}}},
	}
	deleted := &Document{Entity: "sip:r@example.com", State: StateDeleted, Version: 9}
	emptyish := &Document{Entity: "sip:r@example.com", State: StateFull, Version: 0,
		Description:     &ConferenceDescription{},
		HostInfo:        &HostInfo{},
		ConferenceState: &ConferenceState{Active: Ptr(false)},
		Users:           &Users{},
	}
	for name, d := range map[string]*Document{
		"small": smallDocument(), "bench60": benchDocument(60), "partial": partial,
		"deleted": deleted, "emptyish": emptyish,
	} {
		t.Run(name, func(t *testing.T) {
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			b, err := d.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if !reflect.DeepEqual(back, d) {
				t.Fatalf("round trip differs\n got %+v\nwant %+v\n%s", back, d, b)
			}
		})
	}
	// The RFC examples survive marshal → parse too.
	for _, f := range []string{rfcBasicFile, rfcRichFile} {
		d, err := Parse(readFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := d.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if back := mustParse(t, string(b)); !reflect.DeepEqual(back, d) {
			t.Errorf("%s: round trip differs", f)
		}
	}
}

func TestValidateDuplicates(t *testing.T) {
	d := smallDocument()
	d.Users.Users = append(d.Users.Users, d.Users.Users[0].Clone())
	if err := d.Validate(); err == nil || !strings.Contains(err.Error(), "duplicate user entity") {
		t.Fatalf("Validate = %v", err)
	}
	d = smallDocument()
	ep := &d.Users.Users[0].Endpoints[0]
	ep.Media = append(ep.Media, ep.Media[0])
	if err := d.Validate(); err == nil || !strings.Contains(err.Error(), "duplicate media id") {
		t.Fatalf("Validate = %v", err)
	}
	// Marshal does not look for duplicates; Parse refuses what it produced.
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(b); err == nil {
		t.Fatal("Parse accepted duplicate media ids")
	}
}

func TestCloneIsDeep(t *testing.T) {
	d := smallDocument()
	c := d.Clone()
	if !reflect.DeepEqual(c, d) {
		t.Fatal("clone differs")
	}
	// Mutate every pointer and slice of the clone; the original must not move.
	c.Description.Keywords[0] = "x"
	c.Description.ConfURIs.Entries[0].URI = "x"
	*c.Description.MaximumUserCount = 99
	c.Description.AvailableMedia[0].Label = "x"
	c.HostInfo.URIs.Entries[0].URI = "x"
	*c.ConferenceState.Active = false
	u := &c.Users.Users[0]
	u.AssociatedAORs.Entries[0].Modified.When = "x"
	u.Roles[0], u.Languages[0] = "x", "x"
	ep := &u.Endpoints[0]
	ep.Referred.By, ep.JoiningInfo.Reason, ep.DisconnectionInfo.By = "x", "x", "x"
	ep.Media[0].Status = MediaInactive
	ep.CallInfo.SIP.CallID = "x"
	c.SidebarsByRef.Entries[0].URI = "x"
	*c.SidebarsByVal.Entries[0].Version = 0
	c.SidebarsByVal.Entries[0].Users.Users[0].Entity = "x"
	if !reflect.DeepEqual(d, smallDocument()) {
		t.Fatal("mutating the clone changed the original")
	}
}

func TestFormatTime(t *testing.T) {
	at, err := time.Parse(time.RFC3339Nano, "2005-03-04T21:00:00.75+01:00")
	if err != nil {
		t.Fatal(err)
	}
	got := FormatTime(at)
	if got != "2005-03-04T20:00:00Z" {
		t.Errorf("FormatTime = %q", got)
	}
}
