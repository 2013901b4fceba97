package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Prosody's own checker accepts the configuration built from the deploy
// snippet (the e2e tests also run Prosody with it).
func TestDeployProsodySnippetPassesCheck(t *testing.T) {
	needProsody(t)
	dir := t.TempDir()
	for _, d := range []string{"data", "certs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := prosodyConfig(dir, FreePort(t), FreePort(t), "conference.localhost", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "prosody.cfg.lua")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("prosodyctl", "--config", path, "check", "config").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "All checks passed") {
		t.Fatalf("prosodyctl check config: %v\n%s\n--- config ---\n%s", err, out, cfg)
	}
}

// The ejabberd snippet is valid YAML with one ejabberd_service listener for
// the MUC domain and its password.
func TestDeployEjabberdSnippetParses(t *testing.T) {
	data, err := os.ReadFile("../deploy/ejabberd-component.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Listen []struct {
			Port   int    `yaml:"port"`
			IP     string `yaml:"ip"`
			Module string `yaml:"module"`
			Access string `yaml:"access"`
			Hosts  map[string]struct {
				Password string `yaml:"password"`
			} `yaml:"hosts"`
		} `yaml:"listen"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("ejabberd snippet: %v", err)
	}
	if len(doc.Listen) != 1 {
		t.Fatalf("want one listener, got %d", len(doc.Listen))
	}
	l := doc.Listen[0]
	if l.Module != "ejabberd_service" || l.Port != 5347 || l.IP == "" || l.Access == "" {
		t.Fatalf("listener: %+v", l)
	}
	h, ok := l.Hosts["conference.example.com"]
	if !ok || h.Password == "" {
		t.Fatalf("hosts: %+v", l.Hosts)
	}
	// The documented bridge settings name the same domain, port and secret.
	for _, want := range []string{"domain: conference.example.com", "server: 127.0.0.1:5347", "secret: " + h.Password} {
		if !strings.Contains(string(data), want) {
			t.Errorf("ejabberd snippet does not document %q", want)
		}
	}
}
