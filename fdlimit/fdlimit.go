package fdlimit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Raise sets the soft RLIMIT_NOFILE to the hard limit (Go does this at
// start on Linux already; doing it here makes it explicit and reportable)
// and returns the resulting soft and hard limits.
func Raise() (soft, hard uint64, err error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, 0, fmt.Errorf("getrlimit RLIMIT_NOFILE: %w", err)
	}
	if r.Cur < r.Max {
		want := r
		want.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return r.Cur, r.Max, fmt.Errorf("setrlimit RLIMIT_NOFILE to %d: %w", r.Max, err)
		}
		r = want
	}
	return r.Cur, r.Max, nil
}

// Limit returns the current soft RLIMIT_NOFILE, or -1 when unknown.
func Limit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return -1
	}
	if r.Cur > 1<<30 {
		return 1 << 30
	}
	return int(r.Cur)
}

// Open returns how many descriptors the process has open, by reading
// /proc/self/fd in batches (no slice of every name is kept), or -1 when
// that is not possible. The count includes the descriptor used to read
// the directory.
func Open() int {
	n, _ := count()
	return n
}

func count() (int, error) {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return -1, err
	}
	defer d.Close()
	n := 0
	for {
		names, err := d.Readdirnames(256)
		n += len(names)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return -1, err
		}
	}
}

// Headroom returns how many more descriptors the process may open before
// reaching its limit: 0 when not even /proc/self/fd can be opened for
// want of one (EMFILE, ENFILE), -1 when unknown.
func Headroom() int {
	lim := Limit()
	open, err := count()
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		return 0
	}
	if lim < 0 || open < 0 {
		return -1
	}
	return lim - open
}
