package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"cusax.dev/bridge/confinfo"
)

// audioVideoURIField is the muc#roominfo field naming the room's
// conference (RFC 7081 §4).
const audioVideoURIField = "audio-video-uri"

// onStanza handles presence and messages (from the XMPP read loop: it
// never waits for the network).
func (c *Client) onStanza(e *elem) {
	from, err := jid.Parse(e.attr("from"))
	if err != nil {
		return
	}
	c.mu.Lock()
	room := c.room
	c.mu.Unlock()
	if room == "" || from.Bare().String() != room {
		if e.XMLName.Local == "message" && e.attr("type") == "chat" && e.text("", "body") != "" {
			c.emit(MessageEvent{Event: "message", From: from.Bare().String(), Body: e.text("", "body"), Private: true})
		}
		return
	}
	switch e.XMLName.Local {
	case "presence":
		c.onPresence(e, from.Resourcepart())
	case "message":
		c.onMessage(e, from.Resourcepart())
	}
}

func (c *Client) onPresence(e *elem, nick string) {
	codes := e.statusCodes()
	c.mu.Lock()
	if e.attr("type") == "error" {
		if w := c.joinWait; w != nil && (e.attr("id") == c.joinID || nick == c.nick) {
			c.joinWait = nil
			c.mu.Unlock()
			w <- e
			return
		}
		c.mu.Unlock()
		return
	}
	item := e.child(nsMUCUser, "x").child(nsMUCUser, "item")
	self := codes["110"]
	if e.attr("type") == "unavailable" {
		delete(c.occupants, nick)
		gone := self && c.inRoom
		if gone {
			c.inRoom = false
			clear(c.occupants)
		}
		c.mu.Unlock()
		if gone {
			reason := "you left the room"
			switch {
			case codes["301"]:
				reason = "you were banned from the room"
			case codes["307"]:
				reason = "you were kicked from the room"
			case codes["332"]:
				reason = "the room service shut down"
			}
			if r := item.text(nsMUCUser, "reason"); r != "" {
				reason += ": " + r
			}
			if a := item.child(nsMUCUser, "actor"); a != nil && a.attr("nick") != "" {
				reason += " (by " + a.attr("nick") + ")"
			}
			c.emit(LeftEvent{Event: "left", Half: "chat", Reason: reason})
		}
		c.publish(false)
		return
	}
	if len(c.occupants) >= maxOccupants {
		if _, ok := c.occupants[nick]; !ok {
			c.mu.Unlock()
			return
		}
	}
	o := occupant{Nick: nick, Role: item.attr("role"), Affiliation: item.attr("affiliation"), Self: self}
	if j, err := jid.Parse(item.attr("jid")); err == nil && item.attr("jid") != "" {
		o.JID = strings.ToLower(j.Bare().String())
	}
	if pe := e.child(nsParticipation, "participation"); pe != nil {
		b := func(v string) bool { return v == "true" || v == "1" }
		o.HasLevel, o.Text, o.Audio, o.Muted = true, b(pe.attr("text")), b(pe.attr("audio")), b(pe.attr("muted"))
	}
	c.occupants[nick] = o
	var w chan *elem
	if self {
		c.nick = nick
		if c.joinWait != nil {
			w, c.joinWait = c.joinWait, nil
		}
	}
	joined := c.inRoom
	c.mu.Unlock()
	if w != nil {
		w <- e
	}
	if joined {
		c.publish(false)
	}
}

func (c *Client) onMessage(e *elem, nick string) {
	typ := e.attr("type")
	if typ == "error" {
		c.emit(ErrorEvent{Event: "error", Message: "the room refused a message: " + e.errorText()})
		return
	}
	if typ == "groupchat" {
		if s := e.child("", "subject"); s != nil {
			c.emit(SubjectEvent{Event: "subject", Subject: s.Text})
			return
		}
	}
	body := e.text("", "body")
	if body == "" {
		return
	}
	c.emit(MessageEvent{Event: "message", From: nick, Body: body, Private: typ == "chat",
		Delayed: e.child(nsDelay, "delay") != nil})
}

// Join joins a meeting from either end: sip:ROOM@HOST (call, conference
// state, then the chat room it names if related) or xmpp:ROOM@MUC (room,
// then the conference it names with --with-voice, if related).
func (c *Client) Join(ctx context.Context, uri string) error {
	c.mu.Lock()
	busy := c.room != "" || c.call != nil
	c.mu.Unlock()
	if busy {
		return errors.New("already in a meeting: leave first")
	}
	switch {
	case strings.HasPrefix(uri, "sip:") || strings.HasPrefix(uri, "sips:"):
		return c.joinSIP(ctx, uri)
	case strings.HasPrefix(uri, "xmpp:"):
		return c.joinXMPP(ctx, uri)
	}
	return fmt.Errorf("join %q: want sip:ROOM@HOST or xmpp:ROOM@SERVICE", uri)
}

// callConference calls uri, checks it is a focus and subscribes to its
// state; the call is hung up on any failure.
func (c *Client) callConference(ctx context.Context, uri string) (*sipCall, error) {
	return c.dial(ctx, uri, true)
}

// dial calls uri; with focus it must be a conference focus and the call
// subscribes to its state, else it is a plain call (the Call action).
func (c *Client) dial(ctx context.Context, uri string, focus bool) (*sipCall, error) {
	c.mu.Lock()
	u := c.sip
	c.mu.Unlock()
	if u == nil {
		return nil, errors.New("the voice connection is not up")
	}
	src, sink, err := c.audio()
	if err != nil {
		return nil, err
	}
	media, err := newRTPEndpoint(u.local.Addr(), src, sink)
	if err != nil {
		sink.Close()
		return nil, err
	}
	ownJID := c.cfg.JID
	call, err := u.call(ctx, uri, ownJID, media)
	if err != nil {
		media.close()
		return nil, err
	}
	call.mu.Lock()
	call.onChange = func() { c.publish(false) }
	call.onEnd = func(reason string) { c.callEnded(call, reason) }
	call.mu.Unlock()
	if !focus {
		return call, nil
	}
	if !call.isFocus {
		call.hangup()
		return nil, fmt.Errorf("%s is not a conference focus (no isfocus in its Contact): hung up", uri)
	}
	if err := call.subscribe(ctx, subscriptionExpires); err != nil {
		call.hangup()
		return nil, fmt.Errorf("%s: %w", uri, err)
	}
	go call.refreshLoop(call.life)
	return call, nil
}

func (c *Client) callEnded(call *sipCall, reason string) {
	c.mu.Lock()
	if c.call != call {
		c.mu.Unlock()
		return
	}
	c.call = nil
	c.selfMuted = false
	c.mu.Unlock()
	c.emit(LeftEvent{Event: "left", Half: "voice", Reason: reason})
	c.publish(false)
}

// published reads conf-uris and the grouptextchat URI from the state.
func published(doc *confinfo.Document) (confURI, chatURI string) {
	if doc == nil {
		return "", ""
	}
	if d := doc.Description; d != nil && d.ConfURIs != nil && len(d.ConfURIs.Entries) > 0 {
		confURI = d.ConfURIs.Entries[0].URI
	}
	if confURI == "" {
		confURI = doc.Entity
	}
	if chat := doc.ServiceURIs(confinfo.PurposeGroupTextChat); len(chat) > 0 {
		chatURI = chat[0]
	}
	return confURI, chatURI
}

func (c *Client) joinSIP(ctx context.Context, uri string) error {
	call, err := c.callConference(ctx, uri)
	if err != nil {
		return err
	}
	confURI, chatURI := published(call.document())
	c.mu.Lock()
	c.call, c.confURI, c.chatURI = call, confURI, chatURI
	chatUp := c.xmpp != nil
	c.mu.Unlock()
	ev := JoinedEvent{Event: "joined", ConferenceURI: confURI, ChatURI: chatURI, Voice: true}
	if chatURI != "" && chatUp {
		room, err := roomOf(chatURI)
		if err != nil {
			c.emit(ErrorEvent{Event: "error", Message: "the conference's chat URI: " + err.Error()})
		} else {
			ev.Room = room
			info, err := c.xmppConn().roomInfo(ctx, room)
			switch {
			case err != nil:
				c.emit(ErrorEvent{Event: "error", Message: fmt.Sprintf("chat room %s: %v; not joined", room, err)})
			case info[audioVideoURIField] != confURI:
				c.emit(ErrorEvent{Event: "error", Message: fmt.Sprintf("chat room %s names the conference %q, not %q: unrelated, not joined",
					room, info[audioVideoURIField], confURI)})
			default:
				ev.Related = true
				if err := c.joinRoom(ctx, room); err != nil {
					c.emit(ErrorEvent{Event: "error", Message: err.Error()})
				} else {
					ev.Chat = true
				}
			}
		}
	}
	c.mu.Lock()
	c.related = ev.Related
	if !ev.Chat {
		c.room = ""
	}
	c.mu.Unlock()
	c.emit(ev)
	c.publish(true)
	return nil
}

func (c *Client) xmppConn() *xmppConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.xmpp
}

func (c *Client) joinXMPP(ctx context.Context, uri string) error {
	room, err := roomOf(uri)
	if err != nil {
		return err
	}
	if c.xmppConn() == nil {
		return errors.New("the chat connection is not up")
	}
	if err := c.joinRoom(ctx, room); err != nil {
		return err
	}
	ev := JoinedEvent{Event: "joined", Room: room, ChatURI: "xmpp:" + room + "?join", Chat: true}
	info, err := c.xmppConn().roomInfo(ctx, room)
	if err != nil {
		c.emit(ErrorEvent{Event: "error", Message: fmt.Sprintf("room %s: disco#info: %v", room, err)})
	}
	av := info[audioVideoURIField]
	ev.ConferenceURI = av
	if av != "" && c.cfg.WithVoice {
		if confURI, err := c.addVoice(ctx, room, av); err != nil {
			c.emit(ErrorEvent{Event: "error", Message: "voice: " + err.Error()})
		} else {
			ev.Related, ev.Voice, ev.ConferenceURI = true, true, confURI
		}
	}
	c.mu.Lock()
	c.confURI, c.chatURI, c.related = ev.ConferenceURI, ev.ChatURI, ev.Related
	c.mu.Unlock()
	c.emit(ev)
	c.publish(true)
	return nil
}

// joinRoom enters the room under the configured nick (on a nick conflict
// once more with " (chat)" appended), asks for 20 messages of history and
// configures a room it created (201) as an instant, non-anonymous room.
func (c *Client) joinRoom(ctx context.Context, room string) error {
	x := c.xmppConn()
	if x == nil {
		return errors.New("the chat connection is not up")
	}
	nicks := []string{c.cfg.Nick, c.cfg.Nick + " (chat)"}
	var last error
	for _, nick := range nicks {
		full, err := jid.Parse(room + "/" + nick)
		if err != nil {
			return fmt.Errorf("room %s: nick %q: %v", room, nick, err)
		}
		w := make(chan *elem, 1)
		id := x.id("join")
		c.mu.Lock()
		c.room, c.nick, c.joinID, c.joinWait = room, nick, id, w
		clear(c.occupants)
		c.mu.Unlock()
		err = x.send(ctx, fmt.Sprintf(`<presence xmlns='jabber:client' to='%s' id='%s'><x xmlns='%s'><history maxstanzas='20'/></x></presence>`,
			esc(full.String()), id, nsMUC))
		var res *elem
		if err == nil {
			select {
			case res = <-w:
			case <-time.After(xmppTimeout):
				err = fmt.Errorf("room %s: no answer to the join within %v", room, xmppTimeout)
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		if err != nil {
			c.resetRoom()
			return err
		}
		if res.attr("type") == "error" {
			cond := res.errorCondition()
			c.resetRoom()
			switch cond {
			case "conflict":
				last = fmt.Errorf("room %s: the nick %q is taken", room, nick)
				continue
			case "item-not-found", "remote-server-not-found":
				return fmt.Errorf("room %s does not exist (%s)", room, res.errorText())
			case "forbidden":
				return fmt.Errorf("room %s: you are banned (%s)", room, res.errorText())
			case "not-allowed":
				return fmt.Errorf("room %s does not exist and you may not create it, or may not enter it (%s)", room, res.errorText())
			case "registration-required":
				return fmt.Errorf("room %s is members-only (%s)", room, res.errorText())
			case "not-authorized":
				return fmt.Errorf("room %s needs a password (%s)", room, res.errorText())
			}
			return fmt.Errorf("room %s refused the join: %s", room, res.errorText())
		}
		if res.statusCodes()["201"] {
			form := `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>` +
				`<field var='muc#roomconfig_whois'><value>anyone</value></field></x>`
			if _, err := x.iq(ctx, room, "set", `<query xmlns='`+nsMUCOwner+`'>`+form+`</query>`); err != nil {
				// Fall back to an instant room with the service's defaults.
				if _, err := x.iq(ctx, room, "set", `<query xmlns='`+nsMUCOwner+`'><x xmlns='jabber:x:data' type='submit'/></query>`); err != nil {
					c.emit(ErrorEvent{Event: "error", Message: fmt.Sprintf("room %s: could not configure the new room: %v", room, err)})
				}
			}
		}
		c.mu.Lock()
		c.inRoom = true
		c.mu.Unlock()
		return nil
	}
	return last
}

func (c *Client) resetRoom() {
	c.mu.Lock()
	c.room, c.inRoom, c.joinWait = "", false, nil
	clear(c.occupants)
	c.mu.Unlock()
}

// Leave hangs up and leaves the room.
func (c *Client) Leave(ctx context.Context) error {
	c.mu.Lock()
	in := c.room != "" || c.call != nil
	c.mu.Unlock()
	if !in {
		return errors.New("not in a meeting")
	}
	c.leave()
	c.emit(LeftEvent{Event: "left", Half: "both"})
	c.publish(true)
	return nil
}

func (c *Client) leave() {
	c.mu.Lock()
	call, room, nick, x, in := c.call, c.room, c.nick, c.xmpp, c.inRoom
	c.call, c.room, c.inRoom, c.confURI, c.chatURI, c.related, c.selfMuted = nil, "", false, "", "", false, false
	clear(c.occupants)
	c.mu.Unlock()
	if call != nil {
		call.hangup()
	}
	if x != nil && in {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = x.send(ctx, fmt.Sprintf(`<presence xmlns='jabber:client' type='unavailable' to='%s'/>`, esc(room+"/"+nick)))
		cancel()
	}
}

// addVoice calls the conference av a room advertises and keeps the call
// only if that conference publishes the room as its grouptextchat URI.
func (c *Client) addVoice(ctx context.Context, room, av string) (string, error) {
	c.mu.Lock()
	voiceUp := c.sip != nil
	c.mu.Unlock()
	if !voiceUp {
		return "", errors.New("the room has a conference (" + av + ") but the voice connection is not up")
	}
	call, err := c.callConference(ctx, av)
	if err != nil {
		return "", err
	}
	confURI, chatURI := published(call.document())
	back, _ := roomOf(chatURI)
	if chatURI == "" || !strings.EqualFold(back, room) {
		call.hangup()
		return "", fmt.Errorf("the conference %s publishes the chat room %q, not %s: unrelated, hung up", av, chatURI, room)
	}
	c.mu.Lock()
	c.call = call
	c.mu.Unlock()
	return confURI, nil
}

// JoinVoice adds the voice half to a meeting joined from its chat room: it
// calls the room's audio-video-uri (the TUI's answer to "call it?").
func (c *Client) JoinVoice(ctx context.Context) error {
	c.mu.Lock()
	room, in, confURI, call := c.room, c.inRoom, c.confURI, c.call
	c.mu.Unlock()
	if !in || confURI == "" {
		return errors.New("not in a chat room that advertises a conference")
	}
	if call != nil {
		return errors.New("already in the call")
	}
	got, err := c.addVoice(ctx, room, confURI)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.confURI, c.related = got, true
	c.mu.Unlock()
	c.emit(JoinedEvent{Event: "joined", Room: room, ConferenceURI: got, ChatURI: "xmpp:" + room + "?join", Related: true, Chat: true, Voice: true})
	c.publish(true)
	return nil
}

// JoinChat adds the chat half to a meeting joined by a call: it joins the
// room the conference publishes even though it does not point back (the
// person said yes when asked).
func (c *Client) JoinChat(ctx context.Context) error {
	c.mu.Lock()
	chatURI, call, in := c.chatURI, c.call, c.inRoom
	c.mu.Unlock()
	if call == nil || chatURI == "" {
		return errors.New("not in a call whose conference publishes a chat room")
	}
	if in {
		return errors.New("already in the chat room")
	}
	room, err := roomOf(chatURI)
	if err != nil {
		return err
	}
	if err := c.joinRoom(ctx, room); err != nil {
		return err
	}
	c.mu.Lock()
	related, confURI := c.related, c.confURI
	c.mu.Unlock()
	c.emit(JoinedEvent{Event: "joined", Room: room, ConferenceURI: confURI, ChatURI: chatURI, Related: related, Chat: true, Voice: true})
	c.publish(true)
	return nil
}

// audio opens the call's source and sink; "device" is the system's sound
// device (one duplex stream shared by both), closed with the sink.
func (c *Client) audio() (Source, Sink, error) {
	in, out := c.cfg.AudioIn, c.cfg.AudioOut
	if in == "auto" || out == "auto" {
		// Defaults of a build with device support: the device when there
		// is one, else silence and null.
		d, err := openDevice(8000)
		if err == nil {
			d.Close()
		} else {
			c.emit(ErrorEvent{Event: "error", Message: err.Error() + ": sending silence, discarding what is heard"})
		}
		pick := func(v, dflt string) string {
			if v != "auto" {
				return v
			}
			if err == nil {
				return "device"
			}
			return dflt
		}
		in, out = pick(in, "silence"), pick(out, "null")
	}
	var dev *soundDevice
	if in == "device" || out == "device" {
		d, err := openDevice(8000)
		if err != nil {
			return nil, nil, err
		}
		dev = d
	}
	var src Source
	if in == "device" {
		src = dev
	} else {
		s, err := parseSource(in, false)
		if err != nil {
			if dev != nil {
				dev.Close()
			}
			return nil, nil, fmt.Errorf("--audio-in: %w", err)
		}
		src = s
	}
	if out == "device" {
		return src, dev, nil
	}
	sink, err := parseSink(out)
	if err != nil {
		if dev != nil {
			dev.Close()
		}
		return nil, nil, err
	}
	if dev != nil {
		return src, closeBoth{sink, dev}, nil
	}
	return src, sink, nil
}

// closeBoth is a sink that also closes the device feeding the source.
type closeBoth struct {
	Sink
	dev *soundDevice
}

func (c closeBoth) Close() error { return errors.Join(c.Sink.Close(), c.dev.Close()) }
