package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// Account is one user of the embedded service: the JID NAME@xmpp.host and
// the SIP AOR sip:NAME@sip.domain with one password. Only values derived
// from the password are kept: the SIP digest HA1 for the realm (MD5 and
// SHA-256) and the SCRAM salted passwords (SHA-1 and SHA-256) with their
// salt and iteration count.
type Account struct {
	Name         string // localpart, the primary key
	Realm        string // the digest realm the HA1 values are for
	HA1MD5       string // hex MD5(name:realm:password)
	HA1SHA256    string // hex SHA-256(name:realm:password)
	Salt         []byte
	Iterations   int
	SaltedSHA1   []byte // PBKDF2-HMAC-SHA-1(password, salt, iterations)
	SaltedSHA256 []byte // PBKDF2-HMAC-SHA-256(password, salt, iterations)
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// RosterItem is one contact in an account's roster (RFC 6121 §2.1).
type RosterItem struct {
	Owner        string // account name
	JID          string // bare JID of the contact
	Name         string
	Subscription string // none, to, from, both
	Ask          bool   // a subscription request is pending (ask='subscribe')
	Groups       []string
}

// AccountStore keeps the embedded service's accounts, rosters and vCards.
// *SQLite implements it; every write is durable when it returns nil.
type AccountStore interface {
	// Account returns the named account; ok is false if there is none.
	Account(ctx context.Context, name string) (a Account, ok bool, err error)
	// Accounts lists every account sorted by name.
	Accounts(ctx context.Context) ([]Account, error)
	// SaveAccount inserts or replaces an account (CreatedAt is kept on
	// update).
	SaveAccount(ctx context.Context, a Account) error
	// DeleteAccount removes the account, its roster and its vCard. ok is
	// false if there was no such account.
	DeleteAccount(ctx context.Context, name string) (ok bool, err error)
	// VCard returns the stored vCard XML (the vCard element) of an account.
	VCard(ctx context.Context, name string) (xml []byte, ok bool, err error)
	// SaveVCard stores an account's vCard XML.
	SaveVCard(ctx context.Context, name string, xml []byte) error
	// Roster returns an account's roster sorted by JID.
	Roster(ctx context.Context, owner string) ([]RosterItem, error)
	// SaveRosterItem inserts or replaces one roster item.
	SaveRosterItem(ctx context.Context, it RosterItem) error
	// DeleteRosterItem removes one roster item (no error if absent).
	DeleteRosterItem(ctx context.Context, owner, jid string) error
	// PendingSubscriptions returns the bare JIDs whose subscription
	// requests to owner await an answer (RFC 6121 §3.1.3), oldest first.
	PendingSubscriptions(ctx context.Context, owner string) ([]string, error)
	// AddPendingSubscription records a request from jid to owner; it is a
	// no-op if one is recorded already.
	AddPendingSubscription(ctx context.Context, owner, jid string) error
	// DeletePendingSubscription forgets the request (no error if absent).
	DeletePendingSubscription(ctx context.Context, owner, jid string) error
}

var _ AccountStore = (*SQLite)(nil)

// accountsMigration creates the tables of AccountStore.
func accountsMigration(version int) migration {
	return migration{version, "accounts, rosters, vcards", []string{
		`CREATE TABLE accounts (
			name          TEXT    NOT NULL PRIMARY KEY,
			realm         TEXT    NOT NULL,
			ha1_md5       TEXT    NOT NULL,
			ha1_sha256    TEXT    NOT NULL,
			salt          BLOB    NOT NULL,
			iterations    INTEGER NOT NULL CHECK (iterations > 0),
			salted_sha1   BLOB    NOT NULL,
			salted_sha256 BLOB    NOT NULL,
			created_at    INTEGER NOT NULL,
			updated_at    INTEGER NOT NULL
		) STRICT`,
		`CREATE TABLE roster (
			owner        TEXT    NOT NULL,
			jid          TEXT    NOT NULL,
			name         TEXT    NOT NULL DEFAULT '',
			subscription TEXT    NOT NULL DEFAULT 'none' CHECK (subscription IN ('none', 'to', 'from', 'both')),
			ask          INTEGER NOT NULL DEFAULT 0 CHECK (ask IN (0, 1)),
			groups       TEXT    NOT NULL DEFAULT '',
			PRIMARY KEY (owner, jid)
		) STRICT, WITHOUT ROWID`,
		`CREATE TABLE vcards (
			name TEXT NOT NULL PRIMARY KEY,
			xml  BLOB NOT NULL
		) STRICT`,
		`CREATE TABLE pending_subscriptions (
			owner TEXT    NOT NULL,
			jid   TEXT    NOT NULL,
			at    INTEGER NOT NULL,
			PRIMARY KEY (owner, jid)
		) STRICT, WITHOUT ROWID`,
	}}
}

const accountColumns = `name, realm, ha1_md5, ha1_sha256, salt, iterations, salted_sha1, salted_sha256, created_at, updated_at`

func scanAccount(sc scanner) (Account, error) {
	var a Account
	var created, updated int64
	err := sc.Scan(&a.Name, &a.Realm, &a.HA1MD5, &a.HA1SHA256, &a.Salt, &a.Iterations, &a.SaltedSHA1, &a.SaltedSHA256, &created, &updated)
	a.CreatedAt = time.UnixMilli(created).UTC()
	a.UpdatedAt = time.UnixMilli(updated).UTC()
	return a, err
}

// Account implements AccountStore.
func (s *SQLite) Account(ctx context.Context, name string) (Account, bool, error) {
	if s.closed.Load() {
		return Account{}, false, ErrClosed
	}
	a, err := scanAccount(s.db.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, false, nil
	}
	if err != nil {
		return Account{}, false, s.fail("account", err)
	}
	return a, true, nil
}

// Accounts implements AccountStore.
func (s *SQLite) Accounts(ctx context.Context) ([]Account, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY name`)
	if err != nil {
		return nil, s.fail("accounts", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, s.fail("accounts", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("accounts", err)
	}
	return out, nil
}

// SaveAccount implements AccountStore.
func (s *SQLite) SaveAccount(ctx context.Context, a Account) error {
	if a.Name == "" || a.Iterations <= 0 {
		return invalid("account %q: empty name or no iterations", a.Name)
	}
	now := s.now().UnixMilli()
	return s.withTx(ctx, "save account", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO accounts (`+accountColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET realm = excluded.realm, ha1_md5 = excluded.ha1_md5,
			ha1_sha256 = excluded.ha1_sha256, salt = excluded.salt, iterations = excluded.iterations,
			salted_sha1 = excluded.salted_sha1, salted_sha256 = excluded.salted_sha256, updated_at = excluded.updated_at`,
			a.Name, a.Realm, a.HA1MD5, a.HA1SHA256, a.Salt, a.Iterations, a.SaltedSHA1, a.SaltedSHA256, now, now)
		return err
	})
}

// DeleteAccount implements AccountStore.
func (s *SQLite) DeleteAccount(ctx context.Context, name string) (bool, error) {
	var n int64
	err := s.withTx(ctx, "delete account", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM roster WHERE owner = ?`, name); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pending_subscriptions WHERE owner = ?`, name); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM vcards WHERE name = ?`, name)
		return err
	})
	return n > 0, err
}

// VCard implements AccountStore.
func (s *SQLite) VCard(ctx context.Context, name string) ([]byte, bool, error) {
	if s.closed.Load() {
		return nil, false, ErrClosed
	}
	var x []byte
	err := s.db.QueryRowContext(ctx, `SELECT xml FROM vcards WHERE name = ?`, name).Scan(&x)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.fail("vcard", err)
	}
	return x, true, nil
}

// SaveVCard implements AccountStore.
func (s *SQLite) SaveVCard(ctx context.Context, name string, x []byte) error {
	return s.withTx(ctx, "save vcard", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO vcards (name, xml) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET xml = excluded.xml`, name, x)
		return err
	})
}

// Roster implements AccountStore.
func (s *SQLite) Roster(ctx context.Context, owner string) ([]RosterItem, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	rows, err := s.db.QueryContext(ctx, `SELECT jid, name, subscription, ask, groups FROM roster WHERE owner = ? ORDER BY jid`, owner)
	if err != nil {
		return nil, s.fail("roster", err)
	}
	defer rows.Close()
	var out []RosterItem
	for rows.Next() {
		it := RosterItem{Owner: owner}
		var ask int
		var groups string
		if err := rows.Scan(&it.JID, &it.Name, &it.Subscription, &ask, &groups); err != nil {
			return nil, s.fail("roster", err)
		}
		it.Ask = ask == 1
		it.Groups = splitGroups(groups)
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("roster", err)
	}
	return out, nil
}

// SaveRosterItem implements AccountStore.
func (s *SQLite) SaveRosterItem(ctx context.Context, it RosterItem) error {
	if it.Owner == "" || it.JID == "" {
		return invalid("roster item without owner or jid")
	}
	sub := it.Subscription
	if sub == "" {
		sub = "none"
	}
	ask := 0
	if it.Ask {
		ask = 1
	}
	return s.withTx(ctx, "save roster item", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO roster (owner, jid, name, subscription, ask, groups) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (owner, jid) DO UPDATE SET name = excluded.name, subscription = excluded.subscription,
			ask = excluded.ask, groups = excluded.groups`, it.Owner, it.JID, it.Name, sub, ask, joinGroups(it.Groups))
		return err
	})
}

// DeleteRosterItem implements AccountStore.
func (s *SQLite) DeleteRosterItem(ctx context.Context, owner, jid string) error {
	return s.withTx(ctx, "delete roster item", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM roster WHERE owner = ? AND jid = ?`, owner, jid)
		return err
	})
}

// PendingSubscriptions implements AccountStore.
func (s *SQLite) PendingSubscriptions(ctx context.Context, owner string) ([]string, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	rows, err := s.db.QueryContext(ctx, `SELECT jid FROM pending_subscriptions WHERE owner = ? ORDER BY at, jid`, owner)
	if err != nil {
		return nil, s.fail("pending subscriptions", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var j string
		if err := rows.Scan(&j); err != nil {
			return nil, s.fail("pending subscriptions", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("pending subscriptions", err)
	}
	return out, nil
}

// AddPendingSubscription implements AccountStore.
func (s *SQLite) AddPendingSubscription(ctx context.Context, owner, jid string) error {
	now := s.now().UnixMilli()
	return s.withTx(ctx, "add pending subscription", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO pending_subscriptions (owner, jid, at) VALUES (?, ?, ?)
			ON CONFLICT (owner, jid) DO NOTHING`, owner, jid, now)
		return err
	})
}

// DeletePendingSubscription implements AccountStore.
func (s *SQLite) DeletePendingSubscription(ctx context.Context, owner, jid string) error {
	return s.withTx(ctx, "delete pending subscription", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM pending_subscriptions WHERE owner = ? AND jid = ?`, owner, jid)
		return err
	})
}

// Groups are stored joined by a newline, which a group name cannot contain
// (the server refuses it).
func joinGroups(g []string) string { return strings.Join(g, "\n") }

func splitGroups(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
