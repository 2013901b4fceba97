package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"cusax.dev/bridge/conference"
)

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the API's OpenAPI 3.1 document.
func OpenAPI() []byte { return append([]byte(nil), openAPIDoc...) }

// Defaults of Options.
const (
	DefaultMaxBody    = 16 << 10
	DefaultMaxStreams = 32
	DefaultKeepAlive  = 15 * time.Second
	DefaultWriteWait  = 10 * time.Second
	requestTimeout    = 10 * time.Second
)

// Options configure a Server.
type Options struct {
	// Token is the bearer token (admin.token). Empty disables the API and
	// the console: Register adds nothing.
	Token    string
	Registry *conference.Registry
	Logger   *slog.Logger
	// MaxBody bounds a request body in bytes (default DefaultMaxBody).
	MaxBody int64
	// MaxStreams bounds the event streams open at once (default
	// DefaultMaxStreams); one more gets 503.
	MaxStreams int
	// KeepAlive is the interval of SSE comments on an idle stream.
	KeepAlive time.Duration
	// WriteWait bounds each write to an event stream: a client that does
	// not read for that long loses its stream.
	WriteWait time.Duration
}

// Server serves the admin API and the console. Create it with New.
type Server struct {
	opts    Options
	reg     *conference.Registry
	log     *slog.Logger
	tokenH  [32]byte
	streams chan struct{} // one token per open event stream
	done    chan struct{} // closed by Close: event streams end
	once    sync.Once
}

// New returns a server for opts.
func New(opts Options) *Server {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = DefaultMaxStreams
	}
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = DefaultKeepAlive
	}
	if opts.WriteWait <= 0 {
		opts.WriteWait = DefaultWriteWait
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Server{opts: opts, reg: opts.Registry, log: opts.Logger, tokenH: sha256.Sum256([]byte(opts.Token)),
		streams: make(chan struct{}, opts.MaxStreams), done: make(chan struct{})}
}

// Close ends the open event streams (at shutdown: http.Server.Shutdown
// does not end running handlers).
func (s *Server) Close() { s.once.Do(func() { close(s.done) }) }

// Route is one route of the API: method and ServeMux pattern.
type Route struct {
	Method  string
	Pattern string // e.g. /api/v1/rooms/{room}
	// Public routes need no token.
	Public  bool
	handler func(*Server, http.ResponseWriter, *http.Request)
}

// Routes lists the API's routes (the console's pages aside).
func Routes() []Route {
	const r = "/api/v1/rooms/{room}"
	return []Route{
		{Method: "GET", Pattern: "/api/v1/openapi.json", Public: true, handler: (*Server).openAPI},
		{Method: "GET", Pattern: "/api/v1/rooms", handler: (*Server).listRooms},
		{Method: "POST", Pattern: "/api/v1/rooms", handler: (*Server).createRoom},
		{Method: "GET", Pattern: r, handler: (*Server).getRoom},
		{Method: "PATCH", Pattern: r, handler: (*Server).patchRoom},
		{Method: "DELETE", Pattern: r, handler: (*Server).deleteRoom},
		{Method: "POST", Pattern: r + "/participants/{id}/mute", handler: (*Server).mute},
		{Method: "POST", Pattern: r + "/participants/{id}/kick", handler: (*Server).kick},
		{Method: "GET", Pattern: r + "/bans", handler: (*Server).listBans},
		{Method: "PUT", Pattern: r + "/bans/{identity}", handler: (*Server).ban},
		{Method: "DELETE", Pattern: r + "/bans/{identity}", handler: (*Server).unban},
		{Method: "POST", Pattern: r + "/dialout", handler: (*Server).dialOut},
		{Method: "GET", Pattern: r + "/events", handler: (*Server).events},
	}
}

// Register adds the API and the console to mux; nothing when the token is
// empty.
func (s *Server) Register(mux *http.ServeMux) {
	if s.opts.Token == "" {
		return
	}
	for _, rt := range Routes() {
		h := rt.handler
		var hf http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(s, w, r) })
		if !rt.Public {
			hf = s.authorize(hf)
		}
		mux.Handle(rt.Method+" "+rt.Pattern, hf)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, problem(http.StatusNotFound, "no such API path; see /api/v1/openapi.json"))
	})
	s.registerConsole(mux)
}

// authorize checks the bearer token in constant time (hashes of equal
// length are compared, so neither content nor length leaks).
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		scheme, tok, _ := strings.Cut(auth, " ")
		h := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(h[:], s.tokenH[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cusax-bridge"`)
			s.log.Info("admin API: unauthorised request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			writeProblem(w, problem(http.StatusUnauthorized, "a valid bearer token is required"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// apiActor is the actor of every API action.
var apiActor = conference.Actor{API: true, Name: "api"}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) body(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBody)
}

func reqCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), requestTimeout)
}

func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDoc)
}

// roomName reads the {room} path value; names are folded like SIP user
// parts.
func roomName(r *http.Request) (string, *Problem) {
	n, ok := conference.NormalizeName(r.PathValue("room"))
	if !ok {
		return "", problem(http.StatusNotFound, "no such room: room names are 1–64 of a-z 0-9 . _ -")
	}
	return n, nil
}

func (s *Server) listRooms(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	rooms, err := s.reg.Rooms(ctx)
	if err != nil {
		writeProblem(w, coreProblem(err, "room"))
		return
	}
	out := make([]RoomSummary, 0, len(rooms))
	for _, ri := range rooms {
		sum := RoomSummary{Name: ri.Name, Subject: ri.Subject}
		if c := s.reg.Lookup(ri.Name); c != nil {
			snap := c.Snapshot()
			sum.Live, sum.Locked, sum.Subject = true, snap.JoinLocked, snap.Subject
			for _, p := range snap.Participants {
				sum.Counts.add(participantView(p).Level)
			}
		}
		out = append(out, sum)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createRoom(w http.ResponseWriter, r *http.Request) {
	s.body(w, r)
	v, p := DecodeCreateRoom(r.Body, s.opts.MaxBody)
	if p != nil {
		writeProblem(w, p)
		return
	}
	spec := conference.RoomSpec{Name: v.Name, Moderators: v.Moderators}
	if v.Subject != nil {
		spec.Subject = *v.Subject
	}
	if v.PIN != nil {
		spec.PIN = *v.PIN
	}
	if v.MaxParticipants != nil {
		spec.MaxParticipants = *v.MaxParticipants
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	if err := s.reg.Create(ctx, spec, apiActor, conference.OriginAPI); err != nil {
		if p := coreProblem(err, "room"); p.Status == http.StatusConflict {
			writeProblem(w, fieldProblem(http.StatusConflict, "name", "room "+v.Name+" exists already"))
		} else {
			writeProblem(w, p)
		}
		return
	}
	s.log.Info("admin API: room created", "room", v.Name)
	snap, seq, err := s.reg.SnapshotSeq(ctx, v.Name)
	if err != nil {
		writeProblem(w, coreProblem(err, "room"))
		return
	}
	w.Header().Set("Location", "/api/v1/rooms/"+v.Name)
	writeJSON(w, http.StatusCreated, roomView(snap, seq))
}

func (s *Server) getRoom(w http.ResponseWriter, r *http.Request) {
	room, p := roomName(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	snap, seq, err := s.reg.SnapshotSeq(ctx, room)
	if err != nil {
		writeProblem(w, coreProblem(err, "room"))
		return
	}
	writeJSON(w, http.StatusOK, roomView(snap, seq))
}

func (s *Server) patchRoom(w http.ResponseWriter, r *http.Request) {
	room, p := roomName(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	s.body(w, r)
	v, p := DecodePatchRoom(r.Body, s.opts.MaxBody)
	if p != nil {
		writeProblem(w, p)
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	// an unknown room: SetSubject, SetJoinLock or SnapshotSeq says so
	if v.Subject != nil {
		if err := s.reg.SetSubject(ctx, room, *v.Subject, apiActor, conference.OriginAPI); err != nil {
			writeProblem(w, coreProblem(err, "room"))
			return
		}
	}
	if v.Locked != nil {
		if err := s.reg.SetJoinLock(ctx, room, *v.Locked, apiActor, conference.OriginAPI); err != nil {
			writeProblem(w, coreProblem(err, "room"))
			return
		}
	}
	snap, seq, err := s.reg.SnapshotSeq(ctx, room)
	if err != nil {
		writeProblem(w, coreProblem(err, "room"))
		return
	}
	writeJSON(w, http.StatusOK, roomView(snap, seq))
}

func (s *Server) deleteRoom(w http.ResponseWriter, r *http.Request) {
	room, p := roomName(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	if err := s.reg.Destroy(ctx, room, apiActor, conference.OriginAPI, "ended by the administrator", ""); err != nil {
		writeProblem(w, coreProblem(err, "room"))
		return
	}
	s.log.Info("admin API: conference ended", "room", room)
	w.WriteHeader(http.StatusNoContent)
}

// participant reads {room} and {id} and checks both exist.
func (s *Server) participant(w http.ResponseWriter, r *http.Request) (string, string, bool) {
	room, p := roomName(r)
	if p != nil {
		writeProblem(w, p)
		return "", "", false
	}
	id := r.PathValue("id")
	if _, ok := s.reg.Participant(room, id); !ok {
		if s.reg.Lookup(room) == nil {
			writeProblem(w, problem(http.StatusNotFound, "no such room"))
		} else {
			writeProblem(w, problem(http.StatusNotFound, "no such participant"))
		}
		return "", "", false
	}
	return room, id, true
}

func (s *Server) mute(w http.ResponseWriter, r *http.Request) {
	room, id, ok := s.participant(w, r)
	if !ok {
		return
	}
	s.body(w, r)
	v, p := DecodeMute(r.Body, s.opts.MaxBody)
	if p != nil {
		writeProblem(w, p)
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	if err := s.reg.Mute(ctx, room, id, *v.Muted, apiActor, conference.OriginAPI, v.Reason); err != nil {
		writeProblem(w, coreProblem(err, "participant"))
		return
	}
	pt, ok := s.reg.Participant(room, id)
	if !ok {
		writeProblem(w, problem(http.StatusNotFound, "the participant left"))
		return
	}
	writeJSON(w, http.StatusOK, participantView(pt))
}

func (s *Server) kick(w http.ResponseWriter, r *http.Request) {
	room, id, ok := s.participant(w, r)
	if !ok {
		return
	}
	s.body(w, r)
	v, p := DecodeReason(r.Body, s.opts.MaxBody)
	if p != nil {
		writeProblem(w, p)
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	if err := s.reg.Kick(ctx, room, id, apiActor, conference.OriginAPI, v.Reason); err != nil {
		writeProblem(w, coreProblem(err, "participant"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listBans(w http.ResponseWriter, r *http.Request) {
	room, p := roomName(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	bans, err := s.reg.Bans(ctx, room, apiActor)
	if err != nil {
		writeProblem(w, coreProblem(err, "room"))
		return
	}
	out := make([]BanView, 0, len(bans))
	for _, b := range bans {
		id := b.Identity
		if !strings.HasPrefix(id, "sip:") && !strings.HasPrefix(id, "sips:") {
			id = "xmpp:" + id
		}
		out = append(out, BanView{Identity: id, Reason: b.Reason, By: b.By, At: b.At.UTC()})
	}
	writeJSON(w, http.StatusOK, out)
}

// identity reads {identity}: sip:, sips: or xmpp: (URL-escaped in the
// path; the mux unescapes it).
func (s *Server) identity(r *http.Request) (string, *Problem) {
	id := r.PathValue("identity")
	if !validIdentity(id) || s.reg.Canonical(id) == "" {
		return "", fieldProblem(http.StatusUnprocessableEntity, "identity", "the identity must be sip:…, sips:… or xmpp:…, URL-escaped")
	}
	return id, nil
}

func (s *Server) ban(w http.ResponseWriter, r *http.Request) {
	s.setBan(w, r, conference.AffiliationOutcast)
}

func (s *Server) unban(w http.ResponseWriter, r *http.Request) {
	s.setBan(w, r, conference.AffiliationNone)
}

func (s *Server) setBan(w http.ResponseWriter, r *http.Request, aff conference.Affiliation) {
	room, p := roomName(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	id, p := s.identity(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	var v Reason
	if aff == conference.AffiliationOutcast {
		s.body(w, r)
		if v, p = DecodeReason(r.Body, s.opts.MaxBody); p != nil {
			writeProblem(w, p)
			return
		}
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	if aff == conference.AffiliationNone {
		// Lifting a ban leaves any other affiliation alone.
		bans, err := s.reg.Bans(ctx, room, apiActor)
		if err != nil {
			writeProblem(w, coreProblem(err, "room"))
			return
		}
		norm := s.reg.Canonical(id)
		found := false
		for _, b := range bans {
			found = found || b.Identity == norm
		}
		if !found {
			writeProblem(w, problem(http.StatusNotFound, "no such ban"))
			return
		}
	}
	if err := s.reg.SetAffiliation(ctx, room, id, aff, apiActor, conference.OriginAPI, v.Reason); err != nil {
		writeProblem(w, coreProblem(err, "room"))
		return
	}
	s.log.Info("admin API: ban changed", "room", room, "identity", id, "affiliation", string(aff))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) dialOut(w http.ResponseWriter, r *http.Request) {
	room, p := roomName(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	s.body(w, r)
	v, p := DecodeDialOut(r.Body, s.opts.MaxBody)
	if p != nil {
		writeProblem(w, p)
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	if err := s.reg.RequestDialOut(ctx, room, v.URI, apiActor, conference.OriginAPI); err != nil {
		writeProblem(w, coreProblem(err, "room"))
		return
	}
	s.log.Info("admin API: dial-out requested", "room", room, "uri", v.URI)
	writeJSON(w, http.StatusAccepted, v)
}
