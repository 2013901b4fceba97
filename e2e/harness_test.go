package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"cusax.dev/bridge/config"
	"cusax.dev/bridge/internal/testwait"
)

// bridgeBin is the binary built once by TestMain.
var bridgeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cusax-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bridgeBin = filepath.Join(dir, "bridge")
	build := exec.Command("go", "build", "-race", "-o", bridgeBin, "cusax.dev/bridge/cmd/bridge")
	if os.Getenv("E2E_NORACE") != "" {
		build = exec.Command("go", "build", "-o", bridgeBin, "cusax.dev/bridge/cmd/bridge")
	}
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build bridge:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// FreePort returns a loopback port that is free for both UDP and TCP right
// now (SIP listens on both).
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// FreeRTPRange returns an inclusive range of n consecutive UDP ports,
// starting even, that are free on loopback now.
func FreeRTPRange(t testing.TB, n int) (lo, hi int) {
	t.Helper()
	for range 200 {
		lo = 20000 + 2*rand.IntN(20000)
		hi = lo + n - 1
		if hi > 65535 {
			continue
		}
		ok := true
		for p := lo; p <= hi && ok; p++ {
			c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			c.Close()
		}
		if ok {
			return lo, hi
		}
	}
	t.Fatal("no free RTP range")
	return 0, 0
}

// PortsFree reports the ports of [lo, hi] that cannot be bound on loopback.
func PortsBusy(lo, hi int) []int {
	var busy []int
	for p := lo; p <= hi; p++ {
		c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			busy = append(busy, p)
			continue
		}
		c.Close()
	}
	return busy
}

// Bridge is a running bridge binary.
type Bridge struct {
	t          testing.TB
	Dir        string
	ConfigPath string
	Config     config.Config
	SIPPort    int
	SIPAddr    string // 127.0.0.1:port, UDP and TCP
	AdminURL   string // http://127.0.0.1:port
	RTPMin     int
	RTPMax     int

	// NoFile, when set before Start, runs the binary with RLIMIT_NOFILE
	// (soft and hard) at this value (StartBridgeLimited).
	NoFile int

	mu   sync.Mutex
	cmd  *exec.Cmd
	logs bytes.Buffer
	done chan struct{}
	exit int
}

// StartBridge writes a configuration on free loopback ports, lets mutate
// adjust it, starts the binary and waits for /readyz. The bridge is stopped
// at the end of the test; its log is printed if the test failed.
func StartBridge(t testing.TB, mutate func(*config.Config)) *Bridge {
	t.Helper()
	return StartBridgeLimited(t, 0, mutate)
}

// StartBridgeLimited is StartBridge with RLIMIT_NOFILE set to nofile (soft
// and hard, through the shell's ulimit) for the binary; 0 leaves it.
func StartBridgeLimited(t testing.TB, nofile int, mutate func(*config.Config)) *Bridge {
	t.Helper()
	b := &Bridge{t: t, Dir: t.TempDir(), NoFile: nofile}
	b.SIPPort = FreePort(t)
	b.SIPAddr = fmt.Sprintf("127.0.0.1:%d", b.SIPPort)
	adminPort := FreePort(t)
	b.AdminURL = fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	b.RTPMin, b.RTPMax = FreeRTPRange(t, 40)

	cfg := config.Default()
	cfg.SIP.Listen = []string{"udp:" + b.SIPAddr, "tcp:" + b.SIPAddr}
	cfg.SIP.Domain = "127.0.0.1"
	cfg.RTP.Ports = fmt.Sprintf("%d-%d", b.RTPMin, b.RTPMax)
	cfg.RTP.BindIP = config.AddrList{"127.0.0.1"}
	cfg.RTP.RTCPInterval = config.Duration(time.Second)
	cfg.XMPP.Mode = "off"
	cfg.Admin.Listen = fmt.Sprintf("127.0.0.1:%d", adminPort)
	cfg.Store.Path = filepath.Join(b.Dir, "bridge.db")
	cfg.Log.Level = "debug"
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config invalid: %v", err)
	}
	b.Config = cfg
	data, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.ConfigPath = filepath.Join(b.Dir, "bridge.yaml")
	if err := os.WriteFile(b.ConfigPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Stop()
		if t.Failed() {
			t.Logf("bridge log:\n%s", b.Logs())
		}
	})
	b.Start()
	return b
}

// Start starts (or restarts) the binary with the same configuration and
// waits until it is ready.
func (b *Bridge) Start() {
	b.t.Helper()
	b.mu.Lock()
	cmd := exec.Command(bridgeBin, "serve", "--config", b.ConfigPath)
	if b.NoFile > 0 {
		cmd = exec.Command("/bin/sh", "-c", `ulimit -n "$1" && exec "$2" serve --config "$3"`,
			"sh", strconv.Itoa(b.NoFile), bridgeBin, b.ConfigPath)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		b.mu.Unlock()
		b.t.Fatalf("start bridge: %v", err)
	}
	b.cmd = cmd
	b.done = make(chan struct{})
	done := b.done
	b.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			b.mu.Lock()
			b.logs.Write(sc.Bytes())
			b.logs.WriteByte('\n')
			b.mu.Unlock()
		}
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		b.mu.Lock()
		b.exit = 0
		if err != nil {
			b.exit = -1
			if ee, ok := err.(*exec.ExitError); ok {
				b.exit = ee.ExitCode()
			}
		}
		b.mu.Unlock()
		close(done)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			b.t.Fatalf("bridge exited during start-up:\n%s", b.Logs())
		default:
		}
		res, err := http.Get(b.AdminURL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("bridge not ready within 15s:\n%s", b.Logs())
}

// Stop sends SIGTERM and waits up to 15 s for a graceful exit (then kills).
// It returns the exit code; stopping a stopped bridge returns its last code.
func (b *Bridge) Stop() int {
	b.mu.Lock()
	cmd, done := b.cmd, b.done
	b.mu.Unlock()
	if cmd == nil {
		return b.exit
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		b.t.Errorf("bridge did not stop within 15s of SIGTERM")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cmd = nil
	return b.exit
}

// Logs returns everything the bridge printed so far.
func (b *Bridge) Logs() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.logs.String()
}

// Metrics returns the /metrics text.
func (b *Bridge) Metrics() string {
	b.t.Helper()
	res, err := http.Get(b.AdminURL + "/metrics")
	if err != nil {
		b.t.Fatalf("GET /metrics: %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return string(body)
}

// Metric sums the samples of metric name whose label set contains every
// given "k=\"v\"" pair (no pairs: all samples).
func (b *Bridge) Metric(name string, labels ...string) float64 {
	b.t.Helper()
	return MetricValue(b.Metrics(), name, labels...)
}

// MetricValue sums matching samples in a Prometheus text exposition.
func MetricValue(text, name string, labels ...string) float64 {
	var sum float64
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		f := strings.Fields(rest[strings.LastIndex(rest, "}")+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// WaitFor waits until cond is true, failing the test after timeout (the
// tests' one wait-until helper, testwait.Until).
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, timeout, what, cond)
}

// NeedTool returns the path of the program bin, which Debian package pkg
// provides. Without it the test is skipped on a developer's machine, but
// fails under CI (CI set in the environment), where .ci/run installs every
// package the tests need: a missing peer must never pass silently there.
func NeedTool(t testing.TB, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s is not installed (Debian package %s; .ci/run installs it)", bin, pkg)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
