package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SQLite is the embedded, file-backed Store.
//
// Durability: the database runs in WAL mode with synchronous=FULL, so a write
// whose method returned nil has been fsynced to the WAL and survives a
// process kill and a power cut. Writers are serialised inside the process
// (readers are not, WAL lets them run beside a writer); busy_timeout covers
// other handles on the same file.
type SQLite struct {
	db     *sql.DB
	path   string
	log    *slog.Logger
	now    func() time.Time
	wmu    chan struct{} // one writer at a time; a channel so waiting honours ctx
	done   chan struct{} // closed by Close: wakes writers waiting for wmu
	closed atomic.Bool

	stmtInsertMsg *sql.Stmt
	stmtTrimMsg   *sql.Stmt
	stmtHistory   *sql.Stmt
	stmtAffs      *sql.Stmt
}

var _ Store = (*SQLite)(nil)

// Connection settings, applied to every pooled connection through the DSN.
const (
	busyTimeout  = 10 * time.Second
	maxOpenConns = 4
)

// sqliteDSN builds the driver DSN for the database file at abs.
func sqliteDSN(abs string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate") // writers take the lock at BEGIN: no deadlock on upgrade
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}).String()
}

// OpenSQLite opens (creating if needed) the database file at path: it creates
// the parent directory (0750) and the file (0600), configures WAL,
// synchronous=FULL, busy_timeout and foreign_keys on every connection, and
// applies pending schema migrations in one transaction. A database written by
// a newer program fails with ErrSchemaTooNew, a foreign SQLite file with
// ErrForeignDatabase. logger may be nil (slog.Default()).
func OpenSQLite(ctx context.Context, path string, logger *slog.Logger) (*SQLite, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if path == "" || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, invalid("database path %q: want a file name", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: database path %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("store: create database directory: %w", err)
	}
	// Create the file ourselves so it gets private permissions (room
	// passwords live in it); SQLite gives the -wal and -shm files the same.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("store: open database file: %w", err)
	}

	db, err := sql.Open("sqlite", sqliteDSN(abs))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxOpenConns)
	s := &SQLite{db: db, path: abs, log: logger, now: time.Now, wmu: make(chan struct{}, 1), done: make(chan struct{})}
	if err := s.init(ctx); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return s, nil
}

func (s *SQLite) init(ctx context.Context) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return fmt.Errorf("store: open %s: %w", s.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store: open %s: journal_mode is %q, WAL is required", s.path, mode)
	}
	from, to, err := migrate(ctx, s.db, schemaMigrations(), s.now, s.log)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", s.path, err)
	}
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&s.stmtInsertMsg, `INSERT INTO messages (room, id, nick, from_jid, body, subject, at) VALUES (?, ?, ?, ?, ?, ?, ?)`},
		// Delete everything older than the keep-th newest message; when there
		// are fewer than keep the subquery is NULL and nothing matches.
		{&s.stmtTrimMsg, `DELETE FROM messages WHERE room = ?1 AND seq <
			(SELECT seq FROM messages WHERE room = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)`},
		// Newest first; History reverses (cheaper than a second sort).
		{&s.stmtHistory, `SELECT id, nick, from_jid, body, subject, at FROM messages
			WHERE room = ? ORDER BY seq DESC LIMIT ?`},
		{&s.stmtAffs, `SELECT identity, value, nick, reason, actor, at FROM affiliations WHERE room = ? ORDER BY identity`},
	} {
		st, err := s.db.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("store: prepare: %w", err)
		}
		*p.dst = st
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "store: opened", slog.String("path", s.path),
		slog.Int("schema_from", from), slog.Int("schema", to))
	return nil
}

// Path returns the absolute path of the database file.
func (s *SQLite) Path() string { return s.path }

// Ping checks that the database answers (for readiness probes).
func (s *SQLite) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	var one int
	if err := s.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return s.fail("ping", err)
	}
	return nil
}

// fail wraps err with the operation, reporting ErrClosed if Close raced.
func (s *SQLite) fail(op string, err error) error {
	if s.closed.Load() {
		return fmt.Errorf("store: %s: %w", op, ErrClosed)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// lockWrite serialises writers in this process.
func (s *SQLite) lockWrite(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	select {
	case s.wmu <- struct{}{}:
		if s.closed.Load() {
			<-s.wmu
			return ErrClosed
		}
		return nil
	case <-s.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *SQLite) unlockWrite() { <-s.wmu }

// withTx runs fn in an IMMEDIATE transaction under the write lock and commits.
func (s *SQLite) withTx(ctx context.Context, op string, fn func(*sql.Tx) error) (err error) {
	if err := s.lockWrite(ctx); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	defer s.unlockWrite()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(op, err)
	}
	if err := fn(tx); err != nil {
		return s.fail(op, errors.Join(err, ignoreTxDone(tx.Rollback())))
	}
	if err := tx.Commit(); err != nil {
		return s.fail(op, err)
	}
	return nil
}

const roomColumns = `name, title, description, subject, subject_by, subject_at,
	persistent, public, moderated, members_only, password, max_users, whois,
	history_length, allow_private_messages, allow_subject_change, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanRoom(sc scanner) (Room, error) {
	var r Room
	var subjectAt, createdAt, updatedAt sql.NullInt64
	err := sc.Scan(&r.Name, &r.Title, &r.Description, &r.Subject, &r.SubjectBy, &subjectAt,
		&r.Persistent, &r.Public, &r.Moderated, &r.MembersOnly, &r.Password, &r.MaxUsers, &r.Whois,
		&r.HistoryLength, &r.AllowPrivateMessages, &r.AllowSubjectChange, &createdAt, &updatedAt)
	r.SubjectAt = fromMillis(subjectAt.Int64, subjectAt.Valid)
	r.CreatedAt = fromMillis(createdAt.Int64, createdAt.Valid)
	r.UpdatedAt = fromMillis(updatedAt.Int64, updatedAt.Valid)
	return r, err
}

func nullMillis(t time.Time) sql.NullInt64 {
	ms, ok := toMillis(t)
	return sql.NullInt64{Int64: ms, Valid: ok}
}

// Rooms implements Store.
func (s *SQLite) Rooms(ctx context.Context) ([]Room, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+roomColumns+` FROM rooms ORDER BY name`)
	if err != nil {
		return nil, s.fail("list rooms", err)
	}
	defer rows.Close()
	out := []Room{}
	for rows.Next() {
		r, err := scanRoom(rows)
		if err != nil {
			return nil, s.fail("list rooms", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list rooms", err)
	}
	return out, nil
}

// Room implements Store.
func (s *SQLite) Room(ctx context.Context, name string) (Room, bool, error) {
	if err := checkRoomName(name); err != nil {
		return Room{}, false, err
	}
	if s.closed.Load() {
		return Room{}, false, ErrClosed
	}
	r, err := scanRoom(s.db.QueryRowContext(ctx, `SELECT `+roomColumns+` FROM rooms WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Room{}, false, nil
	}
	if err != nil {
		return Room{}, false, s.fail("get room", err)
	}
	return r, true, nil
}

// SaveRoom implements Store.
func (s *SQLite) SaveRoom(ctx context.Context, r Room) error {
	if err := validateRoom(r); err != nil {
		return err
	}
	created := nowOr(r.CreatedAt, s.now)
	updated := nowOr(r.UpdatedAt, s.now)
	if err := s.lockWrite(ctx); err != nil {
		return fmt.Errorf("store: save room: %w", err)
	}
	defer s.unlockWrite()
	_, err := s.db.ExecContext(ctx, `INSERT INTO rooms (`+roomColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET
			title = excluded.title, description = excluded.description,
			subject = excluded.subject, subject_by = excluded.subject_by, subject_at = excluded.subject_at,
			persistent = excluded.persistent, public = excluded.public, moderated = excluded.moderated,
			members_only = excluded.members_only, password = excluded.password,
			max_users = excluded.max_users, whois = excluded.whois,
			history_length = excluded.history_length,
			allow_private_messages = excluded.allow_private_messages,
			allow_subject_change = excluded.allow_subject_change,
			updated_at = excluded.updated_at`,
		r.Name, r.Title, r.Description, r.Subject, r.SubjectBy, nullMillis(r.SubjectAt),
		r.Persistent, r.Public, r.Moderated, r.MembersOnly, r.Password, r.MaxUsers, r.Whois,
		r.HistoryLength, r.AllowPrivateMessages, r.AllowSubjectChange,
		nullMillis(created), nullMillis(updated))
	if err != nil {
		return s.fail("save room", err)
	}
	return nil
}

// DeleteRoom implements Store.
func (s *SQLite) DeleteRoom(ctx context.Context, name string) error {
	if err := checkRoomName(name); err != nil {
		return err
	}
	return s.withTx(ctx, "delete room", func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM messages WHERE room = ?`,
			`DELETE FROM affiliations WHERE room = ?`,
			`DELETE FROM rooms WHERE name = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, name); err != nil {
				return err
			}
		}
		return nil
	})
}

// Affiliations implements Store.
func (s *SQLite) Affiliations(ctx context.Context, room string) ([]Affiliation, error) {
	if err := checkRoomName(room); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	rows, err := s.stmtAffs.QueryContext(ctx, room)
	if err != nil {
		return nil, s.fail("list affiliations", err)
	}
	defer rows.Close()
	out := []Affiliation{}
	for rows.Next() {
		a := Affiliation{Room: room}
		var at sql.NullInt64
		if err := rows.Scan(&a.Identity, &a.Value, &a.Nick, &a.Reason, &a.Actor, &at); err != nil {
			return nil, s.fail("list affiliations", err)
		}
		a.At = fromMillis(at.Int64, at.Valid)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list affiliations", err)
	}
	return out, nil
}

// SetAffiliation implements Store.
func (s *SQLite) SetAffiliation(ctx context.Context, a Affiliation) error {
	if err := validateAffiliation(a); err != nil {
		return err
	}
	if err := s.lockWrite(ctx); err != nil {
		return fmt.Errorf("store: set affiliation: %w", err)
	}
	defer s.unlockWrite()
	var err error
	if a.Value == AffNone {
		_, err = s.db.ExecContext(ctx, `DELETE FROM affiliations WHERE room = ? AND identity = ?`, a.Room, a.Identity)
	} else {
		_, err = s.db.ExecContext(ctx, `INSERT INTO affiliations (room, identity, value, nick, reason, actor, at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (room, identity) DO UPDATE SET
				value = excluded.value, nick = excluded.nick, reason = excluded.reason,
				actor = excluded.actor, at = excluded.at`,
			a.Room, a.Identity, a.Value, a.Nick, a.Reason, a.Actor, nullMillis(nowOr(a.At, s.now)))
	}
	if err != nil {
		return s.fail("set affiliation", err)
	}
	return nil
}

// AppendMessage implements Store.
func (s *SQLite) AppendMessage(ctx context.Context, m Message, keep int) error {
	if err := validateMessage(m); err != nil {
		return err
	}
	if keep <= 0 {
		if err := s.lockWrite(ctx); err != nil {
			return fmt.Errorf("store: append message: %w", err)
		}
		defer s.unlockWrite()
		if _, err := s.db.ExecContext(ctx, `DELETE FROM messages WHERE room = ?`, m.Room); err != nil {
			return s.fail("append message", err)
		}
		return nil
	}
	at, _ := toMillis(nowOr(m.At, s.now))
	return s.withTx(ctx, "append message", func(tx *sql.Tx) error {
		if _, err := tx.StmtContext(ctx, s.stmtInsertMsg).ExecContext(ctx,
			m.Room, m.ID, m.Nick, m.FromJID, m.Body, m.Subject, at); err != nil {
			return err
		}
		_, err := tx.StmtContext(ctx, s.stmtTrimMsg).ExecContext(ctx, m.Room, keep-1)
		return err
	})
}

// History implements Store.
func (s *SQLite) History(ctx context.Context, room string, limit int) ([]Message, error) {
	if err := checkRoomName(room); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if limit <= 0 {
		return []Message{}, nil
	}
	rows, err := s.stmtHistory.QueryContext(ctx, room, limit)
	if err != nil {
		return nil, s.fail("read history", err)
	}
	defer rows.Close()
	out := make([]Message, 0, min(limit, 64))
	for rows.Next() {
		m := Message{Room: room}
		var at int64
		if err := rows.Scan(&m.ID, &m.Nick, &m.FromJID, &m.Body, &m.Subject, &at); err != nil {
			return nil, s.fail("read history", err)
		}
		m.At = fromMillis(at, true)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("read history", err)
	}
	slices.Reverse(out)
	return out, nil
}

// Close implements Store: it closes the pool, which checkpoints the WAL into
// the main file.
func (s *SQLite) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.done)
	// Wait for an in-flight writer so its commit is not cut off; the lock is
	// never released, so no write can start after this.
	s.wmu <- struct{}{}
	var errs []error
	for _, st := range []*sql.Stmt{s.stmtInsertMsg, s.stmtTrimMsg, s.stmtHistory, s.stmtAffs} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	errs = append(errs, s.db.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	s.log.LogAttrs(context.Background(), slog.LevelDebug, "store: closed", slog.String("path", s.path))
	return nil
}
