package e2e

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"cusax.dev/bridge/config"
)

const dashboardFile = "../deploy/grafana/cusax-bridge.json"

// dashPanel is the part of a Grafana panel the tests read.
type dashPanel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource *dashDatasource `json:"datasource"`
	Targets    []struct {
		RefID      string          `json:"refId"`
		Expr       string          `json:"expr"`
		Datasource *dashDatasource `json:"datasource"`
	} `json:"targets"`
	Panels []dashPanel `json:"panels"` // a collapsed row's panels
}

type dashDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashboard struct {
	SchemaVersion int         `json:"schemaVersion"`
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	Panels        []dashPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name     string `json:"name"`
			Type     string `json:"type"`
			Query    any    `json:"query"`
			AllValue string `json:"allValue"`
		} `json:"list"`
	} `json:"templating"`
}

// loadDashboard reads the deployed dashboard and checks its frame: a
// current schema, the data source chosen by the $datasource variable on
// every panel and query, and a title on every panel. It returns every
// panel that has queries, rows flattened.
func loadDashboard(t *testing.T) (dashboard, []dashPanel) {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.SchemaVersion < 39 || d.UID == "" || d.Title == "" {
		t.Errorf("dashboard: schemaVersion %d (want ≥ 39, Grafana 10.4+), uid %q, title %q", d.SchemaVersion, d.UID, d.Title)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Name == "datasource" && (v.Type != "datasource" || v.Query != "prometheus") {
			t.Errorf("$datasource variable: type %q query %v", v.Type, v.Query)
		}
	}
	if vars["datasource"] != "datasource" {
		t.Fatalf("no $datasource variable: %v", vars)
	}
	var panels []dashPanel
	var walk func([]dashPanel)
	walk = func(ps []dashPanel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Title == "" || len(p.Targets) == 0 {
				t.Errorf("panel %d (%s): title %q, %d queries", p.ID, p.Type, p.Title, len(p.Targets))
			}
			ds := []*dashDatasource{p.Datasource}
			for _, tg := range p.Targets {
				ds = append(ds, tg.Datasource)
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q query %s has no expression", p.Title, tg.RefID)
				}
			}
			for _, d := range ds {
				if d == nil || d.Type != "prometheus" || d.UID != "${datasource}" {
					t.Errorf("panel %q: data source %+v, want prometheus ${datasource}", p.Title, d)
				}
			}
			panels = append(panels, p)
		}
	}
	walk(d.Panels)
	return d, panels
}

// grafanaVars replaces the Grafana variables of a panel query as Grafana
// would for "All bridges" over a 1 minute rate window.
func grafanaVars(expr string) string {
	return strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$__range", "1m",
		"${instance}", ".*", "$instance", ".*").Replace(expr)
}

// alertRules reads the deployed alert rules: name → expression.
func alertRules(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(promRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	rules := map[string]string{}
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			rules[r.Alert] = r.Expr
		}
	}
	return rules
}

// The dashboard on a real Prometheus: a bridge with three callers (tones)
// and a chat user in one room is scraped by the Debian prometheus with the
// deployed scrape configuration and rules. After two scrapes with everybody
// in, every query of every panel evaluates without error and returns data
// (no empty result, no NaN), every alert expression evaluates, and
// Prometheus itself reports every rule healthy.
func TestDashboardOnRealPrometheus(t *testing.T) {
	_, panels := loadDashboard(t)
	rules := alertRules(t)
	xs := StartProsody(t, map[string]string{"alice": "pw-alice"})
	b := StartBridge(t, func(c *config.Config) {
		c.XMPP = config.XMPP{Mode: "component", Server: xs.ComponentAddr(), Domain: xs.MUCDomain, Secret: xs.Secret,
			RoomCreation: "anyone", HistoryLength: 50}
	})
	WaitFor(t, 10*time.Second, "XMPP component connected", func() bool {
		return b.Metric("cusax_xmpp_component_connected") == 1
	})
	prom := StartPrometheus(t, strings.TrimPrefix(b.AdminURL, "http://"))
	WaitFor(t, 20*time.Second, "the first scrape", func() bool {
		return prom.Value(`up{job="cusax-bridge"}`) == 1
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, f := range []float64{500, 900, 1300} {
		dialTone(t, ctx, b.SIPAddr, "team", "caller"+strconv.Itoa(i), f)
	}
	alice := DialXMPP(t, xs.C2SAddr(), "alice", xs.Domain, "pw-alice")
	alice.Join("team@"+xs.MUCDomain, "Alice", "")
	WaitFor(t, 10*time.Second, "three callers and a chat user on the bridge", func() bool {
		m := b.Metrics()
		return MetricValue(m, "cusax_participants_active", `protocol="sip"`) == 3 &&
			MetricValue(m, "cusax_participants_active", `protocol="xmpp"`) == 1
	})
	var scrapes float64
	WaitFor(t, 20*time.Second, "Prometheus to see them", func() bool {
		if prom.Value(`sum(cusax_participants_active{job="cusax-bridge"})`) != 4 {
			return false
		}
		scrapes = prom.Value(`count_over_time(up{job="cusax-bridge"}[10m])`)
		return true
	})
	WaitFor(t, 20*time.Second, "two more scrapes", func() bool {
		return prom.Value(`count_over_time(up{job="cusax-bridge"}[10m])`) >= scrapes+2
	})
	// A caller's tone reached the others through the mixer: the RTP
	// counters moved as Prometheus saw them.
	if v := prom.Value(`sum(rate(cusax_rtp_packets_total{job="cusax-bridge", direction="out"}[1m]))`); v <= 0 {
		t.Errorf("RTP out rate seen by Prometheus: %v", v)
	}
	if v := prom.Value(`cusax_xmpp_component_connected{job="cusax-bridge"}`); v != 1 {
		t.Errorf("component link seen by Prometheus: %v", v)
	}

	unresolved := regexp.MustCompile(`\$\{?[A-Za-z_]`)
	queries := 0
	for _, p := range panels {
		for _, tg := range p.Targets {
			expr := grafanaVars(tg.Expr)
			if unresolved.MatchString(expr) {
				t.Errorf("panel %q %s: unknown variable in %s", p.Title, tg.RefID, tg.Expr)
				continue
			}
			queries++
			res, err := prom.Query(expr)
			switch {
			case err != nil:
				t.Errorf("panel %q %s: %s\n  %v", p.Title, tg.RefID, expr, err)
			case len(res) == 0:
				t.Errorf("panel %q %s shows nothing: %s", p.Title, tg.RefID, expr)
			default:
				for _, s := range res {
					v, _ := s.Value[1].(string)
					if f, err := strconv.ParseFloat(v, 64); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
						t.Errorf("panel %q %s: %s = %q %v", p.Title, tg.RefID, expr, v, s.Metric)
					}
				}
			}
		}
	}
	t.Logf("%d panels, %d queries evaluated with data", len(panels), queries)

	for name, expr := range rules {
		if _, err := prom.Query(expr); err != nil {
			t.Errorf("alert %s: %v\n%s", name, err, expr)
		}
	}
	// Prometheus evaluates the deployed rules itself: all loaded, healthy.
	WaitFor(t, 10*time.Second, "every rule evaluated", func() bool {
		loaded, err := prom.Rules()
		if err != nil || len(loaded) != len(rules) {
			return false
		}
		for _, r := range loaded {
			if r.LastEvaluation.IsZero() {
				return false
			}
		}
		return true
	})
	loaded, _ := prom.Rules()
	var names []string
	for _, r := range loaded {
		names = append(names, r.Name)
		if r.Health != "ok" || r.LastError != "" {
			t.Errorf("rule %s: health %q, error %q", r.Name, r.Health, r.LastError)
		}
	}
	for name := range rules {
		if !slices.Contains(names, name) {
			t.Errorf("rule %s not loaded by Prometheus (loaded: %v)", name, names)
		}
	}
}
