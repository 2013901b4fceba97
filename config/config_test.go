package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if cfg.SIP.Domain != "localhost" || cfg.RTP.Ports != "10000-20000" || cfg.SIP.NotifyInterval.D() != time.Second {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
}

func TestParseOverridesDefaults(t *testing.T) {
	cfg, err := Parse(strings.NewReader(`
sip:
  listen: ["udp:127.0.0.1:5070"]
  domain: example.com
  notify_interval: 250ms
  auth:
    accounts:
      - {user: alice, password: secret}
rtp:
  ports: "30000-30010"
rooms:
  - name: team
    subject: Weekly sync
    moderators: ["sip:alice@example.com"]
    pin: "1234"
    max_participants: 3
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SIP.Listen[0] != "udp:127.0.0.1:5070" || cfg.SIP.Domain != "example.com" || cfg.SIP.NotifyInterval.D() != 250*time.Millisecond {
		t.Errorf("sip not applied: %+v", cfg.SIP)
	}
	if cfg.SIP.Auth.Realm != "localhost" {
		t.Errorf("default realm lost: %q", cfg.SIP.Auth.Realm)
	}
	if len(cfg.Rooms) != 1 || cfg.Rooms[0].MaxParticipants != 3 || cfg.Rooms[0].PIN != "1234" {
		t.Errorf("rooms not applied: %+v", cfg.Rooms)
	}
	if cfg.XMPP.Domain != "conference.localhost" {
		t.Errorf("xmpp default lost: %q", cfg.XMPP.Domain)
	}
}

func TestValidationNamesTheKey(t *testing.T) {
	cases := []struct {
		yaml, key string
	}{
		{"sip: {listen: [\"sctp:1.2.3.4:5060\"]}", "sip.listen[0]"},
		{"sip: {listen: [\"udp:localhost:5060\"]}", "sip.listen[0]"},
		{"sip: {listen: []}", "sip.listen"},
		{"sip: {domain: \"a b\"}", "sip.domain"},
		{"sip: {advertised_ip: nope}", "sip.advertised_ip"},
		{"sip: {subscribe_policy: everybody}", "sip.subscribe_policy"},
		{"sip: {subscription_expires: 10s}", "sip.subscription_expires"},
		{"sip: {auth: {accounts: [{user: \"\", password: x}]}}", "sip.auth.accounts[0].user"},
		{"sip: {auth: {accounts: [{user: a, password: \"\"}]}}", "sip.auth.accounts[0].password"},
		{"sip: {auth: {accounts: [{user: a, password: x}, {user: a, password: y}]}}", "sip.auth.accounts[1].user"},
		{"rtp: {ports: \"20000-10000\"}", "rtp.ports"},
		{"rtp: {ports: \"abc\"}", "rtp.ports"},
		{"rtp: {ports: \"10001-10001\"}", "rtp.ports"},
		{"rtp: {bind_ip: x}", "rtp.bind_ip"},
		{"rtp: {timeout: 4s}", "rtp.timeout"},
		{"rtp: {timeout: -30s}", "rtp.timeout"},
		{"rtp: {hold_timeout: 1s}", "rtp.hold_timeout"},
		{"rtp: {hold_timeout: -1m}", "rtp.hold_timeout"},
		{"xmpp: {mode: embedded, host: 'a b'}", "xmpp.host"},
		{"xmpp: {mode: embedded, c2s_listen: '5222'}", "xmpp.c2s_listen"},
		{"xmpp: {mode: embedded, tls: {cert: a.pem}}", "xmpp.tls.cert"},
		{"{xmpp: {mode: embedded}, provisioning: {listen: x}}", "provisioning.listen"},
		{"xmpp: {mode: mixed}", "xmpp.mode"},
		{"xmpp: {mode: component, secret: s, server: nohost}", "xmpp.server"},
		{"xmpp: {domain: localhost}", "xmpp.domain"},
		{"store: {path: ':memory:'}", "store.path"},
		{"xmpp: {room_creation: some}", "xmpp.room_creation"},
		{"admin: {listen: 8080}", "admin.listen"},
		{"log: {level: loud}", "log.level"},
		{"rooms: [{name: Team}]", "rooms[0].name"},
		{"rooms: [{name: a}, {name: a}]", "rooms[1].name"},
		{"rooms: [{name: a, moderators: [alice]}]", "rooms[0].moderators[0]"},
		{"rooms: [{name: a, pin: 12ab}]", "rooms[0].pin"},
		{"rooms: [{name: a, max_participants: -1}]", "rooms[0].max_participants"},
	}
	for _, c := range cases {
		_, err := Parse(strings.NewReader(c.yaml))
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want a FieldError", c.yaml, err)
			continue
		}
		if fe.Key != c.key {
			t.Errorf("%s: error names %q, want %q (%v)", c.yaml, fe.Key, c.key, err)
		}
		if !strings.Contains(err.Error(), c.key) {
			t.Errorf("%s: message %q does not name the key", c.yaml, err)
		}
	}
}

func TestRTPTimeouts(t *testing.T) {
	for _, c := range []struct {
		yaml          string
		timeout, hold time.Duration
	}{
		{"", 30 * time.Second, 0},
		{"rtp: {timeout: 0s}", 0, 0},
		{"rtp: {timeout: 5s, hold_timeout: 10m}", 5 * time.Second, 10 * time.Minute},
		{"rtp: {hold_timeout: 0s}", 30 * time.Second, 0},
	} {
		cfg, err := Parse(strings.NewReader(c.yaml))
		if err != nil {
			t.Errorf("%q: %v", c.yaml, err)
			continue
		}
		if cfg.RTP.Timeout.D() != c.timeout || cfg.RTP.HoldTimeout.D() != c.hold {
			t.Errorf("%q: timeout %v hold %v, want %v %v", c.yaml, cfg.RTP.Timeout.D(), cfg.RTP.HoldTimeout.D(), c.timeout, c.hold)
		}
	}
}

func TestUnknownKeyAndBadSyntax(t *testing.T) {
	for _, in := range []string{"sip: {lisen: []}", "rtp: [", "sip: {notify_interval: soon}"} {
		if _, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}

func TestValidRoomName(t *testing.T) {
	for name, ok := range map[string]bool{"team": true, "a.b_c-1": true, "": false, "Team": false, "a b": false, strings.Repeat("a", 65): false, strings.Repeat("a", 64): true} {
		if ValidRoomName(name) != ok {
			t.Errorf("ValidRoomName(%q) != %v", name, ok)
		}
	}
}

func TestAddrList(t *testing.T) {
	for _, tc := range []struct {
		yaml, err string
		first     string
		other     string
	}{
		{"rtp:\n  bind_ip: 127.0.0.1\n", "", "127.0.0.1", ""},
		{"rtp:\n  bind_ip: [\"127.0.0.1\", \"::1\"]\n", "", "127.0.0.1", "::1"},
		{"rtp:\n  bind_ip: [\"::1\", \"0.0.0.0\"]\n", "", "::1", "0.0.0.0"},
		{"rtp:\n  bind_ip: [\"127.0.0.1\", \"10.0.0.1\"]\n", "rtp.bind_ip", "", ""},
		{"rtp:\n  bind_ip: [\"::1\", \"::2\"]\n", "rtp.bind_ip", "", ""},
		{"rtp:\n  bind_ip: []\n", "rtp.bind_ip", "", ""},
		{"rtp:\n  bind_ip: nowhere\n", "rtp.bind_ip", "", ""},
		{"sip:\n  advertised_ip: [\"192.0.2.1\", \"2001:db8::1\"]\n", "", "", ""},
		{"sip:\n  advertised_ip: [\"192.0.2.1\", \"192.0.2.2\"]\n", "sip.advertised_ip", "", ""},
	} {
		cfg, err := Parse(strings.NewReader(tc.yaml))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one naming %s", tc.yaml, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.yaml, err)
			continue
		}
		if tc.first != "" && (cfg.RTP.BindIP.First().String() != tc.first || tc.other != "" && cfg.RTP.BindIP.Other().String() != tc.other) {
			t.Errorf("%q: first %v other %v", tc.yaml, cfg.RTP.BindIP.First(), cfg.RTP.BindIP.Other())
		}
	}
}

func TestIdentityKeys(t *testing.T) {
	cfg, err := Parse(strings.NewReader(`
sip:
  trusted_peers: ["192.0.2.10", "10.0.0.0/8", "::1"]
  domain_aliases: ["example.com", "203.0.113.5"]
identity:
  bindings:
    - {jid: alice@example.com, aor: "sip:alice@example.com"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.TrustedPrefixes(); len(p) != 3 || p[0].Bits() != 32 || p[1].String() != "10.0.0.0/8" || p[2].Bits() != 128 {
		t.Fatalf("prefixes %v", p)
	}
	if len(cfg.Identity.Bindings) != 1 || cfg.Identity.Bindings[0].AOR != "sip:alice@example.com" {
		t.Fatalf("bindings %+v", cfg.Identity.Bindings)
	}
	for _, tc := range []struct{ yaml, key string }{
		{"sip: {trusted_peers: [\"kamailio\"]}", "sip.trusted_peers[0]"},
		{"sip: {trusted_peers: [\"10.0.0.0/33\"]}", "sip.trusted_peers[0]"},
		{"sip: {domain_aliases: [\"a b\"]}", "sip.domain_aliases[0]"},
		{"identity: {bindings: [{jid: alice, aor: \"sip:a@b\"}]}", "identity.bindings[0].jid"},
		{"identity: {bindings: [{jid: a@b, aor: \"mailto:a@b\"}]}", "identity.bindings[0].aor"},
	} {
		_, err := Parse(strings.NewReader(tc.yaml))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Key != tc.key {
			t.Errorf("%s: %v, want an error on %s", tc.yaml, err, tc.key)
		}
	}
}
