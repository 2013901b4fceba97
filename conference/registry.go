package conference

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"cusax.dev/bridge/store"
)

// roomNameRE is the room-name rule: 1–64 of a-z 0-9 . _ - (SIP user parts
// are folded to lower case before they are checked). (config keeps a copy for
// validating the file, since it may not import this package.)
var roomNameRE = regexp.MustCompile(`^[a-z0-9._-]{1,64}$`)

// ValidName reports whether name is a valid room name: 1–64 of a-z 0-9 . _ -.
func ValidName(name string) bool { return roomNameRE.MatchString(name) }

// pinRE: a moderator PIN is 2–16 digits, short enough to key in after
// DTMFModeratorPIN within the DTMF buffer.
var pinRE = regexp.MustCompile(`^[0-9]{2,16}$`)

// ValidPIN reports whether pin is a valid moderator PIN: 2–16 digits.
func ValidPIN(pin string) bool { return pinRE.MatchString(pin) }

// NormalizeName folds a SIP user part or JID localpart to a room name and
// reports whether the result is valid.
func NormalizeName(s string) (string, bool) {
	n := strings.ToLower(s)
	return n, ValidName(n)
}

// RoomSpec pre-declares a room from the configuration file.
type RoomSpec struct {
	Name            string
	Subject         string
	Moderators      []string
	PIN             string
	MaxParticipants int
}

// Options configure a Registry.
type Options struct {
	// Store persists rooms, affiliations, subjects and history. Nil means
	// an in-memory store.
	Store  store.Store
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rooms are pre-declared rooms.
	Rooms []RoomSpec
	// Creators, when non-nil, restricts creating rooms from XMPP to these
	// bare JIDs (xmpp.room_creation: listed). SIP callers may always create
	// a room by calling a valid name.
	Creators []string
	// HistoryLength is the default number of messages a room keeps: 0
	// means 50, a negative value means none.
	HistoryLength int
	// KeepDeparted is how many departed participants a snapshot lists as
	// disconnected (RFC 4575 disconnection info). Default 16.
	KeepDeparted int
	// WatchPolicy says who may watch a conference's state (RFC 4575
	// subscriptions): WatchParticipants (the default) or WatchAnyone.
	WatchPolicy string
	// Identities canonicalises every identity the core compares or
	// stores, folding the bridge's own host names to sip.domain.
	Identities Identities
	// Bindings are the configured SIP↔XMPP bindings (identity.bindings).
	Bindings []Binding
	// VerifyTimeout bounds a vCard look-up; 0 means DefaultVerifyTimeout.
	VerifyTimeout time.Duration
	// Limits bound rooms and PIN guessing (limits.go).
	Limits Limits
}

// Watch policies (Options.WatchPolicy, sip.subscribe_policy).
const (
	WatchParticipants = "participants"
	WatchAnyone       = "anyone"
)

// Registry holds every conference. It is safe for concurrent use.
type Registry struct {
	opts  Options
	log   *slog.Logger
	store store.Store
	now   func() time.Time

	mu      sync.Mutex
	confs   map[string]*Conference
	created map[string]int // live rooms per creator (limits.go)
	closed  bool
	nextID  uint64

	emitMu sync.Mutex
	seq    uint64
	subs   map[*Stream]struct{}

	binds bindings
}

// NewRegistry returns a registry using opts.
func NewRegistry(opts Options) *Registry {
	if opts.Store == nil {
		opts.Store = store.NewMemory()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.KeepDeparted == 0 {
		opts.KeepDeparted = 16
	}
	if opts.HistoryLength == 0 {
		opts.HistoryLength = 50
	}
	if opts.VerifyTimeout <= 0 {
		opts.VerifyTimeout = DefaultVerifyTimeout
	}
	opts.Limits = opts.Limits.withDefaults()
	if opts.WatchPolicy != WatchAnyone {
		opts.WatchPolicy = WatchParticipants
	}
	if _, ok := opts.Store.(store.Bindings); !ok {
		opts.Logger.Warn("the store keeps no SIP-XMPP bindings: verified bindings last until the bridge stops")
	}
	return &Registry{
		opts:    opts,
		log:     opts.Logger,
		store:   opts.Store,
		now:     opts.Now,
		confs:   map[string]*Conference{},
		created: map[string]int{},
		subs:    map[*Stream]struct{}{},
	}
}

// Subscribe returns a stream of every event of every conference.
func (r *Registry) Subscribe() *Stream { return r.subscribe("") }

// SubscribeConference returns a stream of one conference's events.
func (r *Registry) SubscribeConference(name string) *Stream { return r.subscribe(name) }

func (r *Registry) subscribe(filter string) *Stream {
	s := &Stream{c: make(chan Event), wake: make(chan struct{}, 1), done: make(chan struct{}), filter: filter, owner: r}
	r.emitMu.Lock()
	r.subs[s] = struct{}{}
	r.emitMu.Unlock()
	go s.pump()
	return s
}

func (r *Registry) unsubscribe(s *Stream) {
	r.emitMu.Lock()
	delete(r.subs, s)
	r.emitMu.Unlock()
}

// emit assigns a sequence number and queues ev on every stream. Callers hold
// the conference lock, so each conference's events keep their order.
func (r *Registry) emit(ev Event) {
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	r.seq++
	ev.Seq = r.seq
	if ev.At.IsZero() {
		ev.At = r.now()
	}
	for s := range r.subs {
		s.push(ev)
	}
}

// Seq returns the sequence number of the last event emitted. An adapter
// that must answer a request only after its own rendering of the resulting
// events (XEP-0045 §8.2: presences before the IQ result) reads Seq after the
// call and waits until its stream has delivered that event.
func (r *Registry) Seq() uint64 {
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	return r.seq
}

func (r *Registry) newID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	return fmt.Sprintf("p%d", r.nextID)
}

func (r *Registry) spec(name string) (RoomSpec, bool) {
	for _, s := range r.opts.Rooms {
		if s.Name == name {
			return s, true
		}
	}
	return RoomSpec{}, false
}

// Lookup returns the live conference called name, or nil. It does not create
// one and does not load persisted rooms.
func (r *Registry) Lookup(name string) *Conference {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.confs[name]
}

// Names returns the live conferences' names, sorted.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.confs))
	for n := range r.confs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// RoomInfo summarises a room that exists live, persisted or declared.
type RoomInfo struct {
	Name         string
	Title        string
	Public       bool
	Participants int
	Subject      string
}

// Rooms lists every room the registry knows: live, persisted and declared,
// sorted by name.
func (r *Registry) Rooms(ctx context.Context) ([]RoomInfo, error) {
	seen := map[string]RoomInfo{}
	stored, err := r.store.Rooms(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: list rooms: %w", ErrStore, err)
	}
	for _, s := range stored {
		seen[s.Name] = RoomInfo{Name: s.Name, Title: s.Title, Public: s.Public, Subject: s.Subject}
	}
	for _, s := range r.opts.Rooms {
		if _, ok := seen[s.Name]; !ok {
			seen[s.Name] = RoomInfo{Name: s.Name, Public: true, Subject: s.Subject}
		}
	}
	for _, n := range r.Names() {
		if c := r.Lookup(n); c != nil {
			c.mu.Lock()
			if !c.ended {
				// A room locked until its owner configures it is not listed.
				seen[n] = RoomInfo{Name: n, Title: c.cfg.Title, Public: c.cfg.Public && !c.locked, Participants: len(c.parts), Subject: c.subject}
			}
			c.mu.Unlock()
		}
	}
	out := make([]RoomInfo, 0, len(seen))
	for _, v := range seen {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b RoomInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Exists reports whether a room is live, persisted or declared.
func (r *Registry) Exists(ctx context.Context, name string) (bool, error) {
	if c := r.Lookup(name); c != nil {
		return true, nil
	}
	if _, ok := r.spec(name); ok {
		return true, nil
	}
	_, ok, err := r.store.Room(ctx, name)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrStore, err)
	}
	return ok, nil
}

// open returns the live conference called name, loading it from the store
// or the declared rooms, or creating it when create is true. The returned
// conference is locked; created says whether it was created now.
func (r *Registry) open(ctx context.Context, name string, create bool) (c *Conference, created bool, err error) {
	if !ValidName(name) {
		return nil, false, ErrInvalidName
	}
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, false, ErrClosed
		}
		c = r.confs[name]
		if c == nil {
			c = &Conference{name: name, reg: r}
			r.confs[name] = c
		}
		r.mu.Unlock()
		c.mu.Lock()
		if c.ended {
			c.mu.Unlock()
			continue // it ended and left the map meanwhile; take a fresh one
		}
		if c.loaded {
			return c, false, nil
		}
		exists, err := c.load(ctx)
		if err != nil || (!exists && !create) {
			c.ended = true
			r.drop(c)
			c.mu.Unlock()
			if err != nil {
				return nil, false, err
			}
			return nil, false, ErrNotFound
		}
		c.loaded = true
		cfg := c.cfg
		cfg.Moderators = slices.Clone(c.cfg.Moderators)
		r.emit(Event{Kind: ConferenceCreated, Conference: name, Origin: OriginSystem, Config: &cfg})
		return c, !exists, nil
	}
}

func (r *Registry) drop(c *Conference) {
	r.mu.Lock()
	if r.confs[c.name] == c {
		delete(r.confs, c.name)
	}
	r.mu.Unlock()
}

// Conference returns the live or persisted conference called name without
// creating it.
func (r *Registry) Conference(ctx context.Context, name string) (*Conference, error) {
	c, _, err := r.open(ctx, name, false)
	if err != nil {
		return nil, err
	}
	c.mu.Unlock()
	return c, nil
}

// Close ends every conference (participants get Left events via
// ConferenceEnded) and refuses further joins. It does not close the store.
func (r *Registry) Close(ctx context.Context) {
	r.mu.Lock()
	r.closed = true
	confs := make([]*Conference, 0, len(r.confs))
	for _, c := range r.confs {
		confs = append(confs, c)
	}
	r.mu.Unlock()
	for _, c := range confs {
		c.mu.Lock()
		if !c.ended {
			c.end(ctx, Event{Reason: "shutdown", Actor: System, Origin: OriginSystem, Cause: CauseShutdown}, false)
		}
		c.mu.Unlock()
	}
}

// Counts returns how many conferences are live and how many of their
// participants take part by SIP only ("sip"), XMPP only ("xmpp") or both
// ("both"), read from the registry itself (metrics.ConferenceCounter).
func (r *Registry) Counts() (int, map[string]int) {
	r.mu.Lock()
	confs := make([]*Conference, 0, len(r.confs))
	for _, c := range r.confs {
		confs = append(confs, c)
	}
	r.mu.Unlock()
	n := 0
	by := map[string]int{"sip": 0, "xmpp": 0, "both": 0}
	for _, c := range confs {
		c.mu.Lock()
		if c.loaded && !c.ended {
			n++
			for _, p := range c.parts {
				switch {
				case p.Audio != nil && p.Text:
					by["both"]++
				case p.Audio != nil:
					by["sip"]++
				default:
					by["xmpp"]++
				}
			}
		}
		c.mu.Unlock()
	}
	return n, by
}
