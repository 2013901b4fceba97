package accounts

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// Provision is the document GET /provision returns to an authenticated
// user (RFC 7081 §2, service practices 1, 2 and 5): both accounts, that
// they are related, and which features the service leaves to which
// protocol. The schema is documented in the README; its version grows when
// a field changes meaning.
type Provision struct {
	Version int `json:"version"` // 1
	// Account is the account name, the same on both halves.
	Account string        `json:"account"`
	SIP     ProvisionSIP  `json:"sip"`
	XMPP    ProvisionXMPP `json:"xmpp"`
	// RelatedAccounts says the SIP and XMPP accounts belong to one user
	// (RFC 7081 §2 "related accounts"): always true here.
	RelatedAccounts bool              `json:"related_accounts"`
	Features        ProvisionFeatures `json:"features"`
}

// ProvisionSIP is the SIP half of a Provision.
type ProvisionSIP struct {
	AOR        string   `json:"aor"`       // sip:NAME@DOMAIN
	AuthUser   string   `json:"auth_user"` // digest user name
	Realm      string   `json:"realm"`     // digest realm
	Domain     string   `json:"domain"`
	Proxy      string   `json:"proxy"`      // host:port of the bridge's SIP listener
	Transports []string `json:"transports"` // udp, tcp, tls
}

// ProvisionXMPP is the XMPP half of a Provision.
type ProvisionXMPP struct {
	JID       string `json:"jid"`  // NAME@HOST
	Host      string `json:"host"` // where to connect
	Port      int    `json:"port"`
	StartTLS  string `json:"starttls"`       // "required"
	TLSPin    string `json:"tls_pin_sha256"` // SHA-256 of the certificate, colon hex
	MUCDomain string `json:"muc_domain"`     // rooms are ROOM@MUC_DOMAIN
}

// ProvisionFeatures are the service's feature switches (RFC 7081 §2
// practice 5): media over SIP, chat over XMPP.
type ProvisionFeatures struct {
	XMPPAudioVideo      bool `json:"xmpp_audio_video"`      // Jingle: off, calls go over SIP
	SIPInstantMessaging bool `json:"sip_instant_messaging"` // SIP MESSAGE: off, chat goes over XMPP
	VideoTEL            bool `json:"video_tel"`             // the vCard TEL carries the video type
}

// ProvisionInfo is what the service tells the provisioning handler about
// itself.
type ProvisionInfo struct {
	SIPPort        int      // the SIP listener's port
	SIPTransports  []string // udp, tcp, tls
	XMPPPort       int      // the c2s listener's port
	TLSPin         string   // Fingerprint of the certificate
	MUCDomain      string
	MaxFailures    int           // failed logins per account and per source per Window (default 5)
	MaxRequests    int           // requests per source per Window (default 60)
	Window         time.Duration // default 5 min
	Logger         *slog.Logger
	OnAnswer       func(status int) // metrics hook, optional
	RequestTimeout time.Duration    // default 10 s
}

// Document returns the provisioning document of name, with host the name
// the client reached the service by.
func (a *Accounts) Document(name, host string, info ProvisionInfo) Provision {
	hostport := func(port int) string { return net.JoinHostPort(host, itoa(port)) }
	return Provision{
		Version: 1, Account: name, RelatedAccounts: true,
		SIP: ProvisionSIP{AOR: a.AOR(name), AuthUser: name, Realm: a.o.Realm, Domain: a.o.SIPDomain,
			Proxy: hostport(info.SIPPort), Transports: info.SIPTransports},
		XMPP: ProvisionXMPP{JID: a.JID(name), Host: host, Port: info.XMPPPort, StartTLS: "required",
			TLSPin: info.TLSPin, MUCDomain: info.MUCDomain},
		Features: ProvisionFeatures{VideoTEL: a.o.Video},
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// ProvisionHandler serves GET /provision: HTTP Basic with the account's
// name and password, answered with its Provision as JSON. Failed logins
// are limited per account and per source, and requests per source.
func (a *Accounts) ProvisionHandler(info ProvisionInfo) http.Handler {
	if info.MaxFailures <= 0 {
		info.MaxFailures = 5
	}
	if info.MaxRequests <= 0 {
		info.MaxRequests = 60
	}
	if info.Window <= 0 {
		info.Window = 5 * time.Minute
	}
	if info.Logger == nil {
		info.Logger = slog.Default()
	}
	if info.RequestTimeout <= 0 {
		info.RequestTimeout = 10 * time.Second
	}
	failAcc := NewFailLimiter(info.MaxFailures, info.Window, 100000)
	failSrc := NewFailLimiter(4*info.MaxFailures, info.Window, 100000)
	reqs := NewFailLimiter(info.MaxRequests, info.Window, 100000)
	mux := http.NewServeMux()
	mux.HandleFunc("/provision", func(w http.ResponseWriter, r *http.Request) {
		answer := func(status int) {
			if info.OnAnswer != nil {
				info.OnAnswer(status)
			}
		}
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			answer(http.StatusMethodNotAllowed)
			return
		}
		src, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			src = r.RemoteAddr
		}
		if reqs.Blocked(src) || failSrc.Blocked(src) {
			w.Header().Set("Retry-After", itoa(int(info.Window.Seconds())))
			http.Error(w, "too many requests", http.StatusTooManyRequests)
			answer(http.StatusTooManyRequests)
			return
		}
		reqs.Fail(src)
		user, pass, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="cusax-bridge", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			answer(http.StatusUnauthorized)
			return
		}
		if failAcc.Blocked(user) {
			http.Error(w, "too many failed logins for this account; try again later", http.StatusTooManyRequests)
			answer(http.StatusTooManyRequests)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), info.RequestTimeout)
		defer cancel()
		good := false
		if ValidName(user) {
			good, err = a.Check(ctx, user, pass)
			if err != nil {
				info.Logger.Warn("provisioning: account check", "err", err)
				http.Error(w, "internal error", http.StatusInternalServerError)
				answer(http.StatusInternalServerError)
				return
			}
		}
		if !good {
			failSrc.Fail(src)
			if ValidName(user) {
				failAcc.Fail(user)
			}
			info.Logger.Info("provisioning: login failed", "source", src, "user", user)
			w.Header().Set("WWW-Authenticate", `Basic realm="cusax-bridge", charset="UTF-8"`)
			http.Error(w, "wrong user name or password", http.StatusUnauthorized)
			answer(http.StatusUnauthorized)
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		if host == "" {
			host = a.o.Host
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(a.Document(user, host, info))
		answer(http.StatusOK)
	})
	return mux
}
