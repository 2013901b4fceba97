package e2e

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tmuxSession runs a program in a detached tmux session of its own server
// (socket), 80×24, for screen tests.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func startTmux(t *testing.T, args ...string) *tmuxSession {
	t.Helper()
	NeedTool(t, "tmux", "tmux")
	s := &tmuxSession{t: t, socket: "cusax-e2e-" + strconv.Itoa(FreePort(t))}
	// The session outlives the program for a moment so the last screen can
	// be read; remain-on-exit keeps the pane.
	cmd := append([]string{"-L", s.socket, "-f", "/dev/null", "new-session", "-d", "-x", "80", "-y", "24", "-s", "main"}, args...)
	if out, err := exec.Command("tmux", cmd...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	_ = exec.Command("tmux", "-L", s.socket, "set-option", "-t", "main", "remain-on-exit", "on").Run()
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

// Screen returns the visible pane text.
func (s *tmuxSession) Screen() string {
	out, err := exec.Command("tmux", "-L", s.socket, "capture-pane", "-p", "-t", "main").Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// Keys sends keys (tmux send-keys syntax; literal text with -l).
func (s *tmuxSession) Keys(keys ...string) {
	s.t.Helper()
	if out, err := exec.Command("tmux", append([]string{"-L", s.socket, "send-keys", "-t", "main"}, keys...)...).CombinedOutput(); err != nil {
		s.t.Fatalf("send-keys: %v\n%s", err, out)
	}
}

// Type sends literal text and Enter.
func (s *tmuxSession) Type(text string) {
	s.t.Helper()
	s.Keys("-l", text)
	s.Keys("Enter")
}

// WaitScreen waits until the screen satisfies ok, and returns it.
func (s *tmuxSession) WaitScreen(what string, ok func(string) bool) string {
	s.t.Helper()
	var screen string
	deadline := time.Now().Add(30 * time.Second)
	for {
		screen = s.Screen()
		if ok(screen) {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never showed %s; last screen:\n%s", what, screen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func contains(subs ...string) func(string) bool {
	return func(s string) bool {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
		return true
	}
}

// The TUI in an 80×24 tmux: alice joins by a slash command, sees the
// status bar, the people pane with bob (a script client), chats both ways,
// opens the key help, mutes bob as moderator, and quits.
func TestClientTUI(t *testing.T) {
	env := startClientEnv(t, nil)
	bob := StartScriptClient(t, "bob", env.args(t, "bob", "--audio-in", "tone:1000", "--with-voice")...)
	waitConnected(bob)
	bob.Send("join xmpp:%s", env.room())
	bob.WaitEvent("joined", 0, isEvent("joined"))

	args := append([]string{bridgeBin, "client"}, env.args(t, "alice", "--log", filepath.Join(env.dir, "alice.log"))...)
	for i, a := range args {
		args[i] = "'" + a + "'"
	}
	tm := startTmux(t, "env XDG_CONFIG_HOME="+env.dir+" TERM=xterm-256color "+strings.Join(args, " "))
	tm.WaitScreen("both connections up", contains("Chat: up", "Voice: up"))
	tm.Type("/join " + env.confURI())
	screen := tm.WaitScreen("the meeting joined with bob listed", contains("joined team@", "People (", "bob", "both"))
	t.Logf("screen after /join:\n%s", screen)
	for _, l := range strings.Split(screen, "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("line wider than 80 columns: %q", l)
		}
	}

	tm.Type("hello from the terminal")
	bob.WaitEvent("the TUI's message", 0, func(ev map[string]any) bool {
		return ev["event"] == "message" && ev["body"] == "hello from the terminal"
	})
	bob.Send("say hi terminal")
	tm.WaitScreen("bob's message", contains("<bob> hi terminal"))

	tm.Keys("?")
	screen = tm.WaitScreen("the key help", contains("/mute NAME", "Ctrl+C quit", "/quit            quit"))
	t.Logf("help screen:\n%s", screen)
	tm.Keys("Escape")
	tm.WaitScreen("help closed", func(s string) bool { return !strings.Contains(s, "/mute NAME") })

	tm.Type("/mute bob (2)")
	bob.WaitRows("bob's phone leg muted", func(rows []map[string]any) bool {
		for _, r := range rows {
			if r["self"] == true {
				return r["muted"] == true
			}
		}
		return false
	})
	screen = tm.WaitScreen("bob muted in the people pane", contains("muted"))
	t.Logf("screen after /mute:\n%s", screen)

	// A ban through the room: bob's chat half is thrown out with 301.
	tm.Type("/ban bob")
	_, left := bob.WaitEvent("bob banned", 0, func(ev map[string]any) bool { return ev["event"] == "left" && ev["half"] == "chat" })
	if !strings.Contains(left["reason"].(string), "banned") {
		t.Errorf("bob's left event: %v", left)
	}
	tm.WaitScreen("bob's chat row gone", func(s string) bool { return !strings.Contains(s, "  bob                     chat") })

	// alice moderates but does not own the room (a SIP call created it): a
	// lock is refused, in words, on the screen.
	tm.Type("/lock on")
	screen = tm.WaitScreen("the refused lock", contains("the room refused to change the lock", "owners"))
	t.Logf("screen after /lock on:\n%s", screen)

	tm.Type("/quit")
	tm.WaitScreen("the client gone", func(s string) bool { return !strings.Contains(s, "Chat: up") })
	bob.Send("quit")
	bob.Wait(15 * time.Second)
}
