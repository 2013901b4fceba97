package tui

import (
	"context"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"cusax.dev/bridge/client"
)

func newTestModel(w, h int) *model {
	m := newModel(context.Background(), client.New(client.Config{Nick: "me"}, nil))
	m.w, m.h = w, h
	return m
}

func TestViewFitsAndShowsEverything(t *testing.T) {
	m := newTestModel(80, 24)
	m.event(client.StatusEvent{Chat: client.StateConnected, Voice: client.StateFailed, Reason: "voice: SIP server unreachable"})
	m.event(client.JoinedEvent{Room: "team@conference.example.com", Chat: true, Voice: false, ConferenceURI: "sip:team@example.com"})
	m.event(client.ParticipantsEvent{List: []client.Row{
		{Name: "me", Level: "text", Role: "moderator", Self: true},
		{Name: "a participant with a very long display name indeed", Level: "audio", Muted: true},
	}})
	for i := range 40 {
		m.event(client.MessageEvent{From: "bob", Body: strings.Repeat("word ", i%15)})
	}
	m.event(client.MessageEvent{From: "carol", Body: "the last word", Private: true})
	screen := m.View().Content
	lines := strings.Split(screen, "\n")
	if len(lines) > 24 {
		t.Errorf("%d lines, want at most 24", len(lines))
	}
	for _, want := range []string{"Chat: up", "Voice: FAILED", "team@conference.example.com", "People (2)", "phone muted",
		"[carol → you] the last word", "Call it? (y/n)"} {
		if !strings.Contains(stripANSI(screen), want) {
			t.Errorf("screen lacks %q:\n%s", want, stripANSI(screen))
		}
	}
	for _, l := range lines {
		if n := len([]rune(stripANSI(l))); n > 80 {
			t.Errorf("line of %d columns: %q", n, stripANSI(l))
		}
	}
}

func TestKeys(t *testing.T) {
	m := newTestModel(80, 24)
	m.Update(tea.KeyPressMsg{Code: '?', Text: "?"})
	if !m.help || !strings.Contains(stripANSI(m.View().Content), "/mute NAME") {
		t.Fatal("? does not open the help")
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
	if m.help {
		t.Fatal("Esc does not close the help")
	}
	// A slash command runs through the engine; without connections it
	// fails in words on the screen.
	_, cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if cmd != nil {
		t.Fatal("an empty line runs something")
	}
	m.input.SetValue("/kick bob")
	_, cmd = m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if cmd == nil {
		t.Fatal("/kick ran nothing")
	}
	m.Update(cmd())
	if !strings.Contains(stripANSI(m.View().Content), "nobody called") {
		t.Errorf("no error on the screen:\n%s", stripANSI(m.View().Content))
	}
	_, cmd = m.Update(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	if !m.quit || cmd == nil {
		t.Fatal("Ctrl+C does not quit")
	}
}

func TestWrap(t *testing.T) {
	for _, l := range wrap("a few words that need wrapping at a narrow width", 12) {
		if len([]rune(l)) > 12 {
			t.Errorf("%q longer than 12", l)
		}
	}
	if got := wrap(strings.Repeat("x", 30), 10); len(got) != 3 {
		t.Errorf("unbreakable text: %q", got)
	}
}

// stripANSI removes SGR escape sequences.
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
