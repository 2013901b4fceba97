package fdlimit

import (
	"os"
	"testing"
)

func TestRaiseAndCount(t *testing.T) {
	soft, hard, err := Raise()
	if err != nil {
		t.Fatal(err)
	}
	if soft != hard || soft == 0 {
		t.Fatalf("soft %d hard %d after Raise", soft, hard)
	}
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc")
	}
	before := Open()
	var files []*os.File
	for range 10 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if got := Open(); got != before+10 {
		t.Errorf("Open = %d after opening 10 more than %d", got, before)
	}
	for _, f := range files {
		f.Close()
	}
	if h := Headroom(); h <= 0 || h > Limit() {
		t.Errorf("Headroom %d with limit %d", h, Limit())
	}
}
