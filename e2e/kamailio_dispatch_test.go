package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cusax.dev/bridge/config"
	"cusax.dev/bridge/mixer/audiotest"
)

const (
	kamailioConfig     = "../deploy/kamailio/kamailio.cfg"
	kamailioDispatcher = "../deploy/kamailio/dispatcher.list"
)

// startBridgeOn starts a bridge whose SIP and RTP are on ip (another
// loopback address than 127.0.0.1); admin stays on 127.0.0.1. It returns
// the bridge and its SIP address.
func startBridgeOn(t *testing.T, ip string) (*Bridge, string) {
	t.Helper()
	var addr string
	b := StartBridge(t, func(c *config.Config) {
		addr = fmt.Sprintf("%s:%d", ip, FreePort(t))
		c.SIP.Listen = []string{"udp:" + addr, "tcp:" + addr}
		c.RTP.BindIP = config.AddrList{ip}
	})
	return b, addr
}

// startKamailio runs Kamailio in the foreground from the deployed
// configuration, listening on 127.0.0.1:port with the deployed dispatcher
// list rewritten to the given bridges. Its processes are killed when the
// test ends.
func startKamailio(t *testing.T, bridges ...string) string {
	t.Helper()
	bin := NeedTool(t, "kamailio", "kamailio")
	dir := t.TempDir()
	list, err := os.ReadFile(kamailioDispatcher)
	if err != nil {
		t.Fatal(err)
	}
	var dsts []string
	for _, line := range strings.Split(string(list), "\n") {
		if strings.HasPrefix(line, "1 sip:") {
			dsts = append(dsts, strings.Fields(line)[1])
		}
	}
	if len(dsts) != len(bridges) {
		t.Fatalf("%s lists %d bridges in set 1, the test runs %d", kamailioDispatcher, len(dsts), len(bridges))
	}
	l := string(list)
	for i, d := range dsts {
		l = strings.Replace(l, d, "sip:"+bridges[i], 1)
	}
	listPath := filepath.Join(dir, "dispatcher.list")
	if err := os.WriteFile(listPath, []byte(l), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(kamailioConfig)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	c := string(cfg)
	for _, r := range [][2]string{
		{`"/etc/kamailio/dispatcher.list"`, fmt.Sprintf("%q", listPath)},
		{"listen=udp:127.0.0.1:5060", "listen=udp:" + addr},
		{"listen=tcp:127.0.0.1:5060", "listen=tcp:" + addr},
	} {
		if !strings.Contains(c, r[0]) {
			t.Fatalf("%s no longer contains %q", kamailioConfig, r[0])
		}
		c = strings.Replace(c, r[0], r[1], 1)
	}
	cfgPath := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(cfgPath, []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs bytes.Buffer
	cmd := exec.Command(bin, "-DD", "-E", "-m", "32", "-M", "8", "-f", cfgPath, "-Y", dir)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &lockedWriter{mu: &mu, b: &logs}, &lockedWriter{mu: &mu, b: &logs}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	output := func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("kamailio output:\n%s", lastLines(output(), 80))
		}
	})
	WaitFor(t, 15*time.Second, "kamailio listening", func() bool {
		select {
		case <-done:
			t.Fatalf("kamailio exited during start-up:\n%s", output())
		default:
		}
		return PortsBusyTCP(addr)
	})
	return addr
}

// PortsBusyTCP reports whether something accepts TCP connections on addr.
func PortsBusyTCP(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Two bridges on 127.0.0.2 and 127.0.0.3 behind Kamailio with the
// deployed dispatcher configuration (hash of the Request-URI user). Two
// callers per room dial sip:ROOM@kamailio for six rooms (three of them with
// one caller over TCP): both callers of a
// room are answered by the same bridge and hear each other (Goertzel), and
// the rooms are spread over both bridges, whose participant counts agree.
// When one bridge stops, its room's next caller is answered by the other.
func TestKamailioDispatchesRoomsToOneBridgeEach(t *testing.T) {
	NeedTool(t, "kamailio", "kamailio")
	bA, addrA := startBridgeOn(t, "127.0.0.2")
	bB, addrB := startBridgeOn(t, "127.0.0.3")
	proxy := startKamailio(t, addrA, addrB)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rooms := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"}
	type pair struct {
		room  string
		node  string
		calls [2]*caller
	}
	var pairs []pair
	perNode := map[string]int{}
	for i, room := range rooms {
		p := pair{room: room}
		for j := range 2 {
			// The second caller spells the room in capitals: the hash is
			// on the folded name, as the bridge folds it.
			name := room
			if j == 1 {
				name = strings.ToUpper(room)
			}
			// Odd rooms' second caller reaches Kamailio over TCP.
			transport := "udp"
			if j == 1 && i%2 == 1 {
				transport = "tcp"
			}
			c := dialToneOver(t, ctx, transport, proxy, name, fmt.Sprintf("%s%d", room, j), float64(400+300*j+50*i))
			if got := c.call.Invite.Transport(); !strings.EqualFold(got, transport) {
				t.Fatalf("%s's INVITE went over %s, want %s", name, got, transport)
			}
			host := c.call.Response.Contact().Address.Host
			if j == 0 {
				p.node = host
			} else if host != p.node {
				t.Errorf("room %s: callers answered by %s and %s", room, p.node, host)
			}
			p.calls[j] = c
		}
		perNode[p.node] += 2
		pairs = append(pairs, p)
	}
	if len(perNode) != 2 || perNode["127.0.0.2"] == 0 || perNode["127.0.0.3"] == 0 {
		t.Fatalf("rooms not spread over both bridges: %v", perNode)
	}
	t.Logf("participants per bridge: %v", perNode)
	WaitFor(t, 10*time.Second, "each bridge's participants", func() bool {
		return int(bA.Metric("cusax_participants_active")) == perNode["127.0.0.2"] &&
			int(bB.Metric("cusax_participants_active")) == perNode["127.0.0.3"]
	})

	// Everyone hears the other caller of their room (waited for: on a
	// loaded machine the last calls' media may take a moment), and not the
	// callers of another room, on the same bridge or not.
	const rate, window = 8000, 4000 // the last half second
	for _, p := range pairs {
		for _, c := range p.calls {
			c.phone.ResetRecording()
		}
	}
	for _, p := range pairs {
		var levels [2]float64
		hearEachOther := func() bool {
			for j, c := range p.calls {
				rec := c.phone.Tail(window)
				if len(rec) < window {
					return false
				}
				levels[j] = audiotest.PowerDB(rec, p.calls[1-j].freq, rate)
				if levels[j] < -40 {
					return false
				}
			}
			return true
		}
		func() {
			defer func() {
				if t.Failed() {
					t.Logf("room %s on %s: its callers hear each other at %.1f / %.1f dBFS", p.room, p.node, levels[0], levels[1])
				}
			}()
			WaitFor(t, 10*time.Second, "room "+p.room+"'s callers hearing each other (≥ −40 dBFS)", hearEachOther)
		}()
		for j, c := range p.calls {
			rec := c.phone.Tail(window)
			for _, q := range pairs {
				if q.room == p.room {
					continue
				}
				for _, x := range q.calls {
					if lvl := audiotest.PowerDB(rec, x.freq, rate); lvl > levels[j]-20 {
						t.Errorf("room %s caller %d hears room %s's %v Hz at %.1f dBFS (its own room at %.1f)", p.room, j, q.room, x.freq, lvl, levels[j])
					}
				}
			}
		}
	}
	for _, p := range pairs {
		for _, c := range p.calls {
			if res, err := c.call.Bye(ctx); err != nil || res.StatusCode != 200 {
				t.Errorf("room %s BYE: %v %v", p.room, res, err)
			}
		}
	}
	WaitFor(t, 10*time.Second, "both bridges empty", func() bool {
		return bA.Metric("cusax_participants_active") == 0 && bB.Metric("cusax_participants_active") == 0
	})

	// Failover: the bridge of the first room stops; a new caller of that
	// room is answered by the other bridge (failure_route after fr_timer).
	down, up, upNode := bA, bB, "127.0.0.3"
	if pairs[0].node == "127.0.0.3" {
		down, up, upNode = bB, bA, "127.0.0.2"
	}
	if code := down.Stop(); code != 0 {
		t.Fatalf("bridge exit code %d", code)
	}
	c := dialTone(t, ctx, proxy, pairs[0].room, "late", 2000)
	if host := c.call.Response.Contact().Address.Host; host != upNode {
		t.Fatalf("after its bridge stopped, room %s was answered by %s, want %s", pairs[0].room, host, upNode)
	}
	WaitFor(t, 5*time.Second, "the caller on the remaining bridge", func() bool {
		return up.Metric("cusax_participants_active") == 1
	})
}
