package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/config"
)

// withChat turns the MUC component on (pointed at a port where nothing
// listens: the bridge keeps trying, which does not affect SIP), so that
// conference state publishes xmpp:ROOM@conference.localhost?join.
func withChat(t *testing.T, c *config.Config) {
	c.XMPP.Mode = "component"
	c.XMPP.Server = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	c.XMPP.Domain = "conference.localhost"
	c.XMPP.Secret = "unused-secret"
}

// runSippArgs runs one call of scenario (a file under testdata) against
// the bridge with extra sipp arguments, and fails the test with sipp's
// logs if sipp fails.
func runSippArgs(t *testing.T, b *Bridge, scenario, transport, dir string, extra ...string) {
	t.Helper()
	bin := sipp(t)
	sf, err := filepath.Abs(filepath.Join("testdata", scenario))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-sf", sf, "-s", "team", "-m", "1", "-i", "127.0.0.1",
		"-p", strconv.Itoa(FreePort(t)), "-timeout", "30s", "-timeout_error", "-nostdin", "-trace_err", "-trace_msg"}
	if transport == "tcp" {
		args = append(args, "-t", "t1")
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, append(args, b.SIPAddr)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		var sb strings.Builder
		for _, l := range logs {
			data, _ := os.ReadFile(l)
			sb.WriteString("== " + filepath.Base(l) + "\n" + string(data) + "\n")
		}
		t.Fatalf("sipp %s over %s: %v\n%s\n%s", scenario, transport, err, tail(string(out), 2000), sb.String())
	}
}

// sipp subscribes to sip:team@DOMAIN, checks that the 200 and the first
// NOTIFY carry the isfocus Contact and that the NOTIFY's full state
// publishes xmpp:team@conference.localhost?join as grouptextchat, then
// unsubscribes and gets the terminating NOTIFY.
func TestSippSubscribe(t *testing.T) {
	sipp(t)
	b := StartBridge(t, func(c *config.Config) {
		withChat(t, c)
		c.SIP.SubscribePolicy = "anyone"
		c.Rooms = []config.Room{{Name: "team"}} // exists before anyone calls
	})
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			runSippArgs(t, b, "uac_subscribe.xml", transport, t.TempDir())
			WaitFor(t, 5*time.Second, "subscription ended", func() bool { return b.Metric("cusax_subscriptions_active") == 0 })
		})
	}
	if n := b.Metric("cusax_notify_sent_total", `event="conference"`); n != 4 {
		t.Errorf("%v conference NOTIFYs sent, want 4", n)
	}
}
