package confinfo

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	base := mustParse(t, baseFull)
	next := func(edit func(d *Document)) *Document {
		d := base.Clone()
		d.Version = 2
		edit(d)
		return d
	}
	for _, tc := range []struct {
		name string
		next *Document
		want string // the users part of the expected partial; "" for nil, "full" for a full document
	}{
		{"no change", next(func(d *Document) {}), ""},
		{"user added", next(func(d *Document) {
			d.Users.Users = append(d.Users.Users, User{Entity: "sip:carol@example.com", DisplayText: "Carol"})
		}), `<users state="partial"><user entity="sip:carol@example.com"><display-text>Carol</display-text></user></users>`},
		{"user removed", next(func(d *Document) { d.Users.Users = d.Users.Users[:1] }),
			`<users state="partial"><user entity="sip:bob@example.com" state="deleted"></user></users>`},
		{"endpoint muted", next(func(d *Document) {
			ep := &d.Users.Users[0].Endpoints[0]
			ep.Status, ep.Media[0].Status = StatusMutedViaFocus, MediaRecvOnly
		}), `<users state="partial"><user entity="sip:alice@example.com" state="partial"><endpoint entity="sip:alice@192.0.2.1">` +
			`<display-text>Alice&apos;s phone</display-text><status>muted-via-focus</status><joining-method>dialed-in</joining-method>` +
			`<media id="1"><type>audio</type><label>a1</label><src-id>1111</src-id><status>recvonly</status></media></endpoint></user></users>`},
		{"endpoint gone, name changed", next(func(d *Document) {
			d.Users.Users[1].Endpoints = nil
			d.Users.Users[1].DisplayText = "Robert"
		}), `<users state="partial"><user entity="sip:bob@example.com" state="partial"><display-text>Robert</display-text>` +
			`<endpoint entity="sip:bob@192.0.2.2" state="deleted"></endpoint></user></users>`},
		{"display-text cleared", next(func(d *Document) { d.Users.Users[1].DisplayText = "" }),
			`<users state="partial"><user entity="sip:bob@example.com"><endpoint entity="sip:bob@192.0.2.2"><status>connected</status></endpoint></user></users>`},
		{"conference-state removed", next(func(d *Document) { d.ConferenceState = nil }), "full"},
		{"users reordered only", next(func(d *Document) { slices.Reverse(d.Users.Users) }), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Diff(base, tc.next)
			switch tc.want {
			case "":
				if p != nil {
					t.Fatalf("Diff = %s", p)
				}
				return
			case "full":
				if p == nil || p.State != StateFull || p.Version != 2 {
					t.Fatalf("Diff = %s", p)
				}
			default:
				if p == nil || p.State != StatePartial || p.Version != 2 {
					t.Fatalf("Diff = %s", p)
				}
				b, _ := p.Marshal()
				if !strings.Contains(string(b), tc.want) {
					t.Fatalf("Diff =\n%s\nwant users\n%s", b, tc.want)
				}
			}
			checkDiffApplies(t, base, tc.next, p)
		})
	}
	if d := Diff(nil, base); d == nil || d.State != StateFull {
		t.Errorf("Diff(nil, base) = %v", d)
	}
}

// checkDiffApplies applies prev (full, version 1) then p (version 2, through
// Marshal and Parse) and requires the result to equal next.
func checkDiffApplies(t *testing.T, prev, next, p *Document) {
	t.Helper()
	var s State
	prev = prev.Clone()
	prev.State, prev.Version = StateFull, 1
	if _, err := s.Apply(prev); err != nil {
		t.Fatal(err)
	}
	if p != nil {
		p = p.Clone()
		p.Version = 2
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if p, err = Parse(b); err != nil {
			t.Fatal(err)
		}
		if r, err := s.Apply(p); err != nil || (r != Applied && r != Replaced) {
			t.Fatalf("Apply(diff) = %v %v", r, err)
		}
	}
	got := s.Document()
	want := next.Clone()
	normalizeDocument(want)
	sortView(got)
	sortView(want)
	got.Version, want.Version = 0, 0
	if !reflect.DeepEqual(got, want) {
		gb, _ := got.Marshal()
		wb, _ := want.Marshal()
		t.Fatalf("prev + diff != next\n got %s\nwant %s\ndiff %s", gb, wb, p)
	}
}

// sortView orders users and endpoints by entity for order-free comparison.
func sortView(d *Document) {
	if d.Users == nil {
		return
	}
	slices.SortFunc(d.Users.Users, func(a, b User) int { return strings.Compare(a.Entity, b.Entity) })
	for i := range d.Users.Users {
		slices.SortFunc(d.Users.Users[i].Endpoints, func(a, b Endpoint) int { return strings.Compare(a.Entity, b.Entity) })
	}
}

// FuzzDiff: for any two full documents, prev + Diff(prev, next) == next,
// and Diff returns exactly what referenceDiff does.
func FuzzDiff(f *testing.F) {
	f.Add([]byte{0}, []byte{1})
	f.Add([]byte("\x01\x04\x01\x02\x01\x03\x00\x01\x02\x01"), []byte("\x01\x04\x01\x02\x00\x03\x00\x01\x02\x02\x01"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		build := func(in []byte) *Document {
			g := &gen{b: in}
			d := &Document{Entity: "sip:c@x", State: StateFull, Users: g.users()}
			if g.n(2) == 0 {
				d.ConferenceState = &ConferenceState{UserCount: Ptr(uint32(g.n(3)))}
			}
			if g.n(2) == 0 {
				d.Description = &ConferenceDescription{Subject: g.pick("s1", "s2"), ServiceURIs: g.uris()}
			}
			if g.n(3) == 0 {
				d.SidebarsByRef = g.uris()
			}
			return d
		}
		prev, next := build(a), build(b)
		checkDiffApplies(t, prev, next, Diff(prev, next))
		checkDiffMatchesReference(t, prev, next)
		// The same bytes drawn as documents using every field of the
		// model: Diff must match its reference exactly on those too.
		checkDiffMatchesReference(t, (&gen{b: a}).richDocument(), (&gen{b: b}).richDocument())
	})
}
