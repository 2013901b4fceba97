package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Store is what the conference core needs from persistence. Implementations
// are safe for concurrent use. Every method that writes has committed the
// write durably when it returns nil.
//
// Affiliations and history are keyed by room name and do not require a saved
// Room: a room declared only in the configuration can still have persisted
// bans and history. DeleteRoom removes all three kinds of rows.
//
// Strings are stored verbatim: the store neither folds case nor normalises
// JIDs or URIs, so the core must hand it identities in canonical form.
// Times come back in UTC, truncated to the millisecond.
type Store interface {
	// Rooms returns every persisted room, sorted by name (byte order).
	Rooms(ctx context.Context) ([]Room, error)
	// Room returns the named room; ok is false (and err nil) if it is not
	// persisted.
	Room(ctx context.Context, name string) (r Room, ok bool, err error)
	// SaveRoom inserts or replaces the room's configuration and subject. A
	// zero UpdatedAt is set to the current time. On insert a zero CreatedAt is
	// set to the current time; on update the stored CreatedAt is kept and the
	// argument's is ignored.
	SaveRoom(ctx context.Context, r Room) error
	// DeleteRoom removes the room, its affiliations and its history. Deleting
	// a room that does not exist is not an error.
	DeleteRoom(ctx context.Context, name string) error
	// Affiliations returns the room's affiliations sorted by identity (byte
	// order); a room without any yields an empty slice.
	Affiliations(ctx context.Context, room string) ([]Affiliation, error)
	// SetAffiliation inserts or replaces the affiliation of a.Identity in
	// a.Room. Value AffNone deletes the row (a no-op if there is none). A zero
	// At is set to the current time.
	SetAffiliation(ctx context.Context, a Affiliation) error
	// AppendMessage appends m to its room's history and, in the same
	// transaction, trims that history to the newest keep messages ("newest"
	// means most recently appended, whatever m.At says). keep <= 0 stores
	// nothing and clears the room's history, exactly as "append, then keep the
	// newest 0" would. A zero m.At is set to the current time.
	AppendMessage(ctx context.Context, m Message, keep int) error
	// History returns the room's newest limit messages, oldest first.
	// limit <= 0 returns none.
	History(ctx context.Context, room string, limit int) ([]Message, error)
	// Ping reports whether the store is usable (readiness probes); ErrClosed
	// after Close.
	Ping(ctx context.Context) error
	// Close releases the store. Later calls return ErrClosed. Closing twice is
	// not an error.
	Close() error
}

// Room is a room's persisted configuration and subject.
type Room struct {
	Name        string // room name (JID localpart), the primary key; non-empty
	Title       string // muc#roomconfig_roomname
	Description string // muc#roomconfig_roomdesc

	Subject   string    // current subject, may be empty
	SubjectBy string    // nick or URI of who set it
	SubjectAt time.Time // when it was set; zero if never

	Persistent  bool
	Public      bool
	Moderated   bool
	MembersOnly bool
	Password    string // empty: no password
	MaxUsers    int    // 0: no limit; negative is invalid

	// Whois is WhoisModerators, WhoisAnyone, or empty (unset: the core
	// applies its default).
	Whois string

	HistoryLength        int  // messages sent to joiners; negative is invalid
	AllowPrivateMessages bool // occupants may send private messages
	AllowSubjectChange   bool // occupants (not only moderators) may change the subject

	CreatedAt time.Time // set by the store on first save if zero; then kept
	UpdatedAt time.Time // set by the store to "now" on save if zero
}

// Values of Room.Whois (muc#roomconfig_whois).
const (
	WhoisModerators = "moderators"
	WhoisAnyone     = "anyone"
)

// Affiliation is one entry of a room's affiliation list (XEP-0045 §5.2).
type Affiliation struct {
	Room string
	// Identity is a bare JID ("alice@example.com") or a SIP URI
	// ("sip:bob@example.com"), stored and compared verbatim.
	Identity string
	Value    string    // AffOwner, AffAdmin, AffMember, AffOutcast; AffNone only in SetAffiliation
	Nick     string    // reserved nick, optional (uniqueness is the core's job)
	Reason   string    // e.g. the ban reason
	Actor    string    // nick, JID or URI of who granted it
	At       time.Time // when; set by the store if zero
}

// Affiliation values.
const (
	AffOwner   = "owner"
	AffAdmin   = "admin"
	AffMember  = "member"
	AffOutcast = "outcast"
	// AffNone is accepted by SetAffiliation only: it deletes the row.
	AffNone = "none"
)

// Message is one persisted groupchat message.
//
// Subject is kept for messages that carry both a body and a subject; whether
// pure subject changes belong in history is the core's decision (XEP-0045
// sends the subject separately, so normally they do not). At least one of
// Body and Subject must be non-empty.
type Message struct {
	Room    string
	ID      string // stanza or origin id, may be empty
	Nick    string // sender's nick in the room
	FromJID string // sender's real JID or SIP URI, may be empty
	Body    string
	Subject string
	At      time.Time // set by the store if zero; UTC, millisecond precision
}

// Size limits, in bytes. Longer inputs are rejected with ErrInvalid.
const (
	MaxRoomNameLen = 1023      // a JID localpart's limit (RFC 7622)
	MaxIdentityLen = 3072      // bare JID (3×1023 + separators) or SIP URI
	MaxNickLen     = 1023      // a JID resourcepart's limit
	MaxShortLen    = 1024      // title, password, message ID
	MaxTextLen     = 64 * 1024 // body, subject, description, reason
)

var (
	// ErrInvalid marks input the store refuses: empty or over-long fields,
	// unknown enumeration values, invalid UTF-8, control characters in names.
	ErrInvalid = errors.New("store: invalid input")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("store: closed")
	// ErrSchemaTooNew means the database was written by a newer version of the
	// bridge; this version refuses to touch it.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this program")
	// ErrForeignDatabase means the SQLite file belongs to another application.
	ErrForeignDatabase = errors.New("store: not a bridge database")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// checkText validates free text: valid UTF-8, no NUL, at most max bytes.
func checkText(field, s string, max int) error {
	if len(s) > max {
		return invalid("%s is %d bytes, limit %d", field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return invalid("%s is not valid UTF-8", field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return invalid("%s contains NUL", field)
	}
	return nil
}

// checkName validates an identifier-like string: as checkText, plus no
// control characters or white space; empty only if allowEmpty.
func checkName(field, s string, max int, allowEmpty bool) error {
	if s == "" {
		if allowEmpty {
			return nil
		}
		return invalid("%s is empty", field)
	}
	if err := checkText(field, s, max); err != nil {
		return err
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == ' ' {
			return invalid("%s contains control character or space %U", field, r)
		}
	}
	return nil
}

func checkRoomName(s string) error { return checkName("room name", s, MaxRoomNameLen, false) }

func checkTime(field string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return invalid("%s year %d out of range", field, y)
	}
	return nil
}

func validateRoom(r Room) error {
	if err := checkRoomName(r.Name); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		val  string
		max  int
	}{
		{"title", r.Title, MaxShortLen},
		{"description", r.Description, MaxTextLen},
		{"subject", r.Subject, MaxTextLen},
		{"subject author", r.SubjectBy, MaxIdentityLen},
		{"password", r.Password, MaxShortLen},
	} {
		if err := checkText(f.name, f.val, f.max); err != nil {
			return err
		}
	}
	switch r.Whois {
	case "", WhoisModerators, WhoisAnyone:
	default:
		return invalid("whois %q (want %q or %q)", truncate(r.Whois), WhoisModerators, WhoisAnyone)
	}
	if r.MaxUsers < 0 {
		return invalid("max users %d is negative", r.MaxUsers)
	}
	if r.HistoryLength < 0 {
		return invalid("history length %d is negative", r.HistoryLength)
	}
	for _, t := range []struct {
		name string
		t    time.Time
	}{{"subject time", r.SubjectAt}, {"created time", r.CreatedAt}, {"updated time", r.UpdatedAt}} {
		if err := checkTime(t.name, t.t); err != nil {
			return err
		}
	}
	return nil
}

func validateAffiliation(a Affiliation) error {
	if err := checkRoomName(a.Room); err != nil {
		return err
	}
	if err := checkName("identity", a.Identity, MaxIdentityLen, false); err != nil {
		return err
	}
	switch a.Value {
	case AffOwner, AffAdmin, AffMember, AffOutcast, AffNone:
	default:
		return invalid("affiliation %q (want owner, admin, member, outcast or none)", truncate(a.Value))
	}
	if err := checkText("nick", a.Nick, MaxNickLen); err != nil {
		return err
	}
	if err := checkText("reason", a.Reason, MaxTextLen); err != nil {
		return err
	}
	if err := checkText("actor", a.Actor, MaxIdentityLen); err != nil {
		return err
	}
	return checkTime("affiliation time", a.At)
}

func validateMessage(m Message) error {
	if err := checkRoomName(m.Room); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		val  string
		max  int
	}{
		{"message id", m.ID, MaxShortLen},
		{"nick", m.Nick, MaxNickLen},
		{"sender", m.FromJID, MaxIdentityLen},
		{"body", m.Body, MaxTextLen},
		{"message subject", m.Subject, MaxTextLen},
	} {
		if err := checkText(f.name, f.val, f.max); err != nil {
			return err
		}
	}
	if m.Body == "" && m.Subject == "" {
		return invalid("message has neither body nor subject")
	}
	return checkTime("message time", m.At)
}

// truncate shortens s for error messages.
func truncate(s string) string {
	const n = 32
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// toMillis converts t to UTC unix milliseconds; ok is false for the zero time
// (stored as NULL).
func toMillis(t time.Time) (ms int64, ok bool) {
	if t.IsZero() {
		return 0, false
	}
	return t.UnixMilli(), true
}

// fromMillis is the inverse of toMillis.
func fromMillis(ms int64, ok bool) time.Time {
	if !ok {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// normTime is what a time looks like after a round trip through the store.
func normTime(t time.Time) time.Time { return fromMillis(toMillis(t)) }

// nowOr returns normTime(t), or the current time if t is zero.
func nowOr(t time.Time, now func() time.Time) time.Time {
	if t.IsZero() {
		t = now()
	}
	return normTime(t)
}
