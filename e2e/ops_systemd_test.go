package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

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
