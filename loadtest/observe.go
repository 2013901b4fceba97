package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTick = 100

// cpuTime is the user+system CPU time of process pid (0: this process).
func cpuTime(pid int) (time.Duration, error) {
	p := "/proc/self/stat"
	if pid != 0 {
		p = fmt.Sprintf("/proc/%d/stat", pid)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("loadtest: %w", err)
	}
	// The command name (field 2) may hold spaces; fields after ')' are fixed.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("loadtest: %s unreadable", p)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 { // f[0] is field 3 (state); utime is field 14, stime 15
		return 0, fmt.Errorf("loadtest: %s too short", p)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("loadtest: %s: bad times", p)
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// runDelay is how long the threads of pid waited on a run queue (ready
// to run, not running), from /proc/PID/task/*/schedstat: on a shared
// machine, the CPU the target wanted and did not get.
func runDelay(pid int) time.Duration {
	dirs, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0
	}
	var sum int64
	for _, d := range dirs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, d.Name()))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			sum += v
		}
	}
	return time.Duration(sum)
}

// rssBytes is the resident set size of pid (VmRSS).
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("loadtest: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, fmt.Errorf("loadtest: no VmRSS for %d", pid)
}

// loadAvg is the first field of /proc/loadavg.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// scrape is what the benchmark reads from the bridge's /metrics.
type scrape struct {
	tick, late histogram
	skipped    float64
	rtp        map[string]float64 // rtp_packets_total by direction
}

// histogram is a Prometheus histogram: cumulative counts by upper bound.
type histogram struct {
	le    []float64
	cum   []float64
	count float64
}

func (h histogram) sub(o histogram) histogram {
	d := histogram{le: h.le, cum: make([]float64, len(h.cum)), count: h.count - o.count}
	for i := range h.cum {
		d.cum[i] = h.cum[i]
		if i < len(o.cum) {
			d.cum[i] -= o.cum[i]
		}
	}
	return d
}

// quantile interpolates linearly within the bucket holding rank q·count
// (as Prometheus's histogram_quantile does); +Inf when that bucket is the
// open last one.
func (h histogram) quantile(q float64) float64 {
	if h.count <= 0 {
		return math.NaN()
	}
	rank := q * h.count
	prevLE, prevCum := 0.0, 0.0
	for i, le := range h.le {
		if h.cum[i] >= rank {
			if math.IsInf(le, 1) {
				return le
			}
			if h.cum[i] == prevCum {
				return le
			}
			return prevLE + (le-prevLE)*(rank-prevCum)/(h.cum[i]-prevCum)
		}
		prevLE, prevCum = le, h.cum[i]
	}
	return math.Inf(1)
}

// maxBound is the upper bound of the highest non-empty bucket.
func (h histogram) maxBound() float64 {
	prev := 0.0
	top := math.NaN()
	for i, le := range h.le {
		if h.cum[i] > prev {
			top = le
		}
		prev = h.cum[i]
	}
	return top
}

func fetchMetrics(ctx context.Context, url string) (scrape, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return scrape{}, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return scrape{}, fmt.Errorf("loadtest: scrape %s: %w", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return scrape{}, fmt.Errorf("loadtest: scrape %s: %s", url, res.Status)
	}
	return parseMetrics(res.Body)
}

// parseMetrics reads the few series the benchmark needs from the
// Prometheus text format.
func parseMetrics(r io.Reader) (scrape, error) {
	s := scrape{rtp: map[string]float64{}}
	type bucket struct{ le, v float64 }
	tick, late := []bucket{}, []bucket{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		name, val := line[:sp], line[sp+1:]
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(name, "cusax_mixer_tick_duration_seconds_bucket{"):
			tick = append(tick, bucket{label(name, "le"), v})
		case strings.HasPrefix(name, "cusax_mixer_tick_lateness_seconds_bucket{"):
			late = append(late, bucket{label(name, "le"), v})
		case name == "cusax_mixer_tick_duration_seconds_count":
			s.tick.count = v
		case name == "cusax_mixer_tick_lateness_seconds_count":
			s.late.count = v
		case name == "cusax_mixer_ticks_skipped_total":
			s.skipped = v
		case strings.HasPrefix(name, "cusax_rtp_packets_total{"):
			s.rtp[labelString(name, "direction")] = v
		}
	}
	for _, p := range []struct {
		bs []bucket
		h  *histogram
	}{{tick, &s.tick}, {late, &s.late}} {
		sort.Slice(p.bs, func(i, j int) bool { return p.bs[i].le < p.bs[j].le })
		for _, b := range p.bs {
			p.h.le = append(p.h.le, b.le)
			p.h.cum = append(p.h.cum, b.v)
		}
	}
	return s, sc.Err()
}

func labelString(series, key string) string {
	i := strings.Index(series, key+`="`)
	if i < 0 {
		return ""
	}
	rest := series[i+len(key)+2:]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return rest[:j]
}

func label(series, key string) float64 {
	v := labelString(series, key)
	if v == "+Inf" {
		return math.Inf(1)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}
