package confinfo

import (
	"bytes"
	"reflect"
	"testing"
)

func fuzzSeeds(f testing.TB) [][]byte {
	seeds := [][]byte{
		readFile(f, rfcBasicFile),
		readFile(f, rfcRichFile),
		[]byte(baseFull),
		[]byte(partialDoc(2, `<user entity="sip:alice@example.com" state="partial"><endpoint entity="sip:alice@192.0.2.1" state="partial"><status>muted-via-focus</status><media id="1"><status>recvonly</status></media></endpoint></user>`)),
		[]byte(partialDoc(2, `<user entity="sip:bob@example.com" state="deleted"/><user entity="sip:x"><associated-aors state="partial"><entry state="deleted"><uri>u</uri></entry></associated-aors></user>`)),
		[]byte(`<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:team@conf.example.com" state="deleted" version="3"/>`),
		[]byte(`<ci:conference-info xmlns:ci="urn:ietf:params:xml:ns:conference-info" entity="e" version="0"><ci:users state="partial"/></ci:conference-info>`),
	}
	for _, d := range []*Document{smallDocument(), benchDocument(3)} {
		b, err := d.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzParse: Parse never panics, agrees with referenceParse (the
// encoding/xml parser it replaced) on every input, and whatever it accepts
// marshals, parses back to an equal document and marshals to the same bytes
// again.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	for _, s := range xmlEdgeCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkParseMatchesReference(t, in)
		d, err := Parse(in)
		if err != nil {
			if d != nil {
				t.Fatal("document returned with an error")
			}
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("parsed document does not validate: %v", err)
		}
		out, err := d.Marshal()
		if err != nil {
			t.Fatalf("parsed document does not marshal: %v", err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("marshalled document does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, d) {
			t.Fatalf("round trip differs\nfirst  %#v\nsecond %#v\n%s", d, back, out)
		}
		again, err := back.Marshal()
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not byte-stable: %v\n%s\n%s", err, out, again)
		}
		if !reflect.DeepEqual(d.Clone(), d) {
			t.Fatal("Clone differs")
		}
	})
}

// FuzzApply: applying any two parsed documents in turn never panics, and
// the merged view is always a valid document that round-trips.
func FuzzApply(f *testing.F) {
	seeds := fuzzSeeds(f)
	for _, a := range seeds {
		for _, b := range seeds {
			f.Add(a, b)
		}
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var s State
		for _, in := range [][]byte{a, b} {
			d, err := Parse(in)
			if err != nil {
				continue
			}
			before := d.Clone()
			r, err := s.Apply(d)
			if err != nil {
				continue
			}
			if !reflect.DeepEqual(d, before) {
				t.Fatal("Apply modified its argument")
			}
			switch r {
			case Applied, Discarded, Replaced, Deleted, Gap:
			default:
				t.Fatalf("unknown result %v", r)
			}
		}
		// A partial applied onto itself with the next version must work too.
		if d, err := Parse(b); err == nil && d.State == StatePartial {
			if v, ok := s.Version(); ok && s.Document() != nil {
				d.Entity, d.Version = s.Entity(), v+1
				if v+1 != 0 {
					if r, err := s.Apply(d); err != nil || r != Applied {
						t.Fatalf("next partial: %v %v", r, err)
					}
				}
			}
		}
		doc := s.Document()
		if doc == nil {
			return
		}
		if err := doc.Validate(); err != nil {
			t.Fatalf("merged document invalid: %v", err)
		}
		out, err := doc.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("merged document does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, doc) {
			t.Fatalf("merged document does not round-trip\n%#v\n%#v", doc, back)
		}
		users := s.Users()
		for i := 1; i < len(users); i++ {
			if users[i-1].Entity >= users[i].Entity {
				t.Fatalf("Users not sorted/unique: %q then %q", users[i-1].Entity, users[i].Entity)
			}
		}
	})
}

// gen draws small choices from fuzz bytes (zero once they run out), so that
// keys collide often and every state combination turns up.
type gen struct{ b []byte }

func (g *gen) n(k int) int {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return int(c) % k
}

func (g *gen) pick(opts ...string) string { return opts[g.n(len(opts))] }

func (g *gen) state() ElementState {
	return ElementState(g.pick("", string(StatePartial), string(StateFull), string(StateDeleted)))
}

func (g *gen) uris() *URIs {
	if g.n(3) == 0 {
		return nil
	}
	u := &URIs{State: g.state()}
	seen := map[string]bool{}
	for range g.n(4) {
		uri := g.pick("xmpp:a@x", "tel:+1", "mailto:a@x")
		if seen[uri] {
			continue
		}
		seen[uri] = true
		u.Entries = append(u.Entries, URIEntry{URI: uri, State: g.state(), DisplayText: g.pick("", "d1", "d2")})
	}
	return u
}

func (g *gen) users() *Users {
	us := &Users{State: g.state()}
	seen := map[string]bool{}
	for range g.n(5) {
		ent := g.pick("sip:a@x", "sip:b@x", "xmpp:c@x")
		if seen[ent] {
			continue
		}
		seen[ent] = true
		u := User{Entity: ent, State: g.state(), DisplayText: g.pick("", "A", "B"), AssociatedAORs: g.uris()}
		if g.n(3) == 0 {
			u.Roles = []string{g.pick("moderator", "participant", "visitor")}
		}
		eps := map[string]bool{}
		for range g.n(4) {
			id := g.pick("e1", "e2")
			if eps[id] {
				continue
			}
			eps[id] = true
			ep := Endpoint{Entity: id, State: g.state(),
				Status: EndpointStatus(g.pick("", string(StatusConnected), string(StatusMutedViaFocus), string(StatusDisconnected)))}
			ms := map[string]bool{}
			for range g.n(3) {
				mid := g.pick("1", "2")
				if ms[mid] {
					continue
				}
				ms[mid] = true
				ep.Media = append(ep.Media, Media{ID: mid, Type: g.pick("", "audio"), Status: MediaStatus(g.pick("", "sendrecv", "recvonly"))})
			}
			u.Endpoints = append(u.Endpoints, ep)
		}
		us.Users = append(us.Users, u)
	}
	return us
}

// FuzzMergeOps builds a full document and a run of partial documents from
// the fuzz input, sends each through Marshal and Parse, applies them in
// order and checks the outcome of every keyed user against RFC 4575 §4.6.
func FuzzMergeOps(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte("\x01\x04\x01\x02\x01\x03\x00\x01\x02\x01\x01\x02\x00\x01\x03\x01\x01\x01\x02\x02\x00\x01\x01\x01\x00"))
	f.Add(bytes.Repeat([]byte{1, 2, 3, 0, 1, 1, 2, 3, 3, 1, 0, 2}, 12))
	f.Fuzz(func(t *testing.T, in []byte) {
		g := &gen{b: in}
		var s State
		for i := 0; i < 6; i++ {
			d := &Document{Entity: "sip:c@x", State: StatePartial, Version: uint32(i + 1), Users: g.users()}
			if i == 0 {
				d.State = StateFull
			}
			if g.n(4) == 0 {
				d.ConferenceState = &ConferenceState{UserCount: Ptr(uint32(g.n(9)))}
			}
			b, err := d.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			d, err = Parse(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			before := s.Document()
			r, err := s.Apply(d)
			want := Applied
			if i == 0 {
				want = Replaced
			}
			if err != nil || r != want {
				t.Fatalf("doc %d: %v %v", i, r, err)
			}
			checkUsers(t, before, d, &s)
			if i == 5 || len(g.b) == 0 {
				break
			}
		}
		if b, err := s.Document().Marshal(); err != nil {
			t.Fatal(err)
		} else if back, err := Parse(b); err != nil || !reflect.DeepEqual(back, s.Document()) {
			t.Fatalf("merged view does not round-trip: %v", err)
		}
	})
}

// checkUsers verifies the users table after applying upd onto before.
func checkUsers(t *testing.T, before, upd *Document, s *State) {
	t.Helper()
	got := map[string]User{}
	for _, u := range s.Users() {
		got[u.Entity] = u
	}
	if upd.Users == nil {
		return
	}
	if upd.Users.State == StateDeleted {
		if len(got) != 0 {
			t.Fatalf("users deleted but %d held", len(got))
		}
		return
	}
	if upd.State == StateFull || upd.Users.State == StateFull || upd.Users.State == "" {
		// Replaced whole: exactly the non-deleted users of the update.
		n := 0
		for _, u := range upd.Users.Users {
			if u.State != StateDeleted {
				n++
				if _, ok := got[u.Entity]; !ok {
					t.Fatalf("user %q of a full list missing", u.Entity)
				}
			}
		}
		if n != len(got) {
			t.Fatalf("full users: %d in update, %d held", n, len(got))
		}
		return
	}
	for _, u := range upd.Users.Users {
		h, ok := got[u.Entity]
		switch u.State {
		case StateDeleted:
			if ok {
				t.Fatalf("deleted user %q still held", u.Entity)
			}
		case StatePartial:
			if !ok {
				t.Fatalf("partial user %q not held", u.Entity)
			}
			if u.DisplayText != "" && h.DisplayText != u.DisplayText {
				t.Fatalf("user %q display-text %q, want %q", u.Entity, h.DisplayText, u.DisplayText)
			}
			if u.DisplayText == "" && before != nil {
				if old := before.User(u.Entity); old != nil && h.DisplayText != old.DisplayText {
					t.Fatalf("user %q display-text changed without one in the update", u.Entity)
				}
			}
			for _, ep := range u.Endpoints {
				he := h.Endpoint(ep.Entity)
				if ep.State == StateDeleted {
					if he != nil {
						t.Fatalf("deleted endpoint %q still held", ep.Entity)
					}
					continue
				}
				if he == nil {
					t.Fatalf("endpoint %q not held", ep.Entity)
				}
				if ep.Status != "" && he.Status != ep.Status {
					t.Fatalf("endpoint %q status %q, want %q", ep.Entity, he.Status, ep.Status)
				}
				for _, m := range ep.Media {
					hm := he.MediaByID(m.ID)
					if hm == nil {
						t.Fatalf("media %q not held", m.ID)
					}
					if m.Status != "" && hm.Status != m.Status {
						t.Fatalf("media %q status %q, want %q", m.ID, hm.Status, m.Status)
					}
				}
			}
		default:
			if !ok {
				t.Fatalf("full user %q not held", u.Entity)
			}
			want := u.Clone()
			normalizeUser(&want)
			if !reflect.DeepEqual(h, want) {
				t.Fatalf("full user %q held as %+v, want %+v", u.Entity, h, want)
			}
		}
	}
}
