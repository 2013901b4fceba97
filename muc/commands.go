package muc

import (
	"context"
	"strconv"
	"strings"
	"time"

	"cusax.dev/bridge/conference"
)

// XEP-0050 ad-hoc commands on each room, for its moderators: they find
// them where clients look (disco#items on the commands node of the room
// JID) and run them with XEP-0004 forms. Everything goes through the core
// with Origin xmpp and the requester as actor; non-moderators see no
// commands and get forbidden if they try one. Commands are stateless: the
// session id of a two-stage command is only echoed, nothing is kept per
// session.

// NSCommands is the XEP-0050 namespace and its disco node.
const NSCommands = "http://jabber.org/protocol/commands"

// Room command nodes.
const (
	CmdDialOut      = "dialout"
	CmdMutePhones   = "mute-phones"
	CmdUnmutePhones = "unmute-phones"
	CmdLock         = "lock"
	CmdUnlock       = "unlock"
	CmdWho          = "who"
)

// roomCommands lists the commands in the order clients show them.
var roomCommands = []struct{ node, name string }{
	{CmdDialOut, "Call a phone"},
	{CmdMutePhones, "Mute everyone on the phone"},
	{CmdUnmutePhones, "Unmute everyone"},
	{CmdLock, "Lock the conference"},
	{CmdUnlock, "Unlock the conference"},
	{CmdWho, "Who is on the call"},
}

func commandName(node string) (string, bool) {
	for _, c := range roomCommands {
		if c.node == node {
			return c.name, true
		}
	}
	return "", false
}

// mayCommand reports whether the sender of st moderates room.
func (s *Service) mayCommand(st *stanza, room string) bool {
	return s.reg.CanModerate(room, s.actorFor(room, st.from.String()))
}

// commandItems answers disco#items on the commands node of a room: the
// commands for a moderator, an empty list for anyone else (XEP-0050 §2.2
// lets an entity hide what the requester may not run).
func (s *Service) commandItems(st *stanza, room string) {
	res := elNS(NSDiscoItem, "query").set("node", NSCommands)
	if s.mayCommand(st, room) {
		for _, c := range roomCommands {
			res.add(el("item").set("jid", s.roomJID(room)).set("node", c.node).set("name", c.name))
		}
	}
	s.send(iqResult(st, res))
}

// commandInfo answers disco#info on a command node (XEP-0050 §2.3) or on
// the commands node itself; it reports whether node was one of them.
func (s *Service) commandInfo(st *stanza, room, node string) bool {
	if node == NSCommands {
		s.send(iqResult(st, elNS(NSDiscoInfo, "query",
			el("identity").set("category", "automation").set("type", "command-list").set("name", "Room commands")).set("node", node)))
		return true
	}
	name, ok := commandName(node)
	if !ok {
		return false
	}
	if !s.mayCommand(st, room) {
		s.send(s.errorTo(st, room, condForbidden, "only the room's moderators may run its commands"))
		return true
	}
	s.send(iqResult(st, elNS(NSDiscoInfo, "query",
		el("identity").set("category", "automation").set("type", "command-node").set("name", name),
		feature(NSCommands), feature(NSData)).set("node", node)))
	return true
}

// onCommand runs a command (an IQ set with <command/>).
func (s *Service) onCommand(ctx context.Context, st *stanza, room string, q *node) {
	cmd := q.attr("node")
	if st.typ != "set" {
		s.send(errorReply(st, condBadRequest, "commands are run with IQ set", s.roomJID(room)))
		return
	}
	if _, ok := commandName(cmd); !ok {
		s.send(s.errorTo(st, room, condItemNotFound, "no such command"))
		return
	}
	if !s.exists(ctx, room) {
		s.send(s.errorTo(st, room, condItemNotFound, "no such room"))
		return
	}
	if !s.mayCommand(st, room) {
		s.log.Info("ad-hoc command refused: not a moderator", "room", room, "from", st.from.String(), "node", cmd)
		s.send(s.errorTo(st, room, condForbidden, "only the room's moderators may run its commands"))
		return
	}
	session := q.attr("sessionid")
	if len(session) > 64 {
		s.send(s.errorTo(st, room, condBadRequest, "session id too long"))
		return
	}
	if session == "" {
		session = newID()
	}
	reply := func(status string, kids ...*node) {
		s.send(iqResult(st, elNS(NSCommands, "command", kids...).set("node", cmd).set("sessionid", session).set("status", status)))
	}
	note := func(typ, text string) *node { return textEl("note", text).set("type", typ) }
	if q.attr("action") == "cancel" {
		reply("canceled")
		return
	}
	actor := s.actorFor(room, st.from.String())
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	fail := func(err error) { s.send(s.errorFor(st, room, err)) }

	switch cmd {
	case CmdDialOut:
		x := q.child(NSData, "x")
		if x == nil || x.attr("type") != "submit" {
			reply("executing",
				el("actions", el("complete")).set("execute", "complete"),
				elNS(NSData, "x",
					textEl("title", "Call a phone"),
					textEl("instructions", "The conference calls this SIP URI (sip:user@host) into the room."),
					field("uri", "text-single", "SIP URI").add(el("required"))).set("type", "form"))
			return
		}
		uri := strings.TrimSpace(formValue(x, "uri"))
		if !conference.ValidDialOutURI(uri) {
			s.send(s.errorTo(st, room, condBadRequest, "give a SIP URI such as sip:alice@example.com"))
			return
		}
		if err := s.reg.RequestDialOut(ctx, room, uri, actor, conference.OriginXMPP); err != nil {
			fail(err)
			return
		}
		reply("completed", note("info", "Calling "+uri+" into the room."))
	case CmdMutePhones, CmdUnmutePhones:
		mute := cmd == CmdMutePhones
		n, err := s.reg.MuteAll(ctx, room, mute, actor, conference.OriginXMPP, "")
		if err != nil {
			fail(err)
			return
		}
		verb := "Unmuted"
		if mute {
			verb = "Muted"
		}
		reply("completed", note("info", verb+" "+strconv.Itoa(n)+" caller(s)."))
	case CmdLock, CmdUnlock:
		lock := cmd == CmdLock
		if err := s.reg.SetJoinLock(ctx, room, lock, actor, conference.OriginXMPP); err != nil {
			fail(err)
			return
		}
		text := "The conference is unlocked."
		if lock {
			text = "The conference is locked: nobody new may join."
		}
		reply("completed", note("info", text))
	case CmdWho:
		snap, err := s.reg.Snapshot(ctx, room)
		if err != nil {
			fail(err)
			return
		}
		form := elNS(NSData, "x", textEl("title", "Who is on the call"),
			el("reported",
				field("name", "text-single", "Name"),
				field("level", "text-single", "Level"),
				field("muted", "boolean", "Muted"))).set("type", "result")
		callers := 0
		for _, p := range snap.Participants {
			if p.Audio == nil {
				continue
			}
			callers++
			form.add(el("item",
				field("name", "", "", p.Nick),
				field("level", "", "", p.Level().Name()),
				field("muted", "", "", boolValue(p.Muted))))
		}
		reply("completed", note("info", strconv.Itoa(callers)+" caller(s) on the phone."), form)
	}
}

// formValue is the first value of field v in a submitted form.
func formValue(x *node, v string) string {
	for _, f := range x.children(NSData, "field") {
		if f.attr("var") == v {
			if val := f.child(NSData, "value"); val != nil {
				return val.Text
			}
		}
	}
	return ""
}
