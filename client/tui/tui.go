package tui

import (
	"context"
	"fmt"
	"io"
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"cusax.dev/bridge/client"
)

// maxLines bounds the chat pane's scrollback.
const maxLines = 500

// help lists the key bindings and commands (shown by ?).
var help = []string{
	"Enter     send text or run a /command",
	"?         this help (input empty); Esc closes",
	"PgUp/PgDn scroll the chat   Ctrl+C quit",
	"y / n     answer the question shown",
	"Plain text is said in the chat room.",
	"/join sip:ROOM@HOST  or  xmpp:ROOM@MUC",
	"/msg NAME TEXT   private message",
	"/who             refresh the people list",
	"/mute NAME       /unmute NAME (moderator)",
	"/kick NAME       /ban NAME    (moderator)",
	"/lock on|off     members-only (owner)",
	"/selfmute [on|off]  /hold on|off",
	"/dtmf DIGITS     send keypad digits",
	"/call JID|URI    call a contact",
	"/roster          list contacts",
	"/leave           hang up and leave",
	"/quit            quit",
}

type eventMsg struct{ ev client.Event }
type closedMsg struct{}
type doneMsg struct {
	line string
	err  error
	quit bool
}

type model struct {
	ctx    context.Context
	c      *client.Client
	w, h   int
	status client.StatusEvent
	rows   []client.Row
	room   string
	lines  []string
	scroll int // lines scrolled up from the bottom
	input  textinput.Model
	help   bool
	ask    string // a pending yes/no question
	onYes  string // the command run on yes
	quit   bool
}

// Run runs the terminal UI on c until the person quits; it returns the
// exit code.
func Run(ctx context.Context, c *client.Client, stderr io.Writer) int {
	m := newModel(ctx, c)
	p := tea.NewProgram(m, tea.WithContext(ctx))
	go func() {
		if err := c.Start(ctx); err != nil {
			p.Send(eventMsg{client.ErrorEvent{Event: "error", Message: "no connection: " + err.Error()}})
		}
	}()
	go func() {
		for ev := range c.Events() {
			p.Send(eventMsg{ev})
		}
		p.Send(closedMsg{})
	}()
	_, err := p.Run()
	c.Close()
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "client: %v\n", err)
		return client.ExitError
	}
	return client.ExitOK
}

// newModel is the UI's state for c, sized 80×24 until the terminal says.
func newModel(ctx context.Context, c *client.Client) *model {
	in := textinput.New()
	in.Prompt = "> "
	in.Placeholder = "type to chat, /help for commands"
	in.CharLimit = 2000
	m := &model{ctx: ctx, c: c, w: 80, h: 24, input: in, status: c.Status()}
	m.input.Focus()
	return m
}

func (m *model) Init() tea.Cmd { return textinput.Blink }

func (m *model) say(format string, args ...any) {
	m.lines = append(m.lines, fmt.Sprintf(format, args...))
	if len(m.lines) > maxLines {
		m.lines = m.lines[len(m.lines)-maxLines:]
	}
}

func (m *model) run(line string) tea.Cmd {
	return func() tea.Msg {
		quit, err := m.c.Exec(m.ctx, line)
		return doneMsg{line: line, err: err, quit: quit}
	}
}

func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		return m, nil
	case eventMsg:
		m.event(msg.ev)
		return m, nil
	case closedMsg:
		return m, tea.Quit
	case doneMsg:
		if msg.err != nil {
			m.say("! %s", msg.err)
		}
		if msg.quit {
			m.quit = true
			return m, tea.Quit
		}
		return m, nil
	case tea.KeyPressMsg:
		switch msg.String() {
		case "ctrl+c":
			m.quit = true
			return m, tea.Quit
		case "esc":
			m.help = false
			return m, nil
		case "pgup":
			m.scroll += 5
			return m, nil
		case "pgdown":
			m.scroll = max(0, m.scroll-5)
			return m, nil
		case "?":
			if m.input.Value() == "" {
				m.help = !m.help
				return m, nil
			}
		case "y", "n":
			if m.ask != "" && m.input.Value() == "" {
				cmd := m.onYes
				m.ask, m.onYes = "", ""
				if msg.String() == "y" {
					return m, m.run(cmd)
				}
				return m, nil
			}
		case "enter":
			line := strings.TrimSpace(m.input.Value())
			m.input.Reset()
			m.scroll = 0
			return m, m.command(line)
		}
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return m, cmd
}

// command turns an input line into an engine command.
func (m *model) command(line string) tea.Cmd {
	if line == "" {
		return nil
	}
	if !strings.HasPrefix(line, "/") {
		return m.run("say " + line)
	}
	cmd, arg, _ := strings.Cut(line[1:], " ")
	switch cmd {
	case "help":
		m.help = true
		return nil
	case "selfmute":
		if arg == "" {
			arg = "on"
			for _, r := range m.rows {
				if r.Self && r.Muted {
					arg = "off"
				}
			}
		}
	}
	return m.run(strings.TrimSpace(cmd + " " + arg))
}

func (m *model) event(ev client.Event) {
	switch e := ev.(type) {
	case client.StatusEvent:
		m.status = e
		if e.Reason != "" {
			m.say("! %s", e.Reason)
		}
	case client.ParticipantsEvent:
		m.rows = e.List
	case client.JoinedEvent:
		m.room = firstOf(e.Room, e.ConferenceURI)
		m.say("* joined %s (chat: %v, voice: %v)", m.room, e.Chat, e.Voice)
		switch {
		case e.Voice && !e.Chat && e.ChatURI != "" && !e.Related:
			m.ask, m.onYes = "The chat room "+e.ChatURI+" does not point back at this conference. Join it anyway? (y/n)", "joinchat"
		case e.Chat && !e.Voice && e.ConferenceURI != "":
			m.ask, m.onYes = "The room has a conference: "+e.ConferenceURI+". Call it? (y/n)", "joinvoice"
		}
	case client.MessageEvent:
		switch {
		case e.Private:
			m.say("[%s → you] %s", e.From, e.Body)
		default:
			m.say("<%s> %s", e.From, e.Body)
		}
	case client.SubjectEvent:
		if e.Subject != "" {
			m.say("* subject: %s", e.Subject)
		}
	case client.ErrorEvent:
		m.say("! %s", e.Message)
	case client.LeftEvent:
		what := map[string]string{"chat": "the chat room", "voice": "the call", "both": "the meeting"}[e.Half]
		if e.Reason != "" {
			m.say("* left %s: %s", what, e.Reason)
		} else {
			m.say("* left %s", what)
		}
		if e.Half == "both" {
			m.room = ""
		}
	case client.RosterEvent:
		if len(e.Contacts) > 0 {
			var names []string
			for _, ct := range e.Contacts {
				s := firstOf(ct.Name, ct.JID)
				if ct.TEL != "" {
					s += " (/call " + ct.JID + ")"
				}
				names = append(names, s)
			}
			m.say("* contacts: %s", strings.Join(names, ", "))
		}
	}
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

var (
	barStyle   = lipgloss.NewStyle().Reverse(true)
	paneStyle  = lipgloss.NewStyle().Border(lipgloss.NormalBorder())
	titleStyle = lipgloss.NewStyle().Bold(true)
)

func stateText(s client.ConnState) string {
	switch s {
	case client.StateConnected:
		return "up"
	case client.StateConnecting:
		return "connecting"
	case client.StateFailed:
		return "FAILED"
	}
	return "off"
}

func levelText(l string) string {
	switch l {
	case "text":
		return "chat"
	case "audio":
		return "phone"
	}
	return "both"
}

// fit cuts s to w cells and pads it to w.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	r := []rune(s)
	if len(r) > w {
		r = append(r[:w-1], '…')
	}
	return string(r) + strings.Repeat(" ", w-len(r))
}

func (m *model) View() tea.View {
	w, h := max(m.w, 40), max(m.h, 10)
	bar := fmt.Sprintf(" Chat: %s │ Voice: %s │ %s │ ? help", stateText(m.status.Chat), stateText(m.status.Voice), firstOf(m.room, "no meeting"))
	top := barStyle.Render(fit(bar, w))

	bodyH := h - 3 // bar, question/help line, input
	leftW := 30
	rightW := w - leftW - 4
	innerH := bodyH - 2
	// participants
	people := []string{titleStyle.Render(fit(fmt.Sprintf("People (%d)", len(m.rows)), leftW))}
	for _, r := range m.rows {
		mark := " "
		if r.Self {
			mark = "*"
		}
		flags := levelText(r.Level)
		if r.Muted {
			flags += " muted"
		}
		if r.Role == "moderator" {
			flags += " mod"
		}
		name := fit(r.Name, leftW-len(flags)-3)
		people = append(people, fit(mark+" "+name+" "+flags, leftW))
	}
	for len(people) < innerH {
		people = append(people, fit("", leftW))
	}
	people = people[:innerH]
	// chat, wrapped
	var wrapped []string
	for _, l := range m.lines {
		wrapped = append(wrapped, wrap(l, rightW)...)
	}
	chatH := innerH - 1
	end := max(len(wrapped)-m.scroll, 0)
	start := max(end-chatH, 0)
	chat := []string{titleStyle.Render(fit("Chat", rightW))}
	for _, l := range wrapped[start:end] {
		chat = append(chat, fit(l, rightW))
	}
	for len(chat) < innerH {
		chat = append(chat, fit("", rightW))
	}
	if m.help {
		chat = chat[:1]
		for _, l := range help {
			chat = append(chat, fit(l, rightW))
		}
		for len(chat) < innerH {
			chat = append(chat, fit("", rightW))
		}
		chat = chat[:innerH]
	}
	body := lipgloss.JoinHorizontal(lipgloss.Top,
		paneStyle.Render(strings.Join(people, "\n")),
		paneStyle.Render(strings.Join(chat, "\n")))
	note := ""
	if m.ask != "" {
		note = m.ask
	}
	m.input.SetWidth(w - 3)
	v := tea.NewView(lipgloss.JoinVertical(lipgloss.Left, top, body, fit(note, w), m.input.View()))
	v.AltScreen = true
	return v
}

// wrap breaks s into lines of at most w runes, at spaces where it can.
func wrap(s string, w int) []string {
	var out []string
	r := []rune(s)
	for len(r) > w {
		cut := w
		for i := w; i > w/2; i-- {
			if r[i] == ' ' {
				cut = i
				break
			}
		}
		out = append(out, string(r[:cut]))
		r = r[cut:]
		for len(r) > 0 && r[0] == ' ' {
			r = r[1:]
		}
	}
	return append(out, string(r))
}
