package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerExposesBridgeMetrics(t *testing.T) {
	m := New()
	m.CountConferences(fixedCounts{1, map[string]int{"sip": 3}})
	m.SIPResponses.WithLabelValues("INVITE", StatusClass(486)).Inc()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`cusax_participants_active{protocol="sip"} 3`,
		`cusax_sip_responses_total{class="4xx",method="INVITE"} 1`,
		`cusax_conferences_active 1`,
		`cusax_participants_active{protocol="both"} 0`,
		`cusax_mixer_tick_duration_seconds_bucket`,
		`cusax_xmpp_component_connected 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics output lacks %q", want)
		}
	}
}

func TestStatusClass(t *testing.T) {
	for code, want := range map[int]string{100: "1xx", 200: "2xx", 487: "4xx", 503: "5xx", 699: "6xx", 99: "other", 700: "other"} {
		if got := StatusClass(code); got != want {
			t.Errorf("StatusClass(%d) = %q, want %q", code, got, want)
		}
	}
}

type fixedCounts struct {
	n  int
	by map[string]int
}

func (f fixedCounts) Counts() (int, map[string]int) { return f.n, f.by }
