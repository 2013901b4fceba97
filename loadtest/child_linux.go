package loadtest

import "syscall"

// childAttrs kill a child (bridge, reflector) when the benchmark dies.
func childAttrs() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
