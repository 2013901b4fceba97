package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/config"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/mixer/audiotest"
)

// readWAV returns the 16-bit mono samples of a WAV file written by
// baresip's aufile player (the data chunk found by its tag).
func readWAV(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	i := strings.Index(string(b), "data")
	if i < 0 || len(b) < i+8 {
		t.Fatalf("%s: no data chunk (%d bytes)", path, len(b))
	}
	data := b[i+8:]
	out := make([]int16, len(data)/2)
	for k := range out {
		out[k] = int16(binary.LittleEndian.Uint16(data[2*k:]))
	}
	return out
}

// SRTP with SDES keys against baresip (mediaenc=srtp-mand): baresip calls
// into a meeting of two plain-RTP callers on a bridge with rtp.srtp: offer;
// the members hear baresip's sine (the bridge decrypts), and baresip
// records the members' tones (the bridge encrypts). With rtp.srtp:
// required a plain offer gets 488.
func TestSRTPWithBaresip(t *testing.T) {
	bin := NeedTool(t, "baresip", "baresip")
	b := StartBridge(t, func(c *config.Config) { c.RTP.SRTP = "offer" })
	m := startMeeting(t, b, nil)

	dir := t.TempDir()
	out := dir // sndfile writes dump-*-dec.wav here: what baresip decoded
	const sine = 1250
	cfg := fmt.Sprintf(`poll_method		epoll
sip_listen		127.0.0.1:%d
sip_trans_def		udp
audio_source		ausine,%d
audio_player		aubridge,nowhere
snd_path		%s
audio_alert		aufile,/dev/null
ausrc_srate		48000
ausrc_channels		2
auplay_srate		8000
auplay_channels		1
module_path		/usr/lib/baresip/modules
module			g711.so
module			ausine.so
module			aufile.so
module			srtp.so
module			aubridge.so
module			sndfile.so
module_app		account.so
module_app		menu.so
`, FreePort(t), sine, out)
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte("<sip:baresip@127.0.0.1>;regint=0;mediaenc=srtp-mand;audio_codecs=PCMU\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-f", dir, "-e", "/dial sip:team@"+b.SIPAddr, "-t", "12")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("baresip:\n%s", logs.String())
		}
	}()
	WaitFor(t, 10*time.Second, "baresip in the meeting", func() bool { return b.Metric("cusax_participants_active") == 3 })
	time.Sleep(time.Second)
	for _, c := range m.callers {
		c.phone.ResetRecording()
	}
	time.Sleep(1500 * time.Millisecond)
	for i, c := range m.callers {
		rec := c.phone.Tail(8000)
		if db := audiotest.PowerDB(rec, sine, 8000); len(rec) < 4000 || db < -40 {
			t.Errorf("member %d hears baresip's %d Hz at %.1f dBFS (%d samples): SRTP not decrypted", i, sine, db, len(rec))
		}
	}
	select {
	case err := <-done:
		done <- err
	case <-time.After(20 * time.Second):
		t.Fatal("baresip did not quit")
	}
	WaitFor(t, 10*time.Second, "baresip gone", func() bool { return b.Metric("cusax_participants_active") == 2 })
	wavs, _ := filepath.Glob(filepath.Join(dir, "*dec*.wav"))
	if len(wavs) == 0 {
		all, _ := filepath.Glob(filepath.Join(dir, "*"))
		t.Fatalf("baresip wrote no decoded audio: %v", all)
	}
	rec := readWAV(t, wavs[0])
	if len(rec) < 16000 {
		t.Fatalf("baresip recorded only %d samples", len(rec))
	}
	tail := rec[len(rec)-16000 : len(rec)-4000] // well inside the call
	for _, f := range meetingFreqs {
		if db := audiotest.PowerDB(tail, f, 8000); db < -40 {
			t.Errorf("baresip hears the member's %v Hz at only %.1f dBFS: SRTP from the bridge not decrypted", f, db)
		}
	}
	if !strings.Contains(logs.String(), "srtp") {
		t.Errorf("baresip did not use SRTP")
	}

	// rtp.srtp: required refuses plain RTP with 488.
	b2 := StartBridge(t, func(c *config.Config) { c.RTP.SRTP = "required" })
	ua, err := sipua.New(sipua.Config{User: "plain"})
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	phone, _ := audiotest.NewPhone(audiotest.PhoneConfig{})
	defer phone.Close()
	call, err := ua.Invite(ctx, ua.Target("team", b2.SIPAddr), sipua.Offer(phone.Addr(), "0"))
	if err != nil || call.Response.StatusCode != 488 {
		t.Fatalf("plain offer with SRTP required: %v %v", call.Response, err)
	}
	stopClean(t, b)
	stopClean(t, b2)
}
