package audiotest

import (
	"math"
	"testing"
	"time"
)

func TestGoertzel(t *testing.T) {
	tests := []struct {
		name      string
		tone, amp float64
		probe     float64
		wantDB    float64
		tol       float64
	}{
		{"half scale on frequency", 1000, 16384, 1000, -6.02, 0.1},
		{"off-bin frequency", 437.3, 8000, 437.3, 20 * math.Log10(8000.0/32768), 0.1},
		{"quiet tone", 700, 100, 700, 20 * math.Log10(100.0/32768), 0.2},
		{"300 Hz away is far down", 400, 16384, 700, -200, 140}, // anything below -60
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Samples(tc.tone, tc.amp, 8000, 4000)
			got := PowerDB(s, tc.probe, 8000)
			if math.Abs(got-tc.wantDB) > tc.tol {
				t.Fatalf("PowerDB = %.2f, want %.2f±%.2f", got, tc.wantDB, tc.tol)
			}
		})
	}
	if PowerDB(make([]int16, 800), 400, 8000) != -200 || PowerDB(nil, 400, 8000) != -200 {
		t.Fatal("silence not at the floor")
	}
	if db := RMSDB(Samples(1000, 32767, 8000, 8000)); math.Abs(db+3.01) > 0.05 {
		t.Fatalf("RMS of a full-scale sine %.2f dB", db)
	}
}

func TestToneContinuity(t *testing.T) {
	g := Tone(440, 10000, 8000)
	a := make([]int16, 160)
	b := make([]int16, 160)
	g.Fill(a)
	g.Fill(b)
	whole := Samples(440, 10000, 8000, 320)
	for i := range 160 {
		if d := int(whole[160+i]) - int(b[i]); d > 1 || d < -1 {
			t.Fatalf("sample %d: %d vs %d", i, b[i], whole[160+i])
		}
	}
}

func TestG711RoundTrip(t *testing.T) {
	src := Samples(1000, 12000, 8000, 160)
	for _, enc := range []string{"PCMU", "pcma"} {
		b := make([]byte, len(src))
		Encode(enc, b, src)
		out := make([]int16, len(src))
		Decode(enc, out, b)
		for i := range src {
			if d := int(src[i]) - int(out[i]); d > 400 || d < -400 {
				t.Fatalf("%s sample %d: %d → %d", enc, i, src[i], out[i])
			}
		}
	}
}

func TestDTMFPayload(t *testing.T) {
	p := DTMFPayload('#', true, 800)
	if p[0] != 11 || p[1]&0x80 == 0 || int(p[2])<<8|int(p[3]) != 800 {
		t.Fatalf("% x", p)
	}
}

// TestPhoneToPhone: one phone's tone arrives decoded at another.
func TestPhoneToPhone(t *testing.T) {
	a, err := NewPhone(PhoneConfig{Encoding: "PCMA"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewPhone(PhoneConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Addr().Port()%2 != 0 || a.RTCPAddr().Port() != a.Addr().Port()+1 {
		t.Fatalf("ports %v %v", a.Addr(), a.RTCPAddr())
	}
	a.SetSource(Tone(1000, 8000, 8000).Fill)
	a.Start(b.Addr())
	deadline := time.Now().Add(5 * time.Second)
	for len(b.Recording()) < 2400 {
		if time.Now().After(deadline) {
			t.Fatal("no audio")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if db := PowerDB(b.Tail(2400), 1000, 8000); db < -13 {
		t.Fatalf("tone at %.1f dB", db)
	}
	pk := b.Packets()
	if pk[0].SSRC != a.SSRC() || pk[0].PayloadType != 8 || !pk[0].Marker || pk[0].PayloadLen != 160 || pk[0].From != a.Addr() {
		t.Fatalf("first packet %+v", pk[0])
	}
	for i := 1; i < len(pk); i++ {
		if pk[i].Seq != pk[i-1].Seq+1 || pk[i].Timestamp != pk[i-1].Timestamp+160 || pk[i].Marker {
			t.Fatalf("packet %d %+v after %+v", i, pk[i], pk[i-1])
		}
	}
	if err := a.SendDTMF('x', time.Second); err == nil {
		t.Fatal("bad digit accepted")
	}
	if _, err := NewPhone(PhoneConfig{Encoding: "G722"}); err == nil {
		t.Fatal("G722 accepted")
	}
}
