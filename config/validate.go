package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// bad is the *FieldError for key with its bad value.
func bad(key, val, msg string) error { return &FieldError{Key: key, Value: val, Msg: msg} }

// validateSIP checks sip.* but sip.auth.
func (c *Config) validateSIP() error {
	if len(c.SIP.Listen) == 0 {
		return bad("sip.listen", "", "at least one listener is required")
	}
	for i, l := range c.SIP.Listen {
		if _, _, err := ParseListen(l); err != nil {
			return bad(fmt.Sprintf("sip.listen[%d]", i), l, err.Error())
		}
	}
	if c.SIP.Domain == "" || strings.ContainsAny(c.SIP.Domain, " @;<>") {
		return bad("sip.domain", c.SIP.Domain, "must be a host name or IP")
	}
	if _, err := c.SIP.AdvertisedIP.Addrs(); err != nil {
		return bad("sip.advertised_ip", c.SIP.AdvertisedIP.String(), err.Error())
	}
	switch c.SIP.SubscribePolicy {
	case "participants", "anyone":
	default:
		return bad("sip.subscribe_policy", c.SIP.SubscribePolicy, "must be participants or anyone")
	}
	if c.SIP.NotifyInterval < 0 {
		return bad("sip.notify_interval", time.Duration(c.SIP.NotifyInterval).String(), "must not be negative")
	}
	if c.SIP.SubscriptionExpires.D() < time.Minute {
		return bad("sip.subscription_expires", c.SIP.SubscriptionExpires.D().String(), "must be at least 1m")
	}
	if c.SIP.AnswerDelay.D() < 0 || c.SIP.AnswerDelay.D() > 30*time.Second {
		return bad("sip.answer_delay", c.SIP.AnswerDelay.D().String(), "must be 0..30s")
	}
	if c.SIP.AckTimeout.D() <= 0 {
		return bad("sip.ack_timeout", c.SIP.AckTimeout.D().String(), "must be positive")
	}
	return nil
}

// validateAuth checks sip.auth.*: the realm and unique, usable accounts.
func (c *Config) validateAuth() error {
	if c.SIP.Auth.Realm == "" {
		return bad("sip.auth.realm", "", "must not be empty")
	}
	seen := map[string]bool{}
	for i, a := range c.SIP.Auth.Accounts {
		key := fmt.Sprintf("sip.auth.accounts[%d]", i)
		if a.User == "" || strings.ContainsAny(a.User, " :@\"") {
			return bad(key+".user", a.User, "must be a non-empty user name without spaces, ':', '@' or quotes")
		}
		if a.Password == "" {
			return bad(key+".password", "", "must not be empty")
		}
		if seen[a.User] {
			return bad(key+".user", a.User, "duplicate account")
		}
		seen[a.User] = true
	}
	return nil
}

// validateRTP checks rtp.*.
func (c *Config) validateRTP() error {
	if _, _, err := ParsePortRange(c.RTP.Ports); err != nil {
		return bad("rtp.ports", c.RTP.Ports, err.Error())
	}
	if ips, err := c.RTP.BindIP.Addrs(); err != nil || len(ips) == 0 {
		if err == nil {
			err = errors.New("at least one address is required")
		}
		return bad("rtp.bind_ip", c.RTP.BindIP.String(), err.Error())
	}
	if c.RTP.MaxSpeakers < 0 {
		return bad("rtp.max_speakers", strconv.Itoa(c.RTP.MaxSpeakers), "must be 0 (everyone) or more")
	}
	if c.RTP.RTCPInterval.D() < 100*time.Millisecond {
		return bad("rtp.rtcp_interval", c.RTP.RTCPInterval.D().String(), "must be at least 100ms")
	}
	for _, t := range []struct {
		key string
		d   time.Duration
	}{{"rtp.timeout", c.RTP.Timeout.D()}, {"rtp.hold_timeout", c.RTP.HoldTimeout.D()}} {
		if t.d != 0 && t.d < 5*time.Second {
			return bad(t.key, t.d.String(), "must be 0 (never) or at least 5s")
		}
	}
	return nil
}

// validateXMPP checks xmpp.*: the mode, the component's server and domain
// when it is used, room creation and history.
func (c *Config) validateXMPP() error {
	switch c.XMPP.Mode {
	case "component", "off":
	case "embedded":
		if err := c.validateEmbedded(); err != nil {
			return err
		}
	default:
		return bad("xmpp.mode", c.XMPP.Mode, "must be embedded, component or off")
	}
	if c.XMPP.Mode == "component" {
		if _, _, err := net.SplitHostPort(c.XMPP.Server); err != nil {
			return bad("xmpp.server", c.XMPP.Server, "must be host:port")
		}
		if c.XMPP.Domain == "" || strings.ContainsAny(c.XMPP.Domain, " @/") {
			return bad("xmpp.domain", c.XMPP.Domain, "must be a domain JID like conference.example.com")
		}
		if c.XMPP.Secret == "" {
			return bad("xmpp.secret", "", "must not be empty in component mode (the XMPP server's component_secret)")
		}
	}
	switch c.XMPP.RoomCreation {
	case "anyone", "listed":
	default:
		return bad("xmpp.room_creation", c.XMPP.RoomCreation, "must be anyone or listed")
	}
	if c.XMPP.HistoryLength < 0 || c.XMPP.HistoryLength > 1000 {
		return bad("xmpp.history_length", strconv.Itoa(c.XMPP.HistoryLength), "must be 0..1000")
	}
	return nil
}

// validateServices checks admin.listen and store.path.
func (c *Config) validateServices() error {
	if _, _, err := net.SplitHostPort(c.Admin.Listen); err != nil {
		return bad("admin.listen", c.Admin.Listen, "must be host:port")
	}
	if c.Store.Path == "" {
		return bad("store.path", "", "must not be empty (use :memory: for no persistence)")
	}
	return nil
}

// validateLog checks log.level and log.format.
func (c *Config) validateLog() error {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", c.Log.Level, "must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return bad("log.format", c.Log.Format, "must be text or json")
	}
	return nil
}

// validateRooms checks rooms[]: unique valid names, moderator URIs, PINs
// and limits.
func (c *Config) validateRooms() error {
	names := map[string]bool{}
	for i, r := range c.Rooms {
		key := fmt.Sprintf("rooms[%d]", i)
		if !ValidRoomName(r.Name) {
			return bad(key+".name", r.Name, "must be 1-64 of a-z 0-9 . _ -")
		}
		if names[r.Name] {
			return bad(key+".name", r.Name, "duplicate room")
		}
		names[r.Name] = true
		for j, m := range r.Moderators {
			if !strings.HasPrefix(m, "sip:") && !strings.HasPrefix(m, "sips:") && !strings.HasPrefix(m, "xmpp:") {
				return bad(fmt.Sprintf("%s.moderators[%d]", key, j), m, "must be a sip:, sips: or xmpp: URI")
			}
		}
		if r.PIN != "" && !pinRE.MatchString(r.PIN) {
			return bad(key+".pin", r.PIN, "must be 2-16 digits")
		}
		if r.MaxParticipants < 0 {
			return bad(key+".max_participants", strconv.Itoa(r.MaxParticipants), "must be 0 (no limit) or more")
		}
	}
	return nil
}
