package confinfo

import "slices"

// Diff returns a partial document that turns the full state prev into the
// full state next when applied by State.Apply, or nil when they do not
// differ (version aside). The result carries next's entity and version; the
// notifier must still number it prev.Version+1.
//
// Users are diffed by entity: a removed user becomes state="deleted", a new
// one is sent whole, a changed one is sent partial with its changed fields,
// its removed endpoints as deleted and its new or changed endpoints whole. A
// change a partial cannot express (a field cleared, conference-description,
// host-info or conference-state removed, another entity) makes Diff return
// next itself as a full document. Elements are compared after the
// normalisation State applies (states cleared, deleted children dropped);
// the order of users and endpoints is not significant. A next that is not a
// full document (partial or deleted) is returned as a copy.
//
// The result shares no memory with prev or next. Diff neither modifies nor
// copies what it does not return: the comparison reads both documents in
// place through the normalised view, and only the elements that go into the
// result are cloned.
func Diff(prev, next *Document) *Document {
	if next == nil {
		return nil
	}
	if next.State == StateDeleted || next.State == StatePartial {
		return next.Clone()
	}
	full := func() *Document {
		d := next.Clone()
		normalizeDocument(d)
		return d
	}
	if prev == nil || prev.Entity != next.Entity {
		return full()
	}
	p := &Document{Entity: next.Entity, State: StatePartial, Version: next.Version}
	changed := false

	// The elements without a state attribute: sent whole, cannot be removed.
	if !eqDescription(prev.Description, next.Description) {
		if next.Description == nil {
			return full()
		}
		p.Description, changed = next.Description.Clone(), true
		normalizeDescription(p.Description)
	}
	if !eqHostInfo(prev.HostInfo, next.HostInfo) {
		if next.HostInfo == nil {
			return full()
		}
		p.HostInfo, changed = next.HostInfo.Clone(), true
		normalizeURIs(&p.HostInfo.URIs)
	}
	if !eqConfState(prev.ConferenceState, next.ConferenceState) {
		if next.ConferenceState == nil {
			return full()
		}
		p.ConferenceState, changed = next.ConferenceState.Clone(), true
	}

	switch ou, nu := live(prev.Users), live(next.Users); {
	case ou == nil && nu == nil:
	case nu == nil:
		p.Users, changed = &Users{State: StateDeleted}, true
	case ou == nil:
		p.Users, changed = nu.Clone(), true
		normalizeUsers(&p.Users)
	default:
		if d := diffUsers(ou.Users, nu.Users); d != nil {
			p.Users, changed = d, true
		}
	}

	if !eqURIs(prev.SidebarsByRef, next.SidebarsByRef) {
		p.SidebarsByRef, changed = next.SidebarsByRef.Clone(), true
		if normalizeURIs(&p.SidebarsByRef); p.SidebarsByRef == nil {
			p.SidebarsByRef = &URIs{State: StateDeleted}
		}
	}
	if !eqSidebars(prev.SidebarsByVal, next.SidebarsByVal) {
		p.SidebarsByVal, changed = next.SidebarsByVal.Clone(), true
		if normalizeSidebars(&p.SidebarsByVal); p.SidebarsByVal == nil {
			p.SidebarsByVal = &SidebarsByVal{State: StateDeleted}
		}
	}
	if !changed {
		return nil
	}
	return p
}

// Classes of a next user in diffUsers, besides the index of its prev match.
const (
	userSkipped = -1 - iota // marked deleted: not part of next
	userNew                 // no prev user with its entity
	userSame                // equal to its prev match
)

// diffUsers returns the partial users element turning the live users of
// prev into those of next, or nil when the tables are the same (the same
// number of live users, each live next user equal to the first live prev
// user of its entity). Both slices are read in place; users marked deleted
// are skipped, as normalisation would drop them.
func diffUsers(prev, next []User) *Users {
	// first maps an entity to the index of its first live prev user;
	// matched[j] says whether some live next user has prev[j]'s entity.
	first := make(map[string]int, len(prev))
	nPrev, dups := 0, false
	for j := range prev {
		if prev[j].State == StateDeleted {
			continue
		}
		nPrev++
		if _, dup := first[prev[j].Entity]; dup {
			dups = true
			continue
		}
		first[prev[j].Entity] = j
	}
	// One allocation for both per-user tables.
	scratch := make([]int, len(prev)+len(next))
	matched, class := scratch[:len(prev)], scratch[len(prev):]
	same := true
	nNext := 0
	for i := range next {
		n := &next[i]
		if n.State == StateDeleted {
			class[i] = userSkipped
			continue
		}
		nNext++
		j, ok := first[n.Entity]
		switch {
		case !ok:
			class[i], same = userNew, false
		case sameUser(&prev[j], n):
			class[i], matched[j] = userSame, 1
		default:
			class[i], matched[j], same = j, 1, false
		}
	}
	if same && nPrev == nNext {
		return nil
	}

	// New users are copied whole: in a join storm they are most of the
	// result, so their parts come from one slab per type.
	var slab userSlab
	nOut := 0
	for j := range prev {
		if prev[j].State != StateDeleted {
			k := j
			if dups {
				k = first[prev[j].Entity]
			}
			if matched[k] == 0 {
				nOut++
			}
		}
	}
	for i := range next {
		switch class[i] {
		case userSkipped, userSame:
		case userNew:
			slab.count(&next[i])
			nOut++
		default:
			nOut++
		}
	}
	slab.alloc()
	out := &Users{State: StatePartial}
	if nOut > 0 {
		out.Users = make([]User, 0, nOut)
	}
	for j := range prev {
		o := &prev[j]
		if o.State == StateDeleted {
			continue
		}
		k := j
		if dups {
			k = first[o.Entity]
		}
		if matched[k] == 0 {
			out.Users = append(out.Users, User{Entity: o.Entity, State: StateDeleted})
		}
	}
	for i := range next {
		switch j := class[i]; j {
		case userSkipped, userSame:
		case userNew:
			u := slab.clone(&next[i])
			normalizeUser(&u)
			out.Users = append(out.Users, u)
		default:
			out.Users = append(out.Users, diffUser(&prev[j], &next[i]))
		}
	}
	return out
}

// diffUser returns the partial user turning o into n, or n whole when a
// field was cleared (a partial can set values but not remove them). o and n
// are read as normalised; the result is a normalised copy.
func diffUser(o, n *User) User {
	if o.DisplayText != n.DisplayText && n.DisplayText == "" ||
		o.CascadedFocus != n.CascadedFocus && n.CascadedFocus == "" ||
		!slices.Equal(o.Roles, n.Roles) && len(n.Roles) == 0 ||
		!slices.Equal(o.Languages, n.Languages) && len(n.Languages) == 0 {
		u := n.Clone()
		normalizeUser(&u)
		return u
	}
	u := User{Entity: n.Entity, State: StatePartial}
	if o.DisplayText != n.DisplayText {
		u.DisplayText = n.DisplayText
	}
	if o.CascadedFocus != n.CascadedFocus {
		u.CascadedFocus = n.CascadedFocus
	}
	if !slices.Equal(o.Roles, n.Roles) {
		u.Roles = cloneStrings(n.Roles)
	}
	if !slices.Equal(o.Languages, n.Languages) {
		u.Languages = cloneStrings(n.Languages)
	}
	if !eqURIs(o.AssociatedAORs, n.AssociatedAORs) {
		u.AssociatedAORs = n.AssociatedAORs.Clone()
		if normalizeURIs(&u.AssociatedAORs); u.AssociatedAORs == nil {
			u.AssociatedAORs = &URIs{State: StateDeleted}
		}
	}
	for i := range o.Endpoints {
		oe := &o.Endpoints[i]
		if oe.State != StateDeleted && liveEndpoint(n, oe.Entity) == nil {
			u.Endpoints = append(u.Endpoints, Endpoint{Entity: oe.Entity, State: StateDeleted})
		}
	}
	for i := range n.Endpoints {
		ne := &n.Endpoints[i]
		if ne.State == StateDeleted {
			continue
		}
		if old := liveEndpoint(o, ne.Entity); old == nil || !eqEndpoint(old, ne) {
			e := ne.Clone()
			normalizeEndpoint(&e)
			u.Endpoints = append(u.Endpoints, e)
		}
	}
	return u
}

// The eq functions below compare two elements as they would compare after
// normalisation (normalizeDocument and friends) with reflect.DeepEqual:
// state attributes are ignored, children marked deleted are skipped, a
// uris-type, users or sidebars-by-val marked deleted counts as absent, and
// nil and empty lists that normalisation does not touch (keywords, roles,
// languages, available-media, media) still differ. They never modify or
// copy their arguments.

// live returns the container l, or nil when it is absent or marked deleted.
func live[C any, P keyedList[C]](l P) P {
	if l == nil || l.state() == StateDeleted {
		return nil
	}
	return l
}

// liveEndpoint returns the first endpoint of u with the given entity that is
// not marked deleted, or nil.
func liveEndpoint(u *User, entity string) *Endpoint {
	for i := range u.Endpoints {
		if e := &u.Endpoints[i]; e.Entity == entity && e.State != StateDeleted {
			return e
		}
	}
	return nil
}

// sameUser reports whether two users are equal, ignoring endpoint order:
// the same number of live endpoints, and each live endpoint of b equal to
// the first live endpoint of a with its entity.
func sameUser(a, b *User) bool {
	if !eqUserFields(a, b) {
		return false
	}
	na := 0
	for i := range a.Endpoints {
		if a.Endpoints[i].State != StateDeleted {
			na++
		}
	}
	nb := 0
	for i := range b.Endpoints {
		be := &b.Endpoints[i]
		if be.State == StateDeleted {
			continue
		}
		nb++
		if ae := liveEndpoint(a, be.Entity); ae == nil || !eqEndpoint(ae, be) {
			return false
		}
	}
	return na == nb
}

// eqUserFields compares everything of two users but their endpoints.
func eqUserFields(a, b *User) bool {
	return a.Entity == b.Entity &&
		a.DisplayText == b.DisplayText &&
		a.CascadedFocus == b.CascadedFocus &&
		eqList(a.Roles, b.Roles) &&
		eqList(a.Languages, b.Languages) &&
		eqURIs(a.AssociatedAORs, b.AssociatedAORs)
}

// eqUserOrdered compares two users with their live endpoints in order, as
// reflect.DeepEqual does on normalised users (inside sidebars).
func eqUserOrdered(a, b *User) bool {
	if !eqUserFields(a, b) {
		return false
	}
	return eqLive(a.Endpoints, b.Endpoints,
		func(e *Endpoint) bool { return e.State == StateDeleted }, eqEndpoint)
}

// eqEndpoint compares two endpoints, ignoring their state attributes.
func eqEndpoint(a, b *Endpoint) bool {
	return a.Entity == b.Entity &&
		a.DisplayText == b.DisplayText &&
		a.Status == b.Status &&
		a.JoiningMethod == b.JoiningMethod &&
		a.DisconnectionMethod == b.DisconnectionMethod &&
		eqPtr(a.Referred, b.Referred) &&
		eqPtr(a.JoiningInfo, b.JoiningInfo) &&
		eqPtr(a.DisconnectionInfo, b.DisconnectionInfo) &&
		eqList(a.Media, b.Media) &&
		eqCallInfo(a.CallInfo, b.CallInfo)
}

func eqCallInfo(a, b *CallInfo) bool {
	if a == nil || b == nil {
		return a == b
	}
	return eqPtr(a.SIP, b.SIP)
}

func eqDescription(a, b *ConferenceDescription) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.DisplayText == b.DisplayText &&
		a.Subject == b.Subject &&
		a.FreeText == b.FreeText &&
		eqList(a.Keywords, b.Keywords) &&
		eqURIs(a.ConfURIs, b.ConfURIs) &&
		eqURIs(a.ServiceURIs, b.ServiceURIs) &&
		eqPtr(a.MaximumUserCount, b.MaximumUserCount) &&
		eqList(a.AvailableMedia, b.AvailableMedia)
}

func eqConfState(a, b *ConferenceState) bool {
	if a == nil || b == nil {
		return a == b
	}
	return eqPtr(a.UserCount, b.UserCount) && eqPtr(a.Active, b.Active) && eqPtr(a.Locked, b.Locked)
}

func eqHostInfo(a, b *HostInfo) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.DisplayText == b.DisplayText && a.WebPage == b.WebPage && eqURIs(a.URIs, b.URIs)
}

// eqURIs compares two uris-types: absent equals marked deleted, and the
// live entries must match in order.
func eqURIs(a, b *URIs) bool {
	a, b = live(a), live(b)
	if a == nil || b == nil {
		return a == b
	}
	return eqLive(a.Entries, b.Entries,
		func(e *URIEntry) bool { return e.State == StateDeleted },
		func(x, y *URIEntry) bool {
			return x.URI == y.URI && x.DisplayText == y.DisplayText && x.Purpose == y.Purpose &&
				eqPtr(x.Modified, y.Modified)
		})
}

// eqUsersOrdered compares two users elements with their live users in
// order (the reflect.DeepEqual of normalised ones).
func eqUsersOrdered(a, b *Users) bool {
	a, b = live(a), live(b)
	if a == nil || b == nil {
		return a == b
	}
	return eqLive(a.Users, b.Users, func(u *User) bool { return u.State == StateDeleted }, eqUserOrdered)
}

func eqSidebars(a, b *SidebarsByVal) bool {
	a, b = live(a), live(b)
	if a == nil || b == nil {
		return a == b
	}
	return eqLive(a.Entries, b.Entries,
		func(s *Sidebar) bool { return s.State == StateDeleted },
		func(x, y *Sidebar) bool {
			return x.Entity == y.Entity &&
				eqPtr(x.Version, y.Version) &&
				eqDescription(x.Description, y.Description) &&
				eqHostInfo(x.HostInfo, y.HostInfo) &&
				eqConfState(x.ConferenceState, y.ConferenceState) &&
				eqUsersOrdered(x.Users, y.Users)
		})
}

// eqLive compares the elements of a and b that are not dead, in order.
func eqLive[T any](a, b []T, dead func(*T) bool, eq func(x, y *T) bool) bool {
	i, j := 0, 0
	for {
		for i < len(a) && dead(&a[i]) {
			i++
		}
		for j < len(b) && dead(&b[j]) {
			j++
		}
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b)
		}
		if !eq(&a[i], &b[j]) {
			return false
		}
		i++
		j++
	}
}

// eqList compares two lists of comparable values as reflect.DeepEqual does:
// a nil list differs from an empty one.
func eqList[T comparable](a, b []T) bool {
	return (a == nil) == (b == nil) && slices.Equal(a, b)
}

// eqPtr compares two optional comparable values.
func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// userSlab deep-copies users as User.Clone does, but with one allocation
// per type of part for all of them instead of several per user: count
// every user first, then alloc, then clone each. The slices it hands out
// have no spare capacity, so appending to one never writes into another.
type userSlab struct {
	n struct{ uris, entries, execs, strs, eps, media, calls, dialogs int }

	uris    []URIs
	entries []URIEntry
	execs   []Execution
	strs    []string
	eps     []Endpoint
	media   []Media
	calls   []CallInfo
	dialogs []SIPDialogID
}

// count reserves room for a copy of u.
func (s *userSlab) count(u *User) {
	n := &s.n
	if a := u.AssociatedAORs; a != nil {
		n.uris++
		n.entries += len(a.Entries)
		for i := range a.Entries {
			n.execs += ptrCount(a.Entries[i].Modified)
		}
	}
	n.strs += len(u.Roles) + len(u.Languages)
	n.eps += len(u.Endpoints)
	for i := range u.Endpoints {
		e := &u.Endpoints[i]
		n.execs += ptrCount(e.Referred) + ptrCount(e.JoiningInfo) + ptrCount(e.DisconnectionInfo)
		n.media += len(e.Media)
		if e.CallInfo != nil {
			n.calls++
			n.dialogs += ptrCount(e.CallInfo.SIP)
		}
	}
}

func ptrCount[T any](p *T) int {
	if p == nil {
		return 0
	}
	return 1
}

// room is an empty slice with capacity n (nil for none).
func room[T any](n int) []T {
	if n == 0 {
		return nil
	}
	return make([]T, 0, n)
}

// alloc makes the slabs for what was counted.
func (s *userSlab) alloc() {
	n := &s.n
	s.uris, s.entries, s.execs, s.strs = room[URIs](n.uris), room[URIEntry](n.entries), room[Execution](n.execs), room[string](n.strs)
	s.eps, s.media, s.calls, s.dialogs = room[Endpoint](n.eps), room[Media](n.media), room[CallInfo](n.calls), room[SIPDialogID](n.dialogs)
}

// carve appends src to the slab and returns the appended part, capped. Like
// the Clone methods it keeps nil nil and empty empty.
func carve[T any](slab *[]T, src []T) []T {
	if src == nil {
		return nil
	}
	if len(src) == 0 {
		return []T{}
	}
	n := len(*slab)
	*slab = append(*slab, src...)
	return (*slab)[n : n+len(src) : n+len(src)]
}

// carvePtr copies *p into the slab and returns a pointer to the copy.
func carvePtr[T any](slab *[]T, p *T) *T {
	if p == nil {
		return nil
	}
	*slab = append(*slab, *p)
	return &(*slab)[len(*slab)-1]
}

// clone returns a deep copy of u taken from the slabs; u must have been
// counted.
func (s *userSlab) clone(u *User) User {
	c := *u
	if a := u.AssociatedAORs; a != nil {
		n := carvePtr(&s.uris, a)
		n.Entries = carve(&s.entries, a.Entries)
		for i := range n.Entries {
			n.Entries[i].Modified = carvePtr(&s.execs, n.Entries[i].Modified)
		}
		c.AssociatedAORs = n
	}
	c.Roles = carve(&s.strs, u.Roles)
	c.Languages = carve(&s.strs, u.Languages)
	c.Endpoints = carve(&s.eps, u.Endpoints)
	for i := range c.Endpoints {
		e := &c.Endpoints[i]
		e.Referred = carvePtr(&s.execs, e.Referred)
		e.JoiningInfo = carvePtr(&s.execs, e.JoiningInfo)
		e.DisconnectionInfo = carvePtr(&s.execs, e.DisconnectionInfo)
		e.Media = carve(&s.media, e.Media)
		if e.CallInfo != nil {
			ci := carvePtr(&s.calls, e.CallInfo)
			ci.SIP = carvePtr(&s.dialogs, ci.SIP)
			e.CallInfo = ci
		}
	}
	return c
}
