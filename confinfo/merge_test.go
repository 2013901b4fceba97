package confinfo

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

const conf = "sip:team@conf.example.com"

// baseFull is the full state every merge case starts from (version 1).
const baseFull = `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:team@conf.example.com" state="full" version="1">
<conference-description><subject>Sync</subject>
 <service-uris><entry><uri>xmpp:team@conference.example.com?join</uri><purpose>grouptextchat</purpose></entry></service-uris>
</conference-description>
<conference-state><user-count>2</user-count><active>true</active><locked>false</locked></conference-state>
<users>
 <user entity="sip:alice@example.com" state="full">
  <display-text>Alice</display-text>
  <associated-aors><entry><uri>xmpp:alice@example.com</uri><display-text>chat</display-text><purpose>impp</purpose></entry>
   <entry><uri>tel:+15551234</uri></entry></associated-aors>
  <roles><entry>moderator</entry></roles>
  <endpoint entity="sip:alice@192.0.2.1">
   <display-text>Alice's phone</display-text>
   <status>connected</status><joining-method>dialed-in</joining-method>
   <media id="1"><type>audio</type><label>a1</label><src-id>1111</src-id><status>sendrecv</status></media>
  </endpoint>
 </user>
 <user entity="sip:bob@example.com">
  <display-text>Bob</display-text>
  <endpoint entity="sip:bob@192.0.2.2"><status>connected</status></endpoint>
 </user>
</users>
</conference-info>`

// partialDoc wraps users content in a partial document of the given version.
func partialDoc(version int, users string) string {
	return fmt.Sprintf(`<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="%s" state="partial" version="%d"><users state="partial">%s</users></conference-info>`,
		conf, version, users)
}

func userEntities(s *State) []string {
	var out []string
	for _, u := range s.Users() {
		out = append(out, u.Entity)
	}
	return out
}

type step struct {
	doc  string
	want Result
}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
		check func(t *testing.T, s *State)
	}{
		{
			name: "discard old version",
			steps: []step{
				{baseFull, Replaced},
				{partialDoc(1, `<user entity="sip:bob@example.com" state="deleted"/>`), Discarded},
				{strings.Replace(baseFull, `version="1"`, `version="0"`, 1), Discarded},
				{baseFull, Discarded},
			},
			check: func(t *testing.T, s *State) {
				if v, ok := s.Version(); v != 1 || !ok {
					t.Errorf("version = %d %v", v, ok)
				}
				if got := userEntities(s); len(got) != 2 {
					t.Errorf("users = %q", got)
				}
			},
		},
		{
			name: "full replaces everything",
			steps: []step{
				{baseFull, Replaced},
				{`<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:team@conf.example.com" version="5">
<users><user entity="sip:carol@example.com"><display-text>Carol</display-text></user></users></conference-info>`, Replaced},
			},
			check: func(t *testing.T, s *State) {
				if v, _ := s.Version(); v != 5 {
					t.Errorf("version = %d", v)
				}
				if got := userEntities(s); !reflect.DeepEqual(got, []string{"sip:carol@example.com"}) {
					t.Errorf("users = %q", got)
				}
				d := s.Document()
				if d.Description != nil || d.ConferenceState != nil {
					t.Errorf("full document without description kept the old one: %+v", d)
				}
			},
		},
		{
			name: "partial adds a user",
			steps: []step{
				{baseFull, Replaced},
				{partialDoc(2, `<user entity="sip:dave@example.com" state="partial"><display-text>Dave</display-text>
<endpoint entity="sip:dave@192.0.2.4" state="partial"><status>alerting</status></endpoint></user>`), Applied},
			},
			check: func(t *testing.T, s *State) {
				want := []string{"sip:alice@example.com", "sip:bob@example.com", "sip:dave@example.com"}
				if got := userEntities(s); !reflect.DeepEqual(got, want) {
					t.Errorf("users = %q", got)
				}
				dave, ok := s.User("sip:dave@example.com")
				if !ok || dave.DisplayText != "Dave" || dave.State != "" || dave.Endpoints[0].State != "" ||
					dave.Endpoints[0].Status != StatusAlerting {
					t.Errorf("dave = %+v (states must be normalised)", dave)
				}
				if v, _ := s.Version(); v != 2 || s.Document().Version != 2 || s.Document().State != StateFull {
					t.Errorf("version = %d", v)
				}
			},
		},
		{
			name: "partial updates an endpoint status",
			steps: []step{
				{baseFull, Replaced},
				{partialDoc(2, `<user entity="sip:alice@example.com" state="partial">
<endpoint entity="sip:alice@192.0.2.1" state="partial"><status>muted-via-focus</status><media id="1"><status>recvonly</status></media></endpoint></user>`), Applied},
			},
			check: func(t *testing.T, s *State) {
				alice, _ := s.User("sip:alice@example.com")
				ep := alice.Endpoints[0]
				want := Endpoint{Entity: "sip:alice@192.0.2.1", DisplayText: "Alice's phone", Status: StatusMutedViaFocus,
					JoiningMethod: JoinDialedIn, Media: []Media{{ID: "1", Type: "audio", Label: "a1", SrcID: "1111", Status: MediaRecvOnly}}}
				if !reflect.DeepEqual(ep, want) {
					t.Errorf("endpoint =\n%+v\nwant\n%+v", ep, want)
				}
				if alice.DisplayText != "Alice" || !reflect.DeepEqual(alice.Roles, []string{"moderator"}) {
					t.Errorf("untouched fields of alice changed: %+v", alice)
				}
			},
		},
		{
			name: "partial deletes a user",
			steps: []step{
				{baseFull, Replaced},
				{partialDoc(2, `<user entity="sip:bob@example.com" state="deleted"/><user entity="sip:nobody@example.com" state="deleted"/>`), Applied},
			},
			check: func(t *testing.T, s *State) {
				if got := userEntities(s); !reflect.DeepEqual(got, []string{"sip:alice@example.com"}) {
					t.Errorf("users = %q", got)
				}
				if _, ok := s.User("sip:bob@example.com"); ok {
					t.Error("bob still there")
				}
			},
		},
		{
			name: "gap detection leaves the state alone",
			steps: []step{
				{baseFull, Replaced},
				{partialDoc(3, `<user entity="sip:bob@example.com" state="deleted"/>`), Gap},
				{partialDoc(2, `<user entity="sip:carol@example.com"/>`), Applied},
			},
			check: func(t *testing.T, s *State) {
				want := []string{"sip:alice@example.com", "sip:bob@example.com", "sip:carol@example.com"}
				if got := userEntities(s); !reflect.DeepEqual(got, want) {
					t.Errorf("users = %q (the gapped partial must not have been applied)", got)
				}
			},
		},
		{
			name: "deleted root ends the conference",
			steps: []step{
				{baseFull, Replaced},
				{`<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:team@conf.example.com" state="deleted" version="2"/>`, Deleted},
			},
			check: func(t *testing.T, s *State) {
				if !s.Ended() || s.Document() != nil || s.Users() != nil {
					t.Errorf("ended %v, document %v", s.Ended(), s.Document())
				}
				if v, ok := s.Version(); v != 2 || !ok {
					t.Errorf("version = %d %v", v, ok)
				}
				if r, _ := s.Apply(mustParse(t, partialDoc(3, `<user entity="sip:x"/>`))); r != Gap {
					t.Errorf("partial after deletion = %v", r)
				}
				if r, _ := s.Apply(mustParse(t, strings.Replace(baseFull, `version="1"`, `version="4"`, 1))); r != Replaced || s.Ended() {
					t.Errorf("full after deletion = %v, ended %v", r, s.Ended())
				}
			},
		},
		{
			name:  "partial before any full",
			steps: []step{{partialDoc(1, `<user entity="sip:x"/>`), Gap}, {partialDoc(2, `<user entity="sip:y"/>`), Gap}},
			check: func(t *testing.T, s *State) {
				if _, ok := s.Version(); ok || s.Document() != nil || s.Users() != nil {
					t.Error("a partial without full state must not create state")
				}
			},
		},
		{
			name: "nested media update by id",
			steps: []step{
				{baseFull, Replaced},
				{partialDoc(2, `<user entity="sip:alice@example.com" state="partial"><endpoint entity="sip:alice@192.0.2.1" state="partial">
<media id="2"><type>video</type><status>sendonly</status></media><media id="1"><src-id>2222</src-id></media></endpoint></user>`), Applied},
			},
			check: func(t *testing.T, s *State) {
				alice, _ := s.User("sip:alice@example.com")
				want := []Media{
					{ID: "1", Type: "audio", Label: "a1", SrcID: "2222", Status: MediaSendRecv},
					{ID: "2", Type: "video", Status: MediaSendOnly},
				}
				if got := alice.Endpoints[0].Media; !reflect.DeepEqual(got, want) {
					t.Errorf("media = %+v", got)
				}
				if alice.Endpoints[0].Status != StatusConnected {
					t.Errorf("status changed: %q", alice.Endpoints[0].Status)
				}
			},
		},
		{
			name: "uris entries replace, add and delete by uri",
			steps: []step{
				{baseFull, Replaced},
				{partialDoc(2, `<user entity="sip:alice@example.com" state="partial"><associated-aors state="partial">
<entry><uri>xmpp:alice@example.com</uri><display-text>Jabber</display-text></entry>
<entry><uri>xmpp:alice@work.example.com</uri></entry>
<entry state="deleted"><uri>tel:+15551234</uri></entry></associated-aors></user>`), Applied},
			},
			check: func(t *testing.T, s *State) {
				alice, _ := s.User("sip:alice@example.com")
				want := &URIs{Entries: []URIEntry{
					{URI: "xmpp:alice@example.com", DisplayText: "Jabber"}, // replaced whole: purpose gone
					{URI: "xmpp:alice@work.example.com"},
				}}
				if !reflect.DeepEqual(alice.AssociatedAORs, want) {
					t.Errorf("associated-aors = %+v", alice.AssociatedAORs)
				}
			},
		},
		{
			name: "uris without state replace the list",
			steps: []step{
				{baseFull, Replaced},
				{partialDoc(2, `<user entity="sip:alice@example.com" state="partial"><associated-aors>
<entry><uri>xmpp:a@example.com</uri></entry></associated-aors></user>`), Applied},
			},
			check: func(t *testing.T, s *State) {
				alice, _ := s.User("sip:alice@example.com")
				if want := (&URIs{Entries: []URIEntry{{URI: "xmpp:a@example.com"}}}); !reflect.DeepEqual(alice.AssociatedAORs, want) {
					t.Errorf("associated-aors = %+v", alice.AssociatedAORs)
				}
			},
		},
		{
			name: "full or stateless user inside a partial replaces it",
			steps: []step{
				{baseFull, Replaced},
				{partialDoc(2, `<user entity="sip:alice@example.com" state="full"><endpoint entity="sip:alice@198.51.100.9"/>
<endpoint entity="sip:alice@192.0.2.1" state="deleted"/></user><user entity="sip:bob@example.com"><roles><entry>visitor</entry></roles></user>`), Applied},
			},
			check: func(t *testing.T, s *State) {
				alice, _ := s.User("sip:alice@example.com")
				if want := (User{Entity: "sip:alice@example.com", Endpoints: []Endpoint{{Entity: "sip:alice@198.51.100.9"}}}); !reflect.DeepEqual(alice, want) {
					t.Errorf("alice = %+v", alice)
				}
				bob, _ := s.User("sip:bob@example.com")
				if bob.DisplayText != "" || len(bob.Endpoints) != 0 || !reflect.DeepEqual(bob.Roles, []string{"visitor"}) {
					t.Errorf("bob = %+v", bob)
				}
			},
		},
		{
			name: "full endpoint inside a partial user replaces the endpoint",
			steps: []step{
				{baseFull, Replaced},
				{partialDoc(2, `<user entity="sip:alice@example.com" state="partial"><endpoint entity="sip:alice@192.0.2.1"><status>on-hold</status></endpoint>
<endpoint entity="sip:alice@192.0.2.9" state="deleted"/></user>`), Applied},
			},
			check: func(t *testing.T, s *State) {
				alice, _ := s.User("sip:alice@example.com")
				if want := []Endpoint{{Entity: "sip:alice@192.0.2.1", Status: StatusOnHold}}; !reflect.DeepEqual(alice.Endpoints, want) {
					t.Errorf("endpoints = %+v", alice.Endpoints)
				}
			},
		},
		{
			name: "deleted parent ignores its children",
			steps: []step{
				{baseFull, Replaced},
				{partialDoc(2, `<user entity="sip:alice@example.com" state="deleted"><display-text>Ghost</display-text>
<endpoint entity="sip:alice@192.0.2.1" state="partial"><status>connected</status></endpoint></user>`), Applied},
			},
			check: func(t *testing.T, s *State) {
				if _, ok := s.User("sip:alice@example.com"); ok {
					t.Error("alice survived her deletion")
				}
			},
		},
		{
			name: "atomic elements replace whole, absent ones stay",
			steps: []step{
				{baseFull, Replaced},
				{`<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:team@conf.example.com" state="partial" version="2">
<conference-state><user-count>3</user-count></conference-state></conference-info>`, Applied},
			},
			check: func(t *testing.T, s *State) {
				d := s.Document()
				if want := (&ConferenceState{UserCount: Ptr(uint32(3))}); !reflect.DeepEqual(d.ConferenceState, want) {
					t.Errorf("conference-state = %+v", d.ConferenceState)
				}
				if d.Description == nil || d.Description.Subject != "Sync" || len(userEntities(s)) != 2 {
					t.Errorf("elements absent from the partial changed: %+v", d)
				}
			},
		},
		{
			name: "users deleted empties the table",
			steps: []step{
				{baseFull, Replaced},
				{`<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:team@conf.example.com" state="partial" version="2">
<users state="deleted"><user entity="sip:x"/></users></conference-info>`, Applied},
				{partialDoc(3, `<user entity="sip:zed@example.com" state="partial"><display-text>Zed</display-text></user>`), Applied},
			},
			check: func(t *testing.T, s *State) {
				if got := userEntities(s); !reflect.DeepEqual(got, []string{"sip:zed@example.com"}) {
					t.Errorf("users = %q", got)
				}
			},
		},
		{
			name: "deleting the last endpoint and entry leaves empty lists",
			steps: []step{
				{baseFull, Replaced},
				{partialDoc(2, `<user entity="sip:bob@example.com" state="partial"><endpoint entity="sip:bob@192.0.2.2" state="deleted"/></user>
<user entity="sip:alice@example.com" state="partial"><associated-aors state="partial"><entry state="deleted"><uri>tel:+15551234</uri></entry>
<entry state="deleted"><uri>xmpp:alice@example.com</uri></entry></associated-aors></user>`), Applied},
			},
			check: func(t *testing.T, s *State) {
				bob, _ := s.User("sip:bob@example.com")
				alice, _ := s.User("sip:alice@example.com")
				if bob.Endpoints != nil || alice.AssociatedAORs == nil || alice.AssociatedAORs.Entries != nil {
					t.Errorf("bob %+v alice %+v", bob, alice.AssociatedAORs)
				}
			},
		},
		{
			name: "three partials in a row",
			steps: []step{
				{baseFull, Replaced},
				{partialDoc(2, `<user entity="sip:carol@example.com" state="partial"><display-text>Carol</display-text></user>`), Applied},
				{partialDoc(3, `<user entity="sip:carol@example.com" state="partial"><endpoint entity="sip:carol@h" state="partial"><status>connected</status></endpoint></user>`), Applied},
				{partialDoc(4, `<user entity="sip:carol@example.com" state="partial"><endpoint entity="sip:carol@h" state="partial"><status>disconnected</status><disconnection-method>booted</disconnection-method></endpoint></user>`), Applied},
			},
			check: func(t *testing.T, s *State) {
				carol, _ := s.User("sip:carol@example.com")
				if carol.DisplayText != "Carol" || carol.Endpoints[0].Status != StatusDisconnected || carol.Endpoints[0].DisconnectionMethod != DisconnectBooted {
					t.Errorf("carol = %+v", carol)
				}
				if v, _ := s.Version(); v != 4 {
					t.Errorf("version = %d", v)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s State
			for i, st := range tc.steps {
				got, err := s.Apply(mustParse(t, st.doc))
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got != st.want {
					t.Fatalf("step %d: Apply = %v, want %v", i, got, st.want)
				}
			}
			tc.check(t, &s)
			// Whatever was merged is a valid full document.
			if d := s.Document(); d != nil {
				if err := d.Validate(); err != nil {
					t.Errorf("merged document invalid: %v", err)
				}
				b, err := d.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				if back := mustParse(t, string(b)); !reflect.DeepEqual(back, d) {
					t.Errorf("merged document does not round-trip")
				}
			}
		})
	}
}

// RFC 4575 §7.2 (partial, version 5) applied onto §7.1 (full, version 1).
func TestApplyRFCExamples(t *testing.T) {
	var s State
	basic, err := Parse(readFile(t, rfcBasicFile))
	if err != nil {
		t.Fatal(err)
	}
	rich, err := Parse(readFile(t, rfcRichFile))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.Apply(basic); r != Replaced || err != nil {
		t.Fatalf("basic: %v %v", r, err)
	}
	// As published the versions jump from 1 to 5: a gap, applied nowhere.
	if r, err := s.Apply(rich); r != Gap || err != nil {
		t.Fatalf("rich as published: %v %v", r, err)
	}
	if got := userEntities(&s); len(got) != 2 {
		t.Fatalf("gap changed the users: %q", got)
	}
	// With the next version it merges.
	rich.Version = 2
	if r, err := s.Apply(rich); r != Applied || err != nil {
		t.Fatalf("rich as version 2: %v %v", r, err)
	}
	d := s.Document()
	if d.Version != 2 || d.State != StateFull {
		t.Errorf("root = %d %q", d.Version, d.State)
	}
	// conference-description, host-info and conference-state are replaced.
	if d.Description.DisplayText != "Weekly Sales Meeting" || len(d.Description.ConfURIs.Entries) != 3 ||
		len(d.Description.ServiceURIs.Entries) != 2 || *d.Description.MaximumUserCount != 100 {
		t.Errorf("description = %+v", d.Description)
	}
	if d.HostInfo == nil || d.HostInfo.DisplayText != "Sales Host" {
		t.Errorf("host-info = %+v", d.HostInfo)
	}
	if *d.ConferenceState.UserCount != 32 || !*d.ConferenceState.Active {
		t.Errorf("conference-state = %+v", d.ConferenceState)
	}
	// <users> carries no state attribute, so it is full (the schema default):
	// it replaces the table, and Alice, absent from it, is gone.
	if got := userEntities(&s); !reflect.DeepEqual(got, []string{"sip:bob@example.com"}) {
		t.Errorf("users = %q", got)
	}
	bob, _ := s.User("sip:bob@example.com")
	ep := bob.Endpoints[0]
	if ep.Status != StatusDisconnecting || ep.DisconnectionMethod != DisconnectBooted || ep.Referred == nil ||
		ep.CallInfo.SIP.CallID != "hsjh8980vhsb78" || !reflect.DeepEqual(bob.Roles, []string{"participant"}) {
		t.Errorf("bob = %+v", bob)
	}
	// Partial sidebars merge into nothing: they are added, states cleared.
	if d.SidebarsByRef == nil || d.SidebarsByRef.State != "" || len(d.SidebarsByRef.Entries) != 2 {
		t.Errorf("sidebars-by-ref = %+v", d.SidebarsByRef)
	}
	if sv := d.SidebarsByVal; sv == nil || len(sv.Entries) != 1 || sv.Entries[0].State != "" || len(sv.Entries[0].Users.Users) != 3 {
		t.Errorf("sidebars-by-val = %+v", sv)
	}
}

func TestApplySidebarsByVal(t *testing.T) {
	var s State
	full := `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:c@x" version="1">
<sidebars-by-val><entry entity="sip:c@x;grid=1"><users><user entity="sip:a@x"/><user entity="sip:b@x"/></users></entry>
<entry entity="sip:c@x;grid=2"/></sidebars-by-val></conference-info>`
	part := `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:c@x" state="partial" version="2">
<sidebars-by-val state="partial"><entry entity="sip:c@x;grid=1" state="partial" version="3"><users state="partial"><user entity="sip:a@x" state="deleted"/></users>
<conference-state><user-count>1</user-count></conference-state></entry>
<entry entity="sip:c@x;grid=2" state="deleted"/><entry entity="sip:c@x;grid=3"/></sidebars-by-val></conference-info>`
	for i, st := range []step{{full, Replaced}, {part, Applied}} {
		if r, err := s.Apply(mustParse(t, st.doc)); r != st.want || err != nil {
			t.Fatalf("step %d: %v %v", i, r, err)
		}
	}
	want := &SidebarsByVal{Entries: []Sidebar{
		{Entity: "sip:c@x;grid=1", Version: Ptr(uint32(3)), ConferenceState: &ConferenceState{UserCount: Ptr(uint32(1))},
			Users: &Users{Users: []User{{Entity: "sip:b@x"}}}},
		{Entity: "sip:c@x;grid=3"},
	}}
	if got := s.Document().SidebarsByVal; !reflect.DeepEqual(got, want) {
		t.Errorf("sidebars-by-val = %+v", got)
	}
}

func TestApplyErrors(t *testing.T) {
	var s State
	if _, err := s.Apply(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil: %v", err)
	}
	if _, err := s.Apply(&Document{Entity: conf, State: "bogus", Version: 1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad state: %v", err)
	}
	if r, err := s.Apply(mustParse(t, baseFull)); r != Replaced || err != nil {
		t.Fatal(r, err)
	}
	other := strings.Replace(baseFull, conf, "sip:other@conf.example.com", 1)
	other = strings.Replace(other, `version="1"`, `version="2"`, 1)
	if _, err := s.Apply(mustParse(t, other)); !errors.Is(err, ErrEntityMismatch) {
		t.Errorf("other conference: %v", err)
	}
	if v, _ := s.Version(); v != 1 || s.Entity() != conf {
		t.Errorf("error changed the state: version %d entity %q", v, s.Entity())
	}
	s.Reset()
	if r, err := s.Apply(mustParse(t, other)); r != Replaced || err != nil {
		t.Errorf("after Reset: %v %v", r, err)
	}
}

// Neither the applied document nor the returned views alias the state.
func TestApplyNoAliasing(t *testing.T) {
	var s State
	d := mustParse(t, baseFull)
	if _, err := s.Apply(d); err != nil {
		t.Fatal(err)
	}
	d.Users.Users[0].DisplayText = "changed"
	d.Users.Users[0].Endpoints[0].Media[0].Status = MediaInactive
	view := s.Document()
	view.Users.Users[1].Roles = append(view.Users.Users[1].Roles, "x")
	u, _ := s.User("sip:alice@example.com")
	u.Endpoints[0].Status = StatusDisconnected
	s.Users()[0].AssociatedAORs.Entries[0].URI = "x"

	alice, _ := s.User("sip:alice@example.com")
	if alice.DisplayText != "Alice" || alice.Endpoints[0].Media[0].Status != MediaSendRecv ||
		alice.Endpoints[0].Status != StatusConnected || alice.AssociatedAORs.Entries[0].URI != "xmpp:alice@example.com" {
		t.Errorf("state was changed through an alias: %+v", alice)
	}
	if bob, _ := s.User("sip:bob@example.com"); len(bob.Roles) != 0 {
		t.Errorf("bob = %+v", bob)
	}
	// A partial's slices are copied too.
	p := mustParse(t, partialDoc(2, `<user entity="sip:new@example.com"><roles><entry>r</entry></roles></user>`))
	if _, err := s.Apply(p); err != nil {
		t.Fatal(err)
	}
	p.Users.Users[0].Roles[0] = "changed"
	if nu, _ := s.User("sip:new@example.com"); nu.Roles[0] != "r" {
		t.Errorf("partial aliased: %+v", nu)
	}
}

func TestResultString(t *testing.T) {
	for r, want := range map[Result]string{Applied: "applied", Discarded: "discarded", Replaced: "replaced", Deleted: "deleted", Gap: "gap", 0: "Result(0)"} {
		if r.String() != want {
			t.Errorf("%d.String() = %q", int(r), r.String())
		}
	}
}
