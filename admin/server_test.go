package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"cusax.dev/bridge/conference"
)

const testToken = "s3cret-token"

type rig struct {
	t   *testing.T
	reg *conference.Registry
	srv *Server
	ts  *httptest.Server
	val validator.Validator
}

func newRig(t *testing.T, opts Options) *rig {
	t.Helper()
	reg := conference.NewRegistry(conference.Options{Logger: slog.New(slog.DiscardHandler),
		Rooms: []conference.RoomSpec{{Name: "team", Subject: "Weekly"}}})
	if opts.Token == "" {
		opts.Token = testToken
	}
	opts.Registry = reg
	opts.Logger = slog.New(slog.DiscardHandler)
	srv := New(opts)
	mux := http.NewServeMux()
	srv.Register(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); ts.Close(); reg.Close(context.Background()) })
	doc, err := libopenapi.NewDocument(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	val, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	return &rig{t: t, reg: reg, srv: srv, ts: ts, val: val}
}

// do sends a request with the token and checks request and response
// against the OpenAPI document; it returns the status and body.
func (r *rig) do(method, path, body string) (int, []byte) {
	r.t.Helper()
	return r.doToken(method, path, body, testToken)
}

func (r *rig) doToken(method, path, body, token string) (int, []byte) {
	r.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, r.ts.URL+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 400 && res.Header.Get("Content-Type") != "application/problem+json" {
		r.t.Errorf("%s %s: %d with Content-Type %q", method, path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	// Check the exchange against the document (well-formed requests only:
	// the malformed ones are malformed on purpose).
	documented := strings.HasPrefix(path, "/api/v1/") && !strings.HasPrefix(path, "/api/v1/nope")
	if documented && (res.StatusCode < 400 || res.StatusCode == 401 || res.StatusCode == 404 || res.StatusCode == 409) {
		vreq, _ := http.NewRequest(method, "http://bridge/api/v1"+strings.TrimPrefix(path, "/api/v1"), strings.NewReader(body))
		if body != "" {
			vreq.Header.Set("Content-Type", "application/json")
		}
		vres := &http.Response{StatusCode: res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(data)), Request: vreq}
		if ok, errs := r.val.ValidateHttpResponse(vreq, vres); !ok {
			for _, e := range errs {
				r.t.Errorf("%s %s → %d: response does not match the OpenAPI document: %s %s %v", method, path, res.StatusCode, e.Message, e.Reason, e.SchemaValidationErrors)
			}
		}
	}
	return res.StatusCode, data
}

func decodeAs[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}

func (r *rig) sipJoin(room, aor, name string) conference.Participant {
	r.t.Helper()
	res, err := r.reg.Join(context.Background(), room, conference.JoinRequest{AOR: aor, DisplayName: name,
		Audio: &conference.Audio{AOR: aor, CallID: aor}, Origin: conference.OriginSIP})
	if err != nil {
		r.t.Fatal(err)
	}
	return res.Participant
}

func TestAuthAndDisabled(t *testing.T) {
	r := newRig(t, Options{})
	for _, tok := range []string{"", "wrong", testToken + "x", strings.ToUpper(testToken)} {
		code, body := r.doToken("GET", "/api/v1/rooms", "", tok)
		if p := decodeAs[Problem](t, body); code != 401 || p.Status != 401 || p.Detail == "" {
			t.Fatalf("token %q: %d %s", tok, code, body)
		}
	}
	if code, _ := r.doToken("GET", "/api/v1/openapi.json", "", ""); code != 200 {
		t.Fatalf("openapi.json without token: %d", code)
	}
	if code, _ := r.do("GET", "/api/v1/nope", ""); code != 404 {
		t.Fatalf("unknown path: %d", code)
	}
	if code, _ := r.doToken("GET", "/console/", "", ""); code != 200 {
		t.Fatalf("console without token: %d", code)
	}

	// An empty token disables the API and the console.
	mux := http.NewServeMux()
	New(Options{Registry: r.reg}).Register(mux)
	for _, p := range []string{"/api/v1/rooms", "/api/v1/openapi.json", "/console/"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != 404 {
			t.Fatalf("%s with API disabled: %d", p, rec.Code)
		}
	}
}

func TestRoomLifecycle(t *testing.T) {
	r := newRig(t, Options{MaxBody: 1024})
	code, body := r.do("POST", "/api/v1/rooms", `{"name":"board","subject":"Q3","moderators":["sip:ceo@example.com","xmpp:cfo@example.com"],"pin":"1234","max_participants":10}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	room := decodeAs[Room](t, body)
	if room.Name != "board" || room.Subject != "Q3" || !room.Config.PINSet || room.Config.MaxParticipants != 10 || len(room.Config.Moderators) != 2 {
		t.Fatalf("created %+v", room)
	}
	code, body = r.do("POST", "/api/v1/rooms", `{"name":"board"}`)
	if p := decodeAs[Problem](t, body); code != 409 || p.Field != "name" {
		t.Fatalf("create again: %d %s", code, body)
	}
	for _, c := range []struct {
		body, field string
		code        int
	}{
		{`{"name":`, "", 400},
		{`[1,2]`, "", 400},
		{`{"name":"a"} {"name":"b"}`, "", 400},
		{``, "", 400},
		{`{"name":"Bad Name!"}`, "name", 422},
		{`{}`, "name", 422},
		{`{"name":"x","max_participants":-1}`, "max_participants", 422},
		{`{"name":"x","max_participants":"ten"}`, "max_participants", 422},
		{`{"name":"x","pin":"12a"}`, "pin", 422},
		{`{"name":"x","pin":"1"}`, "pin", 422},
		{`{"name":"x","pin":"` + strings.Repeat("1", 22) + `"}`, "pin", 422}, // could never be keyed in
		{`{"name":"x","moderators":["alice"]}`, "moderators", 422},
		{`{"name":"x","colour":"red"}`, "colour", 422},
		{`{"name":"x","subject":"` + strings.Repeat("s", 2000) + `"}`, "", 413},
	} {
		code, body := r.do("POST", "/api/v1/rooms", c.body)
		p := decodeAs[Problem](t, body)
		if code != c.code || p.Status != c.code || p.Field != c.field || p.Detail == "" {
			t.Errorf("body %.40q: %d %s, want %d field %q", c.body, code, body, c.code, c.field)
		}
	}

	r.sipJoin("board", "sip:a@example.com", "Alice")
	if _, err := r.reg.Join(context.Background(), "board", conference.JoinRequest{JID: "b@example.com/x", Nick: "bob", Text: true, Origin: conference.OriginXMPP}); err != nil {
		t.Fatal(err)
	}
	code, body = r.do("GET", "/api/v1/rooms", "")
	rooms := decodeAs[[]RoomSummary](t, body)
	if code != 200 || len(rooms) != 2 || rooms[0].Name != "board" || rooms[0].Counts != (Counts{Text: 1, Audio: 1}) || !rooms[0].Live ||
		rooms[1].Name != "team" || rooms[1].Subject != "Weekly" {
		t.Fatalf("rooms: %d %s", code, body)
	}
	code, body = r.do("PATCH", "/api/v1/rooms/board", `{"subject":"Q4","locked":true}`)
	room = decodeAs[Room](t, body)
	if code != 200 || room.Subject != "Q4" || !room.Locked || len(room.Participants) != 2 {
		t.Fatalf("patch: %d %s", code, body)
	}
	p := room.Participants[0]
	if p.Level != LevelAudio || p.Identities.SIP != "sip:a@example.com" || p.Binding != BindingNone || p.Name != "Alice" || room.Participants[1].Level != LevelText {
		t.Fatalf("participants %+v", room.Participants)
	}
	if _, err := r.reg.Join(context.Background(), "board", conference.JoinRequest{AOR: "sip:late@x", Audio: &conference.Audio{}, Origin: conference.OriginSIP}); err == nil {
		t.Fatal("joined a locked room")
	}
	if code, body := r.do("PATCH", "/api/v1/rooms/board", `{}`); code != 422 {
		t.Fatalf("empty patch: %d %s", code, body)
	}
	for _, patch := range []string{`{"locked":true}`, `{"subject":"x"}`} {
		if code, body := r.do("PATCH", "/api/v1/rooms/nope", patch); code != 404 {
			t.Fatalf("patch %s of an unknown room: %d %s", patch, code, body)
		}
	}
	if code, _ := r.do("GET", "/api/v1/rooms/nope", ""); code != 404 {
		t.Fatalf("unknown room: %d", code)
	}
	if code, _ := r.do("GET", "/api/v1/rooms/BOARD", ""); code != 200 {
		t.Fatalf("room names fold case: %d", code)
	}
	if code, body := r.do("DELETE", "/api/v1/rooms/board", ""); code != 204 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _ := r.do("GET", "/api/v1/rooms/board", ""); code != 404 {
		t.Fatalf("deleted room: %d", code)
	}
}

func TestParticipantActionsAndBans(t *testing.T) {
	r := newRig(t, Options{})
	ctx := context.Background()
	events := r.reg.SubscribeConference("team")
	defer events.Close()
	a := r.sipJoin("team", "sip:a@example.com", "Alice")
	b := r.sipJoin("team", "sip:b@example.com", "Bob")
	base := "/api/v1/rooms/team/participants/"
	code, body := r.do("POST", base+a.ID+"/mute", `{"muted":true,"reason":"noise"}`)
	pv := decodeAs[Participant](t, body)
	if code != 200 || !pv.Muted || pv.MutedBy != "api" || pv.Role != "visitor" {
		t.Fatalf("mute: %d %s", code, body)
	}
	if code, body := r.do("POST", base+a.ID+"/mute", `{"reason":"x"}`); code != 422 || decodeAs[Problem](t, body).Field != "muted" {
		t.Fatalf("mute without muted: %d %s", code, body)
	}
	if code, _ := r.do("POST", base+"p999/mute", `{"muted":true}`); code != 404 {
		t.Fatalf("unknown participant: %d", code)
	}
	if code, _ := r.do("POST", "/api/v1/rooms/nope/participants/p1/mute", `{"muted":true}`); code != 404 {
		t.Fatalf("unknown room: %d", code)
	}
	code, body = r.do("POST", base+a.ID+"/mute", `{"muted":false}`)
	if code != 200 || decodeAs[Participant](t, body).Muted {
		t.Fatalf("unmute: %d %s", code, body)
	}
	if code, body := r.do("POST", base+b.ID+"/kick", ``); code != 204 {
		t.Fatalf("kick: %d %s", code, body)
	}
	code, body = r.do("PUT", "/api/v1/rooms/team/bans/"+url.PathEscape("sip:a@Example.com"), `{"reason":"spam"}`)
	if code != 204 {
		t.Fatalf("ban: %d %s", code, body)
	}
	if _, ok := r.reg.Participant("team", a.ID); ok {
		t.Fatal("banned participant still present")
	}
	if code, _ := r.do("PUT", "/api/v1/rooms/team/bans/"+url.PathEscape("xmpp:troll@example.com"), ``); code != 204 {
		t.Fatalf("ban jid: %d", code)
	}
	code, body = r.do("GET", "/api/v1/rooms/team/bans", "")
	bans := decodeAs[[]BanView](t, body)
	if code != 200 || len(bans) != 2 || bans[0].Identity != "sip:a@example.com" || bans[0].Reason != "spam" || bans[0].By != "api" || bans[1].Identity != "xmpp:troll@example.com" {
		t.Fatalf("bans: %d %s", code, body)
	}
	if code, _ := r.do("PUT", "/api/v1/rooms/team/bans/alice", ``); code != 422 {
		t.Fatalf("bad identity: %d", code)
	}
	if code, _ := r.do("DELETE", "/api/v1/rooms/team/bans/"+url.PathEscape("xmpp:nobody@example.com"), ""); code != 404 {
		t.Fatalf("lift a ban that is not: %d", code)
	}
	if code, _ := r.do("DELETE", "/api/v1/rooms/team/bans/"+url.PathEscape("xmpp:troll@example.com"), ""); code != 204 {
		t.Fatalf("lift: %d", code)
	}
	if _, err := r.reg.Join(ctx, "team", conference.JoinRequest{AOR: "sip:a@example.com", Audio: &conference.Audio{}, Origin: conference.OriginSIP}); err == nil {
		t.Fatal("a banned AOR joined")
	}

	code, body = r.do("POST", "/api/v1/rooms/team/dialout", `{"uri":"sip:carol@127.0.0.1:5099"}`)
	if code != 202 {
		t.Fatalf("dial-out: %d %s", code, body)
	}
	if code, body := r.do("POST", "/api/v1/rooms/team/dialout", `{"uri":"tel:+1"}`); code != 422 || decodeAs[Problem](t, body).Field != "uri" {
		t.Fatalf("dial-out to tel: %d %s", code, body)
	}
	// Every action went through the core as the API.
	want := []conference.Kind{conference.Joined, conference.Joined, conference.Muted, conference.Unmuted, conference.Kicked,
		conference.Banned, conference.Banned, conference.AffiliationChanged, conference.DialOutRequested}
	for i, k := range want {
		select {
		case ev := <-events.C():
			for ev.Kind == conference.ConferenceCreated {
				ev = <-events.C()
			}
			if ev.Kind != k || (i >= 2 && (ev.Origin != conference.OriginAPI || !ev.Actor.API)) {
				t.Fatalf("event %d: %v %s %+v, want %v by the API", i, ev.Kind, ev.Origin, ev.Actor, k)
			}
		case <-time.After(time.Second):
			t.Fatalf("event %d (%v) missing", i, k)
		}
	}
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	id, kind string
	data     []byte
}

func readSSE(t *testing.T, br *bufio.Reader) sseEvent {
	t.Helper()
	var ev sseEvent
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && ev.kind != "":
			return ev
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.kind = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = append(ev.data, line[6:]...)
		}
	}
}

func openSSE(t *testing.T, r *rig, room string) (*http.Response, *bufio.Reader) {
	t.Helper()
	req, _ := http.NewRequest("GET", r.ts.URL+"/api/v1/rooms/"+room+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res, bufio.NewReader(res.Body)
}

func TestEventStreamOrderAndLimit(t *testing.T) {
	r := newRig(t, Options{MaxStreams: 1, KeepAlive: 50 * time.Millisecond})
	pre := r.sipJoin("team", "sip:early@example.com", "Early")
	res, br := openSSE(t, r, "team")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	snap := readSSE(t, br)
	room := decodeAs[Room](t, snap.data)
	if snap.kind != "snapshot" || len(room.Participants) != 1 || room.Participants[0].ID != pre.ID {
		t.Fatalf("snapshot %s %s", snap.kind, snap.data)
	}
	// A second stream is over the limit.
	req, _ := http.NewRequest("GET", r.ts.URL+"/api/v1/rooms/team/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if res2, err := http.DefaultClient.Do(req); err != nil || res2.StatusCode != 503 || res2.Header.Get("Retry-After") == "" {
		t.Fatalf("second stream: %v %v", res2, err)
	} else {
		res2.Body.Close()
	}

	ctx := context.Background()
	p := r.sipJoin("team", "sip:c@example.com", "Carol")
	if err := r.reg.Mute(ctx, "team", p.ID, true, apiActor, conference.OriginAPI, "x"); err != nil {
		t.Fatal(err)
	}
	if err := r.reg.DTMF(ctx, "team", p.ID, '5'); err != nil { // not on the stream
		t.Fatal(err)
	}
	if err := r.reg.Leave(ctx, "team", p.ID, conference.Departed, conference.OriginSIP); err != nil {
		t.Fatal(err)
	}
	var last uint64
	for _, want := range []string{"joined", "muted", "left"} {
		ev := readSSE(t, br)
		v := decodeAs[EventView](t, ev.data)
		if ev.kind != want || v.Kind != want || v.Participant == nil || v.Participant.ID != p.ID || v.Participant.Name != "Carol" || v.Seq <= last || ev.id == "" {
			t.Fatalf("got %s %s, want %s about %s", ev.kind, ev.data, want, p.ID)
		}
		if want == "muted" && (v.Origin != "api" || v.Actor != "api" || !v.Participant.Muted) {
			t.Fatalf("muted event %s", ev.data)
		}
		last = v.Seq
	}
	// Destroying the room ends the stream after the conference-ended event.
	if code, _ := r.do("DELETE", "/api/v1/rooms/team", ""); code != 204 {
		t.Fatal("delete")
	}
	if ev := readSSE(t, br); ev.kind != "conference-ended" {
		t.Fatalf("got %s", ev.kind)
	}
	if _, err := io.ReadAll(br); err != nil {
		t.Fatalf("stream did not end cleanly: %v", err)
	}
}

func TestEventStreamUnknownRoom(t *testing.T) {
	r := newRig(t, Options{})
	res, _ := openSSE(t, r, "nope")
	if res.StatusCode != 404 {
		t.Fatalf("unknown room: %d", res.StatusCode)
	}
}
