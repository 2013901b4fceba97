package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"cusax.dev/bridge/client"
	"cusax.dev/bridge/client/tui"
)

const clientUsage = `usage: bridge client [flags]

The dual-stack client: one person in both halves of a meeting (chat over
XMPP, voice over SIP). Without --script it runs the terminal UI.

flags:
`

// runClient is `bridge client`: flags, settings file, then script mode or
// the TUI. Exit codes are client.Exit*.
func runClient(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, clientUsage)
		fs.PrintDefaults()
	}
	var cfg client.Config
	configPath := fs.String("config", "", "settings file (YAML, same key names as the flags; default $XDG_CONFIG_HOME/cusax/client.yaml)")
	script := fs.Bool("script", false, "script mode: commands on stdin, JSON-line events on stdout")
	logFile := fs.String("log", "", "write a debug log to this file")
	set := map[string]bool{}
	str := func(p *string, name, usage string) { fs.StringVar(p, name, "", usage) }
	str(&cfg.JID, "jid", "XMPP account (user@domain)")
	str(&cfg.XMPPServer, "xmpp-server", "XMPP server HOST:PORT (default: the JID's domain, port 5222)")
	str(&cfg.SIP, "sip", "SIP address of record (sip:user@host)")
	str(&cfg.SIPServer, "sip-server", "SIP server / outbound proxy HOST:PORT (default: the AOR's host, port 5060)")
	str(&cfg.SIPRegistrar, "sip-registrar", "REGISTER with this registrar HOST:PORT (optional: the bridge needs none)")
	str(&cfg.PasswordFile, "password-file", "file holding the one password of both accounts")
	str(&cfg.XMPPPasswordFile, "xmpp-password-file", "file holding the XMPP password (overrides --password-file)")
	str(&cfg.SIPPasswordFile, "sip-password-file", "file holding the SIP digest password (overrides --password-file)")
	str(&cfg.Nick, "nick", "name in rooms and SIP display name (default: the JID's or AOR's user part)")
	str(&cfg.CAFile, "ca-file", "extra PEM CA certificates to trust for TLS (the system's are trusted too)")
	str(&cfg.AudioIn, "audio-in", "what to send: device, tone:HZ, silence or FILE.wav (16-bit mono 8 kHz, looped); default: the sound device in a -tags malgo build, else silence")
	str(&cfg.AudioOut, "audio-out", "where received audio goes: device, FILE.wav or null; default: the sound device in a -tags malgo build, else null")
	str(&cfg.Provision, "provision", "online provisioning URL (https://HOST:PORT/provision): fills every setting not given")
	str(&cfg.User, "user", "account name for --provision (default: the --jid's localpart)")
	str(&cfg.TLSPin, "tls-pin", "trust a TLS certificate with this SHA-256 fingerprint (colon hex) for provisioning and XMPP")
	str(&cfg.LocalIP, "local-ip", "local address for SIP and RTP (default: the one routing to the SIP server)")
	fs.BoolVar(&cfg.WithVoice, "with-voice", false, "when joining an xmpp: room, also call the conference it advertises")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return client.ExitOK
		}
		return client.ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "client: unexpected argument %q\n", fs.Arg(0))
		return client.ExitUsage
	}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// The file gives defaults; flags given on the command line win.
	var file client.Config
	path, optional := *configPath, false
	if path == "" {
		path, optional = client.DefaultConfigPath(), true
	}
	if path != "" {
		if err := file.LoadFile(path, optional); err != nil {
			fmt.Fprintf(stderr, "client: %v\n", err)
			return client.ExitUsage
		}
	}
	merged := file
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "jid":
			merged.JID = cfg.JID
		case "xmpp-server":
			merged.XMPPServer = cfg.XMPPServer
		case "sip":
			merged.SIP = cfg.SIP
		case "sip-server":
			merged.SIPServer = cfg.SIPServer
		case "sip-registrar":
			merged.SIPRegistrar = cfg.SIPRegistrar
		case "password-file":
			merged.PasswordFile = cfg.PasswordFile
		case "xmpp-password-file":
			merged.XMPPPasswordFile = cfg.XMPPPasswordFile
		case "sip-password-file":
			merged.SIPPasswordFile = cfg.SIPPasswordFile
		case "nick":
			merged.Nick = cfg.Nick
		case "ca-file":
			merged.CAFile = cfg.CAFile
		case "audio-in":
			merged.AudioIn = cfg.AudioIn
		case "audio-out":
			merged.AudioOut = cfg.AudioOut
		case "provision":
			merged.Provision = cfg.Provision
		case "user":
			merged.User = cfg.User
		case "tls-pin":
			merged.TLSPin = cfg.TLSPin
		case "local-ip":
			merged.LocalIP = cfg.LocalIP
		case "with-voice":
			merged.WithVoice = cfg.WithVoice
		}
	})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if merged.Provision != "" {
		// Online provisioning fills what flags and the file left empty.
		if err := merged.ProvisionFrom(ctx); err != nil {
			fmt.Fprintf(stderr, "client: %v\n", err)
			switch {
			case errors.Is(err, client.ErrAuth):
				return client.ExitAuth
			case errors.Is(err, client.ErrUnreachable):
				return client.ExitUnreachable
			}
			return client.ExitUsage
		}
	}
	if err := merged.Finish(); err != nil {
		fmt.Fprintf(stderr, "client: %v\n", err)
		return client.ExitUsage
	}
	log := slog.New(slog.DiscardHandler)
	if *logFile != "" {
		f, err := os.OpenFile(*logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintf(stderr, "client: --log: %v\n", err)
			return client.ExitUsage
		}
		defer f.Close()
		log = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c := client.New(merged, log)
	if *script {
		code := client.RunScript(ctx, c, stdin, stdout)
		if code == client.ExitUnreachable || code == client.ExitAuth {
			st := c.Status()
			fmt.Fprintf(stderr, "client: no connection: %s\n", st.Reason)
		}
		return code
	}
	return tui.Run(ctx, c, stderr)
}
