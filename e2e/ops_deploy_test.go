package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// promtool accepts the deployed rules and scrape configuration, and the
// rules' unit tests (deploy/prometheus/cusax-bridge.rules.test.yml) pass:
// the alerts fire on the series they are meant for and not on others.
func TestDeployPrometheusPromtool(t *testing.T) {
	promtool := NeedTool(t, "promtool", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "cusax-bridge.rules.yml"},
		{"check", "config", "prometheus.yml"},
		{"test", "rules", "cusax-bridge.rules.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "../deploy/prometheus"
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// Every cusax_ metric named in the README is on /metrics, and every cusax_
// metric family on /metrics is named in the README.
func TestREADMEListsEveryMetric(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bcusax_[a-z0-9_]+`).FindAllString(string(readme), -1) {
		documented[m] = true
	}
	b := StartBridge(t, nil)
	exported := map[string]bool{}
	for _, line := range strings.Split(b.Metrics(), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" && strings.HasPrefix(f[2], "cusax_") {
			exported[f[2]] = true
		}
	}
	if len(exported) < 10 {
		t.Fatalf("only %d cusax_ families on /metrics", len(exported))
	}
	var missing, undocumented []string
	for m := range documented {
		if !exported[m] {
			missing = append(missing, m)
		}
	}
	for m := range exported {
		if !documented[m] {
			undocumented = append(undocumented, m)
		}
	}
	slices.Sort(missing)
	slices.Sort(undocumented)
	if len(missing) > 0 {
		t.Errorf("named in README.md but not on /metrics: %v", missing)
	}
	if len(undocumented) > 0 {
		t.Errorf("on /metrics but not in README.md: %v", undocumented)
	}
}
