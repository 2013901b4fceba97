package confinfo

import (
	"bytes"
	"strconv"
	"testing"
)

// benchDocument is a full document of the shape the focus renders: n users,
// each with one audio endpoint, its media and dialog, a JID as associated
// AOR and a role.
func benchDocument(n int) *Document {
	d := &Document{
		Entity: "sip:team@conf.example.com", State: StateFull, Version: 42,
		Description: &ConferenceDescription{
			Subject:        "Weekly sync",
			ConfURIs:       &URIs{Entries: []URIEntry{{URI: "sip:team@conf.example.com", Purpose: PurposeParticipation}}},
			ServiceURIs:    &URIs{Entries: []URIEntry{{URI: "xmpp:team@conference.example.com?join", Purpose: PurposeGroupTextChat}}},
			AvailableMedia: []AvailableMedium{{Label: "audio", Type: MediaTypeAudio, Status: MediaSendRecv}},
		},
		ConferenceState: &ConferenceState{UserCount: Ptr(uint32(n)), Active: Ptr(true), Locked: Ptr(false)},
		Users:           &Users{Users: make([]User, n)},
	}
	for i := range n {
		id := strconv.Itoa(i)
		d.Users.Users[i] = User{
			Entity:         "sip:user" + id + "@example.com",
			DisplayText:    "User Number " + id,
			AssociatedAORs: &URIs{Entries: []URIEntry{{URI: "xmpp:user" + id + "@example.com"}}},
			Roles:          []string{"participant"},
			Endpoints: []Endpoint{{
				Entity:        "sip:user" + id + "@192.0.2." + strconv.Itoa(i%250+1) + ":5060;transport=udp",
				Status:        StatusConnected,
				JoiningMethod: JoinDialedIn,
				JoiningInfo:   &Execution{When: "2026-01-02T03:04:05Z"},
				Media:         []Media{{ID: "1", Type: MediaTypeAudio, Label: "audio", SrcID: strconv.Itoa(100000 + i), Status: MediaSendRecv}},
				CallInfo:      &CallInfo{SIP: &SIPDialogID{CallID: "call-" + id + "@192.0.2.1", FromTag: "from" + id, ToTag: "to" + id}},
			}},
		}
	}
	return d
}

// BenchmarkMarshal60 renders a full 60-user document into a fresh slice.
func BenchmarkMarshal60(b *testing.B) {
	d := benchDocument(60)
	out, _ := d.Marshal()
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendTo60 renders into a reused buffer: the notifier's steady
// state, which should not allocate.
func BenchmarkAppendTo60(b *testing.B) {
	d := benchDocument(60)
	buf, _ := d.Marshal()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = d.AppendTo(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshalTo60 renders into a reused bytes.Buffer.
func BenchmarkMarshalTo60(b *testing.B) {
	d := benchDocument(60)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := d.MarshalTo(&buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse60 parses the 60-user document (the subscriber side).
func BenchmarkParse60(b *testing.B) {
	in, _ := benchDocument(60).Marshal()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAppendToDoesNotAllocate(t *testing.T) {
	d := benchDocument(60)
	buf, _ := d.Marshal()
	allocs := testing.AllocsPerRun(20, func() {
		buf, _ = d.AppendTo(buf[:0])
	})
	if allocs != 0 {
		t.Errorf("AppendTo into a large enough buffer: %v allocs", allocs)
	}
}

// BenchmarkDiff measures what the focus's notifier pays once per conference
// change: prev and next are separately built full documents (no shared
// strings), next differing by one muted user or by a storm of joins.
func BenchmarkDiff(b *testing.B) {
	muted := func(n int) (*Document, *Document) {
		prev, next := benchDocument(n), benchDocument(n)
		ep := &next.Users.Users[n/2].Endpoints[0]
		ep.Status, ep.Media[0].Status = StatusMutedViaFocus, MediaRecvOnly
		return prev, next
	}
	joined := func(n, k int) (*Document, *Document) {
		prev, next := benchDocument(n-k), benchDocument(n)
		prev.Version = next.Version - 1
		return prev, next
	}
	for _, bc := range []struct {
		name string
		docs func() (*Document, *Document)
	}{
		{name: "users=60/changed=1", docs: func() (*Document, *Document) { return muted(60) }},
		{name: "users=200/changed=1", docs: func() (*Document, *Document) { return muted(200) }},
		{name: "users=60/joined=60", docs: func() (*Document, *Document) { return joined(60, 60) }},
		{name: "users=200/joined=60", docs: func() (*Document, *Document) { return joined(200, 60) }},
		{name: "users=200/unchanged", docs: func() (*Document, *Document) { return benchDocument(200), benchDocument(200) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			prev, next := bc.docs()
			if Diff(prev, next) == nil && bc.name != "users=200/unchanged" {
				b.Fatal("no difference")
			}
			b.ReportAllocs()
			for b.Loop() {
				Diff(prev, next)
			}
		})
	}
}

// BenchmarkApply measures a subscriber merging partial NOTIFYs into a held
// 200-user conference: one user muted, 60 users muted at once, and 60 users
// joining (the held state is restored outside the timer before each join).
func BenchmarkApply(b *testing.B) {
	const held = 200
	base := benchDocument(held)
	muted := func(from, n int) *Document {
		d := &Document{Entity: base.Entity, State: StatePartial, Users: &Users{State: StatePartial}}
		for i := from; i < from+n; i++ {
			u := &base.Users.Users[i]
			d.Users.Users = append(d.Users.Users, User{Entity: u.Entity, State: StatePartial,
				Endpoints: []Endpoint{{Entity: u.Endpoints[0].Entity, State: StatePartial, Status: StatusMutedViaFocus,
					Media: []Media{{ID: "1", Status: MediaRecvOnly}}}}})
		}
		return d
	}
	joined := &Document{Entity: base.Entity, State: StatePartial,
		Users: &Users{State: StatePartial, Users: benchDocument(held + 60).Users.Users[held:]}}
	start := func(b *testing.B) *State {
		var s State
		if r, err := s.Apply(base); err != nil || r != Replaced {
			b.Fatal(r, err)
		}
		return &s
	}
	apply := func(b *testing.B, s *State, d *Document) {
		v, _ := s.Version()
		d.Version = v + 1
		if r, err := s.Apply(d); err != nil || r != Applied {
			b.Fatal(r, err)
		}
	}
	for _, bc := range []struct {
		name string
		upd  *Document
	}{
		{name: "users=200/update=1", upd: muted(held/2, 1)},
		{name: "users=200/update=60", upd: muted(70, 60)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := start(b)
			b.ReportAllocs()
			for b.Loop() {
				apply(b, s, bc.upd)
			}
			if u, _ := s.User(bc.upd.Users.Users[0].Entity); u.Endpoints[0].Status != StatusMutedViaFocus {
				b.Fatalf("update not applied: %+v", u)
			}
		})
	}
	b.Run("users=200/add=60", func(b *testing.B) {
		s := start(b)
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			s = start(b)
			b.StartTimer()
			apply(b, s, joined)
		}
		if n := len(s.Users()); n != held+60 {
			b.Fatalf("%d users held, want %d", n, held+60)
		}
	})
}
