package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cusax.dev/bridge/config"
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
	// xmpp.mode embedded (the default) exports every family, its own too.
	b := StartEmbedded(t, nil)
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

// deploy/local.yaml is valid, stays on loopback, matches the component
// secret of the deployed XMPP server configurations, and works: the bridge
// runs from it (only ports and paths substituted) as the component of the
// deployed Prosody; a caller dials the demo room, becomes its moderator
// with the PIN on the keypad, and a chat user sees the room's subject.
func TestDeployLocalConfig(t *testing.T) {
	local, err := config.Load("../deploy/local.yaml")
	if err != nil {
		t.Fatalf("deploy/local.yaml: %v", err)
	}
	for _, l := range local.SIP.Listen {
		if !strings.Contains(l, ":127.0.0.1:") {
			t.Errorf("sip.listen %q is not loopback", l)
		}
	}
	if local.SIP.AdvertisedIP.String() != "127.0.0.1" || local.RTP.BindIP.String() != "127.0.0.1" ||
		!strings.HasPrefix(local.Admin.Listen, "127.0.0.1:") || !strings.HasPrefix(local.XMPP.Server, "127.0.0.1:") {
		t.Errorf("not all on loopback: advertised %q, rtp %q, admin %q, xmpp %q", local.SIP.AdvertisedIP, local.RTP.BindIP, local.Admin.Listen, local.XMPP.Server)
	}
	if len(local.Rooms) != 1 || local.Rooms[0].PIN == "" || len(local.Rooms[0].Moderators) == 0 {
		t.Fatalf("want one demo room with moderators and a PIN: %+v", local.Rooms)
	}
	for _, f := range []string{"../deploy/prosody/prosody.cfg.lua", "../deploy/ejabberd/ejabberd.yml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), fmt.Sprintf("%q", local.XMPP.Secret)) || !strings.Contains(string(data), fmt.Sprintf("%q", local.XMPP.Domain)) {
			t.Errorf("%s does not serve %s with xmpp.secret %q of local.yaml", f, local.XMPP.Domain, local.XMPP.Secret)
		}
	}

	xs := StartProsody(t, map[string]string{"alice": "pw-alice"})
	b := StartBridge(t, func(c *config.Config) {
		listen, ports, bind, admin, st := c.SIP.Listen, c.RTP.Ports, c.RTP.BindIP, c.Admin.Listen, c.Store.Path
		*c = local
		c.SIP.Listen, c.RTP.Ports, c.RTP.BindIP, c.Admin.Listen, c.Store.Path = listen, ports, bind, admin, st
		c.XMPP.Server, c.XMPP.Secret = xs.ComponentAddr(), xs.Secret
	})
	WaitFor(t, 10*time.Second, "component connected", func() bool {
		return b.Metric("cusax_xmpp_component_connected") == 1
	})
	room := local.Rooms[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dialTone(t, ctx, b.SIPAddr, room.Name, "bob", 700)
	for _, d := range "*1" + room.PIN + "#" {
		if err := c.phone.SendDTMF(d, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	WaitFor(t, 10*time.Second, "the PIN making the caller a moderator", func() bool {
		return b.Metric("cusax_moderation_actions_total", `action="role"`, `origin="dtmf"`) == 1
	})
	alice := DialXMPP(t, xs.C2SAddr(), "alice", xs.Domain, "pw-alice")
	got := alice.Join(room.Name+"@"+local.XMPP.Domain, "Alice", "")
	if last := got[len(got)-1]; last.Child("", "subject") == nil || last.Child("", "subject").Text != room.Subject {
		t.Fatalf("chat user's join: want subject %q, got %v", room.Subject, got)
	}
}

// `make run` builds bin/bridge and runs it; Ctrl-C (SIGINT to the
// foreground process group, as a terminal sends it) ends the bridge
// gracefully and make prints no error. GNU make re-raises a SIGINT it
// received once its child has exited, so the shell sees make end by SIGINT
// (status 130) rather than 0; what make ran, bin/bridge, exits 0 on SIGINT,
// checked last.
func TestMakeRunEndsCleanlyOnSIGINT(t *testing.T) {
	mk := NeedTool(t, "make", "make")
	dir := t.TempDir()
	sip, admin := FreePort(t), FreePort(t)
	lo, hi := FreeRTPRange(t, 10)
	cfg := fmt.Sprintf(`sip: {listen: ["udp:127.0.0.1:%d", "tcp:127.0.0.1:%d"]}
rtp: {ports: "%d-%d", bind_ip: 127.0.0.1}
xmpp: {mode: "off"}
admin: {listen: "127.0.0.1:%d"}
store: {path: %q}
`, sip, sip, lo, hi, admin, filepath.Join(dir, "bridge.db"))
	path := filepath.Join(dir, "bridge.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ready := func() bool {
		res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", admin))
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}
	// run starts args in its own process group, waits until the bridge is
	// ready, sends SIGINT to the group and returns how it ended.
	run := func(name string, args ...string) (*exec.ExitError, string) {
		var out lockedBuffer
		cmd := exec.Command(name, args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		WaitFor(t, 3*time.Minute, name+": bridge ready", func() bool {
			select {
			case err := <-done:
				t.Fatalf("%s ended early: %v\n%s", name, err, out.String())
			default:
			}
			return ready()
		})
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err == nil {
				return nil, out.String()
			}
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatal(err)
			}
			return ee, out.String()
		case <-time.After(20 * time.Second):
			t.Fatalf("%s did not end within 20s of SIGINT\n%s", name, out.String())
		}
		return nil, ""
	}

	ee, out := run(mk, "--no-print-directory", "-C", "..", "run", "CONFIG="+path)
	if ee != nil {
		ws, _ := ee.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGINT {
			t.Errorf("make run after SIGINT: %v\n%s", ee, out)
		}
	}
	if strings.Contains(out, "Error") || strings.Contains(out, "Interrupt") || !strings.Contains(out, "shutting down") {
		t.Errorf("make run after SIGINT: no graceful shutdown, or make complained:\n%s", out)
	}
	if !strings.Contains(out, "exec bin/bridge serve") {
		t.Errorf("make run does not run bin/bridge:\n%s", out)
	}
	if ee, out := run("../bin/bridge", "serve", "--config", path); ee != nil {
		t.Errorf("bin/bridge after SIGINT: %v\n%s", ee, out)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
