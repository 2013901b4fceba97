package admin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"cusax.dev/bridge/conference"
)

// BenchmarkGetRoom500 is GET /api/v1/rooms/{room} of a room with 500
// participants (250 callers, 250 chat users), through the handler (auth,
// snapshot, mapping, JSON encoding), without the network.
func BenchmarkGetRoom500(b *testing.B) {
	reg := conference.NewRegistry(conference.Options{Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	for i := range 500 {
		req := conference.JoinRequest{Origin: conference.OriginSIP}
		if i%2 == 0 {
			aor := fmt.Sprintf("sip:caller%d@example.com", i)
			req.AOR, req.DisplayName, req.Audio = aor, fmt.Sprintf("Caller %d", i), &conference.Audio{AOR: aor, CallID: aor}
		} else {
			req.JID, req.Nick, req.Text, req.Origin = fmt.Sprintf("user%d@example.com/res", i), fmt.Sprintf("user%d", i), true, conference.OriginXMPP
		}
		if _, err := reg.Join(ctx, "big", req); err != nil {
			b.Fatal(err)
		}
	}
	srv := New(Options{Token: testToken, Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	mux := http.NewServeMux()
	srv.Register(mux)
	req := httptest.NewRequest("GET", "/api/v1/rooms/big", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Fatalf("%d %s", rec.Code, rec.Body)
	}
	b.SetBytes(int64(rec.Body.Len()))
	b.ReportAllocs()
	for b.Loop() {
		w := discardWriter{h: http.Header{}}
		mux.ServeHTTP(&w, req)
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return io.Discard.Write(b) }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
