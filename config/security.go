package config

import (
	"crypto/tls"
	"strconv"
	"strings"
	"time"
)

// SIPTCP limits the SIP TCP connections (sip.tcp).
type SIPTCP struct {
	// MaxConnections bounds the accepted connections open at once per TCP
	// listener; 0 derives it from RLIMIT_NOFILE (a quarter of it).
	MaxConnections int `yaml:"max_connections"`
	// MaxPerSource bounds the connections from one IP address.
	MaxPerSource int `yaml:"max_per_source"`
	// IdleTimeout closes a connection that sent nothing for this long.
	IdleTimeout Duration `yaml:"idle_timeout"`
}

func defaultSIPTCP() SIPTCP {
	return SIPTCP{MaxPerSource: 32, IdleTimeout: Duration(5 * time.Minute)}
}

// SubscriptionLimits bound the RFC 6665 conference subscriptions
// (sip.subscriptions).
type SubscriptionLimits struct {
	// PerParticipant bounds the subscriptions one subscriber (one AOR, or
	// one call) holds at once.
	PerParticipant int `yaml:"per_participant"`
	// PerSource bounds the subscriptions from one IP address.
	PerSource int `yaml:"per_source"`
	// Total bounds all subscriptions of the bridge.
	Total int `yaml:"total"`
}

func defaultSubscriptionLimits() SubscriptionLimits {
	return SubscriptionLimits{PerParticipant: 4, PerSource: 64, Total: 10000}
}

// ConferenceLimits bound rooms and moderator PIN guessing (conference).
type ConferenceLimits struct {
	// IdleGrace is how long a temporary room (not declared, not made
	// persistent by an owner) lives on after its last participant left.
	IdleGrace Duration `yaml:"idle_grace"`
	// MaxRooms bounds the live rooms.
	MaxRooms int `yaml:"max_rooms"`
	// MaxRoomsPerCreator bounds the live rooms one creator made.
	MaxRoomsPerCreator int `yaml:"max_rooms_per_creator"`
	// PINAttempts and PINRoomAttempts bound wrong moderator PINs per call
	// and per room before a growing lockout.
	PINAttempts     int `yaml:"pin_attempts"`
	PINRoomAttempts int `yaml:"pin_room_attempts"`
}

func defaultConferenceLimits() ConferenceLimits {
	return ConferenceLimits{IdleGrace: Duration(30 * time.Second), MaxRooms: 10000, MaxRoomsPerCreator: 20,
		PINAttempts: 3, PINRoomAttempts: 10}
}

// TLSFiles names a PEM certificate chain and its private key (sip.tls).
type TLSFiles struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// validateSecurity checks the keys of the limits against hostile peers.
func (c *Config) validateSecurity() error {
	bad := func(key, val, msg string) error { return &FieldError{Key: key, Value: val, Msg: msg} }
	ints := []struct {
		key string
		v   int
		min int
	}{
		{"sip.tcp.max_connections", c.SIP.TCP.MaxConnections, 0},
		{"sip.tcp.max_per_source", c.SIP.TCP.MaxPerSource, 1},
		{"sip.subscriptions.per_participant", c.SIP.Subscriptions.PerParticipant, 1},
		{"sip.subscriptions.per_source", c.SIP.Subscriptions.PerSource, 1},
		{"sip.subscriptions.total", c.SIP.Subscriptions.Total, 1},
		{"sip.auth.free_failures", c.SIP.Auth.FreeFailures, 0},
		{"conference.max_rooms", c.Conference.MaxRooms, 1},
		{"conference.max_rooms_per_creator", c.Conference.MaxRoomsPerCreator, 1},
		{"conference.pin_attempts", c.Conference.PINAttempts, 1},
		{"conference.pin_room_attempts", c.Conference.PINRoomAttempts, 1},
	}
	for _, i := range ints {
		if i.v < i.min {
			return bad(i.key, strconv.Itoa(i.v), "must be at least "+strconv.Itoa(i.min))
		}
	}
	if n := c.XMPP.MaxStanzaBytes; n != 0 && (n < 16<<10 || n > 8<<20) {
		return bad("xmpp.max_stanza_bytes", strconv.Itoa(n), "must be 0 (the default, 262144) or 16384..8388608, below the XMPP server's own limit")
	}
	tlsListener := false
	for _, l := range c.SIP.Listen {
		tlsListener = tlsListener || strings.HasPrefix(l, "tls:")
	}
	if tlsListener || c.SIP.TLS.Cert != "" || c.SIP.TLS.Key != "" {
		if c.SIP.TLS.Cert == "" {
			return bad("sip.tls.cert", "", "a tls: listener needs a certificate (PEM file)")
		}
		if c.SIP.TLS.Key == "" {
			return bad("sip.tls.key", "", "a tls: listener needs the certificate's private key (PEM file)")
		}
		if _, err := tls.LoadX509KeyPair(c.SIP.TLS.Cert, c.SIP.TLS.Key); err != nil {
			return bad("sip.tls.cert", c.SIP.TLS.Cert, "cannot load the certificate and key: "+err.Error())
		}
	}
	switch c.RTP.SRTP {
	case "off", "offer", "required":
	default:
		return bad("rtp.srtp", c.RTP.SRTP, "must be off, offer or required")
	}
	switch c.SIP.RoomCreation {
	case "anyone", "listed":
	default:
		return bad("sip.room_creation", c.SIP.RoomCreation, "must be anyone or listed")
	}
	if d := c.Conference.IdleGrace.D(); d < 0 || d > 24*time.Hour {
		return bad("conference.idle_grace", d.String(), "must be 0s..24h")
	}
	if d := c.SIP.TCP.IdleTimeout.D(); d < time.Second {
		return bad("sip.tcp.idle_timeout", d.String(), "must be at least 1s")
	}
	if d := c.SIP.Auth.MaxDelay.D(); d < time.Second || d > time.Hour {
		return bad("sip.auth.max_delay", d.String(), "must be 1s..1h")
	}
	return nil
}
