package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The deployed scrape configuration and alert rules (deploy/prometheus/).
const (
	promConfigFile = "../deploy/prometheus/prometheus.yml"
	promRulesFile  = "../deploy/prometheus/cusax-bridge.rules.yml"
)

// Prometheus is a real Prometheus server run by a test, scraping targets
// every second with the deployed configuration and rules.
type Prometheus struct {
	t    testing.TB
	Dir  string
	URL  string // http://127.0.0.1:port
	mu   sync.Mutex
	logs bytes.Buffer
}

// StartPrometheus writes deploy/prometheus/prometheus.yml with the scrape
// target replaced by targets, the intervals set to 1 s and the rule file by
// its absolute path, starts /usr/bin/prometheus on a free loopback port and
// waits until it is ready. It is killed when the test ends.
func StartPrometheus(t testing.TB, targets ...string) *Prometheus {
	t.Helper()
	bin := NeedTool(t, "prometheus", "prometheus")
	p := &Prometheus{t: t, Dir: t.TempDir()}
	data, err := os.ReadFile(promConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := filepath.Abs(promRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = fmt.Sprintf("%q", tg)
	}
	cfg := string(data)
	for _, r := range [][2]string{
		{"scrape_interval: 15s", "scrape_interval: 1s"},
		{"evaluation_interval: 15s", "evaluation_interval: 1s"},
		{"- cusax-bridge.rules.yml", "- " + rules},
		{"- targets:\n          - 127.0.0.1:8080", "- targets: [" + strings.Join(quoted, ", ") + "]"},
	} {
		if !strings.Contains(cfg, r[0]) {
			t.Fatalf("%s no longer contains %q", promConfigFile, r[0])
		}
		cfg = strings.Replace(cfg, r[0], r[1], 1)
	}
	path := filepath.Join(p.Dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	p.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(bin, "--config.file="+path, "--storage.tsdb.path="+filepath.Join(p.Dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &lockedWriter{mu: &p.mu, b: &p.logs}, &lockedWriter{mu: &p.mu, b: &p.logs}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s\nconfig:\n%s", p.output(), cfg)
		}
	})
	WaitFor(t, 20*time.Second, "prometheus ready", func() bool {
		select {
		case <-done:
			t.Fatalf("prometheus exited during start-up:\n%s", p.output())
		default:
		}
		res, err := http.Get(p.URL + "/-/ready")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return p
}

func (p *Prometheus) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// promSample is one element of an instant vector.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// promResponse is the envelope of every Prometheus API answer.
type promResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

// Query evaluates expr now through /api/v1/query and returns the instant
// vector (a scalar comes back as one sample without labels). A query that
// Prometheus rejects is an error.
func (p *Prometheus) Query(expr string) ([]promSample, error) {
	res, err := http.PostForm(p.URL+"/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var r promResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("HTTP %d: %s", res.StatusCode, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		return nil, err
	}
	switch data.ResultType {
	case "vector":
		var v []promSample
		err := json.Unmarshal(data.Result, &v)
		return v, err
	case "scalar":
		var s [2]any
		err := json.Unmarshal(data.Result, &s)
		return []promSample{{Value: s}}, err
	}
	return nil, fmt.Errorf("result type %s", data.ResultType)
}

// Value evaluates expr and returns the value of its single sample, or -1.
func (p *Prometheus) Value(expr string) float64 {
	v, err := p.Query(expr)
	if err != nil || len(v) != 1 {
		return -1
	}
	var f float64
	s, _ := v[0].Value[1].(string)
	if _, err := fmt.Sscan(s, &f); err != nil {
		return -1
	}
	return f
}

// promRule is one rule as /api/v1/rules reports it.
type promRule struct {
	Name           string    `json:"name"`
	Query          string    `json:"query"`
	Health         string    `json:"health"`
	LastError      string    `json:"lastError"`
	LastEvaluation time.Time `json:"lastEvaluation"`
	Type           string    `json:"type"`
}

// Rules returns every loaded rule.
func (p *Prometheus) Rules() ([]promRule, error) {
	res, err := http.Get(p.URL + "/api/v1/rules")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var r promResponse
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	var data struct {
		Groups []struct {
			Rules []promRule `json:"rules"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		return nil, err
	}
	var out []promRule
	for _, g := range data.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(b)
}
