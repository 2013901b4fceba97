package confinfo

import (
	"reflect"
	"slices"
)

// referenceDiff is Diff as first written (deep clones, nested scans,
// reflect.DeepEqual), kept as the executable specification the optimised
// Diff must match exactly: TestDiffMatchesReference and FuzzDiff compare
// their results with reflect.DeepEqual.
func referenceDiff(prev, next *Document) *Document {
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
	o, n := prev.Clone(), next.Clone()
	normalizeDocument(o)
	normalizeDocument(n)
	p := &Document{Entity: n.Entity, State: StatePartial, Version: next.Version}
	changed := false

	// The elements without a state attribute: sent whole, cannot be removed.
	if !reflect.DeepEqual(o.Description, n.Description) {
		if n.Description == nil {
			return full()
		}
		p.Description, changed = n.Description, true
	}
	if !reflect.DeepEqual(o.HostInfo, n.HostInfo) {
		if n.HostInfo == nil {
			return full()
		}
		p.HostInfo, changed = n.HostInfo, true
	}
	if !reflect.DeepEqual(o.ConferenceState, n.ConferenceState) {
		if n.ConferenceState == nil {
			return full()
		}
		p.ConferenceState, changed = n.ConferenceState, true
	}

	switch {
	case refSameUsers(o.Users, n.Users):
	case n.Users == nil:
		p.Users, changed = &Users{State: StateDeleted}, true
	case o.Users == nil:
		p.Users, changed = n.Users, true
	default:
		p.Users, changed = refDiffUsers(o.Users.Users, n.Users.Users), true
	}

	if !reflect.DeepEqual(o.SidebarsByRef, n.SidebarsByRef) {
		p.SidebarsByRef, changed = n.SidebarsByRef, true
		if n.SidebarsByRef == nil {
			p.SidebarsByRef = &URIs{State: StateDeleted}
		}
	}
	if !reflect.DeepEqual(o.SidebarsByVal, n.SidebarsByVal) {
		p.SidebarsByVal, changed = n.SidebarsByVal, true
		if n.SidebarsByVal == nil {
			p.SidebarsByVal = &SidebarsByVal{State: StateDeleted}
		}
	}
	if !changed {
		return nil
	}
	return p
}

// sameUsers compares two normalised user tables ignoring order.
func refSameUsers(a, b *Users) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Users) != len(b.Users) {
		return false
	}
	for i := range b.Users {
		j := slices.IndexFunc(a.Users, func(u User) bool { return u.Entity == b.Users[i].Entity })
		if j < 0 || !refSameUser(&a.Users[j], &b.Users[i]) {
			return false
		}
	}
	return true
}

// sameUser compares two normalised users ignoring endpoint order.
func refSameUser(a, b *User) bool {
	if len(a.Endpoints) != len(b.Endpoints) {
		return false
	}
	ac, bc := *a, *b
	ac.Endpoints, bc.Endpoints = nil, nil
	if !reflect.DeepEqual(ac, bc) {
		return false
	}
	for i := range b.Endpoints {
		ep := a.Endpoint(b.Endpoints[i].Entity)
		if ep == nil || !reflect.DeepEqual(*ep, b.Endpoints[i]) {
			return false
		}
	}
	return true
}

func refDiffUsers(prev, next []User) *Users {
	out := &Users{State: StatePartial}
	for i := range prev {
		if !slices.ContainsFunc(next, func(u User) bool { return u.Entity == prev[i].Entity }) {
			out.Users = append(out.Users, User{Entity: prev[i].Entity, State: StateDeleted})
		}
	}
	for i := range next {
		n := &next[i]
		j := slices.IndexFunc(prev, func(u User) bool { return u.Entity == n.Entity })
		switch {
		case j < 0:
			out.Users = append(out.Users, *n)
		case refSameUser(&prev[j], n):
		default:
			out.Users = append(out.Users, refDiffUser(&prev[j], n))
		}
	}
	return out
}

// diffUser returns the partial user turning o into n, or n whole when a
// field was cleared (a partial can set values but not remove them).
func refDiffUser(o, n *User) User {
	if o.DisplayText != n.DisplayText && n.DisplayText == "" ||
		o.CascadedFocus != n.CascadedFocus && n.CascadedFocus == "" ||
		!slices.Equal(o.Roles, n.Roles) && len(n.Roles) == 0 ||
		!slices.Equal(o.Languages, n.Languages) && len(n.Languages) == 0 {
		return *n
	}
	u := User{Entity: n.Entity, State: StatePartial}
	if o.DisplayText != n.DisplayText {
		u.DisplayText = n.DisplayText
	}
	if o.CascadedFocus != n.CascadedFocus {
		u.CascadedFocus = n.CascadedFocus
	}
	if !slices.Equal(o.Roles, n.Roles) {
		u.Roles = n.Roles
	}
	if !slices.Equal(o.Languages, n.Languages) {
		u.Languages = n.Languages
	}
	if !reflect.DeepEqual(o.AssociatedAORs, n.AssociatedAORs) {
		u.AssociatedAORs = n.AssociatedAORs
		if u.AssociatedAORs == nil {
			u.AssociatedAORs = &URIs{State: StateDeleted}
		}
	}
	for i := range o.Endpoints {
		if n.Endpoint(o.Endpoints[i].Entity) == nil {
			u.Endpoints = append(u.Endpoints, Endpoint{Entity: o.Endpoints[i].Entity, State: StateDeleted})
		}
	}
	for i := range n.Endpoints {
		ep := &n.Endpoints[i]
		if old := o.Endpoint(ep.Entity); old == nil || !reflect.DeepEqual(*old, *ep) {
			u.Endpoints = append(u.Endpoints, *ep)
		}
	}
	return u
}
