package e2e

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zaf/g711"

	"cusax.dev/bridge/config"
)

// sipp returns the sipp binary (see NeedTool).
func sipp(t *testing.T) string {
	t.Helper()
	return NeedTool(t, "sipp", "sip-tester")
}

// runSipp runs one call of scenario (a file under testdata) against the
// bridge from dir and fails the test with sipp's logs if sipp fails.
func runSipp(t *testing.T, b *Bridge, scenario, transport, dir string) {
	t.Helper()
	bin := sipp(t)
	sf, err := filepath.Abs(filepath.Join("testdata", scenario))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-sf", sf, "-s", "team", "-m", "1", "-i", "127.0.0.1", "-mi", "127.0.0.1",
		"-p", strconv.Itoa(FreePort(t)), "-mp", strconv.Itoa(FreePort(t)),
		"-timeout", "30s", "-timeout_error", "-nostdin", "-trace_err", "-trace_msg"}
	if transport == "tcp" {
		args = append(args, "-t", "t1")
	}
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

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// writeTone writes d of a 700 Hz tone as raw G.711 µ-law, what sipp's
// rtp_stream sends with payload type 0.
func writeTone(t *testing.T, path string, d time.Duration) {
	t.Helper()
	n := int(d.Seconds() * 8000)
	pcm := make([]byte, 0, 2*n)
	for i := range n {
		v := int16(10000 * math.Sin(2*math.Pi*700*float64(i)/8000))
		pcm = append(pcm, byte(v), byte(v>>8))
	}
	if err := os.WriteFile(path, g711.EncodeUlaw(pcm), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sipp calls the conference, checks the isfocus Contact of the 200,
// streams two seconds of PCMU with rtp_stream, and hangs up; the bridge
// must have received the RTP and freed the seat and the port.
func TestSippInviteRTP(t *testing.T) {
	sipp(t)
	b := StartBridge(t, nil)
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			before := b.Metric("cusax_rtp_packets_total", `direction="in"`)
			dir := t.TempDir()
			writeTone(t, filepath.Join(dir, "tone.ulaw"), 2*time.Second)
			runSipp(t, b, "uac_invite_rtp.xml", transport, dir)
			if got := b.Metric("cusax_rtp_packets_total", `direction="in"`) - before; got < 50 {
				t.Errorf("bridge received %v RTP packets from sipp, want about 100", got)
			}
			WaitFor(t, 5*time.Second, "participant gone", func() bool { return b.Metric("cusax_participants_active") == 0 })
			WaitFor(t, 5*time.Second, "RTP ports free", func() bool { return len(PortsBusy(b.RTPMin, b.RTPMax)) == 0 })
		})
	}
}

// sipp INVITEs, waits for the 100 (and the 180 of the ringing focus),
// CANCELs, and expects 200 to the CANCEL and 487 to the INVITE.
func TestSippCancel(t *testing.T) {
	sipp(t)
	b := StartBridge(t, func(c *config.Config) {
		// The focus must ring before it answers, or the 200 beats any CANCEL.
		c.SIP.AnswerDelay = config.Duration(2 * time.Second)
	})
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			runSipp(t, b, "uac_cancel.xml", transport, t.TempDir())
			if n := b.Metric("cusax_sip_responses_total", `method="INVITE"`, `class="4xx"`); n < 1 {
				t.Errorf("no 4xx to INVITE counted (%v)", n)
			}
			WaitFor(t, 5*time.Second, "RTP ports free", func() bool { return len(PortsBusy(b.RTPMin, b.RTPMax)) == 0 })
			if n := b.Metric("cusax_participants_active"); n != 0 {
				t.Errorf("%v participants after CANCEL", n)
			}
		})
	}
}
