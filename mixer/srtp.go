package mixer

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// SRTP suites (RFC 4568 §6.2) the mixer can run.
const (
	SuiteAES128SHA1_80 = "AES_CM_128_HMAC_SHA1_80"
	SuiteAES128SHA1_32 = "AES_CM_128_HMAC_SHA1_32"
	// SRTPKeyLen is the length of an SDES key: 16-byte master key and
	// 14-byte master salt, concatenated (the inline: value, base64-decoded).
	SRTPKeyLen = 30
)

// SRTP are the SDES keys of a leg (RFC 4568): the mixer encrypts what it
// sends with LocalKey and decrypts (authenticates) what it receives with
// RemoteKey, RTP and RTCP (SRTCP) alike. A packet that fails to decrypt is
// dropped and counted as a stranger's.
type SRTP struct {
	Suite     string
	LocalKey  []byte // SRTPKeyLen bytes
	RemoteKey []byte // SRTPKeyLen bytes
}

func (s *SRTP) profile() (srtp.ProtectionProfile, error) {
	switch s.Suite {
	case SuiteAES128SHA1_80:
		return srtp.ProtectionProfileAes128CmHmacSha1_80, nil
	case SuiteAES128SHA1_32:
		return srtp.ProtectionProfileAes128CmHmacSha1_32, nil
	}
	return 0, fmt.Errorf("mixer: SRTP suite %q not supported", s.Suite)
}

func (s *SRTP) validate() error {
	if s == nil {
		return nil
	}
	if _, err := s.profile(); err != nil {
		return err
	}
	if len(s.LocalKey) != SRTPKeyLen || len(s.RemoteKey) != SRTPKeyLen {
		return fmt.Errorf("mixer: SRTP keys must be %d bytes (%d, %d)", SRTPKeyLen, len(s.LocalKey), len(s.RemoteKey))
	}
	return nil
}

func sameSRTP(a, b *SRTP) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Suite == b.Suite && bytes.Equal(a.LocalKey, b.LocalKey) && bytes.Equal(a.RemoteKey, b.RemoteKey)
}

// srtpMaxPacket bounds the buffers: a datagram the readers take in.
const srtpMaxPacket = 1500

// secure is a leg's SRTP state. The RTP contexts each have one user (the
// RTP reader decrypts, the clock encrypts) and are swapped atomically on a
// re-negotiation; the RTCP ones are used by the RTCP reader, the RTP
// reader (rtcp-mux) and the report sender, under rtcpMu.
type secure struct {
	rxRTP, txRTP atomic.Pointer[srtp.Context]
	on           atomic.Bool

	rxBuf []byte     // RTP reader's
	rxHdr rtp.Header // RTP reader's scratch
	txBuf []byte     // clock's
	txHdr rtp.Header // clock's scratch

	rtcpMu         sync.Mutex
	rxRTCP, txRTCP *srtp.Context
	rtcpHdr        rtcp.Header
}

// setSRTP installs the contexts for p (nil: plain RTP). l.mu held.
func (l *Leg) setSRTP(p *SRTP) error {
	sec := &l.sec
	if p == nil {
		sec.on.Store(false)
		sec.rxRTP.Store(nil)
		sec.txRTP.Store(nil)
		sec.rtcpMu.Lock()
		sec.rxRTCP, sec.txRTCP = nil, nil
		sec.rtcpMu.Unlock()
		return nil
	}
	prof, err := p.profile()
	if err != nil {
		return err
	}
	// Receiving contexts refuse replays (RFC 3711 §3.3.2: a 64-packet
	// window, pion's default size when enabled).
	replay := []srtp.ContextOption{srtp.SRTPReplayProtection(64), srtp.SRTCPReplayProtection(64)}
	mk := func(key []byte, opts []srtp.ContextOption) (*srtp.Context, error) {
		return srtp.CreateContext(key[:16], key[16:SRTPKeyLen], prof, opts...)
	}
	var ctxs [4]*srtp.Context
	for i, key := range [][]byte{p.RemoteKey, p.LocalKey, p.RemoteKey, p.LocalKey} {
		var opts []srtp.ContextOption
		if i%2 == 0 {
			opts = replay
		}
		if ctxs[i], err = mk(key, opts); err != nil {
			return fmt.Errorf("mixer: SRTP context: %w", err)
		}
	}
	if sec.rxBuf == nil {
		sec.rxBuf = make([]byte, 0, srtpMaxPacket)
		sec.txBuf = make([]byte, 0, srtpMaxPacket)
	}
	sec.rxRTP.Store(ctxs[0])
	sec.txRTP.Store(ctxs[1])
	sec.rtcpMu.Lock()
	sec.rxRTCP, sec.txRTCP = ctxs[2], ctxs[3]
	sec.rtcpMu.Unlock()
	sec.on.Store(true)
	return nil
}

// openRTP decrypts an SRTP packet for the RTP reader; ok false when it
// fails authentication (or is replayed). Without SRTP it returns b.
func (l *Leg) openRTP(b []byte) ([]byte, bool) {
	c := l.sec.rxRTP.Load()
	if c == nil {
		return b, true
	}
	out, err := c.DecryptRTP(l.sec.rxBuf[:0], b, &l.sec.rxHdr)
	if err != nil {
		return nil, false
	}
	return out, true
}

// openRTCP decrypts an SRTCP packet (RTCP is a few packets a second: the
// result is a new slice). Without SRTP it returns b.
func (l *Leg) openRTCP(b []byte) ([]byte, bool) {
	if !l.sec.on.Load() {
		return b, true
	}
	l.sec.rtcpMu.Lock()
	defer l.sec.rtcpMu.Unlock()
	c := l.sec.rxRTCP
	if c == nil {
		return b, true
	}
	out, err := c.DecryptRTCP(nil, b, &l.sec.rtcpHdr)
	if err != nil {
		return nil, false
	}
	return out, true
}

// sealRTP encrypts a marshalled RTP packet for sending (the clock's).
func (l *Leg) sealRTP(pkt []byte) ([]byte, error) {
	c := l.sec.txRTP.Load()
	if c == nil {
		return pkt, nil
	}
	out, err := c.EncryptRTP(l.sec.txBuf[:0], pkt, &l.sec.txHdr)
	if err == nil {
		l.sec.txBuf = out[:0]
	}
	return out, err
}

// sealRTCP encrypts a marshalled compound RTCP packet (a new slice).
func (l *Leg) sealRTCP(raw []byte) ([]byte, error) {
	if !l.sec.on.Load() {
		return raw, nil
	}
	l.sec.rtcpMu.Lock()
	defer l.sec.rtcpMu.Unlock()
	c := l.sec.txRTCP
	if c == nil {
		return raw, nil
	}
	return c.EncryptRTCP(nil, raw, nil)
}
