package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"cusax.dev/bridge/accounts"
	"cusax.dev/bridge/config"
)

const userUsage = `usage: bridge user <add|passwd|del|list> [--config FILE] [--password-file F] [NAME]

  add NAME      create the account NAME: the JID NAME@xmpp.host and the SIP AOR
                sip:NAME@sip.domain, with one password
  passwd NAME   set a new password
  del NAME      delete the account with its roster and vCard
  list          list the accounts

The store is the one serve uses (store.path of --config, else the default), and
the commands work while serve runs. The password comes from --password-file (one
trailing newline stripped), else a prompt on a terminal, else standard input.
`

// runUser is `bridge user …`.
func runUser(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, userUsage)
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML configuration file")
	passFile := fs.String("password-file", "", "read the password from this file")
	// Flags may come before or after NAME.
	var rest []string
	argv := args[1:]
	for len(argv) > 0 {
		if err := fs.Parse(argv); err != nil {
			return 2
		}
		argv = fs.Args()
		if len(argv) > 0 {
			rest = append(rest, argv[0])
			argv = argv[1:]
		}
	}
	needName := sub == "add" || sub == "passwd" || sub == "del"
	switch {
	case sub == "list" && len(rest) == 0:
	case needName && len(rest) == 1:
	default:
		fmt.Fprint(stderr, userUsage)
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "bridge: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := openStore(ctx, cfg.Store.Path, newLogger(config.Log{Level: "warn"}, stderr))
	if err != nil {
		fmt.Fprintf(stderr, "bridge: open store %s: %v\n", cfg.Store.Path, err)
		return 1
	}
	defer st.Close()
	a, _, err := newAccounts(cfg, st)
	if err != nil {
		fmt.Fprintf(stderr, "bridge: %v\n", err)
		return 1
	}
	if sub == "list" {
		names, err := a.List(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "bridge: %v\n", err)
			return 1
		}
		for _, n := range names {
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", n, a.JID(n), a.AOR(n))
		}
		return 0
	}
	name := rest[0]
	if !accounts.ValidName(name) {
		fmt.Fprintf(stderr, "bridge: %v: %q\n", accounts.ErrInvalidName, name)
		return 2
	}
	switch sub {
	case "del":
		err = a.Delete(ctx, name)
	case "add", "passwd":
		var pass string
		pass, err = readPassword(*passFile, stdin, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "bridge: password: %v\n", err)
			return 2
		}
		if sub == "add" {
			err = a.Add(ctx, name, pass)
		} else {
			err = a.SetPassword(ctx, name, pass)
		}
	default:
		fmt.Fprint(stderr, userUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "bridge: user %s %s: %v\n", sub, name, err)
		if errors.Is(err, accounts.ErrExists) || errors.Is(err, accounts.ErrNotFound) || errors.Is(err, accounts.ErrBadPassword) {
			return 2
		}
		return 1
	}
	switch sub {
	case "add":
		fmt.Fprintf(stdout, "added %s: %s and %s\n", name, a.JID(name), a.AOR(name))
	case "passwd":
		fmt.Fprintf(stdout, "password of %s changed\n", name)
	case "del":
		fmt.Fprintf(stdout, "deleted %s\n", name)
	}
	return 0
}

// readPassword reads the password from file, else prompts on a terminal
// (echo off), else reads standard input. One trailing newline is stripped.
func readPassword(file string, stdin io.Reader, stderr io.Writer) (string, error) {
	strip := func(s string) string {
		s = strings.TrimSuffix(s, "\n")
		return strings.TrimSuffix(s, "\r")
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strip(string(b)), nil
	}
	if f, ok := stdin.(*os.File); ok {
		if old, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			noEcho := *old
			noEcho.Lflag &^= unix.ECHO
			if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &noEcho); err == nil {
				defer unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, old)
			}
			fmt.Fprint(stderr, "Password: ")
			line, err := bufio.NewReader(f).ReadString('\n')
			fmt.Fprintln(stderr)
			if err != nil && line == "" {
				return "", err
			}
			return strip(line), nil
		}
	}
	b, err := io.ReadAll(io.LimitReader(stdin, 4096))
	if err != nil {
		return "", err
	}
	return strip(string(b)), nil
}
