package confinfo

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Result says what State.Apply did with a document.
type Result int

// Results of State.Apply.
const (
	// Applied: a partial document with version local+1 was merged.
	Applied Result = iota + 1
	// Discarded: the version was not newer than the local one; nothing changed.
	Discarded
	// Replaced: a full document replaced the local state.
	Replaced
	// Deleted: the root was state="deleted": the conference ended. The local
	// state is cleared; the subscriber SHOULD unsubscribe (Expires: 0).
	Deleted
	// Gap: a partial document arrived with no local state or with a version
	// beyond local+1. The local state is unchanged; the caller MUST refresh
	// the subscription to get a full document (RFC 4575 §4.6).
	Gap
)

// String returns the name of r.
func (r Result) String() string {
	switch r {
	case Applied:
		return "applied"
	case Discarded:
		return "discarded"
	case Replaced:
		return "replaced"
	case Deleted:
		return "deleted"
	case Gap:
		return "gap"
	}
	return fmt.Sprintf("Result(%d)", int(r))
}

// ErrEntityMismatch is returned by State.Apply for a document about another
// conference than the one held.
var ErrEntityMismatch = errors.New("confinfo: document entity differs from the subscribed conference")

// State is a subscriber's local view of one conference, built from the
// NOTIFY bodies of one subscription by the rules of RFC 4575 §4.6. The zero
// value is ready to use and holds nothing. A State is not safe for
// concurrent use; Document, Users and User return copies.
//
// Version numbers are scoped to a subscription: after re-subscribing on a
// new dialog, call Reset (or use a new State) before applying its first
// NOTIFY.
type State struct {
	doc     *Document // normalised full view; nil when none
	version uint32
	have    bool // version is meaningful
	ended   bool // a deleted root was applied
	entity  string
}

// Reset forgets everything, as for a new subscription.
func (s *State) Reset() { *s = State{} }

// Version returns the version of the last document applied, and false if
// none has been.
func (s *State) Version() (uint32, bool) { return s.version, s.have }

// Entity returns the conference URI of the documents applied so far.
func (s *State) Entity() string { return s.entity }

// Ended reports whether the last document applied deleted the conference.
func (s *State) Ended() bool { return s.ended }

// Document returns a deep copy of the merged conference state as a full
// document (State full, Version the local version), or nil when there is
// none (nothing applied yet, or the conference ended).
func (s *State) Document() *Document { return s.doc.Clone() }

// Users returns deep copies of the current users, sorted by entity.
func (s *State) Users() []User {
	if s.doc == nil || s.doc.Users == nil {
		return nil
	}
	out := make([]User, len(s.doc.Users.Users))
	for i := range s.doc.Users.Users {
		out[i] = s.doc.Users.Users[i].Clone()
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Entity, b.Entity) })
	return out
}

// User returns a deep copy of the user with the given entity.
func (s *State) User(entity string) (User, bool) {
	u := s.doc.User(entity)
	if u == nil {
		return User{}, false
	}
	return u.Clone(), true
}

// Apply applies one received document to the local state (RFC 4575 §4.6):
//
//   - a version not above the local one is Discarded;
//   - a full document replaces everything (Replaced);
//   - a root state="deleted" clears the state: the conference ended (Deleted);
//   - a partial document with version local+1 is merged (Applied); with no
//     local state, or a larger version, it is a Gap and nothing changes.
//
// Partial merging is recursive by key: user@entity, endpoint@entity,
// media@id, uris-type entry by <uri>, sidebars-by-val entry@entity. A new
// key is added; an existing key with state partial is merged; one that is
// full or has no state attribute replaces the held element whole; one that
// is deleted is removed (its children are ignored). Elements without a state
// attribute in the schema (conference-description, host-info,
// conference-state, roles, execution-type, call-info) replace the held ones
// when present and leave them alone when absent. Media streams, which are
// keyed but carry no state, are merged field by field: a value present in
// the update replaces the held one. Children of a full element are taken as
// full; keyed children marked deleted inside it are dropped.
//
// An error (nil document, invalid state value, another conference's entity)
// leaves the state unchanged.
func (s *State) Apply(d *Document) (Result, error) {
	if d == nil {
		return 0, fmt.Errorf("confinfo: apply: %w: nil document", ErrInvalid)
	}
	state := d.State
	if state == "" {
		state = StateFull
	}
	if !state.valid() {
		return 0, fmt.Errorf("confinfo: apply: %w: invalid state %q", ErrInvalid, string(d.State))
	}
	if s.have {
		if d.Entity != s.entity {
			return 0, fmt.Errorf("%w: held %q, got %q", ErrEntityMismatch, s.entity, d.Entity)
		}
		if d.Version <= s.version {
			return Discarded, nil
		}
	}
	switch state {
	case StateDeleted:
		*s = State{version: d.Version, have: true, ended: true, entity: d.Entity}
		return Deleted, nil
	case StatePartial:
		if s.doc == nil || d.Version != s.version+1 {
			return Gap, nil
		}
		mergeDocument(s.doc, d)
		s.doc.Version = d.Version
		s.version = d.Version
		return Applied, nil
	default:
		doc := d.Clone()
		normalizeDocument(doc)
		*s = State{doc: doc, version: d.Version, have: true, entity: d.Entity}
		return Replaced, nil
	}
}

// mergeDocument merges the partial document src into the full view dst.
func mergeDocument(dst, src *Document) {
	mergeBody(&dst.Description, &dst.HostInfo, &dst.ConferenceState, &dst.Users,
		src.Description, src.HostInfo, src.ConferenceState, src.Users)
	dst.SidebarsByRef = mergeURIs(dst.SidebarsByRef, src.SidebarsByRef)
	dst.SidebarsByVal = mergeSidebars(dst.SidebarsByVal, src.SidebarsByVal)
}

// mergeBody merges the parts a conference-type shares with a sidebar.
func mergeBody(desc **ConferenceDescription, host **HostInfo, cs **ConferenceState, users **Users,
	sDesc *ConferenceDescription, sHost *HostInfo, sCS *ConferenceState, sUsers *Users) {
	if sDesc != nil {
		*desc = sDesc.Clone()
		normalizeDescription(*desc)
	}
	if sHost != nil {
		*host = sHost.Clone()
		normalizeURIs(&(*host).URIs)
	}
	if sCS != nil {
		*cs = sCS.Clone()
	}
	*users = mergeUsers(*users, sUsers)
}

// mergeUsers returns the held users (dst) updated by src.
func mergeUsers(dst, src *Users) *Users {
	return mergeList(dst, src, normalizeUsers, func(dst, src *Users) {
		dst.Users = mergeKeyed(dst.Users, src.Users, userKey, (*User).state, freshUser, mergeUser)
	})
}

func freshUser(u *User) User {
	n := u.Clone()
	normalizeUser(&n)
	return n
}

func mergeUser(dst, src *User) {
	setString(&dst.DisplayText, src.DisplayText)
	dst.AssociatedAORs = mergeURIs(dst.AssociatedAORs, src.AssociatedAORs)
	if len(src.Roles) > 0 {
		dst.Roles = cloneStrings(src.Roles)
	}
	if len(src.Languages) > 0 {
		dst.Languages = cloneStrings(src.Languages)
	}
	setString(&dst.CascadedFocus, src.CascadedFocus)
	dst.Endpoints = mergeKeyed(dst.Endpoints, src.Endpoints, endpointKey, (*Endpoint).state,
		freshEndpoint, mergeEndpoint)
}

func freshEndpoint(e *Endpoint) Endpoint {
	n := e.Clone()
	normalizeEndpoint(&n)
	return n
}

func mergeEndpoint(dst, src *Endpoint) {
	setString(&dst.DisplayText, src.DisplayText)
	setExec(&dst.Referred, src.Referred)
	setString((*string)(&dst.Status), string(src.Status))
	setString((*string)(&dst.JoiningMethod), string(src.JoiningMethod))
	setExec(&dst.JoiningInfo, src.JoiningInfo)
	setString((*string)(&dst.DisconnectionMethod), string(src.DisconnectionMethod))
	setExec(&dst.DisconnectionInfo, src.DisconnectionInfo)
	// Media streams carry no state: a held one is always merged.
	dst.Media = mergeKeyed(dst.Media, src.Media, mediaKey, func(*Media) ElementState { return StatePartial },
		func(m *Media) Media { return *m }, mergeMedia)
	if src.CallInfo != nil {
		dst.CallInfo = &CallInfo{SIP: clonePtr(src.CallInfo.SIP)}
	}
}

func mergeMedia(dst, src *Media) {
	setString(&dst.DisplayText, src.DisplayText)
	setString(&dst.Type, src.Type)
	setString(&dst.Label, src.Label)
	setString(&dst.SrcID, src.SrcID)
	setString((*string)(&dst.Status), string(src.Status))
}

// mergeURIs returns the held uris-type (dst) updated by src.
func mergeURIs(dst, src *URIs) *URIs {
	return mergeList(dst, src, normalizeURIs, func(dst, src *URIs) {
		dst.Entries = mergeKeyed(dst.Entries, src.Entries, uriKey, (*URIEntry).state, freshURI, mergeURI)
	})
}

func freshURI(e *URIEntry) URIEntry {
	n := e.Clone()
	n.State = ""
	return n
}

func mergeURI(dst, src *URIEntry) {
	setString(&dst.DisplayText, src.DisplayText)
	setString(&dst.Purpose, src.Purpose)
	setExec(&dst.Modified, src.Modified)
}

// mergeSidebars returns the held sidebars-by-val (dst) updated by src.
func mergeSidebars(dst, src *SidebarsByVal) *SidebarsByVal {
	return mergeList(dst, src, normalizeSidebars, func(dst, src *SidebarsByVal) {
		dst.Entries = mergeKeyed(dst.Entries, src.Entries, sidebarKey, (*Sidebar).state,
			freshSidebar, mergeSidebar)
	})
}

func freshSidebar(s *Sidebar) Sidebar {
	n := s.Clone()
	normalizeSidebar(&n)
	return n
}

func mergeSidebar(dst, src *Sidebar) {
	if src.Version != nil {
		dst.Version = clonePtr(src.Version)
	}
	mergeBody(&dst.Description, &dst.HostInfo, &dst.ConferenceState, &dst.Users,
		src.Description, src.HostInfo, src.ConferenceState, src.Users)
}

// The state attributes, for mergeList, mergeKeyed and live.
func (u *URIs) state() ElementState          { return u.State }
func (u *Users) state() ElementState         { return u.State }
func (s *SidebarsByVal) state() ElementState { return s.State }
func (e *URIEntry) state() ElementState      { return e.State }
func (u *User) state() ElementState          { return u.State }
func (e *Endpoint) state() ElementState      { return e.State }
func (s *Sidebar) state() ElementState       { return s.State }

// keyedList is a keyed list's container that has a state of its own:
// URIs, Users or SidebarsByVal.
type keyedList[C any] interface {
	*C
	Clone() *C
	state() ElementState
}

// mergeList returns the held container of a keyed list (dst) updated by
// src: src absent leaves dst as it is; marked deleted, it removes dst; full
// or without state, it replaces dst with a normalised copy of itself;
// partial, its entries are merged into dst (an empty one when none is held)
// by entries.
func mergeList[C any, P keyedList[C]](dst, src P, normalize func(*P), entries func(dst, src P)) P {
	if src == nil {
		return dst
	}
	switch src.state() {
	case StateDeleted:
		return nil
	case StatePartial:
		if dst == nil {
			dst = new(C)
		}
		entries(dst, src)
		return dst
	}
	n := P(src.Clone())
	normalize(&n)
	return n
}

// indexFrom is the number of updates from which mergeKeyed indexes the
// held keys rather than scanning them for each update: building the index
// costs about as much as 7 (new keys) to 15 (held ones) scans.
const indexFrom = 12

// mergeKeyed returns the held entries of a keyed list (dst) updated by the
// entries of a partial one (src), in order, by RFC 4575 §4.6: an entry
// marked deleted removes the held one with its key; one with a new key is
// appended, and one that is not partial replaces the held one, as fresh
// makes it (a normalised copy); a partial one is merged into the held one.
// A list emptied by deletions is nil. Keys are scanned for when src is
// short and looked up in an index otherwise, so that merging stays linear.
func mergeKeyed[T any](dst, src []T, key func(*T) string, state func(*T) ElementState,
	fresh func(*T) T, merge func(dst, src *T)) []T {
	var index map[string]int // key → held entry, for a long src
	var dead []bool          // entries removed while indexed, dropped at the end
	if len(src) >= indexFrom {
		index = indexKeys(dst, key, len(src))
	}
	deleted := false
	for i := range src {
		s := &src[i]
		k := key(s)
		j, ok := index[k]
		if index == nil {
			j, ok = scanKey(dst, key, k)
		}
		switch st := state(s); {
		case st == StateDeleted:
			if !ok {
				continue
			}
			deleted = true
			if index == nil {
				dst = slices.Delete(dst, j, j+1)
				continue
			}
			if dead == nil {
				dead = make([]bool, len(dst)+len(src))
			}
			dead[j] = true
			delete(index, k)
		case !ok:
			if index != nil {
				index[k] = len(dst)
			}
			dst = append(dst, fresh(s))
		case st != StatePartial:
			dst[j] = fresh(s)
		default:
			merge(&dst[j], s)
		}
	}
	if dead != nil {
		n := 0
		for j := range dst {
			if !dead[j] {
				dst[n] = dst[j]
				n++
			}
		}
		clear(dst[n:])
		dst = dst[:n]
	}
	if deleted {
		return nilIfEmpty(dst)
	}
	return dst
}

// scanKey returns the index of the first entry of list with key k.
func scanKey[T any](list []T, key func(*T) string, k string) (int, bool) {
	for i := range list {
		if key(&list[i]) == k {
			return i, true
		}
	}
	return -1, false
}

// indexKeys maps the key of each entry of list to its index, or returns nil
// when a key repeats (only a hand-built document has that): such a list is
// scanned, which finds the first entry of a key as the index could not.
func indexKeys[T any](list []T, key func(*T) string, adds int) map[string]int {
	index := make(map[string]int, len(list)+adds)
	for i := range list {
		k := key(&list[i])
		if _, dup := index[k]; dup {
			return nil
		}
		index[k] = i
	}
	return index
}

func setString(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func setExec(dst **Execution, v *Execution) {
	if v != nil {
		*dst = clonePtr(v)
	}
}

// The normalize functions turn an element taken whole (full, or new) into
// part of the full view: state attributes are cleared (absent means full)
// and keyed children marked deleted are dropped, since the children of a
// full element are full.

func normalizeDocument(d *Document) {
	d.State = StateFull
	normalizeDescription(d.Description)
	if d.HostInfo != nil {
		normalizeURIs(&d.HostInfo.URIs)
	}
	normalizeUsers(&d.Users)
	normalizeURIs(&d.SidebarsByRef)
	normalizeSidebars(&d.SidebarsByVal)
}

func normalizeDescription(c *ConferenceDescription) {
	if c == nil {
		return
	}
	normalizeURIs(&c.ConfURIs)
	normalizeURIs(&c.ServiceURIs)
}

// normalizeURIs clears states and drops deleted entries. A uris-type that
// is itself marked deleted is removed.
func normalizeURIs(p **URIs) {
	u := *p
	if u == nil {
		return
	}
	if u.State == StateDeleted {
		*p = nil
		return
	}
	u.State = ""
	u.Entries = nilIfEmpty(slices.DeleteFunc(u.Entries, func(e URIEntry) bool { return e.State == StateDeleted }))
	for i := range u.Entries {
		u.Entries[i].State = ""
	}
}

// normalizeUsers also removes a users element that is itself marked deleted.
func normalizeUsers(p **Users) {
	u := *p
	if u == nil {
		return
	}
	if u.State == StateDeleted {
		*p = nil
		return
	}
	u.State = ""
	u.Users = nilIfEmpty(slices.DeleteFunc(u.Users, func(x User) bool { return x.State == StateDeleted }))
	for i := range u.Users {
		normalizeUser(&u.Users[i])
	}
}

func normalizeUser(u *User) {
	u.State = ""
	normalizeURIs(&u.AssociatedAORs)
	u.Endpoints = nilIfEmpty(slices.DeleteFunc(u.Endpoints, func(x Endpoint) bool { return x.State == StateDeleted }))
	for i := range u.Endpoints {
		normalizeEndpoint(&u.Endpoints[i])
	}
}

func normalizeEndpoint(e *Endpoint) { e.State = "" }

// normalizeSidebars also removes a sidebars-by-val that is marked deleted.
func normalizeSidebars(p **SidebarsByVal) {
	s := *p
	if s == nil {
		return
	}
	if s.State == StateDeleted {
		*p = nil
		return
	}
	s.State = ""
	s.Entries = nilIfEmpty(slices.DeleteFunc(s.Entries, func(x Sidebar) bool { return x.State == StateDeleted }))
	for i := range s.Entries {
		normalizeSidebar(&s.Entries[i])
	}
}

func normalizeSidebar(s *Sidebar) {
	s.State = ""
	normalizeDescription(s.Description)
	if s.HostInfo != nil {
		normalizeURIs(&s.HostInfo.URIs)
	}
	normalizeUsers(&s.Users)
}

// nilIfEmpty keeps the merged view canonical: an empty list is nil, as Parse
// produces it.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
