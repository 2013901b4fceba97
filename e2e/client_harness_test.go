package e2e

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// prosodyTLS gives a running Prosody a certificate for its VirtualHost
// (signed by a fresh test CA) and restarts it, so its c2s port offers
// STARTTLS; it returns the CA's PEM file for the client's --ca-file.
func prosodyTLS(t *testing.T, p *Prosody) string {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cusax e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: p.Domain},
		DNSNames: []string{p.Domain}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	write := func(path, typ string, b []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	certs := filepath.Join(p.Dir, "certs")
	write(filepath.Join(certs, p.Domain+".crt"), "CERTIFICATE", der)
	write(filepath.Join(certs, p.Domain+".key"), "PRIVATE KEY", keyDER)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	write(caFile, "CERTIFICATE", caDER)
	// Older harness configurations loaded no mod_tls: add it if missing.
	cfg, err := os.ReadFile(p.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), `"tls"`) {
		withTLS := strings.Replace(string(cfg), `modules_enabled = { "disco";`, `modules_enabled = { "tls"; "disco";`, 1)
		if withTLS == string(cfg) {
			t.Fatal("the Prosody configuration has changed: cannot enable mod_tls")
		}
		if err := os.WriteFile(p.ConfigPath, []byte(withTLS), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p.Stop()
	p.Start()
	return caFile
}

// ScriptClient is `bridge client --script` run by a test: commands go to
// its stdin, its JSON-line events are collected.
type ScriptClient struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	done   chan struct{}
	exit   int
	stderr strings.Builder

	mu     sync.Mutex
	events []map[string]any
	raw    []string
}

// StartScriptClient starts the client binary with args in script mode.
func StartScriptClient(t *testing.T, name string, args ...string) *ScriptClient {
	t.Helper()
	c := &ScriptClient{t: t, name: name, done: make(chan struct{})}
	c.cmd = exec.Command(bridgeBin, append([]string{"client", "--script"}, args...)...)
	c.cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir())
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stderr = &stderrWriter{mu: &c.mu, b: &c.stderr}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 4<<20)
		for sc.Scan() {
			var ev map[string]any
			line := sc.Text()
			c.mu.Lock()
			c.raw = append(c.raw, line)
			if json.Unmarshal([]byte(line), &ev) == nil {
				c.events = append(c.events, ev)
			} else {
				c.events = append(c.events, map[string]any{"event": "UNPARSABLE", "line": line})
			}
			c.mu.Unlock()
		}
		err := c.cmd.Wait()
		c.exit = 0
		if ee, ok := err.(*exec.ExitError); ok {
			c.exit = ee.ExitCode()
		} else if err != nil {
			c.exit = -1
		}
		close(c.done)
	}()
	t.Cleanup(func() {
		c.stdin.Close()
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
		if t.Failed() {
			t.Logf("client %s events:\n%s\nstderr:\n%s", c.name, strings.Join(c.Raw(), "\n"), c.Stderr())
		}
	})
	return c
}

// stderrWriter collects a client's stderr under its mutex.
type stderrWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w *stderrWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Stderr is what the client wrote to stderr.
func (c *ScriptClient) Stderr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

// Raw returns the event lines received so far.
func (c *ScriptClient) Raw() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.raw...)
}

// Send writes one command line.
func (c *ScriptClient) Send(format string, args ...any) {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.stdin, format+"\n", args...); err != nil {
		c.t.Fatalf("%s: send: %v", c.name, err)
	}
}

// Events returns the events received so far.
func (c *ScriptClient) Events() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.events...)
}

// WaitEvent waits for an event after index from (0: any) matching match,
// and returns its index.
func (c *ScriptClient) WaitEvent(what string, from int, match func(map[string]any) bool) (int, map[string]any) {
	c.t.Helper()
	var idx int
	var got map[string]any
	WaitFor(c.t, 30*time.Second, c.name+": "+what, func() bool {
		evs := c.Events()
		for i := from; i < len(evs); i++ {
			if match(evs[i]) {
				idx, got = i, evs[i]
				return true
			}
		}
		return false
	})
	return idx, got
}

// Rows is the last participants list.
func (c *ScriptClient) Rows() []map[string]any {
	evs := c.Events()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i]["event"] == "participants" {
			var rows []map[string]any
			for _, r := range evs[i]["list"].([]any) {
				rows = append(rows, r.(map[string]any))
			}
			return rows
		}
	}
	return nil
}

// WaitRows waits until the last participant list satisfies ok.
func (c *ScriptClient) WaitRows(what string, ok func(rows []map[string]any) bool) []map[string]any {
	c.t.Helper()
	var rows []map[string]any
	WaitFor(c.t, 30*time.Second, c.name+": participants "+what, func() bool {
		rows = c.Rows()
		return ok(rows)
	})
	return rows
}

// Wait waits for the client to exit and returns its exit code.
func (c *ScriptClient) Wait(timeout time.Duration) int {
	c.t.Helper()
	select {
	case <-c.done:
		return c.exit
	case <-time.After(timeout):
		c.t.Fatalf("%s did not exit within %v", c.name, timeout)
		return -1
	}
}

// rowNamed returns the row called name.
func rowNamed(rows []map[string]any, name string) map[string]any {
	for _, r := range rows {
		if r["name"] == name {
			return r
		}
	}
	return nil
}

func rowsString(rows []map[string]any) string {
	b, _ := json.Marshal(rows)
	return string(b)
}
