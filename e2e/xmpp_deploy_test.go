package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Prosody's own checker accepts deploy/prosody/prosody.cfg.lua as the
// harness renders it (the e2e tests also run Prosody with it).
func TestDeployProsodyConfigPassesCheck(t *testing.T) {
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
