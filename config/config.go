package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration. Field tags are the YAML keys documented
// in bridge.example.yaml.
type Config struct {
	SIP   SIP    `yaml:"sip"`
	RTP   RTP    `yaml:"rtp"`
	XMPP  XMPP   `yaml:"xmpp"`
	Admin Admin  `yaml:"admin"`
	Store Store  `yaml:"store"`
	Log   Log    `yaml:"log"`
	Rooms []Room `yaml:"rooms"`
	// Identity configures SIP↔XMPP identity (DESIGN.md §6).
	Identity Identity `yaml:"identity"`
	// Conference limits rooms and PIN guessing (security.go).
	Conference ConferenceLimits `yaml:"conference"`

	Provisioning Provisioning `yaml:"provisioning"`
	Accounts     Accounts     `yaml:"accounts"`
}

// SIP configures the conference focus.
type SIP struct {
	Listen          []string `yaml:"listen"`
	Domain          string   `yaml:"domain"`
	AdvertisedIP    AddrList `yaml:"advertised_ip"`
	SubscribePolicy string   `yaml:"subscribe_policy"`
	// NotifyInterval is the minimum time between two NOTIFYs to one
	// subscriber; changes within it are merged into one partial.
	NotifyInterval Duration `yaml:"notify_interval"`
	// SubscriptionExpires is the default and maximum subscription lifetime.
	SubscriptionExpires Duration `yaml:"subscription_expires"`
	// AckTimeout bounds how long a 200 to INVITE waits for its ACK before
	// the focus hangs the call up with BYE.
	AckTimeout Duration `yaml:"ack_timeout"`
	// AnswerDelay lets the focus ring (180 Ringing) this long before it
	// answers; 0 answers at once.
	AnswerDelay Duration `yaml:"answer_delay"`
	Auth        Auth     `yaml:"auth"`
	// TrustedPeers are the IPs and CIDRs (the proxy or SBC in front of the
	// bridge) whose P-Asserted-Identity is a caller's trusted identity.
	TrustedPeers []string `yaml:"trusted_peers"`
	// DomainAliases are other names of sip.domain, folded to it in every
	// identity the bridge compares.
	DomainAliases []string `yaml:"domain_aliases"`
	// TCP limits the SIP TCP connections (security.go).
	TCP SIPTCP `yaml:"tcp"`
	// Subscriptions limits conference subscriptions (security.go).
	Subscriptions SubscriptionLimits `yaml:"subscriptions"`
	// TLS holds the certificate of "tls:" listeners (security.go).
	TLS TLSFiles `yaml:"tls"`
	// RoomCreation says which rooms a call may create: anyone (any valid
	// name) or listed (only rooms that exist: declared, persisted or live).
	RoomCreation string `yaml:"room_creation"`
}

// Auth configures SIP digest authentication.
type Auth struct {
	Realm           string    `yaml:"realm"`
	RequireForCalls bool      `yaml:"require_for_calls"`
	Accounts        []Account `yaml:"accounts"`
	// FreeFailures is how many digest failures in a row a user or a source
	// address may have before each further one locks it out for a growing
	// delay (1s, doubled per failure, up to MaxDelay).
	FreeFailures int      `yaml:"free_failures"`
	MaxDelay     Duration `yaml:"max_delay"`
}

// Account is one SIP digest account.
type Account struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// RTP configures the media ports and the mixer.
type RTP struct {
	Ports        string   `yaml:"ports"`
	BindIP       AddrList `yaml:"bind_ip"`
	MaxSpeakers  int      `yaml:"max_speakers"`
	RTCPInterval Duration `yaml:"rtcp_interval"`
	// Timeout hangs up (BYE, disconnection-method failed) a call that
	// received neither RTP nor RTCP for this long since its answer, its
	// last re-INVITE or its last packet; 0 never does.
	Timeout Duration `yaml:"timeout"`
	// HoldTimeout is Timeout for calls on hold or otherwise not sending
	// (sendonly, recvonly, inactive); 0 never hangs them up.
	HoldTimeout Duration `yaml:"hold_timeout"`
	// StrictSource accepts media only from the IP address in the SDP: no
	// learning of another source during the first seconds of a call.
	StrictSource bool `yaml:"strict_source"`
	// SRTP says when calls are encrypted (SDES, RFC 4568): off, offer
	// (when the caller offers RTP/SAVP) or required.
	SRTP string `yaml:"srtp"`
	// Mode is per_call (a port pair per call, latching: phones behind NAT)
	// or shared (one port for every call, demultiplexed by the exact SDP
	// address, batched I/O: behind an SBC or media proxy; Linux only).
	Mode string `yaml:"mode"`
}

// XMPP configures the MUC component.
type XMPP struct {
	Mode   string `yaml:"mode"`
	Server string `yaml:"server"`
	Domain string `yaml:"domain"`
	Secret string `yaml:"secret"`
	// RoomCreation says who may create rooms by joining them: anyone, or
	// only the JIDs listed in Creators.
	RoomCreation string   `yaml:"room_creation"`
	Creators     []string `yaml:"creators"`
	// HistoryLength is the default number of messages a room keeps.
	HistoryLength int `yaml:"history_length"`
	// MaxStanzaBytes caps every stanza the component sends (security.go).
	MaxStanzaBytes int `yaml:"max_stanza_bytes"`

	// Embedded mode (xmppserver): the XMPP domain of the accounts, the
	// client listener, its certificate, and whether loopback clients may
	// skip STARTTLS.
	Host                   string  `yaml:"host"`
	C2SListen              string  `yaml:"c2s_listen"`
	TLS                    TLSFile `yaml:"tls"`
	AllowPlaintextLoopback bool    `yaml:"allow_plaintext_loopback"`
}

// Admin configures the HTTP admin endpoint.
type Admin struct {
	Listen string `yaml:"listen"`
	Token  string `yaml:"token"`
	// Pprof serves Go's runtime profiles (net/http/pprof) under
	// /debug/pprof/ on the admin listener, for capacity work.
	Pprof bool `yaml:"pprof"`
}

// Store configures persistence.
type Store struct {
	Path string `yaml:"path"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Room pre-declares a room.
type Room struct {
	Name            string   `yaml:"name"`
	Subject         string   `yaml:"subject"`
	Moderators      []string `yaml:"moderators"`
	PIN             string   `yaml:"pin"`
	MaxParticipants int      `yaml:"max_participants"`
}

// Duration is a time.Duration written as a Go duration string ("1s", "500ms").
type Duration time.Duration

// UnmarshalYAML parses a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		SIP: SIP{
			Listen:              []string{"udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"},
			Domain:              "localhost",
			SubscribePolicy:     "participants",
			NotifyInterval:      Duration(time.Second),
			SubscriptionExpires: Duration(time.Hour),
			AckTimeout:          Duration(32 * time.Second),
			Auth:                Auth{Realm: "localhost", FreeFailures: 3, MaxDelay: Duration(time.Minute)},
			TCP:                 defaultSIPTCP(),
			Subscriptions:       defaultSubscriptionLimits(),
			RoomCreation:        "anyone",
			TrustedPeers:        []string{},
			DomainAliases:       []string{},
		},
		Conference: defaultConferenceLimits(),
		RTP:        RTP{Ports: "10000-20000", BindIP: AddrList{"0.0.0.0"}, RTCPInterval: Duration(5 * time.Second), Timeout: Duration(30 * time.Second), SRTP: "offer", Mode: "per_call"},
		XMPP: XMPP{Mode: "embedded", Server: "127.0.0.1:5347", Domain: "conference.localhost", RoomCreation: "anyone", HistoryLength: 50,
			MaxStanzaBytes: 256 << 10, Host: "localhost", C2SListen: "0.0.0.0:5222"},
		Provisioning: Provisioning{Listen: "0.0.0.0:8443"},
		Admin:        Admin{Listen: "127.0.0.1:8080"},
		Store:        Store{Path: "./data/bridge.db"},
		Log:          Log{Level: "info", Format: "text"},
		// Empty, not nil: the example file writes them as [].
		Identity: Identity{Bindings: []Binding{}},
	}
}

// Load reads a YAML file over the defaults. An empty path returns the
// defaults. Unknown keys are errors. The result is validated.
func Load(path string) (Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, cfg.Validate()
	}
	f, err := os.Open(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Parse(f)
}

// Parse reads YAML from r over the defaults and validates the result.
func Parse(r io.Reader) (Config, error) {
	cfg := Default()
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return cfg, fmt.Errorf("config: read: %w", err)
	}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := checkKeys(data); err != nil {
			return cfg, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("config: %w", err)
		}
	}
	return cfg, cfg.Validate()
}

// FieldError is a validation failure of one key.
type FieldError struct {
	Key   string
	Value string
	Msg   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("config: %s: invalid value %q: %s", e.Key, e.Value, e.Msg)
}

var (
	roomNameRE = regexp.MustCompile(`^[a-z0-9._-]{1,64}$`)
	pinRE      = regexp.MustCompile(`^[0-9]{2,16}$`) // the core's rule, conference.ValidPIN
)

// ValidRoomName reports whether s is a valid room name: 1–64 of
// a-z 0-9 . _ - (the core's rule, conference.ValidName).
func ValidRoomName(s string) bool { return roomNameRE.MatchString(s) }

// Validate checks every key and returns the first problem as a *FieldError.
// Each section has its own check (validate.go), run in the order of the
// file.
func (c *Config) Validate() error {
	for _, check := range []func() error{
		c.validateSIP, c.validateAuth, c.validateRTP, c.validateXMPP, c.validateServices, c.validateLog, c.validateRooms,
		c.validateSecurity, c.validateIdentity, c.validateRTPMode,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// ParseListen splits "udp:0.0.0.0:5060" into network and address.
func ParseListen(s string) (network, addr string, err error) {
	network, addr, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", errors.New("must be network:host:port")
	}
	switch network {
	case "udp", "tcp", "tls":
	default:
		return "", "", fmt.Errorf("network %q is not udp, tcp or tls", network)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", errors.New("must be network:host:port")
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return "", "", fmt.Errorf("host %q is not an IP address", host)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", "", fmt.Errorf("port %q is not 0..65535", port)
	}
	return network, addr, nil
}

// ParsePortRange parses "10000-20000" into an inclusive range with at least
// one even/odd pair.
func ParsePortRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, errors.New("must be LOW-HIGH")
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return 0, 0, errors.New("must be LOW-HIGH with numbers")
	}
	if lo < 1024 || hi > 65535 || lo >= hi {
		return 0, 0, errors.New("must satisfy 1024 <= LOW < HIGH <= 65535")
	}
	if (lo+1)/2*2+1 > hi {
		return 0, 0, errors.New("must hold at least one even RTP port with its RTCP port")
	}
	return lo, hi, nil
}
