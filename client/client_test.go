package client

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cusax.dev/bridge/mixer"
	"cusax.dev/bridge/mixer/audiotest"
)

func TestWAVRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.wav")
	w, err := createWAV(path, 8000)
	if err != nil {
		t.Fatal(err)
	}
	frame := audiotest.Samples(440, 8000, 8000, 160)
	for range 60 { // 1.2 s: the header is rewritten once on the way
		if err := w.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	mid, err := ReadWAVFile(path)
	if err != nil || len(mid) != 8000 { // the header counts whole seconds until Close
		t.Fatalf("before Close: %d samples, %v", len(mid), err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadWAVFile(path)
	if err != nil || len(got) != 60*160 || got[5] != frame[5] {
		t.Fatalf("%d samples, %v", len(got), err)
	}
	src, err := parseSource(path, false)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]int16, 160)
	src.Fill(buf)
	if buf[7] != frame[7] {
		t.Fatal("the WAV source does not play the file")
	}
}

func TestSources(t *testing.T) {
	for _, bad := range []string{"tone:0", "tone:x", "tone:5000", "noise", "missing.wav"} {
		if _, err := parseSource(bad, true); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	src, err := parseSource("tone:440", false)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]int16, 1600)
	src.Fill(buf)
	if p := audiotest.PowerDB(buf, 440, 8000) - audiotest.PowerDB(buf, 1000, 8000); p < 30 {
		t.Errorf("tone:440 is not a 440 Hz tone (%.1f dB over 1 kHz)", p)
	}
	if _, err := parseSink("x.mp3"); err == nil {
		t.Error("x.mp3 accepted as a sink")
	}
}

func FuzzReadWAV(f *testing.F) {
	f.Add([]byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x04\x00\x00\x00\x01\x00\x02\x00"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := readWAV(bytes.NewReader(data), 8000)
		if err == nil && (len(s) == 0 || len(s) > maxWAVSamples) {
			t.Fatalf("%d samples", len(s))
		}
	})
}

func TestSDP(t *testing.T) {
	offer, err := offerSDP(netip.MustParseAddr("127.0.0.1"), 4000, 1, "sendrecv")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"m=audio 4000 RTP/AVP 0 8 101", "a=rtpmap:101 telephone-event/8000", "a=sendrecv", "c=IN IP4 127.0.0.1"} {
		if !strings.Contains(string(offer), want) {
			t.Errorf("offer lacks %q:\n%s", want, offer)
		}
	}
	a, err := parseAnswer([]byte("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 8 96\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:96 telephone-event/8000\r\n"))
	if err != nil || a.remote.String() != "10.0.0.1:5004" || a.codec.Name != "PCMA" || a.codec.PayloadType != 8 || a.dtmfPT != 96 {
		t.Fatalf("%+v %v", a, err)
	}
	for _, bad := range []string{"", "v=0\r\n", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5 RTP/AVP 9\r\n"} {
		if _, err := parseAnswer([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseAnswer(f *testing.F) {
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parseAnswer(b)
		if err == nil && !a.codec.Supported() {
			t.Fatalf("unsupported codec accepted: %+v", a)
		}
	})
}

// capture is a sink keeping what it was given.
type capture struct {
	mu sync.Mutex
	s  []int16
}

func (c *capture) Write(f []int16) error {
	c.mu.Lock()
	c.s = append(c.s, f...)
	c.mu.Unlock()
	return nil
}
func (c *capture) Close() error { return nil }
func (c *capture) samples() []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int16(nil), c.s...)
}

// Two endpoints on loopback: each plays out what the other sends, through
// the mixer's codec and jitter buffer; self-mute silences the sender.
func TestRTPEndpoints(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	srcA, _ := parseSource("tone:1000", false)
	capB := &capture{}
	a, err := newRTPEndpoint(lo, srcA, nullSink{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := newRTPEndpoint(lo, silence{}, capB)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.start(ctx, mixer.PCMU(), 101, netip.AddrPortFrom(lo, uint16(b.Port())))
	b.start(ctx, mixer.PCMU(), 101, netip.AddrPortFrom(lo, uint16(a.Port())))
	defer a.close()
	defer b.close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := capB.samples()
		if len(s) >= 4000 && audiotest.PowerDB(s[len(s)-1600:], 1000, 8000) > -30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B never heard A's tone (%d samples)", len(s))
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.setMuted(true)
	deadline = time.Now().Add(5 * time.Second)
	for {
		s := capB.samples()
		if audiotest.RMSDB(s[len(s)-800:]) < -80 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("B still hears A after self-mute")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExecWithoutMeeting(t *testing.T) {
	c := New(Config{Nick: "x"}, nil)
	go func() {
		for range c.Events() {
		}
	}()
	ctx := context.Background()
	for _, line := range []string{"say hi", "mute bob", "kick bob", "ban bob", "selfmute on", "dtmf 1", "leave", "join ftp:x", "frobnicate", "selfmute maybe", "msg bob"} {
		if _, err := c.Exec(ctx, line); err == nil {
			t.Errorf("%q succeeded without a meeting", line)
		}
	}
	if q, err := c.Exec(ctx, "quit"); !q || err != nil {
		t.Errorf("quit: %v %v", q, err)
	}
	if !c.Failed() {
		t.Error("Failed() false after failed commands")
	}
	if n, rest, ok := cutName(`"sipp caller" hello there`); !ok || n != "sipp caller" || rest != "hello there" {
		t.Errorf("cutName: %q %q %v", n, rest, ok)
	}
	if _, err := roomOf("xmpp:team@conference.example.com?join"); err != nil {
		t.Error(err)
	}
	if r, _ := roomOf("xmpp:Team@Conference.Example.com?join"); r != "team@conference.example.com" {
		t.Errorf("roomOf does not fold case: %q", r)
	}
}

func TestConfigFinish(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("secret\n"), 0o600)
	c := Config{JID: "Alice@Example.com/res", SIP: "alice@example.com", PasswordFile: pw}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	if c.JID != "alice@example.com" || c.XMPPServer != "example.com:5222" || c.SIP != "sip:alice@example.com" ||
		c.SIPServer != "example.com:5060" || c.Nick != "alice" || c.xmppPassword != "secret" || c.sipPassword != "secret" {
		t.Fatalf("%+v", c)
	}
	yaml := filepath.Join(dir, "client.yaml")
	os.WriteFile(yaml, []byte("jid: bob@example.com\nnick: Bob\nbogus: 1\n"), 0o600)
	var f Config
	if err := f.LoadFile(yaml, false); err == nil {
		t.Error("an unknown key was accepted")
	}
	if err := (&Config{}).LoadFile(filepath.Join(dir, "none.yaml"), true); err != nil {
		t.Errorf("a missing optional file: %v", err)
	}
}
