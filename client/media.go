package client

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtp"

	"cusax.dev/bridge/mixer"
)

// ptime is the packetisation interval; the codec (and so the sample rate)
// is a parameter of the endpoint.
const ptime = 20 * time.Millisecond

// dtmfFrames is how long one sent digit lasts, in frames (100 ms).
const dtmfFrames = 5

// rtpEndpoint is the client's media: one UDP socket, a 20 ms clock that
// sends the source's frames (or RFC 4733 events) and plays one frame out of
// the mixer's jitter buffer into the sink.
type rtpEndpoint struct {
	conn   *net.UDPConn
	codec  mixer.Codec
	dtmfPT uint8
	frame  int
	ssrc   uint32

	mu     sync.Mutex
	remote netip.AddrPort
	muted  bool // self-mute: nothing is sent
	hold   bool
	digits []rune
	jb     *mixer.JitterBuffer
	rxSSRC uint32
	rxHave bool
	recv   uint64
	sent   uint64

	src  Source
	sink Sink
}

// newRTPEndpoint binds an even UDP port on ip.
func newRTPEndpoint(ip netip.Addr, src Source, sink Sink) (*rtpEndpoint, error) {
	var conn *net.UDPConn
	for range 50 {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		if err != nil {
			return nil, err
		}
		if c.LocalAddr().(*net.UDPAddr).Port%2 == 0 {
			conn = c
			break
		}
		c.Close()
	}
	if conn == nil {
		return nil, errors.New("rtp: no even port free")
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &rtpEndpoint{conn: conn, src: src, sink: sink, ssrc: binary.BigEndian.Uint32(b[:]), dtmfPT: 101}, nil
}

// Port is the local RTP port.
func (e *rtpEndpoint) Port() int { return e.conn.LocalAddr().(*net.UDPAddr).Port }

// start sets the negotiated codec and far end and runs until ctx ends.
func (e *rtpEndpoint) start(ctx context.Context, codec mixer.Codec, dtmfPT uint8, remote netip.AddrPort) {
	e.mu.Lock()
	e.codec, e.dtmfPT, e.remote = codec, dtmfPT, remote
	e.frame = codec.ClockRate * int(ptime/time.Millisecond) / 1000
	e.jb = mixer.NewJitterBuffer(e.frame)
	e.mu.Unlock()
	go e.receive()
	go e.clock(ctx)
}

func (e *rtpEndpoint) setMuted(m bool) {
	e.mu.Lock()
	e.muted = m
	e.mu.Unlock()
}

func (e *rtpEndpoint) setHold(h bool) {
	e.mu.Lock()
	e.hold = h
	e.mu.Unlock()
}

func (e *rtpEndpoint) sendDigits(d string) {
	e.mu.Lock()
	e.digits = append(e.digits, []rune(d)...)
	e.mu.Unlock()
}

// close stops the socket (receive ends) and flushes the sink.
func (e *rtpEndpoint) close() error {
	return errors.Join(e.conn.Close(), e.sink.Close())
}

// receive feeds the jitter buffer; telephone-events and foreign payload
// types are dropped.
func (e *rtpEndpoint) receive() {
	buf := make([]byte, 1500)
	pcm := make([]int16, 1500)
	var h rtp.Header
	for {
		n, _, err := e.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		hl, err := h.Unmarshal(buf[:n])
		if err != nil || hl >= n {
			continue
		}
		payload := buf[hl:n]
		if h.Padding && len(payload) > 0 {
			p := int(payload[len(payload)-1])
			if p > len(payload) {
				continue
			}
			payload = payload[:len(payload)-p]
		}
		e.mu.Lock()
		if h.PayloadType == e.codec.PayloadType && e.jb != nil {
			if e.rxHave && h.SSRC != e.rxSSRC {
				e.jb.Reset()
			}
			e.rxSSRC, e.rxHave = h.SSRC, true
			e.codec.Decode(pcm, payload)
			e.jb.Put(h.Timestamp, pcm[:len(payload)])
			e.recv++
		}
		e.mu.Unlock()
	}
}

// clock sends one packet and plays one frame every ptime.
func (e *rtpEndpoint) clock(ctx context.Context) {
	t := time.NewTicker(ptime)
	defer t.Stop()
	pcm := make([]int16, e.frame)
	out := make([]int16, e.frame)
	pkt := make([]byte, 12+e.frame)
	var seq uint16
	var ts uint32
	var digit rune
	var digitFrame int
	var digitTS uint32
	var b [2]byte
	_, _ = rand.Read(b[:])
	seq = binary.BigEndian.Uint16(b[:])
	marker := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.mu.Lock()
		remote, muted, hold := e.remote, e.muted, e.hold
		if digit == 0 && len(e.digits) > 0 {
			digit, e.digits = e.digits[0], e.digits[1:]
			digitFrame, digitTS = 0, ts
		}
		popped := e.jb.Pop(out)
		e.mu.Unlock()
		if !popped || hold {
			clear(out)
		}
		_ = e.sink.Write(out)

		h := rtp.Header{Version: 2, SSRC: e.ssrc, SequenceNumber: seq}
		var payload []byte
		switch {
		case digit != 0:
			ev, _ := mixer.DTMFEvent(digit)
			end := digitFrame >= dtmfFrames
			dur := uint16(min(digitFrame+1, dtmfFrames) * e.frame)
			pl := []byte{ev, 10, byte(dur >> 8), byte(dur)}
			if end {
				pl[1] |= 0x80
			}
			h.PayloadType, h.Timestamp, h.Marker = e.dtmfPT, digitTS, digitFrame == 0
			payload = pl
			digitFrame++
			if digitFrame >= dtmfFrames+3 { // three end packets
				digit = 0
			}
		case muted || hold:
			ts += uint32(e.frame)
			marker = true
			continue
		default:
			e.src.Fill(pcm)
			h.PayloadType, h.Timestamp, h.Marker = e.codec.PayloadType, ts, marker
			marker = false
			e.codec.Encode(pkt[12:], pcm)
			payload = pkt[12 : 12+e.frame]
		}
		ts += uint32(e.frame)
		if !remote.IsValid() {
			continue
		}
		n, err := h.MarshalTo(pkt[:12])
		if err != nil || n != 12 {
			continue
		}
		if digit != 0 || h.PayloadType == e.dtmfPT {
			copy(pkt[12:], payload)
			payload = pkt[12 : 12+len(payload)]
		}
		seq++
		if _, err := e.conn.WriteToUDPAddrPort(pkt[:12+len(payload)], remote); err == nil {
			e.mu.Lock()
			e.sent++
			e.mu.Unlock()
		}
	}
}
