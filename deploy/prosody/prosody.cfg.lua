-- Prosody 0.12 configuration for cusax-bridge: a complete file that works as
-- it is for trying the bridge on one machine (with deploy/local.yaml), and
-- says what to change for production (look for "PRODUCTION").
--
-- Try it: install it as /etc/prosody/prosody.cfg.lua and restart the Debian
-- service, or run it in the foreground as the prosody user (Prosody refuses
-- to run as root):
--   install -d -o prosody -g prosody /run/prosody
--   prosodyctl --config $PWD/deploy/prosody/prosody.cfg.lua register alice localhost alice-pw
--   runuser -u prosody -- prosody -F --config $PWD/deploy/prosody/prosody.cfg.lua
--   make run CONFIG=deploy/local.yaml
-- then log in as alice@localhost (any client; plaintext on loopback) and
-- join demo@conference.localhost.
--
-- The bridge serves the multi-user chat of conference.localhost as an
-- XEP-0114 external component: Prosody routes every stanza for that domain
-- to the bridge over the component port. Its settings in bridge.yaml:
--
--   xmpp:
--     mode: component
--     server: 127.0.0.1:5347            # component_interface:component_ports
--     domain: conference.localhost      # the Component name below
--     secret: local-only-secret         # component_secret below
--
-- Do not also load Prosody's own "muc" module for that domain.

---------- Global settings (before the first VirtualHost) ----------

-- Paths of the Debian package, which runs Prosody as the prosody user.
pidfile = "/run/prosody/prosody.pid"
data_path = "/var/lib/prosody"
certificates = "/etc/prosody/certs"
log = { info = "*console" }

-- PRODUCTION: list the administrators' JIDs.
admins = { }

modules_enabled = {
	"roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping"; "posix";
	"carbons"; "pep"; "private"; "vcard_legacy"; "blocklist"; "smacks"; "mam";
}
-- PRODUCTION: remove "s2s" here to federate with other servers.
modules_disabled = { "s2s" }

-- PRODUCTION: listen on every address ("*", "::") or the public one.
interfaces = { "127.0.0.1" }
c2s_ports = { 5222 }
-- No HTTP here (BOSH, websockets and file upload are not needed).
http_ports = { }
https_ports = { }

-- Local trial only: clients may log in without TLS over loopback.
-- PRODUCTION: delete both lines (TLS is then required) and give the
-- VirtualHost a certificate (prosodyctl cert import, or certificates =).
c2s_require_encryption = false
allow_unencrypted_plain_auth = true

authentication = "internal_hashed"
storage = "internal"

-- The component port the bridge connects to. The component protocol is
-- not encrypted: keep it on loopback, or a private network if the bridge
-- runs on another machine (then also set component_interface to that
-- address and xmpp.server in bridge.yaml to match).
component_ports = { 5347 }
component_interface = "127.0.0.1"

---------- Hosts ----------

-- PRODUCTION: your domain (users are user@example.com), with its
-- certificate.
VirtualHost "localhost"

-- The MUC domain, served by the bridge. PRODUCTION: conference.example.com,
-- with a long random secret (the same as xmpp.secret in bridge.yaml).
Component "conference.localhost"
	component_secret = "local-only-secret"
