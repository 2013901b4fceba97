package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Exit codes of `bridge client` (documented in the README).
const (
	ExitOK          = 0 // quit or end of input, every command succeeded
	ExitError       = 1 // an unexpected internal error
	ExitUsage       = 2 // bad flags or settings
	ExitUnreachable = 3 // no configured server could be reached
	ExitAuth        = 4 // a server rejected the password
	ExitCommand     = 5 // script mode: at least one command failed
)

// Exec runs one command line (the script-mode and TUI command language)
// and reports whether it was quit.
func (c *Client) Exec(ctx context.Context, line string) (quit bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return false, nil
	}
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	need := func() error {
		if arg == "" {
			return fmt.Errorf("%s: missing argument", cmd)
		}
		return nil
	}
	onOff := func() (bool, error) {
		switch arg {
		case "on":
			return true, nil
		case "off":
			return false, nil
		}
		return false, fmt.Errorf("%s: want on or off", cmd)
	}
	switch strings.ToLower(cmd) {
	case "join":
		if err = need(); err == nil {
			err = c.Join(ctx, arg)
		}
	case "say":
		if err = need(); err == nil {
			err = c.Say(ctx, arg)
		}
	case "msg":
		name, text, ok := cutName(arg)
		if !ok {
			return false, fmt.Errorf("msg: want msg NAME TEXT (quote a NAME with spaces)")
		}
		err = c.Private(ctx, name, text)
	case "who":
		c.publish(true)
	case "status":
		c.emitStatus()
	case "mute", "unmute", "kick":
		role := map[string]string{"mute": "visitor", "unmute": "participant", "kick": "none"}[strings.ToLower(cmd)]
		if err = need(); err == nil {
			err = c.SetRole(ctx, unquote(arg), role)
		}
	case "ban":
		if err = need(); err == nil {
			err = c.Ban(ctx, unquote(arg))
		}
	case "lock":
		var on bool
		if on, err = onOff(); err == nil {
			err = c.Lock(ctx, on)
		}
	case "selfmute":
		var on bool
		if on, err = onOff(); err == nil {
			err = c.SelfMute(ctx, on)
		}
	case "hold":
		var on bool
		if on, err = onOff(); err == nil {
			err = c.Hold(ctx, on)
		}
	case "dtmf":
		if err = need(); err == nil {
			err = c.DTMF(ctx, arg)
		}
	case "call":
		if err = need(); err == nil {
			err = c.Call(ctx, arg)
		}
	case "roster":
		c.emit(RosterEvent{Event: "roster", Contacts: c.Roster()})
	case "joinvoice":
		err = c.JoinVoice(ctx)
	case "joinchat":
		err = c.JoinChat(ctx)
	case "leave":
		err = c.Leave(ctx)
	case "quit", "exit":
		return true, nil
	default:
		err = fmt.Errorf("unknown command %q (join, joinvoice, joinchat, say, msg, who, status, mute, unmute, kick, ban, lock, selfmute, hold, dtmf, call, roster, leave, quit)", cmd)
	}
	if err != nil {
		c.mu.Lock()
		c.failed = true
		c.mu.Unlock()
	}
	return false, err
}

// cutName splits `NAME TEXT` or `"NAME WITH SPACES" TEXT`.
func cutName(s string) (name, rest string, ok bool) {
	if strings.HasPrefix(s, `"`) {
		end := strings.Index(s[1:], `"`)
		if end < 0 {
			return "", "", false
		}
		return s[1 : end+1], strings.TrimSpace(s[end+2:]), strings.TrimSpace(s[end+2:]) != ""
	}
	name, rest, ok = strings.Cut(s, " ")
	return name, strings.TrimSpace(rest), ok && strings.TrimSpace(rest) != ""
}

// unquote strips one pair of surrounding double quotes.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// maxLine bounds one script command.
const maxLine = 64 * 1024

// RunScript is script mode: it connects, then runs the commands read from
// in one at a time, writing every event to out as one JSON line, until
// quit, the end of in or ctx ends. It returns the exit code.
func RunScript(ctx context.Context, c *Client, in io.Reader, out io.Writer) int {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		for ev := range c.Events() {
			_ = enc.Encode(ev)
		}
	}()
	code := func() int {
		if err := c.Start(ctx); err != nil {
			return StartExitCode(err)
		}
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(in)
			sc.Buffer(make([]byte, 4096), maxLine)
			for sc.Scan() {
				select {
				case lines <- sc.Text():
				case <-ctx.Done():
					return
				}
			}
		}()
		for {
			select {
			case <-ctx.Done():
				return exitFor(c)
			case line, ok := <-lines:
				if !ok {
					return exitFor(c)
				}
				quit, err := c.Exec(ctx, line)
				if err != nil {
					cmd, _, _ := strings.Cut(strings.TrimSpace(line), " ")
					c.emit(ErrorEvent{Event: "error", Message: err.Error(), Command: cmd})
				}
				if quit {
					return exitFor(c)
				}
			}
		}
	}()
	c.Close()
	wg.Wait()
	return code
}

func exitFor(c *Client) int {
	if c.Failed() {
		return ExitCommand
	}
	return ExitOK
}

// StartExitCode maps a Start error to an exit code.
func StartExitCode(err error) int {
	switch {
	case isErr(err, ErrAuth):
		return ExitAuth
	case isErr(err, ErrUnreachable):
		return ExitUnreachable
	}
	return ExitUnreachable
}

func isErr(err, target error) bool { return errors.Is(err, target) }
