package e2e

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	out, err := exec.Command(bridgeBin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "cusax-bridge ") {
		t.Fatalf("version: %q %v", out, err)
	}
}

// An invalid configuration is refused before any socket opens, with an error
// naming the key.
func TestInvalidConfigExitsNonZero(t *testing.T) {
	port := FreePort(t)
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	yaml := "admin: {listen: \"127.0.0.1:" + itoa(port) + "\"}\nrtp: {ports: \"20000-10000\"}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bridgeBin, "serve", "--config", cfg)
	cmd.Stderr = &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit: %v", err)
	}
	if !strings.Contains(stderr.String(), "rtp.ports") {
		t.Fatalf("error does not name the key: %q", stderr.String())
	}
	if _, err := http.Get("http://127.0.0.1:" + itoa(port) + "/healthz"); err == nil {
		t.Fatal("admin port was opened for an invalid config")
	}
}

func TestServeHealthAndGracefulStop(t *testing.T) {
	b := StartBridge(t, nil)
	res, err := http.Get(b.AdminURL + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", res, err)
	}
	res.Body.Close()
	m := b.Metrics()
	for _, want := range []string{"cusax_conferences_active 0", "cusax_participants_active{protocol=\"sip\"} 0", "cusax_xmpp_component_connected 0"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if code := b.Stop(); code != 0 {
		t.Fatalf("exit code after SIGTERM: %d\n%s", code, b.Logs())
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
