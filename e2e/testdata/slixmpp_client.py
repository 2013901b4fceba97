"""A slixmpp client driven by the e2e tests (Debian python3-slixmpp).

usage: slixmpp_client.py HOST PORT JID PASSWORD MECHANISM [ROOM NICK] [--vcard-set XML]

It connects to HOST:PORT, requires STARTTLS (certificate not verified: the
bridge's is self-signed; the test compares its pin separately), logs in with
MECHANISM only, fetches the roster, reads its own vCard, optionally replaces
it, reads it again, optionally joins ROOM as NICK, and prints one JSON object
per line for the test to assert on: {"event": ...}.
"""
import asyncio
import json
import logging
import ssl
import sys

import slixmpp

logging.basicConfig(level=logging.ERROR)


def out(**kw):
    print(json.dumps(kw), flush=True)


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, mech, room, nick, vcard_set):
        super().__init__(jid, password, sasl_mech=mech)
        self.room, self.nick, self.vcard_set = room, nick, vcard_set
        for p in ('xep_0030', 'xep_0045', 'xep_0054', 'xep_0199'):
            self.register_plugin(p)
        self.add_event_handler('tls_success', lambda _: out(event='tls'))
        self.add_event_handler('auth_success', lambda _: out(event='auth', mechanism=mech))
        self.add_event_handler('failed_auth', self.failed)
        self.add_event_handler('session_start', self.start)
        self.add_event_handler('stream_error', lambda e: out(event='stream_error', condition=e['condition'], text=e['text']))

    def failed(self, _):
        out(event='failed_auth')
        self.disconnect()

    async def vcard(self):
        iq = await self.plugin['xep_0054'].get_vcard(self.boundjid.bare, cached=False)
        return str(iq['vcard_temp'])

    async def start(self, _):
        try:
            out(event='bound', jid=self.boundjid.full)
            await self.get_roster()
            out(event='roster', items=sorted(self.client_roster.keys()))
            self.send_presence()
            out(event='vcard', xml=await self.vcard())
            if self.vcard_set:
                from slixmpp.xmlstream import ET
                from slixmpp.plugins.xep_0054 import VCardTemp
                v = VCardTemp(ET.fromstring(self.vcard_set))
                await self.plugin['xep_0054'].publish_vcard(v)
                out(event='vcard_set')
                out(event='vcard', xml=await self.vcard())
            if self.room:
                await self.plugin['xep_0045'].join_muc_wait(self.room, self.nick, maxchars=0, timeout=10)
                out(event='joined', occupants=sorted(self.plugin['xep_0045'].get_roster(self.room)))
        except Exception as e:  # reported to the test, which fails on it
            out(event='error', error=repr(e))
        self.disconnect()


def main():
    args = sys.argv[1:]
    vcard_set = None
    if '--vcard-set' in args:
        i = args.index('--vcard-set')
        vcard_set = args[i + 1]
        args = args[:i] + args[i + 2:]
    host, port, jid, password, mech = args[:5]
    room, nick = (args[5], args[6]) if len(args) >= 7 else (None, None)
    c = Client(jid, password, mech, room, nick, vcard_set)
    c.ssl_context.check_hostname = False
    c.ssl_context.verify_mode = ssl.CERT_NONE
    c.connect((host, int(port)), force_starttls=True, disable_starttls=False)
    try:
        c.loop.run_until_complete(asyncio.wait_for(c.disconnected, 30))
    except asyncio.TimeoutError:
        out(event='timeout')
    out(event='end')


main()
