package confinfo

import (
	"strings"
	"time"
)

// Namespace is the XML namespace of conference-info documents (RFC 4575 §4.2).
const Namespace = "urn:ietf:params:xml:ns:conference-info"

// ContentType is the MIME type of a conference-info body (RFC 4575 §3.4).
const ContentType = "application/conference-info+xml"

// EventPackage is the SIP event package name carried in Event and Allow-Events
// (RFC 4575 §3.1).
const EventPackage = "conference"

// ElementState is the value of a "state" attribute (RFC 4575 §4.4): full,
// partial or deleted. The empty value means the attribute is absent, which
// the schema defaults to full.
type ElementState string

// Values of the state attribute.
const (
	StateFull    ElementState = "full"
	StatePartial ElementState = "partial"
	StateDeleted ElementState = "deleted"
)

// valid reports whether s is absent or one of the three schema values.
func (s ElementState) valid() bool {
	return s == "" || s == StateFull || s == StatePartial || s == StateDeleted
}

// EndpointStatus is the <status> of an endpoint (RFC 4575 §5.7.2).
type EndpointStatus string

// Endpoint statuses. The focus renders a participant muted by a moderator as
// StatusMutedViaFocus with its media recvonly (RFC 4575 defines the status;
// how a focus shows a mute is not standardised, this is the bridge's choice).
const (
	StatusPending       EndpointStatus = "pending"
	StatusDialingOut    EndpointStatus = "dialing-out"
	StatusDialingIn     EndpointStatus = "dialing-in"
	StatusAlerting      EndpointStatus = "alerting"
	StatusOnHold        EndpointStatus = "on-hold"
	StatusConnected     EndpointStatus = "connected"
	StatusMutedViaFocus EndpointStatus = "muted-via-focus"
	StatusDisconnecting EndpointStatus = "disconnecting"
	StatusDisconnected  EndpointStatus = "disconnected"
)

// JoiningMethod is the <joining-method> of an endpoint (RFC 4575 §5.7.3).
type JoiningMethod string

// Joining methods.
const (
	JoinDialedIn   JoiningMethod = "dialed-in"
	JoinDialedOut  JoiningMethod = "dialed-out"
	JoinFocusOwner JoiningMethod = "focus-owner"
)

// DisconnectionMethod is the <disconnection-method> of an endpoint
// (RFC 4575 §5.7.5). DisconnectBooted means the focus sent the BYE.
type DisconnectionMethod string

// Disconnection methods.
const (
	DisconnectDeparted DisconnectionMethod = "departed"
	DisconnectBooted   DisconnectionMethod = "booted"
	DisconnectFailed   DisconnectionMethod = "failed"
	DisconnectBusy     DisconnectionMethod = "busy"
)

// MediaStatus is the <status> of a media stream or an available medium,
// seen from the participant (RFC 4575 §5.8.5): a muted participant's stream
// is recvonly.
type MediaStatus string

// Media statuses.
const (
	MediaSendRecv MediaStatus = "sendrecv"
	MediaSendOnly MediaStatus = "sendonly"
	MediaRecvOnly MediaStatus = "recvonly"
	MediaInactive MediaStatus = "inactive"
)

// Media types commonly found in <type> (RFC 4575 §5.8.2 uses SDP media names).
const (
	MediaTypeAudio = "audio"
	MediaTypeVideo = "video"
	MediaTypeText  = "text"
)

// Purposes of conf-uris and service-uris entries (RFC 4575 §5.3.1, §5.3.2;
// grouptextchat from RFC 7106 §3).
const (
	PurposeParticipation = "participation"
	PurposeStreaming     = "streaming"
	PurposeWebPage       = "web-page"
	PurposeRecording     = "recording"
	PurposeEvent         = "event"
	PurposeGroupTextChat = "grouptextchat"
)

// Document is a <conference-info> document (RFC 4575 §5.2). Entity, State and
// Version are always written on the root; a nil pointer or empty slice child
// is omitted. Children follow the XSD order of RFC 4575 §6.
type Document struct {
	// Entity is the conference URI subscribers SUBSCRIBE to. Required.
	Entity string
	// State is full, partial or deleted; empty is written as full.
	State ElementState
	// Version is the per-subscription notification counter (RFC 4575 §4.3).
	Version uint32

	Description     *ConferenceDescription
	HostInfo        *HostInfo
	ConferenceState *ConferenceState
	Users           *Users
	// SidebarsByRef lists sidebar URIs (a uris-type keyed by <uri>).
	SidebarsByRef *URIs
	// SidebarsByVal carries sidebars by value. Sidebars nested inside a
	// sidebar are not modelled and are skipped when parsing.
	SidebarsByVal *SidebarsByVal
}

// ConferenceDescription is <conference-description> (RFC 4575 §5.3). It has no
// state attribute: in a partial document it replaces the held one whole.
type ConferenceDescription struct {
	DisplayText string
	Subject     string
	FreeText    string
	// Keywords is the xs:list of keywords; items must not contain whitespace.
	Keywords    []string
	ConfURIs    *URIs
	ServiceURIs *URIs
	// MaximumUserCount is nil when absent.
	MaximumUserCount *uint32
	AvailableMedia   []AvailableMedium
}

// AvailableMedium is one <available-media>/<entry> (RFC 4575 §5.3.4).
type AvailableMedium struct {
	// Label is the required key attribute.
	Label       string
	DisplayText string
	Type        string
	Status      MediaStatus
}

// HostInfo is <host-info> (RFC 4575 §5.4); replaced whole in partials.
type HostInfo struct {
	DisplayText string
	WebPage     string
	URIs        *URIs
}

// ConferenceState is <conference-state> (RFC 4575 §5.5); replaced whole in
// partials, so a notifier renders all three values each time. Nil means the
// element is absent.
type ConferenceState struct {
	UserCount *uint32
	Active    *bool
	Locked    *bool
}

// URIs is a uris-type element (conf-uris, service-uris, associated-aors,
// host-info/uris, sidebars-by-ref): entries keyed by <uri>, with an optional
// state attribute.
type URIs struct {
	State   ElementState
	Entries []URIEntry
}

// URIEntry is one uris-type <entry> (RFC 4575 §5.3.1).
type URIEntry struct {
	// URI is the required key; emitted byte-for-byte as given.
	URI         string
	DisplayText string
	Purpose     string
	Modified    *Execution
	// State is not in the RFC 4575 schema; it is accepted and written when set
	// so that a partial uris-type can delete an entry. Normally empty.
	State ElementState
}

// Execution is an execution-type element: referred, joining-info,
// disconnection-info, modified (RFC 4575 §5.7.1). When is an xs:dateTime kept
// as text; use FormatTime to produce one.
type Execution struct {
	When   string
	Reason string
	By     string
}

// FormatTime renders t as an xs:dateTime in UTC with second precision, the
// form RFC 4575's examples use (2005-03-04T20:00:00Z).
func FormatTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// Users is <users> (RFC 4575 §5.6) with its state attribute.
type Users struct {
	State ElementState
	Users []User
}

// User is <user> (RFC 4575 §5.6), keyed by Entity.
type User struct {
	// Entity is the user's URI (the key). Required.
	Entity         string
	State          ElementState
	DisplayText    string
	AssociatedAORs *URIs
	// Roles are free-form role strings; a non-empty list replaces the held
	// one in a partial.
	Roles []string
	// Languages is the xs:list of language tags (en, fr-CA).
	Languages     []string
	CascadedFocus string
	Endpoints     []Endpoint
}

// Endpoint is <endpoint> (RFC 4575 §5.7), keyed by Entity within its user.
type Endpoint struct {
	// Entity identifies the endpoint (Contact, GRUU). Required.
	Entity              string
	State               ElementState
	DisplayText         string
	Referred            *Execution
	Status              EndpointStatus
	JoiningMethod       JoiningMethod
	JoiningInfo         *Execution
	DisconnectionMethod DisconnectionMethod
	DisconnectionInfo   *Execution
	Media               []Media
	CallInfo            *CallInfo
}

// Media is an endpoint's <media> stream (RFC 4575 §5.8), keyed by ID.
type Media struct {
	// ID is the required key attribute.
	ID          string
	DisplayText string
	Type        string
	Label       string
	// SrcID is the SSRC the endpoint sends, as text.
	SrcID  string
	Status MediaStatus
}

// CallInfo is <call-info> (RFC 4575 §5.7.6).
type CallInfo struct {
	SIP *SIPDialogID
}

// SIPDialogID is <call-info>/<sip>: the dialog of an endpoint.
type SIPDialogID struct {
	DisplayText string
	CallID      string
	FromTag     string
	ToTag       string
}

// SidebarsByVal is <sidebars-by-val> (RFC 4575 §5.9.2).
type SidebarsByVal struct {
	State   ElementState
	Entries []Sidebar
}

// Sidebar is one <sidebars-by-val>/<entry>, a conference-type keyed by
// Entity. Sidebars nested inside it are not modelled.
type Sidebar struct {
	Entity          string
	State           ElementState
	Version         *uint32
	Description     *ConferenceDescription
	HostInfo        *HostInfo
	ConferenceState *ConferenceState
	Users           *Users
}

// ServiceURIs returns, in document order, the service-uris entries whose
// purpose equals purpose, e.g. PurposeGroupTextChat for the chat rooms of
// RFC 7106. It returns nil when there are none.
func (d *Document) ServiceURIs(purpose string) []string {
	if d == nil || d.Description == nil || d.Description.ServiceURIs == nil {
		return nil
	}
	var out []string
	for _, e := range d.Description.ServiceURIs.Entries {
		if e.Purpose == purpose {
			out = append(out, e.URI)
		}
	}
	return out
}

// User returns a pointer to the user with the given entity inside d, or nil.
// The pointer aliases d.
func (d *Document) User(entity string) *User {
	if d == nil || d.Users == nil {
		return nil
	}
	for i := range d.Users.Users {
		if d.Users.Users[i].Entity == entity {
			return &d.Users.Users[i]
		}
	}
	return nil
}

// Endpoint returns a pointer to the endpoint with the given entity inside u,
// or nil. The pointer aliases u.
func (u *User) Endpoint(entity string) *Endpoint {
	if u == nil {
		return nil
	}
	for i := range u.Endpoints {
		if u.Endpoints[i].Entity == entity {
			return &u.Endpoints[i]
		}
	}
	return nil
}

// MediaByID returns a pointer to the media stream with the given id inside e,
// or nil. The pointer aliases e.
func (e *Endpoint) MediaByID(id string) *Media {
	if e == nil {
		return nil
	}
	for i := range e.Media {
		if e.Media[i].ID == id {
			return &e.Media[i]
		}
	}
	return nil
}

// Clone returns a deep copy of d (nil for nil).
func (d *Document) Clone() *Document {
	if d == nil {
		return nil
	}
	c := *d
	c.Description = d.Description.Clone()
	c.HostInfo = d.HostInfo.Clone()
	c.ConferenceState = d.ConferenceState.Clone()
	c.Users = d.Users.Clone()
	c.SidebarsByRef = d.SidebarsByRef.Clone()
	c.SidebarsByVal = d.SidebarsByVal.Clone()
	return &c
}

// Clone returns a deep copy of c (nil for nil).
func (c *ConferenceDescription) Clone() *ConferenceDescription {
	if c == nil {
		return nil
	}
	n := *c
	n.Keywords = cloneStrings(c.Keywords)
	n.ConfURIs = c.ConfURIs.Clone()
	n.ServiceURIs = c.ServiceURIs.Clone()
	n.MaximumUserCount = clonePtr(c.MaximumUserCount)
	if c.AvailableMedia != nil {
		n.AvailableMedia = append(make([]AvailableMedium, 0, len(c.AvailableMedia)), c.AvailableMedia...)
	}
	return &n
}

// Clone returns a deep copy of h (nil for nil).
func (h *HostInfo) Clone() *HostInfo {
	if h == nil {
		return nil
	}
	n := *h
	n.URIs = h.URIs.Clone()
	return &n
}

// Clone returns a deep copy of s (nil for nil).
func (s *ConferenceState) Clone() *ConferenceState {
	if s == nil {
		return nil
	}
	return &ConferenceState{
		UserCount: clonePtr(s.UserCount),
		Active:    clonePtr(s.Active),
		Locked:    clonePtr(s.Locked),
	}
}

// Clone returns a deep copy of u (nil for nil).
func (u *URIs) Clone() *URIs {
	if u == nil {
		return nil
	}
	n := &URIs{State: u.State}
	if u.Entries != nil {
		n.Entries = make([]URIEntry, len(u.Entries))
		for i := range u.Entries {
			n.Entries[i] = u.Entries[i].Clone()
		}
	}
	return n
}

// Clone returns a deep copy of e.
func (e URIEntry) Clone() URIEntry {
	e.Modified = clonePtr(e.Modified)
	return e
}

// Clone returns a deep copy of u (nil for nil).
func (u *Users) Clone() *Users {
	if u == nil {
		return nil
	}
	n := &Users{State: u.State}
	if u.Users != nil {
		n.Users = make([]User, len(u.Users))
		for i := range u.Users {
			n.Users[i] = u.Users[i].Clone()
		}
	}
	return n
}

// Clone returns a deep copy of u.
func (u User) Clone() User {
	u.AssociatedAORs = u.AssociatedAORs.Clone()
	u.Roles = cloneStrings(u.Roles)
	u.Languages = cloneStrings(u.Languages)
	if u.Endpoints != nil {
		eps := make([]Endpoint, len(u.Endpoints))
		for i := range u.Endpoints {
			eps[i] = u.Endpoints[i].Clone()
		}
		u.Endpoints = eps
	}
	return u
}

// Clone returns a deep copy of e.
func (e Endpoint) Clone() Endpoint {
	e.Referred = clonePtr(e.Referred)
	e.JoiningInfo = clonePtr(e.JoiningInfo)
	e.DisconnectionInfo = clonePtr(e.DisconnectionInfo)
	if e.Media != nil {
		e.Media = append(make([]Media, 0, len(e.Media)), e.Media...)
	}
	if e.CallInfo != nil {
		ci := &CallInfo{SIP: clonePtr(e.CallInfo.SIP)}
		e.CallInfo = ci
	}
	return e
}

// Clone returns a deep copy of s (nil for nil).
func (s *SidebarsByVal) Clone() *SidebarsByVal {
	if s == nil {
		return nil
	}
	n := &SidebarsByVal{State: s.State}
	if s.Entries != nil {
		n.Entries = make([]Sidebar, len(s.Entries))
		for i := range s.Entries {
			n.Entries[i] = s.Entries[i].Clone()
		}
	}
	return n
}

// Clone returns a deep copy of s.
func (s Sidebar) Clone() Sidebar {
	s.Version = clonePtr(s.Version)
	s.Description = s.Description.Clone()
	s.HostInfo = s.HostInfo.Clone()
	s.ConferenceState = s.ConferenceState.Clone()
	s.Users = s.Users.Clone()
	return s
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append(make([]string, 0, len(s)), s...)
}

// Ptr returns a pointer to v: a convenience for the optional numeric and
// boolean fields (ConferenceState.Active = confinfo.Ptr(true)).
func Ptr[T any](v T) *T { return &v }

// fields splits an xs:list value on XML whitespace.
func fields(s string) []string {
	f := strings.FieldsFunc(s, isXMLSpace)
	if len(f) == 0 {
		return nil
	}
	return f
}

func isXMLSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }
