package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"cusax.dev/bridge/conference"
)

// events serves GET /rooms/{room}/events as Server-Sent Events: first a
// "snapshot" event with the room as GET /rooms/{room} shows it, then every
// later core event of the room, in order, each named by its kind with its
// sequence number as the SSE id. The stream ends when the conference ends,
// the client goes away or reads nothing for WriteWait, or the server
// closes. At most MaxStreams streams are open at once (503 beyond).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	room, p := roomName(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		w.Header().Set("Retry-After", "5")
		s.log.Info("admin API: event stream refused, too many open", "max", s.opts.MaxStreams)
		writeProblem(w, problem(http.StatusServiceUnavailable, "too many event streams are open"))
		return
	}
	// Subscribe first, then take the snapshot: events up to its sequence
	// number are in it, later ones follow on the stream.
	sub := s.reg.SubscribeConference(room)
	defer sub.Close()
	ctx, cancel := reqCtx(r)
	snap, seq, err := s.reg.SnapshotSeq(ctx, room)
	cancel()
	if err != nil {
		writeProblem(w, coreProblem(err, "room"))
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	var buf bytes.Buffer
	send := func(id uint64, kind string, data any) bool {
		buf.Reset()
		buf.WriteString("id: ")
		buf.WriteString(strconv.FormatUint(id, 10))
		buf.WriteString("\nevent: ")
		buf.WriteString(kind)
		buf.WriteString("\ndata: ")
		b, _ := json.Marshal(data) // one line: JSON escapes newlines
		buf.Write(b)
		buf.WriteString("\n\n")
		return s.write(rc, w, buf.Bytes())
	}
	if !send(seq, "snapshot", roomView(snap, seq)) {
		return
	}
	keep := time.NewTicker(s.opts.KeepAlive)
	defer keep.Stop()
	for {
		select {
		case ev, ok := <-sub.C():
			if !ok {
				return
			}
			if ev.Seq <= seq {
				continue
			}
			v, show := eventView(ev)
			if show && !send(ev.Seq, v.Kind, v) {
				return
			}
			if ev.Kind == conference.ConferenceEnded {
				return
			}
		case <-keep.C:
			if !s.write(rc, w, []byte(": keep-alive\n\n")) {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
}

// write sends b and flushes it within WriteWait.
func (s *Server) write(rc *http.ResponseController, w http.ResponseWriter, b []byte) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(s.opts.WriteWait))
	if _, err := w.Write(b); err != nil {
		s.log.Debug("admin API: event stream closed", "err", err)
		return false
	}
	if err := rc.Flush(); err != nil {
		s.log.Debug("admin API: event stream closed", "err", err)
		return false
	}
	return true
}
