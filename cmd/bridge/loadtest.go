package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"cusax.dev/bridge/loadtest"
)

const loadtestUsage = `usage: bridge loadtest [flags]         measure the bridge and the I/O floor (see make bench-load)
       bridge loadtest reflect -n N    the bare RTP reflector (started by loadtest)
`

// runLoadtest is the `loadtest` command.
func runLoadtest(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "reflect" {
		return runReflect(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, loadtestUsage); fs.PrintDefaults() }
	var o loadtest.Options
	fs.IntVar(&o.Calls, "n", 1000, "callers")
	fs.IntVar(&o.PerRoom, "per-room", 10, "callers per room")
	fs.IntVar(&o.Talkers, "talkers", 2, "talkers per room (distinct tones); the others send silence")
	fs.DurationVar(&o.Duration, "duration", 15*time.Second, "measurement window")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "media before the window opens")
	fs.Float64Var(&o.Rate, "rate", 250, "INVITEs per second in the join storm (0: as fast as possible)")
	fs.IntVar(&o.Sample, "sample", 8, "callers whose audio is checked")
	fs.IntVar(&o.Sockets, "sockets", 0, "generator media sockets (0: one per 250 callers; with -rtp-mode shared each caller has its own 127/8 address, or its own socket where the loopback device cannot be bound)")
	fs.StringVar(&o.Mode, "rtp-mode", "", "the bridge's rtp.mode: per_call or shared (empty: its default)")
	fs.StringVar(&o.TargetCPUs, "cpus", "", "pin the bridge and the reflector with taskset -c CPUS (empty: no pinning)")
	fs.BoolVar(&o.Floor, "floor", true, "also measure the bare RTP reflector (the I/O floor)")
	fs.StringVar(&o.FloorIO, "floor-io", "poll", "the reflector's I/O: poll (the bridge's design) or goroutines (one reader per socket)")
	fs.StringVar(&o.ExtraConfig, "config-extra", "", "YAML appended to the bridge's generated configuration")
	fs.StringVar(&o.ProfileDir, "profile", "", "save a CPU profile and an execution trace of the bridge in this directory")
	bin := fs.String("bridge", "", "bridge binary (default: this executable)")
	jsonPath := fs.String("json", "", "write the report as JSON to this file")
	bridgeLog := fs.String("bridge-log", "", "append the bridge's log to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *bin == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return 1
		}
		*bin = exe
	}
	o.Binary = *bin
	o.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	if *bridgeLog != "" {
		f, err := os.OpenFile(*bridgeLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return 1
		}
		defer f.Close()
		o.BridgeLog = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := loadtest.Run(ctx, o)
	if rep != nil && (rep.Bridge != nil || rep.Floor != nil) {
		rep.Print(stdout)
		if *jsonPath != "" {
			b, _ := json.MarshalIndent(rep, "", "  ")
			if werr := os.WriteFile(*jsonPath, append(b, '\n'), 0o644); werr != nil {
				fmt.Fprintf(stderr, "loadtest: %v\n", werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return 1
	}
	return 0
}

// runReflect binds N sockets, prints their ports as one JSON line and
// echoes every datagram until SIGTERM (the benchmark sets it as the
// parent-death signal, so a reflector never outlives its benchmark).
func runReflect(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reflect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 100, "sockets (legs)")
	ip := fs.String("ip", "127.0.0.1", "address to bind")
	io := fs.String("io", "poll", "poll: one epoll loop (the bridge's receive design); goroutines: one reader per socket")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	addr, err := netip.ParseAddr(*ip)
	if err != nil {
		fmt.Fprintf(stderr, "reflect: %v\n", err)
		return 2
	}
	r, err := loadtest.NewReflector(addr, *n)
	if err != nil {
		fmt.Fprintf(stderr, "reflect: %v\n", err)
		return 1
	}
	b, _ := json.Marshal(r.Ports())
	fmt.Fprintf(stdout, "%s\n", b)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *io == "goroutines" {
		r.Run(ctx)
		return 0
	}
	if err := r.RunPoll(ctx); err != nil {
		fmt.Fprintf(stderr, "reflect: %v\n", err)
		return 1
	}
	return 0
}
