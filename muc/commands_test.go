package muc

import (
	"context"
	"strings"
	"testing"

	"cusax.dev/bridge/conference"
)

func command(node, action, form string) string {
	a := ""
	if action != "" {
		a = ` action='` + action + `'`
	}
	return `<command xmlns='` + NSCommands + `' node='` + node + `'` + a + `>` + form + `</command>`
}

func TestAdHocCommands(t *testing.T) {
	r := newRig(t)
	alice, bob := user("alice"), user("bob")
	room := roomJID("team")
	r.create(alice, "team", "Alice") // owner: a moderator
	r.joined(bob, "team", "Bob")
	r.fc.nextTo(t, alice)
	ctx := context.Background()
	caller, err := r.reg.Join(ctx, "team", conference.JoinRequest{AOR: "sip:carol@x", DisplayName: "Carol", Audio: &conference.Audio{}, Origin: conference.OriginSIP})
	if err != nil {
		t.Fatal(err)
	}
	r.fc.nextTo(t, alice)
	r.fc.nextTo(t, bob)

	// Discovery: the room advertises the feature; moderators see the
	// commands, others an empty list.
	info := r.iq(bob, room, "get", `<query xmlns='`+NSDiscoInfo+`'/>`)
	if !strings.Contains(info.String(), NSCommands) {
		t.Fatalf("room disco#info lacks the commands feature: %s", info)
	}
	items := r.iq(alice, room, "get", `<query xmlns='`+NSDiscoItem+`' node='`+NSCommands+`'/>`)
	got := items.child(NSDiscoItem, "query").children(NSDiscoItem, "item")
	if len(got) != len(roomCommands) || got[0].attr("node") != CmdDialOut || got[0].attr("jid") != room {
		t.Fatalf("commands for a moderator: %s", items)
	}
	items = r.iq(bob, room, "get", `<query xmlns='`+NSDiscoItem+`' node='`+NSCommands+`'/>`)
	if n := len(items.child(NSDiscoItem, "query").children(NSDiscoItem, "item")); n != 0 {
		t.Fatalf("a participant sees %d commands", n)
	}
	ni := r.iq(alice, room, "get", `<query xmlns='`+NSDiscoInfo+`' node='`+CmdWho+`'/>`)
	if ni.attr("type") != "result" || !strings.Contains(ni.String(), "command-node") {
		t.Fatalf("command node info: %s", ni)
	}
	wantError(t, r.iq(bob, room, "get", `<query xmlns='`+NSDiscoInfo+`' node='`+CmdWho+`'/>`), "forbidden", "auth")

	// A participant may run none of them.
	for _, c := range roomCommands {
		wantError(t, r.iq(bob, room, "set", command(c.node, "execute", "")), "forbidden", "auth")
	}
	wantError(t, r.iq(alice, room, "set", command("nope", "execute", "")), "item-not-found", "cancel")

	// Mute everyone on the phone: Carol is muted, by Alice, over XMPP.
	res := r.iq(alice, room, "set", command(CmdMutePhones, "execute", ""))
	cmd := res.child(NSCommands, "command")
	if res.attr("type") != "result" || cmd.attr("status") != "completed" || !strings.Contains(cmd.child(NSCommands, "note").Text, "1 caller") {
		t.Fatalf("mute phones: %s", res)
	}
	if p, _ := r.reg.Participant("team", caller.Participant.ID); !p.Muted || p.MutedBy == "" {
		t.Fatalf("caller after mute-phones: %+v", p)
	}
	r.fc.nextTo(t, alice) // Carol's presence as visitor
	r.fc.nextTo(t, bob)

	// Who is on the call.
	res = r.iq(alice, room, "set", command(CmdWho, "execute", ""))
	x := res.child(NSCommands, "command").child(NSData, "x")
	its := x.children(NSData, "item")
	if x.attr("type") != "result" || len(its) != 1 || formValue(its[0], "name") != "Carol" || formValue(its[0], "level") != "audio" || formValue(its[0], "muted") != "1" {
		t.Fatalf("who: %s", res)
	}

	res = r.iq(alice, room, "set", command(CmdUnmutePhones, "", ""))
	if res.child(NSCommands, "command").attr("status") != "completed" {
		t.Fatalf("unmute: %s", res)
	}
	r.fc.nextTo(t, alice)
	r.fc.nextTo(t, bob)

	// Lock: nobody new on either side.
	if res := r.iq(alice, room, "set", command(CmdLock, "execute", "")); res.attr("type") != "result" {
		t.Fatalf("lock: %s", res)
	}
	if _, err := r.reg.Join(ctx, "team", conference.JoinRequest{AOR: "sip:dave@x", Audio: &conference.Audio{}, Origin: conference.OriginSIP}); err == nil {
		t.Fatal("joined a locked conference")
	}
	if res := r.iq(alice, room, "set", command(CmdUnlock, "execute", "")); res.attr("type") != "result" {
		t.Fatalf("unlock: %s", res)
	}

	// Call a phone: a form first, then the submitted URI becomes a
	// dial-out request of the core.
	events := r.reg.SubscribeConference("team")
	defer events.Close()
	res = r.iq(alice, room, "set", command(CmdDialOut, "execute", ""))
	cmd = res.child(NSCommands, "command")
	session := cmd.attr("sessionid")
	if cmd.attr("status") != "executing" || session == "" || cmd.child(NSData, "x").attr("type") != "form" {
		t.Fatalf("dial-out stage 1: %s", res)
	}
	bad := `<x xmlns='jabber:x:data' type='submit'><field var='uri'><value>12345</value></field></x>`
	wantError(t, r.iq(alice, room, "set", command(CmdDialOut, "complete", bad)), "bad-request", "modify")
	form := `<x xmlns='jabber:x:data' type='submit'><field var='uri'><value>sip:erin@127.0.0.1:5099</value></field></x>`
	res = r.iq(alice, room, "set", strings.Replace(command(CmdDialOut, "complete", form), "<command ", "<command sessionid='"+session+"' ", 1))
	if c := res.child(NSCommands, "command"); c.attr("status") != "completed" || c.attr("sessionid") != session {
		t.Fatalf("dial-out stage 2: %s", res)
	}
	for ev := range events.C() {
		if ev.Kind == conference.DialOutRequested {
			if ev.Identity != "sip:erin@127.0.0.1:5099" || ev.Origin != conference.OriginXMPP || ev.Actor.JID != alice {
				t.Fatalf("dial-out event %+v", ev)
			}
			break
		}
	}
	if res := r.iq(alice, room, "set", command(CmdDialOut, "cancel", "")); res.child(NSCommands, "command").attr("status") != "canceled" {
		t.Fatalf("cancel: %s", res)
	}
}
