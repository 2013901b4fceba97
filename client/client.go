package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"cusax.dev/bridge/confinfo"
)

// Client is the engine both front ends drive: the Chat (XMPP) and Voice
// (SIP) connections, at most one meeting at a time, and the merged
// participant view. Commands are methods; everything the engine has to say
// comes out of Events in order.
type Client struct {
	cfg    Config
	log    *slog.Logger
	events chan Event
	ctx    context.Context // the client's lifetime (Start); under mu

	mu          sync.Mutex
	chat, voice ConnState
	chatWhy     string
	voiceWhy    string
	xmpp        *xmppConn
	sip         *sipUA
	roster      []Contact

	// the meeting
	room      string // bare room JID, once joined or joining
	nick      string // our nick in the room
	inRoom    bool
	joinID    string
	joinWait  chan *elem
	occupants map[string]occupant // by nick
	call      *sipCall
	confURI   string
	chatURI   string
	related   bool
	selfMuted bool
	lastRows  []Row
	failed    bool // some command failed (script exit code)
}

// New returns a client for cfg (Finish must have been called).
func New(cfg Config, log *slog.Logger) *Client {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg, log: log, events: make(chan Event, 256), chat: StateOff, voice: StateOff,
		occupants: map[string]occupant{}}
	if cfg.JID != "" {
		c.chat = StateConnecting
	}
	if cfg.SIP != "" {
		c.voice = StateConnecting
	}
	return c
}

// Events is the engine's event stream; it is closed by Close.
func (c *Client) Events() <-chan Event { return c.events }

// Config returns the settings the client runs with.
func (c *Client) Config() Config { return c.cfg }

func (c *Client) emit(e Event) {
	select {
	case c.events <- e:
	case <-time.After(5 * time.Second):
		c.log.Warn("event dropped: the front end does not read", "event", e.Kind())
	}
}

func (c *Client) emitStatus() {
	c.mu.Lock()
	ev := c.statusLocked()
	c.mu.Unlock()
	c.emit(ev)
}

func (c *Client) statusLocked() StatusEvent {
	ev := StatusEvent{Event: "status", Chat: c.chat, Voice: c.voice}
	var why []string
	if c.chat == StateFailed {
		why = append(why, "chat: "+c.chatWhy)
	}
	if c.voice == StateFailed {
		why = append(why, "voice: "+c.voiceWhy)
	}
	ev.Reason = strings.Join(why, "; ")
	return ev
}

// Status returns the current connection states.
func (c *Client) Status() StatusEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statusLocked()
}

// Start connects both configured accounts in parallel and reports their
// states. It returns an error only when every configured connection failed
// (the error of the first); one half up is enough to go on.
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	c.ctx = ctx
	c.mu.Unlock()
	c.emitStatus()
	var wg sync.WaitGroup
	var chatErr, voiceErr error
	if c.cfg.JID != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chatErr = c.connectChat(ctx)
		}()
	}
	if c.cfg.SIP != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			voiceErr = c.connectVoice(ctx)
		}()
	}
	wg.Wait()
	c.emitStatus()
	if (c.cfg.JID == "" || chatErr != nil) && (c.cfg.SIP == "" || voiceErr != nil) {
		return errors.Join(chatErr, voiceErr)
	}
	return nil
}

func (c *Client) connectChat(ctx context.Context) error {
	x, err := dialXMPP(ctx, &c.cfg, c.log, c.onStanza)
	c.mu.Lock()
	if err != nil {
		c.chat, c.chatWhy = StateFailed, err.Error()
		c.mu.Unlock()
		return err
	}
	c.xmpp, c.chat = x, StateConnected
	c.mu.Unlock()
	go c.watchChat(x)
	// Roster (RFC 6121) first, then presence.
	if contacts, err := x.roster(ctx); err == nil {
		for i := range contacts {
			if i >= 50 {
				break
			}
			contacts[i].TEL = x.vcardTEL(ctx, contacts[i].JID)
		}
		c.mu.Lock()
		c.roster = contacts
		c.mu.Unlock()
		c.emit(RosterEvent{Event: "roster", Contacts: contacts})
	} else {
		c.log.Warn("roster not fetched", "err", err)
	}
	return x.send(ctx, `<presence xmlns='jabber:client'/>`)
}

// watchChat reports a lost chat connection.
func (c *Client) watchChat(x *xmppConn) {
	<-x.done
	c.mu.Lock()
	if c.xmpp != x {
		c.mu.Unlock()
		return
	}
	c.xmpp = nil
	c.chat, c.chatWhy = StateFailed, "the XMPP server closed the connection"
	wasIn := c.inRoom
	c.inRoom = false
	clear(c.occupants)
	closing := c.ctx == nil || c.ctx.Err() != nil
	c.mu.Unlock()
	if closing {
		return
	}
	c.emitStatus()
	if wasIn {
		c.emit(LeftEvent{Event: "left", Half: "chat", Reason: "chat connection lost"})
		c.publish(true)
	}
}

func (c *Client) connectVoice(ctx context.Context) error {
	u, err := newSIPUA(&c.cfg, c.log)
	if err == nil {
		if err = u.probe(ctx, c.cfg.SIPRegistrar); err != nil {
			u.close()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.voice, c.voiceWhy = StateFailed, err.Error()
		return err
	}
	c.sip, c.voice = u, StateConnected
	return nil
}

// Roster returns the contacts, each with the TEL of its vCard.
func (c *Client) Roster() []Contact {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.roster)
}

// Rows returns the current merged participant list.
func (c *Client) Rows() []Row {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rowsLocked()
}

func (c *Client) rowsLocked() []Row {
	occs := make([]occupant, 0, len(c.occupants))
	for _, o := range c.occupants {
		occs = append(occs, o)
	}
	slices.SortFunc(occs, func(a, b occupant) int { return strings.Compare(a.Nick, b.Nick) })
	self := selfIDs{Nick: c.nick}
	if c.inRoom || c.call != nil {
		self.JID = c.cfg.JID
	}
	if c.call != nil {
		self.CallID, self.AOR = c.call.callID, c.cfg.SIP
	}
	doc := c.callDocLocked()
	return Merge(doc, occs, self)
}

func (c *Client) callDocLocked() *confinfo.Document {
	if c.call == nil {
		return nil
	}
	return c.call.document()
}

// publish emits the participant list when it changed (always with force).
func (c *Client) publish(force bool) {
	c.mu.Lock()
	rows := c.rowsLocked()
	same := slices.Equal(rows, c.lastRows) && c.lastRows != nil
	c.lastRows = rows
	c.mu.Unlock()
	if same && !force {
		return
	}
	c.emit(ParticipantsEvent{Event: "participants", List: rows})
}

// Close leaves the meeting, disconnects and closes Events.
func (c *Client) Close() {
	c.leave()
	c.mu.Lock()
	x, u := c.xmpp, c.sip
	c.xmpp, c.sip = nil, nil
	c.mu.Unlock()
	if x != nil {
		x.close()
	}
	if u != nil {
		u.close()
	}
	close(c.events)
}

// Failed reports whether any command failed so far.
func (c *Client) Failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// roomOf returns the bare JID of an xmpp: URI (xmpp:room@service?join).
func roomOf(uri string) (string, error) {
	s, ok := strings.CutPrefix(uri, "xmpp:")
	if !ok {
		return "", fmt.Errorf("%q is not an xmpp: URI", uri)
	}
	s, _, _ = strings.Cut(s, "?")
	s = strings.TrimPrefix(s, "//")
	j, err := jid.Parse(s)
	if err != nil || j.Localpart() == "" {
		return "", fmt.Errorf("%q does not name a room (xmpp:room@service)", uri)
	}
	return j.Bare().String(), nil
}
