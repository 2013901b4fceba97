package confinfo

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// The rich generator draws documents that use every field of the model, in
// every state, with nil and empty lists, and now and then duplicate keys,
// so that Diff can be compared with referenceDiff on inputs well beyond
// what the focus renders.

func (g *gen) list(opts ...string) []string {
	switch g.n(5) {
	case 0:
		return nil
	case 1:
		return []string{}
	case 2:
		return []string{opts[0]}
	case 3:
		return []string{opts[1], opts[0]}
	}
	return []string{opts[1]}
}

func (g *gen) exec() *Execution {
	if g.n(3) == 0 {
		return nil
	}
	return &Execution{When: g.pick("", "2026-01-02T03:04:05Z"), Reason: g.pick("", "r1", "r2"), By: g.pick("", "sip:m@x")}
}

func (g *gen) u32() *uint32 {
	if g.n(2) == 0 {
		return nil
	}
	return Ptr(uint32(g.n(3)))
}

func (g *gen) boolPtr() *bool {
	if g.n(2) == 0 {
		return nil
	}
	return Ptr(g.n(2) == 0)
}

func (g *gen) richURIs() *URIs {
	if g.n(3) == 0 {
		return nil
	}
	u := &URIs{State: g.state()}
	if g.n(4) == 0 {
		u.Entries = []URIEntry{}
	}
	for range g.n(4) {
		u.Entries = append(u.Entries, URIEntry{
			URI: g.pick("xmpp:a@x", "tel:+1", "mailto:a@x"), State: g.state(),
			DisplayText: g.pick("", "d1", "d2"), Purpose: g.pick("", PurposeParticipation), Modified: g.exec(),
		})
	}
	return u
}

func (g *gen) media() []Media {
	switch g.n(4) {
	case 0:
		return nil
	case 1:
		return []Media{}
	}
	var out []Media
	for range 1 + g.n(2) {
		out = append(out, Media{ID: g.pick("1", "2"), DisplayText: g.pick("", "m"), Type: g.pick("", "audio"),
			Label: g.pick("", "l"), SrcID: g.pick("", "1234"), Status: MediaStatus(g.pick("", "sendrecv", "recvonly"))})
	}
	return out
}

func (g *gen) endpoint() Endpoint {
	ep := Endpoint{
		Entity: g.pick("e1", "e2", "e3"), State: g.state(), DisplayText: g.pick("", "p"),
		Referred: g.exec(), Status: EndpointStatus(g.pick("", string(StatusConnected), string(StatusMutedViaFocus))),
		JoiningMethod: JoiningMethod(g.pick("", string(JoinDialedIn))), JoiningInfo: g.exec(),
		DisconnectionMethod: DisconnectionMethod(g.pick("", string(DisconnectBooted))), DisconnectionInfo: g.exec(),
		Media: g.media(),
	}
	switch g.n(4) {
	case 1:
		ep.CallInfo = &CallInfo{}
	case 2, 3:
		ep.CallInfo = &CallInfo{SIP: &SIPDialogID{DisplayText: g.pick("", "d"), CallID: g.pick("c1", "c2"), FromTag: "f", ToTag: g.pick("", "t")}}
	}
	return ep
}

func (g *gen) richUser() User {
	u := User{
		Entity: g.pick("sip:a@x", "sip:b@x", "xmpp:c@x", "sip:d@x"), State: g.state(),
		DisplayText: g.pick("", "A", "B"), AssociatedAORs: g.richURIs(),
		Roles: g.list("participant", "moderator"), Languages: g.list("en", "fr"),
		CascadedFocus: g.pick("", "sip:f@x"),
	}
	if g.n(5) == 0 {
		u.Endpoints = []Endpoint{}
	}
	for range g.n(4) {
		u.Endpoints = append(u.Endpoints, g.endpoint())
	}
	return u
}

func (g *gen) richUsers() *Users {
	if g.n(4) == 0 {
		return nil
	}
	us := &Users{State: g.state()}
	if g.n(5) == 0 {
		us.Users = []User{}
	}
	for range g.n(6) {
		us.Users = append(us.Users, g.richUser())
	}
	return us
}

func (g *gen) description() *ConferenceDescription {
	if g.n(3) == 0 {
		return nil
	}
	c := &ConferenceDescription{
		DisplayText: g.pick("", "T"), Subject: g.pick("", "s1", "s2"), FreeText: g.pick("", "f"),
		Keywords: g.list("k1", "k2"), ConfURIs: g.richURIs(), ServiceURIs: g.richURIs(), MaximumUserCount: g.u32(),
	}
	switch g.n(4) {
	case 1:
		c.AvailableMedia = []AvailableMedium{}
	case 2, 3:
		c.AvailableMedia = []AvailableMedium{{Label: g.pick("1", "2"), Type: "audio", Status: MediaStatus(g.pick("", "sendrecv"))}}
	}
	return c
}

func (g *gen) hostInfo() *HostInfo {
	if g.n(3) == 0 {
		return nil
	}
	return &HostInfo{DisplayText: g.pick("", "H"), WebPage: g.pick("", "http://x/"), URIs: g.richURIs()}
}

func (g *gen) confState() *ConferenceState {
	if g.n(3) == 0 {
		return nil
	}
	return &ConferenceState{UserCount: g.u32(), Active: g.boolPtr(), Locked: g.boolPtr()}
}

func (g *gen) richDocument() *Document {
	d := &Document{
		Entity:  g.pick("sip:c@x", "sip:c@x", "sip:c@x", "sip:other@x"),
		State:   ElementState(g.pick(string(StateFull), "", string(StateFull), string(StatePartial), string(StateDeleted))),
		Version: uint32(g.n(4)), Description: g.description(), HostInfo: g.hostInfo(), ConferenceState: g.confState(),
		Users: g.richUsers(), SidebarsByRef: g.richURIs(),
	}
	if g.n(3) == 0 {
		d.SidebarsByVal = &SidebarsByVal{State: g.state()}
		for range g.n(3) {
			d.SidebarsByVal.Entries = append(d.SidebarsByVal.Entries, Sidebar{
				Entity: g.pick("sip:c@x;grid=1", "sip:c@x;grid=2"), State: g.state(), Version: g.u32(),
				Description: g.description(), HostInfo: g.hostInfo(), ConferenceState: g.confState(), Users: g.richUsers(),
			})
		}
	}
	return d
}

// checkDiffMatchesReference requires Diff to return exactly what
// referenceDiff returns, to leave its arguments alone and to return memory
// that neither argument reaches.
func checkDiffMatchesReference(t *testing.T, prev, next *Document) {
	t.Helper()
	pc, nc := prev.Clone(), next.Clone()
	got := Diff(prev, next)
	if !reflect.DeepEqual(prev, pc) || !reflect.DeepEqual(next, nc) {
		t.Fatal("Diff modified its arguments")
	}
	want := referenceDiff(pc, nc)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Diff differs from the reference\nprev %s\nnext %s\n got %#v\nwant %#v", prev, next, got, want)
	}
	if shared := sharedMemory(got, prev, next); shared != "" {
		t.Fatalf("Diff result shares memory with its arguments: %s\nprev %s\nnext %s", shared, prev, next)
	}
	// Appending to any list of the result must not write into another.
	if got != nil {
		appendEverywhere(reflect.ValueOf(got))
		truncateEverywhere(reflect.ValueOf(got))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("appending to a list of the Diff result changed another\nprev %s\nnext %s", prev, next)
		}
	}
}

// appendEverywhere appends a zero element to every non-nil slice reachable
// from v, innermost first.
func appendEverywhere(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			appendEverywhere(v.Elem())
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		for i := range v.Len() {
			appendEverywhere(v.Index(i))
		}
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
	case reflect.Struct:
		for i := range v.NumField() {
			appendEverywhere(v.Field(i))
		}
	}
}

// truncateEverywhere undoes appendEverywhere's appends.
func truncateEverywhere(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			truncateEverywhere(v.Elem())
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		v.SetLen(v.Len() - 1)
		for i := range v.Len() {
			truncateEverywhere(v.Index(i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			truncateEverywhere(v.Field(i))
		}
	}
}

// sharedMemory names a pointer or slice element reachable from result that
// is also reachable from one of the others, or returns "".
func sharedMemory(result any, others ...any) string {
	seen := map[uintptr]string{}
	for _, o := range others {
		walkMemory(reflect.ValueOf(o), "arg", func(addr uintptr, path string) { seen[addr] = path })
	}
	var found string
	walkMemory(reflect.ValueOf(result), "result", func(addr uintptr, path string) {
		if p, ok := seen[addr]; ok && found == "" {
			found = path + " is " + p
		}
	})
	return found
}

// walkMemory calls fn with the address of every pointee and of every slice
// element reachable from v (strings are immutable and not reported).
func walkMemory(v reflect.Value, path string, fn func(uintptr, string)) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		fn(v.Pointer(), path)
		walkMemory(v.Elem(), path, fn)
	case reflect.Slice:
		for i := range v.Len() {
			fn(v.Index(i).Addr().Pointer(), path+"[]")
			walkMemory(v.Index(i), path+"[]", fn)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			walkMemory(v.Field(i), path+"."+v.Type().Field(i).Name, fn)
		}
	}
}

// TestDiffMatchesReference compares Diff with referenceDiff on random
// document pairs: unrelated ones, ones generated from nearly the same
// choices, and ones differing by a reordering.
func TestDiffMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(4575, 1))
	n := 5000
	if testing.Short() {
		n = 500
	}
	for range n {
		a := make([]byte, 64+rng.IntN(400))
		for i := range a {
			a[i] = byte(rng.UintN(256))
		}
		prev := (&gen{b: a}).richDocument()
		var next *Document
		switch rng.IntN(4) {
		case 0: // unrelated
			b := make([]byte, len(a))
			for i := range b {
				b[i] = byte(rng.UintN(256))
			}
			next = (&gen{b: b}).richDocument()
		case 1, 2: // the same choices with a few changed
			b := slices.Clone(a)
			for range 1 + rng.IntN(3) {
				b[rng.IntN(len(b))] = byte(rng.UintN(256))
			}
			next = (&gen{b: b}).richDocument()
		default: // reordered users and endpoints, and next made full
			next = prev.Clone()
			next.State = StateFull
			if next.Users != nil {
				slices.Reverse(next.Users.Users)
				for i := range next.Users.Users {
					slices.Reverse(next.Users.Users[i].Endpoints)
				}
			}
		}
		checkDiffMatchesReference(t, prev, next)
		checkDiffMatchesReference(t, next, prev)
		checkDiffMatchesReference(t, prev, prev)
	}
	checkDiffMatchesReference(t, nil, smallDocument())
	checkDiffMatchesReference(t, smallDocument(), nil)
	checkDiffMatchesReference(t, benchDocument(5), benchDocument(7))
}
