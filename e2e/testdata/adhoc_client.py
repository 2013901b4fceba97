"""XEP-0050 client for the e2e test: logs in with slixmpp, joins the room,
lists the room's ad-hoc commands and runs them through slixmpp's xep_0050
plugin. Prints one JSON object with what it saw; exits non-zero on a
failure it did not expect.

usage: adhoc_client.py JID PASSWORD HOST:PORT ROOM_JID NICK DIALOUT_URI
"""
import asyncio
import json
import sys

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, room, nick, uri):
        super().__init__(jid, password)
        self.room, self.nick, self.uri = room, nick, uri
        self.result = {}
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0004")
        self.register_plugin("xep_0045")
        self.register_plugin("xep_0050")
        self["feature_mechanisms"].unencrypted_plain = True
        self.add_event_handler("session_start", self.start)

    async def run(self, node, action="execute", payload=None, sessionid=None):
        try:
            iq = await self["xep_0050"].send_command(self.room, node, action=action, payload=payload,
                                                     sessionid=sessionid, timeout=10)
        except IqError as e:
            return {"error": e.iq["error"]["condition"]}
        cmd = iq["command"]
        out = {"status": cmd["status"], "sessionid": cmd["sessionid"],
               "notes": [n[1] for n in cmd["notes"]]}
        x = cmd.xml.find("{jabber:x:data}x")
        if x is not None:
            ns = "{jabber:x:data}"
            out["form_type"] = x.get("type")
            out["fields"] = [f.get("var") for f in x.findall(ns + "field")]
            out["items"] = [{f.get("var"): f.findtext(ns + "value") for f in item.findall(ns + "field")}
                            for item in x.findall(ns + "item")]
        return out

    async def start(self, _):
        try:
            self.send_presence()
            await self["xep_0045"].join_muc_wait(slixmpp.JID(self.room), self.nick, maxstanzas=0, timeout=10)
            items = await self["xep_0050"].get_commands(self.room, timeout=10)
            self.result["commands"] = [(i[1], i[2]) for i in items["disco_items"]["items"]]
            self.result["who"] = await self.run("who")
            self.result["mute"] = await self.run("mute-phones")
            self.result["who_after_mute"] = await self.run("who")
            self.result["lock"] = await self.run("lock")
            first = await self.run("dialout")
            self.result["dialout_form"] = first
            if "sessionid" in first:
                form = self["xep_0004"].make_form(ftype="submit")
                form.add_field(var="uri", value=self.uri)
                self.result["dialout"] = await self.run("dialout", action="complete", payload=form,
                                                        sessionid=first["sessionid"])
        except (IqError, IqTimeout) as e:
            self.result["failure"] = repr(e)
        except Exception as e:  # report anything else too, then leave
            self.result["failure"] = repr(e)
        finally:
            self.disconnect()


def main():
    jid, password, addr, room, nick, uri = sys.argv[1:7]
    host, port = addr.rsplit(":", 1)
    c = Client(jid, password, room, nick, uri)
    c.connect(address=(host, int(port)), disable_starttls=True)
    asyncio.get_event_loop().run_until_complete(asyncio.wait_for(c.disconnected, 40))
    print(json.dumps(c.result))
    sys.exit(1 if "failure" in c.result else 0)


if __name__ == "__main__":
    main()
