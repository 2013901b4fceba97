-- cusax-bridge MUC component for Prosody 0.12+ (XEP-0114).
--
-- The bridge serves the multi-user chat rooms of conference.example.com as
-- an external component: Prosody routes every stanza for that domain to the
-- bridge over the component port. Copy the two global settings into the
-- global section of prosody.cfg.lua (before the first VirtualHost) and the
-- Component section to the end of the file, then set in bridge.yaml:
--
--   xmpp:
--     mode: component
--     server: 127.0.0.1:5347           # component_interface:component_ports
--     domain: conference.example.com   # the Component name below
--     secret: change-me                # component_secret below
--
-- Do not also load Prosody's own "muc" module for this domain.

-- Global settings
component_ports = { 5347 }
-- The bridge connects over loopback; use a private address if it runs
-- elsewhere (the component protocol is not encrypted).
component_interface = "127.0.0.1"

-- The MUC domain, served by the bridge
Component "conference.example.com"
	component_secret = "change-me"
