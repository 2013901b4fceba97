//go:build !unix

package mixer

import "errors"

// setReusePort: shared mode needs SO_REUSEPORT (config allows it on Linux only).
func setReusePort(uintptr) error { return errors.New("mixer: shared mode needs SO_REUSEPORT") }
