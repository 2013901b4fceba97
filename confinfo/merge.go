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
	if src == nil {
		return dst
	}
	switch src.State {
	case StateDeleted:
		return nil
	case StatePartial:
	default:
		n := src.Clone()
		normalizeUsers(&n)
		return n
	}
	if dst == nil {
		dst = &Users{}
	}
	for i := range src.Users {
		u := &src.Users[i]
		j := slices.IndexFunc(dst.Users, func(x User) bool { return x.Entity == u.Entity })
		switch {
		case u.State == StateDeleted:
			if j >= 0 {
				dst.Users = nilIfEmpty(slices.Delete(dst.Users, j, j+1))
			}
		case j < 0 || u.State != StatePartial:
			n := u.Clone()
			normalizeUser(&n)
			if j < 0 {
				dst.Users = append(dst.Users, n)
			} else {
				dst.Users[j] = n
			}
		default:
			mergeUser(&dst.Users[j], u)
		}
	}
	return dst
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
	for i := range src.Endpoints {
		ep := &src.Endpoints[i]
		j := slices.IndexFunc(dst.Endpoints, func(x Endpoint) bool { return x.Entity == ep.Entity })
		switch {
		case ep.State == StateDeleted:
			if j >= 0 {
				dst.Endpoints = nilIfEmpty(slices.Delete(dst.Endpoints, j, j+1))
			}
		case j < 0 || ep.State != StatePartial:
			n := ep.Clone()
			normalizeEndpoint(&n)
			if j < 0 {
				dst.Endpoints = append(dst.Endpoints, n)
			} else {
				dst.Endpoints[j] = n
			}
		default:
			mergeEndpoint(&dst.Endpoints[j], ep)
		}
	}
}

func mergeEndpoint(dst, src *Endpoint) {
	setString(&dst.DisplayText, src.DisplayText)
	setExec(&dst.Referred, src.Referred)
	setString((*string)(&dst.Status), string(src.Status))
	setString((*string)(&dst.JoiningMethod), string(src.JoiningMethod))
	setExec(&dst.JoiningInfo, src.JoiningInfo)
	setString((*string)(&dst.DisconnectionMethod), string(src.DisconnectionMethod))
	setExec(&dst.DisconnectionInfo, src.DisconnectionInfo)
	for i := range src.Media {
		m := &src.Media[i]
		j := slices.IndexFunc(dst.Media, func(x Media) bool { return x.ID == m.ID })
		if j < 0 {
			dst.Media = append(dst.Media, *m)
			continue
		}
		h := &dst.Media[j]
		setString(&h.DisplayText, m.DisplayText)
		setString(&h.Type, m.Type)
		setString(&h.Label, m.Label)
		setString(&h.SrcID, m.SrcID)
		setString((*string)(&h.Status), string(m.Status))
	}
	if src.CallInfo != nil {
		dst.CallInfo = &CallInfo{SIP: clonePtr(src.CallInfo.SIP)}
	}
}

// mergeURIs returns the held uris-type (dst) updated by src.
func mergeURIs(dst, src *URIs) *URIs {
	if src == nil {
		return dst
	}
	switch src.State {
	case StateDeleted:
		return nil
	case StatePartial:
	default:
		n := src.Clone()
		normalizeURIs(&n)
		return n
	}
	if dst == nil {
		dst = &URIs{}
	}
	for i := range src.Entries {
		e := &src.Entries[i]
		j := slices.IndexFunc(dst.Entries, func(x URIEntry) bool { return x.URI == e.URI })
		switch {
		case e.State == StateDeleted:
			if j >= 0 {
				dst.Entries = nilIfEmpty(slices.Delete(dst.Entries, j, j+1))
			}
		case j >= 0 && e.State == StatePartial:
			h := &dst.Entries[j]
			setString(&h.DisplayText, e.DisplayText)
			setString(&h.Purpose, e.Purpose)
			setExec(&h.Modified, e.Modified)
		default:
			n := e.Clone()
			n.State = ""
			if j < 0 {
				dst.Entries = append(dst.Entries, n)
			} else {
				dst.Entries[j] = n
			}
		}
	}
	return dst
}

// mergeSidebars returns the held sidebars-by-val (dst) updated by src.
func mergeSidebars(dst, src *SidebarsByVal) *SidebarsByVal {
	if src == nil {
		return dst
	}
	switch src.State {
	case StateDeleted:
		return nil
	case StatePartial:
	default:
		n := src.Clone()
		normalizeSidebars(&n)
		return n
	}
	if dst == nil {
		dst = &SidebarsByVal{}
	}
	for i := range src.Entries {
		sb := &src.Entries[i]
		j := slices.IndexFunc(dst.Entries, func(x Sidebar) bool { return x.Entity == sb.Entity })
		switch {
		case sb.State == StateDeleted:
			if j >= 0 {
				dst.Entries = nilIfEmpty(slices.Delete(dst.Entries, j, j+1))
			}
		case j < 0 || sb.State != StatePartial:
			n := sb.Clone()
			normalizeSidebar(&n)
			if j < 0 {
				dst.Entries = append(dst.Entries, n)
			} else {
				dst.Entries[j] = n
			}
		default:
			h := &dst.Entries[j]
			if sb.Version != nil {
				h.Version = clonePtr(sb.Version)
			}
			mergeBody(&h.Description, &h.HostInfo, &h.ConferenceState, &h.Users,
				sb.Description, sb.HostInfo, sb.ConferenceState, sb.Users)
		}
	}
	return dst
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
