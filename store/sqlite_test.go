package store

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixture writes a known state: two rooms, owners, a SIP-URI admin, outcasts
// (one JID, one SIP URI) and history in two rooms.
func writeFixture(t testing.TB, s Store) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.SaveRoom(ctx, fullRoom("team")))
	must(s.SaveRoom(ctx, lobbyRoom()))
	for _, a := range fixtureAffs() {
		must(s.SetAffiliation(ctx, a))
	}
	for i := range 60 {
		must(s.AppendMessage(ctx, Message{Room: "team", ID: fmt.Sprint(i), Nick: "alice", FromJID: "alice@example.com",
			Body: fmt.Sprint("message ", i), At: ts.Add(time.Duration(i) * time.Millisecond)}, 50))
	}
	must(s.AppendMessage(ctx, Message{Room: "lobby", ID: "l", Nick: "+4930", FromJID: "sip:+4930@example.com", Body: "hi", At: ts}, 50))
}

func lobbyRoom() Room {
	return Room{Name: "lobby", Subject: "Welcome", SubjectBy: "admin", SubjectAt: ts, CreatedAt: ts, UpdatedAt: ts}
}

func fixtureAffs() []Affiliation {
	return []Affiliation{
		{Room: "team", Identity: "alice@example.com", Value: AffOwner, Nick: "alice", At: ts},
		{Room: "team", Identity: "sip:bob@example.com", Value: AffAdmin, Actor: "alice@example.com", At: ts},
		{Room: "team", Identity: "eve@evil.example", Value: AffOutcast, Reason: "spam", Actor: "alice", At: ts},
		{Room: "team", Identity: "sip:mallory@evil.example", Value: AffOutcast, Reason: "noise", Actor: "sip:bob@example.com", At: ts},
		{Room: "lobby", Identity: "eve@evil.example", Value: AffOutcast, At: ts},
	}
}

// checkFixture asserts the state writeFixture left.
func checkFixture(t testing.TB, s Store) {
	t.Helper()
	rooms, err := s.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 2 || rooms[0].Name != "lobby" || rooms[1].Name != "team" {
		t.Fatalf("rooms = %+v", rooms)
	}
	if want := stored(fullRoom("team")); !reflect.DeepEqual(rooms[1], want) {
		t.Errorf("team:\n got %+v\nwant %+v", rooms[1], want)
	}
	if want := stored(lobbyRoom()); !reflect.DeepEqual(rooms[0], want) {
		t.Errorf("lobby:\n got %+v\nwant %+v", rooms[0], want)
	}
	for _, room := range []string{"team", "lobby"} {
		var want []Affiliation
		for _, a := range fixtureAffs() {
			if a.Room == room {
				a.At = normTime(a.At)
				want = append(want, a)
			}
		}
		got, err := s.Affiliations(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		sortAffs(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Affiliations(%s):\n got %+v\nwant %+v", room, got, want)
		}
	}
	h, err := s.History(ctx, "team", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 50 || h[0].ID != "10" || h[49].ID != "59" || h[49].Body != "message 59" ||
		h[49].At.UnixMilli() != ts.UnixMilli()+59 {
		t.Errorf("team history: %d messages, first %+v, last %+v", len(h), first(h), last(h))
	}
	if h, _ := s.History(ctx, "lobby", 100); len(h) != 1 || h[0].FromJID != "sip:+4930@example.com" {
		t.Errorf("lobby history = %+v", h)
	}
}

func sortAffs(a []Affiliation) {
	for i := range a {
		for j := i + 1; j < len(a); j++ {
			if a[j].Identity < a[i].Identity {
				a[i], a[j] = a[j], a[i]
			}
		}
	}
}

func first(h []Message) Message {
	if len(h) == 0 {
		return Message{}
	}
	return h[0]
}

func last(h []Message) Message {
	if len(h) == 0 {
		return Message{}
	}
	return h[len(h)-1]
}

// TestFixtureOnMemory makes sure the fixture check itself passes on the
// reference implementation.
func TestFixtureOnMemory(t *testing.T) {
	s := NewMemory()
	writeFixture(t, s)
	checkFixture(t, s)
}

func TestSQLiteRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "nested", "bridge.db") // parent dirs do not exist yet
	s, err := OpenSQLite(ctx, path, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	writeFixture(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // reopen twice: the second re-open is of an already migrated, checkpointed file
		s, err = OpenSQLite(ctx, path, discardLogger())
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		checkFixture(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("database file mode %v, want private (0600)", perm)
	}
}

// TestSQLiteSecondHandle: writes are visible to another handle on the same
// file without Close (they are committed, not buffered in the first handle).
func TestSQLiteSecondHandle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bridge.db")
	a := openTestSQLite(t, path)
	writeFixture(t, a)
	b := openTestSQLite(t, path)
	checkFixture(t, b)
	// And back: a write through b is seen by a.
	if err := b.SetAffiliation(ctx, Affiliation{Room: "team", Identity: "eve@evil.example", Value: AffNone}); err != nil {
		t.Fatal(err)
	}
	affs, err := a.Affiliations(ctx, "team")
	if err != nil || len(affs) != 3 {
		t.Errorf("a sees %d affiliations after b's unban (err %v), want 3", len(affs), err)
	}
}

// TestSQLiteTwoHandlesWriting: two handles (as two processes would) append to
// the same file at once; busy_timeout and BEGIN IMMEDIATE make every write
// succeed.
func TestSQLiteTwoHandlesWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bridge.db")
	handles := []*SQLite{openTestSQLite(t, path), openTestSQLite(t, path)}
	const per = 40
	var wg sync.WaitGroup
	errc := make(chan error, 2*len(handles))
	for hi, h := range handles {
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					if err := h.AppendMessage(ctx, Message{Room: "r", ID: fmt.Sprintf("%d.%d.%d", hi, g, i), Body: "b"}, 1000); err != nil {
						errc <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	h, err := handles[0].History(ctx, "r", 1000)
	if err != nil || len(h) != 4*per {
		t.Fatalf("History = %d messages, %v; want %d", len(h), err, 4*per)
	}
}

// TestSQLiteSurvivesKill writes from a child process that is then killed with
// SIGKILL, never having closed the store; everything it reported written is
// there.
func TestSQLiteSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "bridge.db")
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, os.Args[0], "-test.run=^TestKillHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "STORE_KILL_HELPER_DB="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	ready := false
	for sc.Scan() {
		if sc.Text() == "fixture written" {
			ready = true
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !ready {
		t.Fatal("helper did not report the fixture written")
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Logf("no WAL left behind (%v); the test still checks the data", err)
	}
	s := openTestSQLite(t, path)
	checkFixture(t, s)
}

// TestKillHelper is the child of TestSQLiteSurvivesKill; it does nothing in a
// normal run.
func TestKillHelper(t *testing.T) {
	path := os.Getenv("STORE_KILL_HELPER_DB")
	if path == "" {
		t.Skip("helper process only")
	}
	s, err := OpenSQLite(ctx, path, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	writeFixture(t, s)
	fmt.Println("fixture written")
	time.Sleep(time.Minute) // killed long before; never Close
	t.Fatal("not killed")
}

func TestSQLitePragmasOnEveryConnection(t *testing.T) {
	s := openTestSQLite(t, filepath.Join(t.TempDir(), "bridge.db"))
	// Hold maxOpenConns connections at once so each is a distinct one.
	var conns []*sql.Conn
	for range maxOpenConns {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		for _, p := range []struct {
			pragma string
			want   string
		}{
			{"journal_mode", "wal"},
			{"synchronous", "2"}, // FULL
			{"foreign_keys", "1"},
			{"busy_timeout", fmt.Sprint(busyTimeout.Milliseconds())},
		} {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != p.want {
				t.Errorf("conn %d: PRAGMA %s = %s, want %s", i, p.pragma, got, p.want)
			}
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

func TestSQLitePathsWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?x=1#frag%20")
	path := filepath.Join(dir, "my db?.sqlite")
	s, err := OpenSQLite(ctx, path, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRoom(ctx, Room{Name: "r"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the literal path: %v", err)
	}
	s = openTestSQLite(t, path)
	if _, ok, err := s.Room(ctx, "r"); !ok || err != nil {
		t.Errorf("room lost on reopen: %v %v", ok, err)
	}
}

func TestOpenSQLiteBadPaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db"} {
		if _, err := OpenSQLite(ctx, p, discardLogger()); !errors.Is(err, ErrInvalid) {
			t.Errorf("OpenSQLite(%q) = %v, want ErrInvalid", p, err)
		}
	}
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSQLite(ctx, filepath.Join(blocker, "sub", "db"), discardLogger()); err == nil {
		t.Error("OpenSQLite under a regular file succeeded")
	}
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database\n", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := OpenSQLite(ctx, garbage, discardLogger()); err == nil {
		s.Close()
		t.Error("OpenSQLite on a garbage file succeeded")
	}
}

// rawDB opens path with the store's DSN but without migrating.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type migrationRow struct {
	Version   int
	Name      string
	AppliedAt int64
}

func migrationRows(t *testing.T, db *sql.DB) []migrationRow {
	t.Helper()
	rows, err := db.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []migrationRow
	for rows.Next() {
		var r migrationRow
		if err := rows.Scan(&r.Version, &r.Name, &r.AppliedAt); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestMigrationsFreshAndIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bridge.db")
	s, err := OpenSQLite(ctx, path, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db := rawDB(t, path)
	first := migrationRows(t, db)
	if len(first) != len(schemaMigrations()) || first[0].Version != 1 || first[0].AppliedAt == 0 {
		t.Fatalf("schema_migrations after fresh open = %+v", first)
	}
	var appID int64
	if err := db.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&appID); err != nil || appID != applicationID {
		t.Errorf("application_id = %#x, %v", appID, err)
	}
	var schemaBefore string
	schemaSQL := `SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_schema ORDER BY name)`
	if err := db.QueryRowContext(ctx, schemaSQL).Scan(&schemaBefore); err != nil {
		t.Fatal(err)
	}

	s, err = OpenSQLite(ctx, path, discardLogger())
	if err != nil {
		t.Fatalf("re-open: %v", err)
	}
	s.Close()
	if again := migrationRows(t, db); !reflect.DeepEqual(again, first) {
		t.Errorf("re-open changed schema_migrations:\n%+v\n%+v", first, again)
	}
	var schemaAfter string
	if err := db.QueryRowContext(ctx, schemaSQL).Scan(&schemaAfter); err != nil {
		t.Fatal(err)
	}
	if schemaAfter != schemaBefore {
		t.Error("re-open changed the schema")
	}
}

func TestMigrationTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bridge.db")
	s, err := OpenSQLite(ctx, path, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db := rawDB(t, path)
	next := len(schemaMigrations()) + 1
	if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, 'from the future', 0)`, next); err != nil {
		t.Fatal(err)
	}
	_, err = OpenSQLite(ctx, path, discardLogger())
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("open of newer db = %v, want ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprint("version ", next)) {
		t.Errorf("error %q does not name the version", err)
	}
}

func TestMigrationForeignDatabase(t *testing.T) {
	dir := t.TempDir()
	t.Run("application_id", func(t *testing.T) {
		path := filepath.Join(dir, "other.db")
		db := rawDB(t, path)
		if _, err := db.ExecContext(ctx, `PRAGMA application_id = 42`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if _, err := OpenSQLite(ctx, path, discardLogger()); !errors.Is(err, ErrForeignDatabase) {
			t.Errorf("err = %v, want ErrForeignDatabase", err)
		}
	})
	t.Run("migration name", func(t *testing.T) {
		path := filepath.Join(dir, "renamed.db")
		s, err := OpenSQLite(ctx, path, discardLogger())
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		db := rawDB(t, path)
		if _, err := db.ExecContext(ctx, `UPDATE schema_migrations SET name = 'something else' WHERE version = 1`); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenSQLite(ctx, path, discardLogger()); !errors.Is(err, ErrForeignDatabase) {
			t.Errorf("err = %v, want ErrForeignDatabase", err)
		}
	})
}

// TestMigrateSteps exercises the runner with its own step lists: only pending
// steps run, and a failing step leaves the database exactly as it was.
func TestMigrateSteps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	db := rawDB(t, path)
	now := func() time.Time { return ts }
	steps := []migration{
		{1, "a", []string{`CREATE TABLE a (x INTEGER)`}},
		{2, "b", []string{`CREATE TABLE b (x INTEGER)`, `INSERT INTO b VALUES (1)`}},
	}
	if from, to, err := migrate(ctx, db, steps, now, discardLogger()); err != nil || from != 0 || to != 2 {
		t.Fatalf("first migrate = %d→%d, %v", from, to, err)
	}
	steps = append(steps, migration{3, "c", []string{`INSERT INTO b VALUES (3)`}})
	if from, to, err := migrate(ctx, db, steps, now, discardLogger()); err != nil || from != 2 || to != 3 {
		t.Fatalf("second migrate = %d→%d, %v", from, to, err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM b`).Scan(&n); err != nil || n != 2 {
		t.Errorf("b has %d rows (%v), want 2: step 2 must not run twice", n, err)
	}
	if from, to, err := migrate(ctx, db, steps, now, discardLogger()); err != nil || from != 3 || to != 3 {
		t.Fatalf("no-op migrate = %d→%d, %v", from, to, err)
	}

	bad := append(steps,
		migration{4, "d", []string{`CREATE TABLE d (x INTEGER)`}},
		migration{5, "e", []string{`INSERT INTO b VALUES (5)`, `THIS IS NOT SQL`}},
	)
	if _, _, err := migrate(ctx, db, bad, now, discardLogger()); err == nil || !strings.Contains(err.Error(), "migration 5") {
		t.Fatalf("failing migrate = %v, want an error naming migration 5", err)
	}
	if rows := migrationRows(t, db); len(rows) != 3 {
		t.Errorf("after failed migrate, %d versions recorded, want 3", len(rows))
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'd'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("table d exists after rolled-back migration (%d, %v)", n, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM b`).Scan(&n); err != nil || n != 2 {
		t.Errorf("b has %d rows after rolled-back migration, want 2", n)
	}

	gap := []migration{{1, "a", nil}, {3, "c", nil}}
	if _, _, err := migrate(ctx, db, gap, now, discardLogger()); err == nil {
		t.Error("migrate accepted steps with a gap")
	}
	if _, _, err := migrate(ctx, db, steps[:2], now, discardLogger()); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("migrate with fewer steps = %v, want ErrSchemaTooNew", err)
	}
}

func TestSQLiteCloseWaitsForWriters(t *testing.T) {
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "bridge.db"), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				err := s.AppendMessage(ctx, Message{Room: "r", ID: fmt.Sprint(g, ".", i), Body: "b"}, 1000)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		n := ok
		mu.Unlock()
		if n >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d appends in a minute", n)
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	// Every append that returned nil is on disk.
	s2 := openTestSQLite(t, s.Path())
	h, err := s2.History(ctx, "r", 10000)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != ok {
		t.Errorf("%d messages on disk, %d appends acknowledged", len(h), ok)
	}
}
