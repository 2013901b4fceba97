package client

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
	"mellium.im/xmpp/jid"
)

// Config is the client's settings: from flags, a YAML file with the same
// key names, and online provisioning (ProvisionFrom) for what is left. Passwords come from files
// only, never from the command line.
type Config struct {
	JID              string `yaml:"jid"`
	XMPPServer       string `yaml:"xmpp-server"` // HOST:PORT; default: the JID's domain, 5222
	SIP              string `yaml:"sip"`         // the AOR, sip:user@host
	SIPServer        string `yaml:"sip-server"`  // HOST:PORT; default: the AOR's host, 5060
	SIPRegistrar     string `yaml:"sip-registrar"`
	PasswordFile     string `yaml:"password-file"`
	XMPPPasswordFile string `yaml:"xmpp-password-file"`
	SIPPasswordFile  string `yaml:"sip-password-file"`
	Nick             string `yaml:"nick"` // default: the JID's or AOR's user part
	CAFile           string `yaml:"ca-file"`
	WithVoice        bool   `yaml:"with-voice"`
	AudioIn          string `yaml:"audio-in"`  // tone:HZ, silence or FILE.wav
	AudioOut         string `yaml:"audio-out"` // FILE.wav or null
	Provision        string `yaml:"provision"`
	// User is the account name for --provision; default: the JID's localpart.
	User string `yaml:"user"`
	// TLSPin is a SHA-256 certificate fingerprint (colon hex) trusted for
	// provisioning and XMPP when chain verification fails; provisioning
	// fills it from the document's xmpp.tls_pin_sha256.
	TLSPin string `yaml:"tls-pin"`
	// LocalIP is the address SIP and RTP bind to; default: the one that
	// routes to the SIP server.
	LocalIP string `yaml:"local-ip"`

	xmppPassword string
	sipPassword  string
	sipAuthUser  string // from provisioning; default: the AOR's user part
}

// readFile is os.ReadFile (one seam for the password and CA files).
func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

// DefaultConfigPath is $XDG_CONFIG_HOME/cusax/client.yaml (or
// ~/.config/cusax/client.yaml).
func DefaultConfigPath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "cusax", "client.yaml")
}

// LoadFile reads a YAML settings file into c; a missing file is no error
// when optional is set (the default path).
func (c *Config) LoadFile(path string, optional bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		if optional && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("config %s: %w", path, err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// Finish fills defaults, reads the password files and validates; errors
// name the flag or key.
func (c *Config) Finish() error {
	if c.Provision != "" {
		return errors.New("--provision: fetch the document first (Config.ProvisionFrom)")
	}
	if c.JID == "" && c.SIP == "" {
		return errors.New("give --jid, --sip or both")
	}
	if c.JID != "" {
		j, err := jid.Parse(c.JID)
		if err != nil || j.Localpart() == "" {
			return fmt.Errorf("--jid %q: not a user JID (user@domain)", c.JID)
		}
		c.JID = j.Bare().String()
		if c.XMPPServer == "" {
			c.XMPPServer = net.JoinHostPort(j.Domainpart(), "5222")
		}
		if _, _, err := net.SplitHostPort(c.XMPPServer); err != nil {
			return fmt.Errorf("--xmpp-server %q: want HOST:PORT", c.XMPPServer)
		}
	}
	if c.SIP != "" {
		if !strings.HasPrefix(c.SIP, "sip:") {
			c.SIP = "sip:" + c.SIP
		}
		user, host, ok := splitAOR(c.SIP)
		if !ok {
			return fmt.Errorf("--sip %q: not a SIP AOR (sip:user@host)", c.SIP)
		}
		_ = user
		if c.SIPServer == "" {
			c.SIPServer = net.JoinHostPort(host, "5060")
		}
		if _, _, err := net.SplitHostPort(c.SIPServer); err != nil {
			return fmt.Errorf("--sip-server %q: want HOST:PORT", c.SIPServer)
		}
		if c.SIPRegistrar != "" {
			if _, _, err := net.SplitHostPort(c.SIPRegistrar); err != nil {
				return fmt.Errorf("--sip-registrar %q: want HOST:PORT", c.SIPRegistrar)
			}
		}
	}
	if c.Nick == "" {
		if c.JID != "" {
			c.Nick = jid.MustParse(c.JID).Localpart()
		} else {
			c.Nick, _, _ = splitAOR(c.SIP)
		}
	}
	if c.AudioIn == "" {
		c.AudioIn = "silence"
		if DeviceSupport {
			c.AudioIn = "auto" // the device if it opens, else silence
		}
	}
	if c.AudioOut == "" {
		c.AudioOut = "null"
		if DeviceSupport {
			c.AudioOut = "auto" // the device if it opens, else null
		}
	}
	if c.AudioIn != "device" && c.AudioIn != "auto" {
		if _, err := parseSource(c.AudioIn, true); err != nil {
			return fmt.Errorf("--audio-in: %w", err)
		}
	}
	if (c.AudioIn == "device" || c.AudioOut == "device") && !DeviceSupport {
		return errors.New("--audio-in/--audio-out device: this build has no sound device support (build with cgo and -tags malgo)")
	}
	read := func(flag, path string) (string, error) {
		if path == "" {
			return "", nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("%s: %w", flag, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	common, err := read("--password-file", c.PasswordFile)
	if err != nil {
		return err
	}
	c.xmppPassword, c.sipPassword = common, common
	if p, err := read("--xmpp-password-file", c.XMPPPasswordFile); err != nil {
		return err
	} else if c.XMPPPasswordFile != "" {
		c.xmppPassword = p
	}
	if p, err := read("--sip-password-file", c.SIPPasswordFile); err != nil {
		return err
	} else if c.SIPPasswordFile != "" {
		c.sipPassword = p
	}
	if c.JID != "" && c.xmppPassword == "" {
		return errors.New("--jid needs a password: --password-file or --xmpp-password-file")
	}
	return nil
}

// splitAOR returns the user and host of sip:user@host[:port][;params].
func splitAOR(aor string) (user, host string, ok bool) {
	rest, found := strings.CutPrefix(aor, "sip:")
	if !found {
		rest, found = strings.CutPrefix(aor, "sips:")
	}
	if !found {
		return "", "", false
	}
	rest, _, _ = strings.Cut(rest, ";")
	rest, _, _ = strings.Cut(rest, "?")
	user, hostport, found := strings.Cut(rest, "@")
	if !found || user == "" || hostport == "" {
		return "", "", false
	}
	host = hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return user, strings.Trim(host, "[]"), true
}
