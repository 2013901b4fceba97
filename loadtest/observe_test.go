package loadtest

import (
	"math"
	"os"
	"strings"
	"testing"
)

const sample = `# HELP cusax_mixer_tick_duration_seconds x
# TYPE cusax_mixer_tick_duration_seconds histogram
cusax_mixer_tick_duration_seconds_bucket{le="0.001"} 10
cusax_mixer_tick_duration_seconds_bucket{le="0.002"} 90
cusax_mixer_tick_duration_seconds_bucket{le="+Inf"} 100
cusax_mixer_tick_duration_seconds_sum 0.1
cusax_mixer_tick_duration_seconds_count 100
cusax_mixer_tick_lateness_seconds_bucket{le="0.001"} 100
cusax_mixer_tick_lateness_seconds_bucket{le="+Inf"} 100
cusax_mixer_tick_lateness_seconds_count 100
cusax_mixer_ticks_skipped_total 3
cusax_rtp_packets_total{direction="out"} 5000
cusax_rtp_packets_total{direction="in"} 4000
`

func TestParseMetricsQuantiles(t *testing.T) {
	s, err := parseMetrics(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if s.skipped != 3 || s.rtp["out"] != 5000 || s.rtp["in"] != 4000 || s.tick.count != 100 {
		t.Fatalf("parsed %+v", s)
	}
	// rank 50 lies in (0.001, 0.002] holding 80: 0.001 + 0.001·40/80.
	if q := s.tick.quantile(0.5); math.Abs(q-0.0015) > 1e-9 {
		t.Errorf("p50 = %v, want 0.0015", q)
	}
	if q := s.tick.quantile(0.99); !math.IsInf(q, 1) {
		t.Errorf("p99 = %v, want +Inf (open bucket)", q)
	}
	if m := s.late.maxBound(); m != 0.001 {
		t.Errorf("lateness max bound %v, want 0.001", m)
	}
	empty, _ := parseMetrics(strings.NewReader(sample))
	if d := s.tick.sub(empty.tick); d.count != 0 || !math.IsNaN(d.quantile(0.5)) {
		t.Errorf("difference of equal scrapes: %+v", d)
	}
}

func TestProcFigures(t *testing.T) {
	if _, err := cpuTime(0); err != nil {
		t.Fatal(err)
	}
	rss, err := rssBytes(os.Getpid())
	if err != nil || rss <= 0 {
		t.Fatalf("rss %d, %v", rss, err)
	}
}

func TestPlanListeners(t *testing.T) {
	o := Options{Calls: 40, PerRoom: 10, Talkers: 2, Sample: 4, Sockets: 2}
	cs := plan(o, true)
	n := 0
	for _, c := range cs {
		ls := c.listen
		if ls == nil {
			continue
		}
		n++
		for _, e := range ls.expect {
			if e.room != c.room || e == c {
				t.Errorf("caller %d expects caller %d of room %d", c.id, e.id, e.room)
			}
			for _, f := range ls.forbid {
				if f == e.freq {
					t.Errorf("caller %d both expects and forbids %v Hz", c.id, f)
				}
			}
		}
		if c.talker >= 0 && len(ls.forbid) == 0 {
			t.Errorf("talker %d does not check mix-minus", c.id)
		}
	}
	if n != 4 {
		t.Errorf("%d listeners, want 4", n)
	}
}
