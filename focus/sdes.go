package focus

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"cusax.dev/bridge/mixer"
)

// SRTPPolicy says when calls use SRTP with SDES keys (RFC 4568;
// rtp.srtp).
type SRTPPolicy string

// SRTP policies.
const (
	// SRTPOff: plain RTP only; an RTP/SAVP-only offer gets 488.
	SRTPOff SRTPPolicy = "off"
	// SRTPOffer: SRTP when the caller offers it (RTP/SAVP with a=crypto),
	// plain RTP otherwise; the focus's own offers are plain.
	SRTPOffer SRTPPolicy = "offer"
	// SRTPRequired: SRTP only; a plain offer gets 488, and the focus's own
	// offers are RTP/SAVP.
	SRTPRequired SRTPPolicy = "required"
)

// sdesCrypto is one a=crypto attribute: tag, suite and the inline key
// (master key and salt, mixer.SRTPKeyLen bytes).
type sdesCrypto struct {
	tag   int
	suite string
	key   []byte
}

// rtpProto classifies an m-line proto: RTP/AVP(F) (plain) or RTP/SAVP(F)
// (SDES-keyed SRTP); anything else (UDP/TLS/RTP/SAVPF: DTLS-SRTP) is not
// usable.
func rtpProto(protos []string) (secure, ok bool) {
	switch strings.ToUpper(strings.Join(protos, "/")) {
	case "RTP/AVP", "RTP/AVPF":
		return false, true
	case "RTP/SAVP", "RTP/SAVPF":
		return true, true
	}
	return false, false
}

// parseCrypto reads "tag suite inline:KEY[|lifetime][|MKI:len] [params]"
// (RFC 4568 §9.1) for a suite the mixer runs, with one key, no MKI and no
// session parameters. ok is false for anything else (the line is skipped).
func parseCrypto(v string) (sdesCrypto, bool) {
	f := strings.Fields(v)
	if len(f) != 3 || len(v) > 512 {
		return sdesCrypto{}, false
	}
	tag, err := strconv.Atoi(f[0])
	if err != nil || tag < 0 || tag > 999999999 {
		return sdesCrypto{}, false
	}
	suite := strings.ToUpper(f[1])
	if suite != mixer.SuiteAES128SHA1_80 && suite != mixer.SuiteAES128SHA1_32 {
		return sdesCrypto{}, false
	}
	params, ok := strings.CutPrefix(f[2], "inline:")
	if !ok || strings.Contains(params, ";") { // one key only
		return sdesCrypto{}, false
	}
	keyPart, rest, _ := strings.Cut(params, "|")
	for _, p := range strings.Split(rest, "|") {
		if strings.Contains(p, ":") { // MKI
			return sdesCrypto{}, false
		}
	}
	key, err := base64.StdEncoding.DecodeString(keyPart)
	if err != nil {
		if key, err = base64.RawStdEncoding.DecodeString(keyPart); err != nil {
			return sdesCrypto{}, false
		}
	}
	if len(key) != mixer.SRTPKeyLen {
		return sdesCrypto{}, false
	}
	return sdesCrypto{tag: tag, suite: suite, key: key}, true
}

// withCrypto turns the focus's audio m-line into RTP/SAVP with c.
func withCrypto(md *sdp.MediaDescription, c sdesCrypto) {
	md.MediaName.Protos = []string{"RTP", "SAVP"}
	md.WithValueAttribute("crypto", fmt.Sprintf("%d %s inline:%s", c.tag, c.suite, base64.StdEncoding.EncodeToString(c.key)))
}

// newSRTPKey returns a fresh SDES key for a call under policy (nil when
// SRTP is off).
func newSRTPKey(policy SRTPPolicy) []byte {
	if policy == SRTPOff || policy == "" {
		return nil
	}
	k := make([]byte, mixer.SRTPKeyLen)
	if _, err := rand.Read(k); err != nil {
		panic(fmt.Sprintf("focus: crypto/rand: %v", err))
	}
	return k
}

// srtpParams is the mixer's SRTP for negotiated media n on a call whose
// own key is local (nil: plain RTP).
func srtpParams(n negotiated, local []byte) *mixer.SRTP {
	if n.SRTP == nil || len(local) != mixer.SRTPKeyLen {
		return nil
	}
	return &mixer.SRTP{Suite: n.SRTP.suite, LocalKey: local, RemoteKey: n.SRTP.key}
}
