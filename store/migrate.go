package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// applicationID is written to the SQLite header (PRAGMA application_id) so a
// bridge database can be told apart from any other SQLite file. "CUSX".
const applicationID = 0x43555358

// migration is one step of the schema's history. Steps are numbered from 1
// without gaps and are never edited once released: a change is a new step.
type migration struct {
	version int
	name    string
	stmts   []string
}

// schemaMigrations returns the ordered list of schema steps.
//
// Times are INTEGER unix milliseconds in UTC, NULL for "never". Booleans are
// INTEGER 0/1. Affiliations and messages are keyed by room name without a
// foreign key to rooms, so a room that exists only in the configuration can
// still keep bans and history.
func schemaMigrations() []migration {
	return []migration{
		{1, "rooms, affiliations, messages", []string{
			`CREATE TABLE rooms (
				name                   TEXT    NOT NULL PRIMARY KEY,
				title                  TEXT    NOT NULL DEFAULT '',
				description            TEXT    NOT NULL DEFAULT '',
				subject                TEXT    NOT NULL DEFAULT '',
				subject_by             TEXT    NOT NULL DEFAULT '',
				subject_at             INTEGER,
				persistent             INTEGER NOT NULL DEFAULT 0 CHECK (persistent IN (0, 1)),
				public                 INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
				moderated              INTEGER NOT NULL DEFAULT 0 CHECK (moderated IN (0, 1)),
				members_only           INTEGER NOT NULL DEFAULT 0 CHECK (members_only IN (0, 1)),
				password               TEXT    NOT NULL DEFAULT '',
				max_users              INTEGER NOT NULL DEFAULT 0 CHECK (max_users >= 0),
				whois                  TEXT    NOT NULL DEFAULT '' CHECK (whois IN ('', 'moderators', 'anyone')),
				history_length         INTEGER NOT NULL DEFAULT 0 CHECK (history_length >= 0),
				allow_private_messages INTEGER NOT NULL DEFAULT 0 CHECK (allow_private_messages IN (0, 1)),
				allow_subject_change   INTEGER NOT NULL DEFAULT 0 CHECK (allow_subject_change IN (0, 1)),
				created_at             INTEGER,
				updated_at             INTEGER
			) STRICT`,
			`CREATE TABLE affiliations (
				room     TEXT NOT NULL,
				identity TEXT NOT NULL,
				value    TEXT NOT NULL CHECK (value IN ('owner', 'admin', 'member', 'outcast')),
				nick     TEXT NOT NULL DEFAULT '',
				reason   TEXT NOT NULL DEFAULT '',
				actor    TEXT NOT NULL DEFAULT '',
				at       INTEGER,
				PRIMARY KEY (room, identity)
			) STRICT, WITHOUT ROWID`,
			// seq is the rowid: it only grows within a room (history is
			// trimmed from the oldest end), so it orders messages by append.
			`CREATE TABLE messages (
				seq      INTEGER PRIMARY KEY,
				room     TEXT    NOT NULL,
				id       TEXT    NOT NULL DEFAULT '',
				nick     TEXT    NOT NULL DEFAULT '',
				from_jid TEXT    NOT NULL DEFAULT '',
				body     TEXT    NOT NULL DEFAULT '',
				subject  TEXT    NOT NULL DEFAULT '',
				at       INTEGER NOT NULL
			) STRICT`,
			`CREATE INDEX messages_room_seq ON messages (room, seq)`,
		}},
		// Verified SIP↔XMPP bindings (RFC 7081 §3.4), global to the bridge.
		{2, "bindings", []string{
			`CREATE TABLE bindings (
				jid    TEXT    NOT NULL,
				aor    TEXT    NOT NULL,
				source TEXT    NOT NULL DEFAULT '',
				at     INTEGER NOT NULL,
				PRIMARY KEY (jid, aor)
			) STRICT, WITHOUT ROWID`,
			`CREATE INDEX bindings_aor ON bindings (aor)`,
		}},
		accountsMigration(3),
	}
}

// migrate brings the database up to the last of steps in one IMMEDIATE
// transaction: either every pending step is applied and recorded in
// schema_migrations, or none is. An up-to-date database is left unchanged.
// It returns the schema version before and after.
func migrate(ctx context.Context, db *sql.DB, steps []migration, now func() time.Time, logger *slog.Logger) (from, to int, err error) {
	for i, m := range steps {
		if m.version != i+1 {
			return 0, 0, fmt.Errorf("store: migration %d has version %d (steps must be numbered 1..n)", i, m.version)
		}
	}
	latest := len(steps)

	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see _txlock in the DSN)
	if err != nil {
		return 0, 0, fmt.Errorf("store: begin migration: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreTxDone(tx.Rollback()))
		}
	}()

	var appID int64
	if err := tx.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&appID); err != nil {
		return 0, 0, fmt.Errorf("store: read application_id: %w", err)
	}
	if appID != 0 && appID != applicationID {
		return 0, 0, fmt.Errorf("%w: application_id is %#x, want %#x", ErrForeignDatabase, appID, applicationID)
	}

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return 0, 0, fmt.Errorf("store: create schema_migrations: %w", err)
	}

	rows, err := tx.QueryContext(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		return 0, 0, fmt.Errorf("store: read schema_migrations: %w", err)
	}
	var current int
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			rows.Close()
			return 0, 0, fmt.Errorf("store: read schema_migrations: %w", err)
		}
		if v != current+1 {
			rows.Close()
			return 0, 0, fmt.Errorf("store: schema_migrations has version %d after %d", v, current)
		}
		if v <= latest && steps[v-1].name != name {
			rows.Close()
			return 0, 0, fmt.Errorf("%w: schema version %d is %q, this program's is %q",
				ErrForeignDatabase, v, name, steps[v-1].name)
		}
		current = v
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, 0, fmt.Errorf("store: read schema_migrations: %w", err)
	}
	if current > latest {
		return current, current, fmt.Errorf("%w: database is at version %d, this program knows up to %d",
			ErrSchemaTooNew, current, latest)
	}

	for _, m := range steps[current:] {
		for _, stmt := range m.stmts {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return current, current, fmt.Errorf("store: migration %d (%s): %w", m.version, m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, now().UnixMilli()); err != nil {
			return current, current, fmt.Errorf("store: record migration %d: %w", m.version, err)
		}
		logger.LogAttrs(ctx, slog.LevelInfo, "store: schema migrated",
			slog.Int("version", m.version), slog.String("name", m.name))
	}
	if appID == 0 {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA application_id = %d`, applicationID)); err != nil {
			return current, current, fmt.Errorf("store: set application_id: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return current, current, fmt.Errorf("store: commit migration: %w", err)
	}
	return current, latest, nil
}

func ignoreTxDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
