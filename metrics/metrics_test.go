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

// Every bounded label combination of the counters exists from the start, at
// zero, so that a panel shows 0 rather than nothing.
func TestBoundedLabelsCreatedAtZero(t *testing.T) {
	m := New()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`cusax_sip_requests_total{method="INVITE"} 0`,
		`cusax_sip_requests_total{method="REFER"} 0`,
		`cusax_sip_responses_total{class="5xx",method="INVITE"} 0`,
		`cusax_sip_responses_total{class="2xx",method="SUBSCRIBE"} 0`,
		`cusax_muc_stanzas_total{direction="in",kind="presence"} 0`,
		`cusax_muc_stanzas_total{direction="out",kind="other"} 0`,
		`cusax_moderation_actions_total{action="ban",origin="xmpp"} 0`,
		`cusax_moderation_actions_total{action="mute",origin="dtmf"} 0`,
		`cusax_notify_sent_total{event="conference"} 0`,
		`cusax_rtp_packets_total{direction="dropped"} 0`,
		`cusax_store_errors_total{op="write"} 0`,
		`cusax_participants_active{protocol="both"} 0`,
		`cusax_rtp_jitter_seconds_count 0`,
		`cusax_mixer_tick_lateness_seconds_count 0`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("metrics output lacks %q", want)
		}
	}
	if strings.Contains(string(body), "cusax_build_info{") {
		t.Error("build_info before SetInfo")
	}
	m.SetInfo("v1", "component")
	m.SetInfo("v2", "off")
	if got := testutilCount(t, m, "cusax_build_info"); got != 1 {
		t.Errorf("build_info series after two SetInfo: %d", got)
	}
}

func testutilCount(t *testing.T, m *Metrics, name string) int {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}
