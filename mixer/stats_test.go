package mixer

import (
	"testing"
	"time"
)

func TestRxStatsSequence(t *testing.T) {
	seq := func(from, to int) []int {
		var s []int
		for i := from; i <= to; i++ {
			s = append(s, i&0xffff)
		}
		return s
	}
	cat := func(parts ...[]int) []int {
		var s []int
		for _, p := range parts {
			s = append(s, p...)
		}
		return s
	}
	tests := []struct {
		name     string
		seqs     []int
		rejected int // packets update refuses
		extMax   uint32
		lost     int64
	}{
		{"in order", seq(100, 109), 0, 109, 0},
		{"wrap at 65535", seq(65530, 65540), 0, 65536 + 4, 0},
		{"two wraps", seq(65000, 65536+65536+10), 0, 2*65536 + 10, 0},
		{"loss", cat(seq(0, 2), seq(5, 6)), 0, 6, 2},
		{"loss across the wrap", cat(seq(65533, 65535), seq(65536+2, 65536+3)), 0, 65536 + 3, 2},
		{"duplicate counts negative loss", []int{0, 1, 1, 2}, 0, 2, -1},
		{"reorder", []int{0, 2, 1, 3}, 0, 3, 0},
		{"reorder across the wrap", []int{65534, 0, 65535, 1}, 0, 65536 + 1, 0},
		{"large jump needs confirmation, then restarts", cat(seq(0, 2), []int{20000}, seq(20001, 20003)), 1, 20003, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s rxStats
			rejected := 0
			for _, q := range tc.seqs {
				if !s.update(uint16(q)) {
					rejected++
				}
			}
			// extMax relative to the base's cycle
			if got := s.extendedMax(); got != tc.extMax {
				t.Errorf("extended max = %d, want %d", got, tc.extMax)
			}
			if got := s.cumulativeLost(); got != tc.lost {
				t.Errorf("cumulative lost = %d, want %d", got, tc.lost)
			}
			if rejected != tc.rejected {
				t.Errorf("rejected %d, want %d", rejected, tc.rejected)
			}
		})
	}
}

func TestRxStatsReportBlock(t *testing.T) {
	var s rxStats
	for i := range 100 {
		if i%4 == 3 { // lose every fourth
			continue
		}
		s.update(uint16(i))
	}
	frac, lost, ext, _ := s.reportBlock()
	// expected 99 (0..98 since 99 was lost and is beyond max), received 75
	if ext != 98 || lost != 24 {
		t.Fatalf("ext %d lost %d", ext, lost)
	}
	if want := uint8(24 * 256 / 99); frac != want {
		t.Fatalf("fraction %d, want %d", frac, want)
	}
	// next interval without loss
	for i := 99; i < 199; i++ {
		s.update(uint16(i))
	}
	frac, lost, ext, _ = s.reportBlock()
	if frac != 0 || lost != 24 || ext != 198 {
		t.Fatalf("second interval: frac %d lost %d ext %d", frac, lost, ext)
	}
	// negative cumulative loss is encoded as 24-bit two's complement
	var d rxStats
	d.update(1)
	d.update(1)
	d.update(1)
	if _, lost, _, _ := d.reportBlock(); lost != 0xfffffe {
		t.Fatalf("negative loss encoded as %#x", lost)
	}
}

func TestRxStatsJitter(t *testing.T) {
	var s rxStats
	ts, arr := uint32(1000), uint32(5)
	for range 300 { // perfectly paced: no jitter
		s.arrival(ts, arr)
		ts += 160
		arr += 160
	}
	if j := s.jitterUnits(); j != 0 {
		t.Fatalf("jitter %d for a perfect stream", j)
	}
	// arrivals alternate 40 units early and late: |D| = 80 each packet, J → 80
	for i := range 1000 {
		off := uint32(40)
		if i%2 == 1 {
			off = -40 & 0xffffffff
		}
		s.arrival(ts, arr+off)
		ts += 160
		arr += 160
	}
	if j := s.jitterUnits(); j < 78 || j > 80 {
		t.Fatalf("jitter %d, want ≈80", j)
	}
}

func TestNTP(t *testing.T) {
	tm := time.Date(2024, 1, 2, 3, 4, 5, 500_000_000, time.UTC)
	n := ntpTime(tm)
	if n>>32 != uint64(tm.Unix())+ntpEpochOffset || uint32(n) != 1<<31 {
		t.Fatalf("ntp %x", n)
	}
	if d := compactToDuration(durationToCompact(1500 * time.Millisecond)); d < 1499*time.Millisecond || d > 1500*time.Millisecond {
		t.Fatalf("compact round trip %v", d)
	}
	if durationToCompact(-time.Second) != 0 {
		t.Fatal("negative duration")
	}
}
