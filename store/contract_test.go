package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// implementations lists every Store, so one contract covers them all.
func implementations() []struct {
	name string
	open func(t testing.TB) Store
} {
	return []struct {
		name string
		open func(t testing.TB) Store
	}{
		{"Memory", func(t testing.TB) Store {
			s := NewMemory()
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"SQLite", func(t testing.TB) Store {
			return openTestSQLite(t, filepath.Join(t.TempDir(), "bridge.db"))
		}},
	}
}

func openTestSQLite(t testing.TB, path string) *SQLite {
	t.Helper()
	s, err := OpenSQLite(context.Background(), path, discardLogger())
	if err != nil {
		t.Fatalf("OpenSQLite(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// TestContract runs the shared Store contract against every implementation.
func TestContract(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"RoomRoundTrip", testRoomRoundTrip},
		{"RoomsSorted", testRoomsSorted},
		{"SaveRoomUpsert", testSaveRoomUpsert},
		{"SaveRoomDefaultsTimes", testSaveRoomDefaultsTimes},
		{"DeleteRoom", testDeleteRoom},
		{"Affiliations", testAffiliations},
		{"AffiliationNoneDeletes", testAffiliationNoneDeletes},
		{"HistoryTrim", testHistoryTrim},
		{"HistoryOrderIsAppendOrder", testHistoryOrderIsAppendOrder},
		{"HistoryRoundTrip", testHistoryRoundTrip},
		{"KeepZeroClears", testKeepZeroClears},
		{"Invalid", testInvalid},
		{"SizeLimits", testSizeLimits},
		{"CanceledContext", testCanceledContext},
		{"Concurrent", testConcurrent},
		{"Closed", testClosed},
	}
	for _, impl := range implementations() {
		t.Run(impl.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, impl.open(t)) })
			}
		})
	}
}

var ctx = context.Background()

// ts is a fixed time with sub-millisecond digits in a non-UTC zone.
var ts = time.Date(2025, 11, 25, 18, 30, 15, 123456789, time.FixedZone("CET", 3600))

func fullRoom(name string) Room {
	return Room{
		Name: name, Title: "Weekly sync", Description: "Ünïcode\ndescription",
		Subject: "Agenda: budget", SubjectBy: "sip:alice@example.com", SubjectAt: ts,
		Persistent: true, Public: true, Moderated: true, MembersOnly: true,
		Password: "s3cret", MaxUsers: 30, Whois: WhoisAnyone, HistoryLength: 25,
		AllowPrivateMessages: true, AllowSubjectChange: true,
		CreatedAt: ts.Add(-time.Hour), UpdatedAt: ts.Add(time.Minute),
	}
}

// stored is what r looks like after a round trip.
func stored(r Room) Room { return normRoom(r) }

func mustSaveRoom(t *testing.T, s Store, r Room) {
	t.Helper()
	if err := s.SaveRoom(ctx, r); err != nil {
		t.Fatalf("SaveRoom(%q): %v", r.Name, err)
	}
}

func mustRoom(t *testing.T, s Store, name string) Room {
	t.Helper()
	r, ok, err := s.Room(ctx, name)
	if err != nil || !ok {
		t.Fatalf("Room(%q) = ok %v, err %v; want it present", name, ok, err)
	}
	return r
}

func testRoomRoundTrip(t *testing.T, s Store) {
	want := fullRoom("team")
	mustSaveRoom(t, s, want)
	got := mustRoom(t, s, "team")
	if !reflect.DeepEqual(got, stored(want)) {
		t.Fatalf("Room round trip:\n got %+v\nwant %+v", got, stored(want))
	}
	if got.SubjectAt.Location() != time.UTC || got.SubjectAt.Nanosecond() != 123000000 {
		t.Errorf("SubjectAt = %v, want UTC truncated to ms", got.SubjectAt)
	}
	if !got.SubjectAt.Equal(ts.Truncate(time.Millisecond)) {
		t.Errorf("SubjectAt = %v, want instant %v", got.SubjectAt, ts.Truncate(time.Millisecond))
	}
	// A zero-valued room (but for name and times) round-trips too.
	zero := Room{Name: "empty", CreatedAt: ts, UpdatedAt: ts}
	mustSaveRoom(t, s, zero)
	if got := mustRoom(t, s, "empty"); !reflect.DeepEqual(got, stored(zero)) {
		t.Errorf("zero room:\n got %+v\nwant %+v", got, stored(zero))
	}
	if _, ok, err := s.Room(ctx, "nosuch"); ok || err != nil {
		t.Errorf("Room(nosuch) = ok %v, err %v; want false, nil", ok, err)
	}
}

func testRoomsSorted(t *testing.T, s Store) {
	rooms, err := s.Rooms(ctx)
	if err != nil || rooms == nil || len(rooms) != 0 {
		t.Fatalf("Rooms on empty store = %v, %v; want empty non-nil slice", rooms, err)
	}
	for _, n := range []string{"zeta", "alpha", "mid.room", "a-b", "a_b"} {
		mustSaveRoom(t, s, Room{Name: n, Title: "T " + n})
	}
	rooms, err = s.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rooms {
		names = append(names, r.Name)
		if r.Title != "T "+r.Name {
			t.Errorf("room %q has title %q", r.Name, r.Title)
		}
	}
	want := []string{"a-b", "a_b", "alpha", "mid.room", "zeta"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("Rooms names = %v, want %v", names, want)
	}
}

func testSaveRoomUpsert(t *testing.T, s Store) {
	first := fullRoom("team")
	mustSaveRoom(t, s, first)
	second := Room{
		Name: "team", Title: "Renamed", Subject: "New subject", SubjectBy: "bob",
		SubjectAt: ts.Add(time.Hour), Whois: WhoisModerators, MaxUsers: 5,
		CreatedAt: ts.Add(100 * time.Hour), // ignored on update
		UpdatedAt: ts.Add(2 * time.Hour),
	}
	mustSaveRoom(t, s, second)
	want := stored(second)
	want.CreatedAt = stored(first).CreatedAt
	if got := mustRoom(t, s, "team"); !reflect.DeepEqual(got, want) {
		t.Errorf("after update:\n got %+v\nwant %+v", got, want)
	}
	if rooms, _ := s.Rooms(ctx); len(rooms) != 1 {
		t.Errorf("upsert made %d rooms, want 1", len(rooms))
	}
}

func testSaveRoomDefaultsTimes(t *testing.T, s Store) {
	before := time.Now().Truncate(time.Millisecond)
	mustSaveRoom(t, s, Room{Name: "r"})
	after := time.Now()
	got := mustRoom(t, s, "r")
	for name, v := range map[string]time.Time{"CreatedAt": got.CreatedAt, "UpdatedAt": got.UpdatedAt} {
		if v.Before(before) || v.After(after) || v.Location() != time.UTC {
			t.Errorf("%s = %v, want UTC within [%v, %v]", name, v, before, after)
		}
	}
	if !got.SubjectAt.IsZero() {
		t.Errorf("SubjectAt = %v, want zero (never set)", got.SubjectAt)
	}
	created := got.CreatedAt
	mustSaveRoom(t, s, Room{Name: "r", Title: "x"})
	if got := mustRoom(t, s, "r"); !got.CreatedAt.Equal(created) || got.Title != "x" {
		t.Errorf("second save: CreatedAt %v (want %v), Title %q", got.CreatedAt, created, got.Title)
	}
}

func mustSetAff(t *testing.T, s Store, a Affiliation) {
	t.Helper()
	if err := s.SetAffiliation(ctx, a); err != nil {
		t.Fatalf("SetAffiliation(%+v): %v", a, err)
	}
}

func mustAppend(t *testing.T, s Store, m Message, keep int) {
	t.Helper()
	if err := s.AppendMessage(ctx, m, keep); err != nil {
		t.Fatalf("AppendMessage(%+v, %d): %v", m, keep, err)
	}
}

func mustHistory(t *testing.T, s Store, room string, limit int) []Message {
	t.Helper()
	h, err := s.History(ctx, room, limit)
	if err != nil {
		t.Fatalf("History(%q, %d): %v", room, limit, err)
	}
	if h == nil {
		t.Fatalf("History(%q, %d) = nil, want non-nil slice", room, limit)
	}
	return h
}

func mustAffs(t *testing.T, s Store, room string) []Affiliation {
	t.Helper()
	a, err := s.Affiliations(ctx, room)
	if err != nil {
		t.Fatalf("Affiliations(%q): %v", room, err)
	}
	if a == nil {
		t.Fatalf("Affiliations(%q) = nil, want non-nil slice", room)
	}
	return a
}

func ids(h []Message) []string {
	out := make([]string, len(h))
	for i, m := range h {
		out[i] = m.ID
	}
	return out
}

func testDeleteRoom(t *testing.T, s Store) {
	for _, room := range []string{"doomed", "kept"} {
		mustSaveRoom(t, s, Room{Name: room})
		mustSetAff(t, s, Affiliation{Room: room, Identity: "eve@example.com", Value: AffOutcast, At: ts})
		mustAppend(t, s, Message{Room: room, ID: "1", Body: "hi", At: ts}, 10)
	}
	if err := s.DeleteRoom(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Room(ctx, "doomed"); ok {
		t.Error("room survived DeleteRoom")
	}
	if a := mustAffs(t, s, "doomed"); len(a) != 0 {
		t.Errorf("affiliations survived DeleteRoom: %+v", a)
	}
	if h := mustHistory(t, s, "doomed", 10); len(h) != 0 {
		t.Errorf("history survived DeleteRoom: %+v", h)
	}
	mustRoom(t, s, "kept")
	if len(mustAffs(t, s, "kept")) != 1 || len(mustHistory(t, s, "kept", 10)) != 1 {
		t.Error("DeleteRoom touched another room")
	}
	if err := s.DeleteRoom(ctx, "never-existed"); err != nil {
		t.Errorf("DeleteRoom(unknown) = %v, want nil", err)
	}
	// Affiliations and history of a room that was never saved are deleted too.
	mustSetAff(t, s, Affiliation{Room: "configonly", Identity: "x@y", Value: AffMember})
	mustAppend(t, s, Message{Room: "configonly", Body: "b"}, 5)
	if err := s.DeleteRoom(ctx, "configonly"); err != nil {
		t.Fatal(err)
	}
	if len(mustAffs(t, s, "configonly")) != 0 || len(mustHistory(t, s, "configonly", 5)) != 0 {
		t.Error("DeleteRoom left rows of an unsaved room")
	}
}

func testAffiliations(t *testing.T, s Store) {
	if a := mustAffs(t, s, "team"); len(a) != 0 {
		t.Fatalf("fresh room has affiliations %+v", a)
	}
	// No saved Room is needed.
	in := []Affiliation{
		{Room: "team", Identity: "sip:bob@example.com", Value: AffAdmin, Actor: "owner@example.com", At: ts},
		{Room: "team", Identity: "alice@example.com", Value: AffOwner, Nick: "Alice", At: ts.Add(time.Second)},
		{Room: "team", Identity: "Alice@Example.com", Value: AffMember, At: ts}, // verbatim: a distinct identity
		{Room: "team", Identity: "eve@evil.example", Value: AffOutcast, Reason: "spam ✉", Actor: "sip:bob@example.com", At: ts},
		{Room: "other", Identity: "alice@example.com", Value: AffMember, At: ts},
	}
	for _, a := range in {
		mustSetAff(t, s, a)
	}
	norm := func(a Affiliation) Affiliation { a.At = normTime(a.At); return a }
	want := []Affiliation{norm(in[2]), norm(in[1]), norm(in[3]), norm(in[0])} // byte order: 'A' < 'a' < 'e' < 's'
	if got := mustAffs(t, s, "team"); !reflect.DeepEqual(got, want) {
		t.Fatalf("Affiliations(team):\n got %+v\nwant %+v", got, want)
	}
	if got := mustAffs(t, s, "other"); len(got) != 1 || got[0].Identity != "alice@example.com" {
		t.Errorf("Affiliations(other) = %+v", got)
	}

	// Upsert: a member becomes an outcast; all fields are replaced.
	ban := Affiliation{Room: "team", Identity: "Alice@Example.com", Value: AffOutcast, Reason: "bye", Actor: "alice@example.com"}
	before := time.Now().Truncate(time.Millisecond)
	mustSetAff(t, s, ban)
	after := time.Now()
	got := mustAffs(t, s, "team")
	if len(got) != 4 {
		t.Fatalf("upsert changed count to %d", len(got))
	}
	g := got[0]
	if g.Value != AffOutcast || g.Reason != "bye" || g.Actor != "alice@example.com" || g.Nick != "" {
		t.Errorf("after upsert: %+v", g)
	}
	if g.At.Before(before) || g.At.After(after) || g.At.Location() != time.UTC {
		t.Errorf("zero At became %v, want now in UTC", g.At)
	}
}

func testAffiliationNoneDeletes(t *testing.T, s Store) {
	mustSetAff(t, s, Affiliation{Room: "team", Identity: "eve@evil.example", Value: AffOutcast})
	mustSetAff(t, s, Affiliation{Room: "team", Identity: "bob@example.com", Value: AffMember})
	mustSetAff(t, s, Affiliation{Room: "team", Identity: "eve@evil.example", Value: AffNone})
	got := mustAffs(t, s, "team")
	if len(got) != 1 || got[0].Identity != "bob@example.com" {
		t.Errorf("after none: %+v, want only bob", got)
	}
	// Removing what is not there is fine, and touches nothing else.
	mustSetAff(t, s, Affiliation{Room: "team", Identity: "nobody@example.com", Value: AffNone})
	mustSetAff(t, s, Affiliation{Room: "ghost", Identity: "nobody@example.com", Value: AffNone})
	if got := mustAffs(t, s, "team"); len(got) != 1 {
		t.Errorf("none on absent identity changed list: %+v", got)
	}
}

func testHistoryTrim(t *testing.T, s Store) {
	type step struct {
		appends int // messages appended in this step
		keep    int
		limit   int
		want    []string // IDs returned by History(limit) after the step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"under keep", []step{{appends: 3, keep: 5, limit: 10, want: []string{"0", "1", "2"}}}},
		{"exactly keep", []step{{appends: 5, keep: 5, limit: 10, want: []string{"0", "1", "2", "3", "4"}}}},
		{"over keep", []step{{appends: 10, keep: 3, limit: 10, want: []string{"7", "8", "9"}}}},
		{"limit below count", []step{{appends: 6, keep: 50, limit: 2, want: []string{"4", "5"}}}},
		{"limit zero", []step{{appends: 2, keep: 5, limit: 0, want: []string{}}}},
		{"limit negative", []step{{appends: 2, keep: 5, limit: -1, want: []string{}}}},
		{"keep one", []step{{appends: 4, keep: 1, limit: 10, want: []string{"3"}}}},
		{"keep shrinks", []step{
			{appends: 8, keep: 8, limit: 10, want: []string{"0", "1", "2", "3", "4", "5", "6", "7"}},
			{appends: 1, keep: 2, limit: 10, want: []string{"7", "8"}},
		}},
		{"keep grows", []step{
			{appends: 5, keep: 2, limit: 10, want: []string{"3", "4"}},
			{appends: 2, keep: 10, limit: 10, want: []string{"3", "4", "5", "6"}},
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			room := fmt.Sprintf("trim%d", i)
			n := 0
			for si, st := range tc.steps {
				for range st.appends {
					mustAppend(t, s, Message{Room: room, ID: fmt.Sprint(n), Nick: "n", Body: "b", At: ts}, st.keep)
					n++
				}
				if got := ids(mustHistory(t, s, room, st.limit)); !reflect.DeepEqual(got, st.want) {
					t.Errorf("step %d: History = %v, want %v", si, got, st.want)
				}
			}
		})
	}
}

func testHistoryOrderIsAppendOrder(t *testing.T, s Store) {
	// Timestamps going backwards (clock step, relayed message) do not reorder
	// history, and trimming drops the first appended, not the oldest stamp.
	for i := range 5 {
		mustAppend(t, s, Message{Room: "r", ID: fmt.Sprint(i), Body: "b", At: ts.Add(-time.Duration(i) * time.Hour)}, 3)
	}
	if got, want := ids(mustHistory(t, s, "r", 10)), []string{"2", "3", "4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("History = %v, want %v", got, want)
	}
}

func testHistoryRoundTrip(t *testing.T, s Store) {
	in := []Message{
		{Room: "r", ID: "id-1", Nick: "Alice", FromJID: "alice@example.com/phone", Body: "Hello 👋\n<b>not xml</b>", At: ts},
		{Room: "r", ID: "", Nick: "+49 30 1234", FromJID: "sip:+49301234@example.com", Body: "from SIP", At: ts.Add(time.Millisecond)},
		{Room: "r", ID: "id-3", Nick: "bob", Body: "with subject", Subject: "also a subject", At: ts.Add(2 * time.Millisecond)},
		{Room: "r", ID: "id-4", Nick: "bob", Subject: "subject only"},
		{Room: "elsewhere", ID: "x", Body: "other room", At: ts},
	}
	before := time.Now().Truncate(time.Millisecond)
	for _, m := range in {
		mustAppend(t, s, m, 10)
	}
	after := time.Now()
	got := mustHistory(t, s, "r", 10)
	if len(got) != 4 {
		t.Fatalf("History len %d, want 4: %+v", len(got), got)
	}
	if got[3].At.Before(before) || got[3].At.After(after) || got[3].At.Location() != time.UTC {
		t.Errorf("zero At became %v, want now in UTC", got[3].At)
	}
	got[3].At = time.Time{}
	want := make([]Message, 4)
	for i, m := range in[:4] {
		m.At = normTime(m.At)
		want[i] = m
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("History:\n got %+v\nwant %+v", got, want)
	}
	if got[0].At.Nanosecond() != 123000000 {
		t.Errorf("At = %v, want ms precision kept", got[0].At)
	}
}

func testKeepZeroClears(t *testing.T, s Store) {
	for i := range 3 {
		mustAppend(t, s, Message{Room: "r", ID: fmt.Sprint(i), Body: "b"}, 10)
	}
	mustAppend(t, s, Message{Room: "other", Body: "b"}, 10)
	for _, keep := range []int{0, -5} {
		mustAppend(t, s, Message{Room: "r", ID: "x", Body: "b"}, keep)
		if h := mustHistory(t, s, "r", 10); len(h) != 0 {
			t.Errorf("keep=%d left history %v", keep, ids(h))
		}
	}
	if h := mustHistory(t, s, "other", 10); len(h) != 1 {
		t.Errorf("keep=0 on r touched other room: %v", ids(h))
	}
}

func testInvalid(t *testing.T, s Store) {
	long := func(n int) string { return strings.Repeat("a", n) }
	good := Room{Name: "ok"}
	goodAff := Affiliation{Room: "ok", Identity: "a@b", Value: AffMember}
	goodMsg := Message{Room: "ok", Body: "b"}
	tests := []struct {
		name string
		call func() error
	}{
		{"room empty name", func() error { return s.SaveRoom(ctx, Room{}) }},
		{"room name space", func() error { return s.SaveRoom(ctx, Room{Name: "a b"}) }},
		{"room name control", func() error { return s.SaveRoom(ctx, Room{Name: "a\nb"}) }},
		{"room name NUL", func() error { return s.SaveRoom(ctx, Room{Name: "a\x00b"}) }},
		{"room name bad UTF-8", func() error { return s.SaveRoom(ctx, Room{Name: "a\xffb"}) }},
		{"room name too long", func() error { return s.SaveRoom(ctx, Room{Name: long(MaxRoomNameLen + 1)}) }},
		{"room bad whois", func() error { r := good; r.Whois = "everyone"; return s.SaveRoom(ctx, r) }},
		{"room negative max users", func() error { r := good; r.MaxUsers = -1; return s.SaveRoom(ctx, r) }},
		{"room negative history", func() error { r := good; r.HistoryLength = -1; return s.SaveRoom(ctx, r) }},
		{"room title too long", func() error { r := good; r.Title = long(MaxShortLen + 1); return s.SaveRoom(ctx, r) }},
		{"room subject too long", func() error { r := good; r.Subject = long(MaxTextLen + 1); return s.SaveRoom(ctx, r) }},
		{"room subject bad UTF-8", func() error { r := good; r.Subject = "\xc3"; return s.SaveRoom(ctx, r) }},
		{"room time out of range", func() error {
			r := good
			r.SubjectAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			return s.SaveRoom(ctx, r)
		}},
		{"get room empty", func() error { _, _, err := s.Room(ctx, ""); return err }},
		{"delete room empty", func() error { return s.DeleteRoom(ctx, "") }},
		{"affiliations empty room", func() error { _, err := s.Affiliations(ctx, ""); return err }},
		{"history empty room", func() error { _, err := s.History(ctx, "", 5); return err }},
		{"aff unknown value", func() error { a := goodAff; a.Value = "moderator"; return s.SetAffiliation(ctx, a) }},
		{"aff empty value", func() error { a := goodAff; a.Value = ""; return s.SetAffiliation(ctx, a) }},
		{"aff value case", func() error { a := goodAff; a.Value = "Owner"; return s.SetAffiliation(ctx, a) }},
		{"aff empty identity", func() error { a := goodAff; a.Identity = ""; return s.SetAffiliation(ctx, a) }},
		{"aff identity space", func() error { a := goodAff; a.Identity = "a @b"; return s.SetAffiliation(ctx, a) }},
		{"aff identity too long", func() error { a := goodAff; a.Identity = long(MaxIdentityLen + 1); return s.SetAffiliation(ctx, a) }},
		{"aff empty room", func() error { a := goodAff; a.Room = ""; return s.SetAffiliation(ctx, a) }},
		{"aff reason too long", func() error { a := goodAff; a.Reason = long(MaxTextLen + 1); return s.SetAffiliation(ctx, a) }},
		{"aff nick too long", func() error { a := goodAff; a.Nick = long(MaxNickLen + 1); return s.SetAffiliation(ctx, a) }},
		{"aff none still validated", func() error { a := goodAff; a.Value = AffNone; a.Identity = ""; return s.SetAffiliation(ctx, a) }},
		{"msg empty room", func() error { m := goodMsg; m.Room = ""; return s.AppendMessage(ctx, m, 5) }},
		{"msg no body or subject", func() error { m := goodMsg; m.Body = ""; return s.AppendMessage(ctx, m, 5) }},
		{"msg body too long", func() error { m := goodMsg; m.Body = long(MaxTextLen + 1); return s.AppendMessage(ctx, m, 5) }},
		{"msg body NUL", func() error { m := goodMsg; m.Body = "a\x00"; return s.AppendMessage(ctx, m, 5) }},
		{"msg id too long", func() error { m := goodMsg; m.ID = long(MaxShortLen + 1); return s.AppendMessage(ctx, m, 5) }},
		{"msg sender too long", func() error { m := goodMsg; m.FromJID = long(MaxIdentityLen + 1); return s.AppendMessage(ctx, m, 5) }},
		{"msg invalid with keep 0", func() error { return s.AppendMessage(ctx, Message{Room: "ok"}, 0) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
	// Nothing was written by the rejected calls.
	if rooms, _ := s.Rooms(ctx); len(rooms) != 0 {
		t.Errorf("rejected SaveRoom stored %+v", rooms)
	}
	if a := mustAffs(t, s, "ok"); len(a) != 0 {
		t.Errorf("rejected SetAffiliation stored %+v", a)
	}
	if h := mustHistory(t, s, "ok", 10); len(h) != 0 {
		t.Errorf("rejected AppendMessage stored %+v", h)
	}
}

func testSizeLimits(t *testing.T, s Store) {
	body := strings.Repeat("é", MaxTextLen/2) // exactly MaxTextLen bytes
	mustAppend(t, s, Message{Room: "r", Body: body, At: ts}, 5)
	if h := mustHistory(t, s, "r", 5); len(h) != 1 || h[0].Body != body {
		t.Error("64 KiB body did not round-trip")
	}
	id := "sip:" + strings.Repeat("x", MaxIdentityLen-len("sip:@e")) + "@e"
	mustSetAff(t, s, Affiliation{Room: "r", Identity: id, Value: AffOutcast})
	if a := mustAffs(t, s, "r"); len(a) != 1 || a[0].Identity != id {
		t.Error("3 KiB identity did not round-trip")
	}
	name := strings.Repeat("n", MaxRoomNameLen)
	mustSaveRoom(t, s, Room{Name: name})
	mustRoom(t, s, name)
}

func testCanceledContext(t *testing.T, s Store) {
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	calls := map[string]func() error{
		"SaveRoom": func() error { return s.SaveRoom(cctx, Room{Name: "r"}) },
		"SetAffiliation": func() error {
			return s.SetAffiliation(cctx, Affiliation{Room: "r", Identity: "a@b", Value: AffOutcast})
		},
		"AppendMessage": func() error { return s.AppendMessage(cctx, Message{Room: "r", Body: "b"}, 5) },
		"DeleteRoom":    func() error { return s.DeleteRoom(cctx, "r") },
		"Rooms":         func() error { _, err := s.Rooms(cctx); return err },
		"History":       func() error { _, err := s.History(cctx, "r", 5); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with canceled context = %v, want context.Canceled", name, err)
		}
	}
	if rooms, _ := s.Rooms(ctx); len(rooms) != 0 {
		t.Error("canceled SaveRoom was stored")
	}
	if a := mustAffs(t, s, "r"); len(a) != 0 {
		t.Error("canceled SetAffiliation was stored")
	}
	if h := mustHistory(t, s, "r", 5); len(h) != 0 {
		t.Error("canceled AppendMessage was stored")
	}
}

// testConcurrent has writers appending to one room while readers check that
// no snapshot ever shows more than keep messages or reorders a writer's
// messages; affiliation writers and readers run beside them.
func testConcurrent(t *testing.T, s Store) {
	const (
		writers = 4
		perW    = 30
		keep    = 10
		readers = 3
	)
	var wg sync.WaitGroup
	errc := make(chan error, writers+readers+2)
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perW {
				m := Message{Room: "busy", ID: fmt.Sprintf("%d-%03d", w, i), Nick: fmt.Sprint("w", w), Body: "b"}
				if err := s.AppendMessage(ctx, m, keep); err != nil {
					errc <- err
					return
				}
				a := Affiliation{Room: "busy", Identity: fmt.Sprintf("u%d@example.com", w), Value: AffMember}
				if i%2 == 1 {
					a.Value = AffOutcast
				}
				if err := s.SetAffiliation(ctx, a); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	var rwg sync.WaitGroup
	for range readers {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				h, err := s.History(ctx, "busy", 100)
				if err != nil {
					errc <- err
					return
				}
				if err := checkWriterOrder(h, keep); err != nil {
					errc <- err
					return
				}
				if a, err := s.Affiliations(ctx, "busy"); err != nil || len(a) > writers {
					errc <- fmt.Errorf("Affiliations = %d entries, %v", len(a), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	rwg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	h := mustHistory(t, s, "busy", 100)
	if len(h) != keep {
		t.Errorf("final history has %d messages, want %d", len(h), keep)
	}
	if err := checkWriterOrder(h, keep); err != nil {
		t.Error(err)
	}
	// The very last append of all is in history: it is one writer's last.
	last := h[len(h)-1].ID
	if !strings.HasSuffix(last, fmt.Sprintf("-%03d", perW-1)) {
		t.Errorf("newest message %q is not some writer's last", last)
	}
	affs := mustAffs(t, s, "busy")
	if len(affs) != writers {
		t.Fatalf("%d affiliations, want %d", len(affs), writers)
	}
	for _, a := range affs {
		if a.Value != AffOutcast { // each writer's last set was i = perW-1, odd
			t.Errorf("%s ends as %s, want outcast", a.Identity, a.Value)
		}
	}
}

func checkWriterOrder(h []Message, keep int) error {
	if len(h) > keep {
		return fmt.Errorf("History has %d messages, keep is %d (trim not atomic with insert)", len(h), keep)
	}
	lastByWriter := map[string]string{}
	for _, m := range h {
		if prev, ok := lastByWriter[m.Nick]; ok && prev >= m.ID {
			return fmt.Errorf("writer %s: %s after %s", m.Nick, m.ID, prev)
		}
		lastByWriter[m.Nick] = m.ID
	}
	return nil
}

func testClosed(t *testing.T, s Store) {
	mustSaveRoom(t, s, Room{Name: "r"})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	calls := map[string]func() error{
		"Rooms":          func() error { _, err := s.Rooms(ctx); return err },
		"Room":           func() error { _, _, err := s.Room(ctx, "r"); return err },
		"SaveRoom":       func() error { return s.SaveRoom(ctx, Room{Name: "r"}) },
		"DeleteRoom":     func() error { return s.DeleteRoom(ctx, "r") },
		"Affiliations":   func() error { _, err := s.Affiliations(ctx, "r"); return err },
		"SetAffiliation": func() error { return s.SetAffiliation(ctx, Affiliation{Room: "r", Identity: "a@b", Value: AffMember}) },
		"AppendMessage":  func() error { return s.AppendMessage(ctx, Message{Room: "r", Body: "b"}, 5) },
		"History":        func() error { _, err := s.History(ctx, "r", 5); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}
