package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/e2e/sipua"
)

// A moderator pulls a sipp callee into the conference (REFER without
// method); sipp rings (180) and never answers. The bridge shuts down while
// it rings: the focus's dialog client (sipgo's DialogClientSession) CANCELs
// the INVITE, and sipp, an independent SIP stack, accepts the CANCEL as its
// INVITE's (same branch, From, To, Call-ID, CSeq), answers 200 and 487 and
// gets the ACK for the 487: its scenario completes, so it exits 0. The
// referrer heard the ringing before.
func TestSippDialOutCanceledAtShutdown(t *testing.T) {
	bin := sipp(t)
	b := moderatedBridge(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	sf, err := filepath.Abs(filepath.Join("testdata", "uas_ring_cancel.xml"))
	if err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	dir := t.TempDir()
	callee := exec.CommandContext(ctx, bin, "-sf", sf, "-m", "1", "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-timeout", "40s", "-timeout_error", "-nostdin", "-trace_err", "-trace_msg")
	callee.Dir = dir
	var out bytes.Buffer
	callee.Stdout, callee.Stderr = &out, &out
	if err := callee.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- callee.Wait() }()

	alice, err := sipua.New(sipua.Config{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { alice.Close() })
	r, err := alice.Refer(ctx, alice.Target("team", b.SIPAddr), []string{"<sip:callee@127.0.0.1:" + strconv.Itoa(port) + ">"},
		&sipua.Credentials{User: "alice", Password: "alice-secret"})
	if err != nil || r.Response.StatusCode != 202 {
		t.Fatalf("REFER: %v %v", r.Response, err)
	}
	// The focus reports 100 Trying, then sipp's 180: the INVITE rings.
	for ringing := false; !ringing; {
		n, err := r.NextNotify(ctx)
		if err != nil {
			t.Fatalf("no 180 in the refer NOTIFYs: %v", err)
		}
		ringing = strings.HasPrefix(string(n.Body()), "SIP/2.0 180 ")
	}
	if code := b.Stop(); code != 0 {
		t.Errorf("bridge exit code %d", code)
	}
	select {
	case err := <-exited:
		if err != nil {
			logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
			var sb strings.Builder
			for _, l := range logs {
				sb.WriteString("== " + filepath.Base(l) + "\n")
			}
			t.Fatalf("sipp callee: %v\n%s\n%s\nbridge:\n%s", err, tail(out.String(), 2000), sb.String(), tail(b.Logs(), 3000))
		}
	case <-ctx.Done():
		t.Fatal("sipp callee still waiting")
	}
}
