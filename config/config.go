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

	Provisioning Provisioning `yaml:"provisioning"`
	Accounts     Accounts     `yaml:"accounts"`
}

// SIP configures the conference focus.
type SIP struct {
	Listen          []string `yaml:"listen"`
	Domain          string   `yaml:"domain"`
	AdvertisedIP    string   `yaml:"advertised_ip"`
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
}

// Auth configures SIP digest authentication.
type Auth struct {
	Realm           string    `yaml:"realm"`
	RequireForCalls bool      `yaml:"require_for_calls"`
	Accounts        []Account `yaml:"accounts"`
}

// Account is one SIP digest account.
type Account struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// RTP configures the media ports and the mixer.
type RTP struct {
	Ports        string   `yaml:"ports"`
	BindIP       string   `yaml:"bind_ip"`
	MaxSpeakers  int      `yaml:"max_speakers"`
	RTCPInterval Duration `yaml:"rtcp_interval"`
	// Timeout hangs up (BYE, disconnection-method failed) a call that
	// received neither RTP nor RTCP for this long since its answer, its
	// last re-INVITE or its last packet; 0 never does.
	Timeout Duration `yaml:"timeout"`
	// HoldTimeout is Timeout for calls on hold or otherwise not sending
	// (sendonly, recvonly, inactive); 0 never hangs them up.
	HoldTimeout Duration `yaml:"hold_timeout"`
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
			Auth:                Auth{Realm: "localhost"},
		},
		RTP: RTP{Ports: "10000-20000", BindIP: "0.0.0.0", RTCPInterval: Duration(5 * time.Second), Timeout: Duration(30 * time.Second)},
		XMPP: XMPP{Mode: "embedded", Server: "127.0.0.1:5347", Domain: "conference.localhost", RoomCreation: "anyone", HistoryLength: 50,
			Host: "localhost", C2SListen: "0.0.0.0:5222"},
		Provisioning: Provisioning{Listen: "0.0.0.0:8443"},
		Admin:        Admin{Listen: "127.0.0.1:8080"},
		Store:        Store{Path: "./data/bridge.db"},
		Log:          Log{Level: "info", Format: "text"},
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
	pinRE      = regexp.MustCompile(`^[0-9]{2,16}$`)
)

// ValidRoomName reports whether s is a valid room name (DESIGN.md §2).
func ValidRoomName(s string) bool { return roomNameRE.MatchString(s) }

// Validate checks every key and returns the first problem as a *FieldError.
func (c *Config) Validate() error {
	bad := func(key, val, msg string) error { return &FieldError{Key: key, Value: val, Msg: msg} }
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
	if c.SIP.AdvertisedIP != "" {
		if _, err := netip.ParseAddr(c.SIP.AdvertisedIP); err != nil {
			return bad("sip.advertised_ip", c.SIP.AdvertisedIP, "must be an IP address")
		}
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
	if _, _, err := ParsePortRange(c.RTP.Ports); err != nil {
		return bad("rtp.ports", c.RTP.Ports, err.Error())
	}
	if _, err := netip.ParseAddr(c.RTP.BindIP); err != nil {
		return bad("rtp.bind_ip", c.RTP.BindIP, "must be an IP address")
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
	}
	switch c.XMPP.RoomCreation {
	case "anyone", "listed":
	default:
		return bad("xmpp.room_creation", c.XMPP.RoomCreation, "must be anyone or listed")
	}
	if c.XMPP.HistoryLength < 0 || c.XMPP.HistoryLength > 1000 {
		return bad("xmpp.history_length", strconv.Itoa(c.XMPP.HistoryLength), "must be 0..1000")
	}
	if _, _, err := net.SplitHostPort(c.Admin.Listen); err != nil {
		return bad("admin.listen", c.Admin.Listen, "must be host:port")
	}
	if c.Store.Path == "" {
		return bad("store.path", "", "must not be empty (use :memory: for no persistence)")
	}
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

// ParseListen splits "udp:0.0.0.0:5060" into network and address.
func ParseListen(s string) (network, addr string, err error) {
	network, addr, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", errors.New("must be network:host:port")
	}
	switch network {
	case "udp", "tcp":
	default:
		return "", "", fmt.Errorf("network %q is not udp or tcp", network)
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
