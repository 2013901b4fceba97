package store

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is a Store kept in process memory, for tests and throw-away runs. It
// validates and normalises exactly as SQLite does (same errors, times in UTC
// truncated to the millisecond), but nothing survives the process.
type Memory struct {
	mu      sync.RWMutex
	closed  bool
	rooms   map[string]Room
	affs    map[string]map[string]Affiliation // room → identity → affiliation
	history map[string][]Message              // room → messages, oldest first
	now     func() time.Time
	// bindings are keyed by {jid, aor}.
	bindings map[[2]string]Binding
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{
		rooms:   make(map[string]Room),
		affs:    make(map[string]map[string]Affiliation),
		history: make(map[string][]Message),
		now:     time.Now,
	}
}

func normRoom(r Room) Room {
	r.SubjectAt = normTime(r.SubjectAt)
	r.CreatedAt = normTime(r.CreatedAt)
	r.UpdatedAt = normTime(r.UpdatedAt)
	return r
}

// Ping reports whether the store is usable (ErrClosed after Close).
func (m *Memory) Ping(ctx context.Context) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.usable(ctx)
}

func (m *Memory) usable(ctx context.Context) error {
	if m.closed {
		return ErrClosed
	}
	return ctx.Err()
}

// Rooms implements Store.
func (m *Memory) Rooms(ctx context.Context) ([]Room, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.usable(ctx); err != nil {
		return nil, err
	}
	out := make([]Room, 0, len(m.rooms))
	for _, r := range m.rooms {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Room) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Room implements Store.
func (m *Memory) Room(ctx context.Context, name string) (Room, bool, error) {
	if err := checkRoomName(name); err != nil {
		return Room{}, false, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.usable(ctx); err != nil {
		return Room{}, false, err
	}
	r, ok := m.rooms[name]
	return r, ok, nil
}

// SaveRoom implements Store.
func (m *Memory) SaveRoom(ctx context.Context, r Room) error {
	if err := validateRoom(r); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return err
	}
	r = normRoom(r)
	if old, ok := m.rooms[r.Name]; ok {
		r.CreatedAt = old.CreatedAt
	} else {
		r.CreatedAt = nowOr(r.CreatedAt, m.now)
	}
	r.UpdatedAt = nowOr(r.UpdatedAt, m.now)
	m.rooms[r.Name] = r
	return nil
}

// DeleteRoom implements Store.
func (m *Memory) DeleteRoom(ctx context.Context, name string) error {
	if err := checkRoomName(name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return err
	}
	delete(m.rooms, name)
	delete(m.affs, name)
	delete(m.history, name)
	return nil
}

// Affiliations implements Store.
func (m *Memory) Affiliations(ctx context.Context, room string) ([]Affiliation, error) {
	if err := checkRoomName(room); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.usable(ctx); err != nil {
		return nil, err
	}
	byID := m.affs[room]
	out := make([]Affiliation, 0, len(byID))
	for _, a := range byID {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Affiliation) int { return strings.Compare(a.Identity, b.Identity) })
	return out, nil
}

// SetAffiliation implements Store.
func (m *Memory) SetAffiliation(ctx context.Context, a Affiliation) error {
	if err := validateAffiliation(a); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return err
	}
	if a.Value == AffNone {
		if byID := m.affs[a.Room]; byID != nil {
			delete(byID, a.Identity)
			if len(byID) == 0 {
				delete(m.affs, a.Room)
			}
		}
		return nil
	}
	a.At = nowOr(a.At, m.now)
	byID := m.affs[a.Room]
	if byID == nil {
		byID = make(map[string]Affiliation)
		m.affs[a.Room] = byID
	}
	byID[a.Identity] = a
	return nil
}

// AppendMessage implements Store.
func (m *Memory) AppendMessage(ctx context.Context, msg Message, keep int) error {
	if err := validateMessage(msg); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return err
	}
	if keep <= 0 {
		delete(m.history, msg.Room)
		return nil
	}
	msg.At = nowOr(msg.At, m.now)
	h := append(m.history[msg.Room], msg)
	if n := len(h) - keep; n > 0 {
		// Copy down rather than reslice so the backing array does not grow
		// without bound as old messages fall off the front.
		h = h[:copy(h, h[n:])]
		clear(h[len(h):cap(h)][:n])
	}
	m.history[msg.Room] = h
	return nil
}

// History implements Store.
func (m *Memory) History(ctx context.Context, room string, limit int) ([]Message, error) {
	if err := checkRoomName(room); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.usable(ctx); err != nil {
		return nil, err
	}
	h := m.history[room]
	if limit <= 0 {
		return []Message{}, nil
	}
	if len(h) > limit {
		h = h[len(h)-limit:]
	}
	out := make([]Message, len(h))
	copy(out, h)
	return out, nil
}

// Close implements Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.rooms, m.affs, m.history = nil, nil, nil
	return nil
}
