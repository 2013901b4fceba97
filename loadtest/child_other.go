//go:build !linux

package loadtest

import "syscall"

// childAttrs: no parent-death signal off Linux.
func childAttrs() *syscall.SysProcAttr { return nil }
