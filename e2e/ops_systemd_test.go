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
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cusax.dev/bridge/config"
)

const systemdDir = "../deploy/systemd/"

// The service unit passes `systemd-analyze verify` without a single
// complaint (unknown keys and bad values are only warnings there, so any
// output fails the test), with ExecStart pointed at the built binary.
// It names its own user, keeps state in /var/lib/cusax-bridge, restarts on
// failure, is sandboxed, and allows enough descriptors for the default RTP
// range.
func TestDeploySystemdUnitVerifies(t *testing.T) {
	analyze := NeedTool(t, "systemd-analyze", "systemd")
	data, err := os.ReadFile(systemdDir + "cusax-bridge.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(data)
	for _, want := range []string{"User=cusax-bridge", "StateDirectory=cusax-bridge", "WorkingDirectory=/var/lib/cusax-bridge",
		"Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
		"CapabilityBoundingSet=\n", "RestartPreventExitStatus=2"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", strings.TrimSpace(want))
		}
	}
	m := regexp.MustCompile(`(?m)^LimitNOFILE=(\d+)$`).FindStringSubmatch(unit)
	lo, hi, err := config.ParsePortRange(config.Default().RTP.Ports)
	if err != nil {
		t.Fatal(err)
	}
	if m == nil {
		t.Fatal("unit sets no LimitNOFILE")
	}
	if n, _ := strconv.Atoi(m[1]); n < hi-lo+1+1024 {
		t.Errorf("LimitNOFILE=%d is too small for rtp.ports %d-%d (two sockets per call) plus 1024", n, lo, hi)
	}
	const exec0 = "ExecStart=/usr/local/bin/cusax-bridge "
	if !strings.Contains(unit, exec0) {
		t.Fatalf("unit does not start /usr/local/bin/cusax-bridge")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "cusax-bridge.service")
	if err := os.WriteFile(path, []byte(strings.Replace(unit, exec0, "ExecStart="+bridgeBin+" ", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// The sysusers snippet creates the cusax-bridge user and group, and the
// tmpfiles snippet then creates its state directory owned by it and its
// configuration directory readable by its group (both applied to a
// scratch root with --root).
func TestDeploySystemdUsersAndDirectories(t *testing.T) {
	sysusers := NeedTool(t, "systemd-sysusers", "systemd")
	tmpfiles := NeedTool(t, "systemd-tmpfiles", "systemd")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	abs := func(name string) string {
		p, err := filepath.Abs(systemdDir + name)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if out, err := exec.Command(sysusers, "--root="+root, abs("cusax-bridge.sysusers")).CombinedOutput(); err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	line := regexp.MustCompile(`(?m)^cusax-bridge:x:(\d+):(\d+):[^:]*:/var/lib/cusax-bridge:/usr/sbin/nologin$`).FindStringSubmatch(string(passwd))
	if line == nil {
		t.Fatalf("no cusax-bridge system user:\n%s", passwd)
	}
	uid, _ := strconv.Atoi(line[1])
	gid, _ := strconv.Atoi(line[2])
	if uid == 0 || uid >= 1000 {
		t.Errorf("uid %d is not a system uid", uid)
	}
	if out, err := exec.Command(tmpfiles, "--root="+root, "--create", abs("cusax-bridge.tmpfiles")).CombinedOutput(); err != nil {
		t.Fatalf("systemd-tmpfiles: %v\n%s", err, out)
	}
	for _, c := range []struct {
		path     string
		uid, gid int
		mode     os.FileMode
	}{
		{"var/lib/cusax-bridge", uid, gid, 0o750},
		{"etc/cusax-bridge", 0, gid, 0o750},
	} {
		fi, err := os.Stat(filepath.Join(root, c.path))
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		if !fi.IsDir() || fi.Mode().Perm() != c.mode || int(st.Uid) != c.uid || int(st.Gid) != c.gid {
			t.Errorf("/%s: mode %v owner %d:%d, want dir %v %d:%d", c.path, fi.Mode(), st.Uid, st.Gid, c.mode, c.uid, c.gid)
		}
	}
}

// syscallGroups parses `systemd-analyze syscall-filter`: every @group with
// its members (system calls and nested @groups).
func syscallGroups(t *testing.T, analyze string) map[string][]string {
	t.Helper()
	out, err := exec.Command(analyze, "syscall-filter").Output()
	if err != nil {
		t.Fatalf("systemd-analyze syscall-filter: %v", err)
	}
	groups := map[string][]string{}
	var cur string
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "@"):
			cur = strings.TrimSpace(line)
		case strings.HasPrefix(line, "    ") && cur != "":
			if f := strings.TrimSpace(line); f != "" && !strings.HasPrefix(f, "#") {
				groups[cur] = append(groups[cur], f)
			}
		case strings.TrimSpace(line) == "":
			cur = ""
		}
	}
	if len(groups["@system-service"]) == 0 {
		t.Fatalf("no @system-service in systemd-analyze syscall-filter:\n%s", out)
	}
	return groups
}

// The unit's SystemCallFilter allows every system call the bridge makes:
// the bridge (built as `make build` builds it) runs under strace, takes a
// call with audio, serves /metrics and stops on SIGTERM; every system call
// it made must be in the unit's allow list (expanded with
// `systemd-analyze syscall-filter`) and not in its deny list, and every
// socket's address family in RestrictAddressFamilies, and it opens files
// for writing only in the store's directory (ProtectSystem=strict). Without this
// a call the filter forbids would only show up in production, as EPERM.
func TestDeploySystemdSyscallFilterCoversTheBridge(t *testing.T) {
	analyze := NeedTool(t, "systemd-analyze", "systemd")
	strace := NeedTool(t, "strace", "strace")
	groups := syscallGroups(t, analyze)
	var expand func(string, map[string]bool)
	expand = func(name string, into map[string]bool) {
		if !strings.HasPrefix(name, "@") {
			into[name] = true
			return
		}
		members, ok := groups[name]
		if !ok {
			t.Fatalf("unknown system call group %s", name)
		}
		for _, m := range members {
			expand(m, into)
		}
	}
	unit, err := os.ReadFile(systemdDir + "cusax-bridge.service")
	if err != nil {
		t.Fatal(err)
	}
	allow, deny := map[string]bool{}, map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^SystemCallFilter=(.*)$`).FindAllStringSubmatch(string(unit), -1) {
		v, into := m[1], allow
		if strings.HasPrefix(v, "~") {
			v, into = v[1:], deny
		}
		for _, name := range strings.Fields(v) {
			expand(name, into)
		}
	}
	if len(allow) == 0 {
		t.Fatal("the unit has no SystemCallFilter allow list")
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "bridge")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/bridge")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	sip, admin := FreePort(t), FreePort(t)
	lo, hi := FreeRTPRange(t, 10)
	cfg := fmt.Sprintf(`sip: {listen: ["udp:127.0.0.1:%d", "tcp:127.0.0.1:%d"]}
rtp: {ports: "%d-%d", bind_ip: 127.0.0.1, rtcp_interval: 1s}
xmpp: {mode: "off"}
admin: {listen: "127.0.0.1:%d"}
store: {path: %q}
`, sip, sip, lo, hi, admin, filepath.Join(dir, "bridge.db"))
	cfgPath := filepath.Join(dir, "bridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	tracePath := filepath.Join(dir, "trace")
	args := []string{"-f", "-qq", "-o", tracePath}
	if os.Geteuid() == 0 {
		// As the unit runs it: not as root (SQLite, for one, fchowns its
		// journal to the database's owner only when it runs as root).
		args = append(args, "-u", "nobody")
		for _, d := range []string{filepath.Dir(dir), dir} { // t.TempDir makes both 0700
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(cfgPath, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(strace, append(args, bin, "serve", "--config", cfgPath)...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	adminURL := fmt.Sprintf("http://127.0.0.1:%d", admin)
	WaitFor(t, 60*time.Second, "bridge under strace ready", func() bool {
		select {
		case err := <-done:
			t.Fatalf("strace ended early: %v\n%s", err, out.String())
		default:
		}
		res, err := http.Get(adminURL + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dialTone(t, ctx, fmt.Sprintf("127.0.0.1:%d", sip), "team", "caller", 700)
	WaitFor(t, 10*time.Second, "RTP mixed back to the caller", func() bool { return len(c.phone.Packets()) > 50 })
	if res, err := c.call.Bye(ctx); err != nil || res.StatusCode != 200 {
		t.Fatalf("BYE: %v %v", res, err)
	}
	if res, err := http.Get(adminURL + "/metrics"); err == nil {
		res.Body.Close()
	}
	// SIGTERM to the bridge (strace's child), not to strace.
	kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(kids)))
	if err != nil || pid == 0 {
		t.Fatalf("bridge pid under strace: %q %v", kids, err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("bridge under strace after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("bridge under strace did not stop within 30s of SIGTERM")
	}

	trace, err := os.ReadFile(tracePath)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]int{}
	call := regexp.MustCompile(`^\d+\s+([a-z0-9_]+)\(`)
	for _, line := range strings.Split(string(trace), "\n") {
		if m := call.FindStringSubmatch(line); m != nil {
			used[m[1]]++
		}
	}
	if used["sendto"]+used["sendmsg"]+used["write"] == 0 || len(used) < 20 {
		t.Fatalf("the trace looks empty (%d system calls): %v", len(used), used)
	}
	// The address families it opened sockets of are all allowed too.
	m := regexp.MustCompile(`(?m)^RestrictAddressFamilies=(.*)$`).FindStringSubmatch(string(unit))
	if m == nil {
		t.Fatal("the unit has no RestrictAddressFamilies")
	}
	families := strings.Fields(m[1])
	sockets := regexp.MustCompile(`\ssocket\((AF_[A-Z0-9]+)`).FindAllStringSubmatch(string(trace), -1)
	if len(sockets) < 3 {
		t.Fatalf("only %d socket() calls in the trace", len(sockets))
	}
	for _, f := range sockets {
		if !slices.Contains(families, f[1]) {
			t.Errorf("the unit's RestrictAddressFamilies (%v) would refuse a socket of %s", families, f[1])
		}
	}
	// ProtectSystem=strict leaves only the StateDirectory writable (here:
	// the store's directory); PrivateDevices keeps /dev/null and friends.
	storeWrites := 0
	for _, f := range regexp.MustCompile(`\sopenat\([^,]+, "([^"]+)", ([A-Z_|]+)`).FindAllStringSubmatch(string(trace), -1) {
		writes := strings.Contains(f[2], "O_WRONLY") || strings.Contains(f[2], "O_RDWR") || strings.Contains(f[2], "O_CREAT")
		if writes && strings.HasPrefix(f[1], dir+"/") {
			storeWrites++
		}
		if writes && !strings.HasPrefix(f[1], dir+"/") && !slices.Contains([]string{"/dev/null", "/dev/zero", "/dev/urandom"}, f[1]) {
			t.Errorf("the bridge opened %s for writing (%s): read-only under ProtectSystem=strict", f[1], f[2])
		}
	}
	if storeWrites == 0 {
		t.Error("no write-open of the store in the trace: the openat pattern no longer matches strace's output")
	}
	var names, blocked []string
	for name := range used {
		names = append(names, name)
		if !allow[name] || deny[name] {
			blocked = append(blocked, name)
		}
	}
	slices.Sort(names)
	slices.Sort(blocked)
	t.Logf("%d distinct system calls: %s", len(names), strings.Join(names, " "))
	if len(blocked) > 0 {
		t.Errorf("the unit's SystemCallFilter would refuse (EPERM) %v", blocked)
	}
}
