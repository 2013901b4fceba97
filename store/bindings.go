package store

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"
)

// Binding records that a SIP identity and a JID are one person (RFC 7081
// §3.4, DESIGN.md §6): verified by the JID's vCard, or declared in the
// configuration. Both identities are stored verbatim, in the core's
// canonical form.
type Binding struct {
	JID    string    // bare JID
	AOR    string    // canonical sip: or tel: URI
	Source string    // how it was verified: "vcard" or "config"
	At     time.Time // when it was verified; set by the store if zero
}

// Bindings is the persistence of verified bindings. The SQLite and memory
// stores implement it; the core uses it when its Store does.
type Bindings interface {
	// AllBindings returns every recorded binding, sorted by JID then AOR.
	AllBindings(ctx context.Context) ([]Binding, error)
	// SaveBinding inserts b, or refreshes its Source and At when the pair
	// is recorded already.
	SaveBinding(ctx context.Context, b Binding) error
}

// MaxBindings bounds how many bindings a store keeps: beyond it,
// SaveBinding fails with ErrInvalid (the table is keyed by identities a
// stranger's vCard names).
const MaxBindings = 100_000

func validateBinding(b Binding) error {
	if err := checkName("binding jid", b.JID, MaxIdentityLen, false); err != nil {
		return err
	}
	if err := checkName("binding aor", b.AOR, MaxIdentityLen, false); err != nil {
		return err
	}
	if err := checkName("binding source", b.Source, MaxShortLen, true); err != nil {
		return err
	}
	return checkTime("binding at", b.At)
}

func sortBindings(out []Binding) {
	slices.SortFunc(out, func(a, b Binding) int {
		if c := strings.Compare(a.JID, b.JID); c != 0 {
			return c
		}
		return strings.Compare(a.AOR, b.AOR)
	})
}

var (
	_ Bindings = (*SQLite)(nil)
	_ Bindings = (*Memory)(nil)
)

// AllBindings implements Bindings.
func (s *SQLite) AllBindings(ctx context.Context) ([]Binding, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	rows, err := s.db.QueryContext(ctx, `SELECT jid, aor, source, at FROM bindings ORDER BY jid, aor`)
	if err != nil {
		return nil, s.fail("list bindings", err)
	}
	defer rows.Close()
	out := []Binding{}
	for rows.Next() {
		var b Binding
		var at int64
		if err := rows.Scan(&b.JID, &b.AOR, &b.Source, &at); err != nil {
			return nil, s.fail("list bindings", err)
		}
		b.At = fromMillis(at, true)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list bindings", err)
	}
	return out, nil
}

// SaveBinding implements Bindings.
func (s *SQLite) SaveBinding(ctx context.Context, b Binding) error {
	if err := validateBinding(b); err != nil {
		return err
	}
	ms, _ := toMillis(nowOr(b.At, s.now))
	return s.withTx(ctx, "save binding", func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM bindings`).Scan(&n); err != nil {
			return err
		}
		if n >= MaxBindings {
			var exists int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM bindings WHERE jid = ? AND aor = ?`, b.JID, b.AOR).Scan(&exists); err != nil {
				return err
			}
			if exists == 0 {
				return invalid("more than %d bindings", MaxBindings)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO bindings (jid, aor, source, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (jid, aor) DO UPDATE SET source = excluded.source, at = excluded.at`, b.JID, b.AOR, b.Source, ms)
		return err
	})
}

// AllBindings implements Bindings.
func (m *Memory) AllBindings(ctx context.Context) ([]Binding, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.usable(ctx); err != nil {
		return nil, err
	}
	out := make([]Binding, 0, len(m.bindings))
	for _, b := range m.bindings {
		out = append(out, b)
	}
	sortBindings(out)
	return out, nil
}

// SaveBinding implements Bindings.
func (m *Memory) SaveBinding(ctx context.Context, b Binding) error {
	if err := validateBinding(b); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx); err != nil {
		return err
	}
	key := [2]string{b.JID, b.AOR}
	if _, ok := m.bindings[key]; !ok && len(m.bindings) >= MaxBindings {
		return invalid("more than %d bindings", MaxBindings)
	}
	if m.bindings == nil {
		m.bindings = map[[2]string]Binding{}
	}
	b.At = normTime(nowOr(b.At, m.now))
	m.bindings[key] = b
	return nil
}
