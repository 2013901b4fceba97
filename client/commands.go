package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Say sends text to the room.
func (c *Client) Say(ctx context.Context, text string) error {
	c.mu.Lock()
	x, room, in := c.xmpp, c.room, c.inRoom
	c.mu.Unlock()
	if x == nil || !in {
		return errors.New("not in a chat room")
	}
	return x.send(ctx, fmt.Sprintf(`<message xmlns='jabber:client' type='groupchat' to='%s' id='%s'><body>%s</body></message>`,
		esc(room), x.id("m"), esc(text)))
}

// Private sends text to one occupant of the room.
func (c *Client) Private(ctx context.Context, name, text string) error {
	r, err := c.row(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	x, room, in := c.xmpp, c.room, c.inRoom
	_, present := c.occupants[r.Name]
	c.mu.Unlock()
	if x == nil || !in {
		return errors.New("not in a chat room")
	}
	if !present {
		return fmt.Errorf("%s is not in the chat room", name)
	}
	return x.send(ctx, fmt.Sprintf(`<message xmlns='jabber:client' type='chat' to='%s' id='%s'><body>%s</body><x xmlns='%s'/></message>`,
		esc(room+"/"+r.Name), x.id("m"), esc(text), nsMUCUser))
}

// row finds a participant by row name.
func (c *Client) row(name string) (Row, error) {
	for _, r := range c.Rows() {
		if r.Name == name {
			return r, nil
		}
	}
	return Row{}, fmt.Errorf("nobody called %q in the meeting", name)
}

// occupantNick is the nick under which the room presents the row's person.
func (c *Client) occupantNick(r Row) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.occupants[r.Name]; ok {
		return r.Name, true
	}
	return "", false
}

// admin sends a muc#admin item (XEP-0045 §8, §9): the bridge mirrors it on
// the SIP side.
func (c *Client) admin(ctx context.Context, item string) error {
	c.mu.Lock()
	x, room, in := c.xmpp, c.room, c.inRoom
	c.mu.Unlock()
	if x == nil || !in {
		return errors.New("moderation goes through the chat room: join its chat half first")
	}
	_, err := x.iq(ctx, room, "set", `<query xmlns='`+nsMUCAdmin+`'>`+item+`</query>`)
	if err != nil {
		var se *stanzaError
		if errors.As(err, &se) {
			switch se.cond {
			case "forbidden", "not-allowed":
				return fmt.Errorf("the room refused: you have no right to do that (%s)", se.text)
			case "not-acceptable", "conflict":
				return fmt.Errorf("the room refused: %s", se.text)
			}
		}
		return fmt.Errorf("the room refused: %w", err)
	}
	return nil
}

// SetRole mutes (visitor), unmutes (participant) or kicks (none) a person.
func (c *Client) SetRole(ctx context.Context, name, role string) error {
	r, err := c.row(name)
	if err != nil {
		return err
	}
	nick, ok := c.occupantNick(r)
	if !ok {
		return fmt.Errorf("%s is not presented in the chat room, so the room cannot moderate them", name)
	}
	return c.admin(ctx, fmt.Sprintf(`<item nick='%s' role='%s'/>`, esc(nick), role))
}

// Ban bans a person by JID, else by SIP AOR (the bridge accepts sip:
// identities in muc#admin items).
func (c *Client) Ban(ctx context.Context, name string) error {
	r, err := c.row(name)
	if err != nil {
		return err
	}
	who := firstNonEmpty(r.JID, r.SIP)
	if who == "" {
		return fmt.Errorf("%s has no address the room can ban (anonymous)", name)
	}
	return c.admin(ctx, fmt.Sprintf(`<item affiliation='outcast' jid='%s'/>`, esc(who)))
}

// Lock makes the room members-only (on) or open again (off).
func (c *Client) Lock(ctx context.Context, on bool) error {
	c.mu.Lock()
	x, room, in := c.xmpp, c.room, c.inRoom
	c.mu.Unlock()
	if x == nil || !in {
		return errors.New("locking goes through the chat room: join its chat half first")
	}
	v := "0"
	if on {
		v = "1"
	}
	form := `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>` +
		`<field var='muc#roomconfig_membersonly'><value>` + v + `</value></field></x>`
	if _, err := x.iq(ctx, room, "set", `<query xmlns='`+nsMUCOwner+`'>`+form+`</query>`); err != nil {
		return fmt.Errorf("the room refused to change the lock: %w", err)
	}
	return nil
}

// SelfMute stops (on) or resumes sending audio and tells the focus with
// RFC 4733 *6, so others see it.
func (c *Client) SelfMute(ctx context.Context, on bool) error {
	c.mu.Lock()
	call, was := c.call, c.selfMuted
	c.mu.Unlock()
	if call == nil {
		return errors.New("not in a call")
	}
	if was == on {
		return nil
	}
	call.media.setMuted(on)
	call.media.sendDigits("*6")
	c.mu.Lock()
	c.selfMuted = on
	c.mu.Unlock()
	return nil
}

// DTMF sends digits (0-9 * # A-D) as RFC 4733 events.
func (c *Client) DTMF(ctx context.Context, digits string) error {
	c.mu.Lock()
	call := c.call
	c.mu.Unlock()
	if call == nil {
		return errors.New("not in a call")
	}
	for _, d := range digits {
		if !strings.ContainsRune("0123456789*#ABCD", d) {
			return fmt.Errorf("%q is not a DTMF digit", d)
		}
	}
	call.media.sendDigits(digits)
	return nil
}

// Hold puts the call on hold (re-INVITE sendonly) or resumes it.
func (c *Client) Hold(ctx context.Context, on bool) error {
	c.mu.Lock()
	call := c.call
	c.mu.Unlock()
	if call == nil {
		return errors.New("not in a call")
	}
	return call.setHold(ctx, on)
}

// Call dials a roster contact's vCard TEL (or any sip: URI) through the
// SIP account: a plain call, no conference needed (RFC 7081 §3.2).
func (c *Client) Call(ctx context.Context, who string) error {
	target := who
	for _, ct := range c.Roster() {
		if ct.JID == who || ct.Name == who {
			if ct.TEL == "" {
				return fmt.Errorf("%s has no TEL in their vCard", who)
			}
			target = ct.TEL
		}
	}
	if strings.HasPrefix(target, "tel:") || (!strings.HasPrefix(target, "sip:") && !strings.HasPrefix(target, "sips:")) {
		num := strings.TrimPrefix(target, "tel:")
		_, host, _ := splitAOR(c.cfg.SIP)
		target = "sip:" + strings.NewReplacer(" ", "", "-", "", ".", "", "(", "", ")", "").Replace(num) + "@" + host
	}
	c.mu.Lock()
	busy := c.call != nil
	c.mu.Unlock()
	if busy {
		return errors.New("already in a call: leave first")
	}
	call, err := c.dial(ctx, target, false)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.call = call
	c.mu.Unlock()
	c.emit(JoinedEvent{Event: "joined", ConferenceURI: target, Voice: true})
	c.publish(true)
	return nil
}
