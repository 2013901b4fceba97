package mixer

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

var (
	keyBridge = bytes.Repeat([]byte{0x11}, SRTPKeyLen)
	keyPhone  = bytes.Repeat([]byte{0x22}, SRTPKeyLen)
)

func phoneContext(t testing.TB, key []byte) *srtp.Context {
	t.Helper()
	c, err := srtp.CreateContext(key[:16], key[16:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func srtpLeg(t testing.TB, e *Engine) *Leg {
	return newSocketlessLeg(e, LegParams{Remote: remote(30000), Codec: PCMU(),
		SRTP: &SRTP{Suite: SuiteAES128SHA1_80, LocalKey: keyBridge, RemoteKey: keyPhone}})
}

// SRTP from the phone is decrypted and mixed; a packet under another key,
// a plain one and a replayed one are refused as strangers'; what the leg
// sends decrypts with the bridge's key.
func TestSRTPLeg(t *testing.T) {
	e := newTestEngine(t, nil)
	l := srtpLeg(t, e)
	phoneTx := phoneContext(t, keyPhone)
	now := time.Now()
	plain := rtpBytes(t, 0, 1, 160, 7, silence(160))
	enc, err := phoneTx.EncryptRTP(nil, plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.ingest(enc, remote(30000), now)
	if st := l.Stats(); st.PacketsReceived != 1 || !st.Latched {
		t.Fatalf("SRTP packet: %+v", st)
	}
	l.ingest(enc, remote(30000), now) // replay
	l.ingest(rtpBytes(t, 0, 2, 320, 7, silence(160)), remote(30000), now)
	wrong, _ := phoneContext(t, keyBridge).EncryptRTP(nil, rtpBytes(t, 0, 3, 480, 7, silence(160)), nil)
	l.ingest(wrong, remote(30000), now)
	if st := l.Stats(); st.PacketsReceived != 1 || st.Strangers != 3 {
		t.Fatalf("after a replay, a plain packet and a wrong key: %+v", st)
	}

	out := rtpBytes(t, 0, 9, 1440, l.ssrc, silence(160))
	sealed, err := l.sealRTP(out)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(sealed[12:12+160], out[12:]) {
		t.Fatal("payload sent in the clear")
	}
	back, err := phoneContext(t, keyBridge).DecryptRTP(nil, sealed, nil)
	if err != nil || !bytes.Equal(back, out) {
		t.Fatalf("the phone cannot decrypt what the leg sends: %v", err)
	}
}

// BenchmarkIngestSRTP is BenchmarkIngest with SRTP (AES-128-CM,
// HMAC-SHA1-80): the per-packet cost of decryption on the receive path.
func BenchmarkIngestSRTP(b *testing.B) {
	e := newTestEngine(b, nil)
	l := srtpLeg(b, e)
	phoneTx := phoneContext(b, keyPhone)
	s := newMixSlot(e.frame)
	now := time.Now()
	payload := silence(160)
	pkts := make([][]byte, 1024)
	for i := range pkts {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 7}, Payload: payload}
		raw, _ := p.Marshal()
		pkts[i], _ = phoneTx.EncryptRTP(nil, raw, nil)
	}
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		if k == len(pkts) {
			b.StopTimer()
			l = srtpLeg(b, e) // a fresh replay window for the same packets
			k = 0
			b.StartTimer()
		}
		l.ingest(pkts[k], remote(30000), now)
		l.pull(&s)
		now = now.Add(20 * time.Millisecond)
		k++
	}
}

// BenchmarkSealRTP is the send side: one 20 ms PCMU packet encrypted.
func BenchmarkSealRTP(b *testing.B) {
	e := newTestEngine(b, nil)
	l := srtpLeg(b, e)
	pkt := rtpBytes(b, 0, 1, 160, l.ssrc, silence(160))
	b.ReportAllocs()
	for b.Loop() {
		pkt[3]++ // another sequence number
		if _, err := l.sealRTP(pkt); err != nil {
			b.Fatal(err)
		}
	}
}
