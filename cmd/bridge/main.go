package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

// version is set at link time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: bridge <command> [flags]

commands:
  serve [--config FILE]   run the bridge (defaults apply when no file is given)
  client [flags]          the dual-stack client (bridge client -h)
  user add|passwd|del|list [--config FILE] [--password-file F] [NAME]
                          manage the accounts of the embedded XMPP service
  loadtest [flags]        the load benchmark (make bench-load; loadtest -h)
  version                 print the version
`

// run is main without the process exit, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(stderr)
		cfgPath := fs.String("config", "", "YAML configuration file")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "serve: unexpected argument %q\n", fs.Arg(0))
			return 2
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := serve(ctx, *cfgPath, stderr); err != nil {
			fmt.Fprintf(stderr, "bridge: %v\n", err)
			var ce *configError
			if errors.As(err, &ce) {
				return 2
			}
			return 1
		}
		return 0
	case "client":
		return runClient(args[1:], os.Stdin, stdout, stderr)
	case "user":
		return runUser(args[1:], os.Stdin, stdout, stderr)
	case "loadtest":
		return runLoadtest(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "cusax-bridge %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "bridge: unknown command %q\n%s", args[0], usage)
	return 2
}
