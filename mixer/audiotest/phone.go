package audiotest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// PhoneConfig configures a Phone. Zero fields take the defaults.
type PhoneConfig struct {
	Addr            netip.Addr    // local address; default 127.0.0.1
	Encoding        string        // "PCMU" (default) or "PCMA"
	PayloadType     int           // default 0 for PCMU, 8 for PCMA; -1 also means default
	DTMFPayloadType uint8         // telephone-event payload type; default 101
	SampleRate      int           // default 8000
	Ptime           time.Duration // default 20 ms
}

// Packet describes one RTP packet a Phone received.
type Packet struct {
	SSRC        uint32
	Seq         uint16
	Timestamp   uint32
	PayloadType uint8
	Marker      bool
	PayloadLen  int
	From        netip.AddrPort
}

// Phone is a minimal RTP endpoint for tests: an RTP socket on an even port
// and an RTCP socket on the next, a sender paced in real time (20 ms per
// packet) and a receiver that decodes PCMU (PT 0) and PCMA (PT 8) into one
// recording in arrival order.
type Phone struct {
	cfg      PhoneConfig
	conn     *net.UDPConn
	rtcpConn *net.UDPConn
	ssrc     uint32
	frame    int

	mu       sync.Mutex
	closed   bool
	source   func([]int16)
	dst      netip.AddrPort
	digits   []dtmfJob
	rec      []int16
	pkts     []Packet
	rtcpPkts [][]rtcp.Packet
	started  bool

	stop chan struct{}
	wg   sync.WaitGroup
}

type dtmfJob struct {
	event uint8
	ticks int
}

// NewPhone binds an RTP/RTCP pair of adjacent ports on cfg.Addr.
func NewPhone(cfg PhoneConfig) (*Phone, error) {
	if !cfg.Addr.IsValid() {
		cfg.Addr = netip.MustParseAddr("127.0.0.1")
	}
	if cfg.Encoding == "" {
		cfg.Encoding = "PCMU"
	}
	ulaw := strings.EqualFold(cfg.Encoding, "PCMU")
	if !ulaw && !strings.EqualFold(cfg.Encoding, "PCMA") {
		return nil, fmt.Errorf("audiotest: unsupported encoding %q", cfg.Encoding)
	}
	if cfg.PayloadType <= 0 && !(cfg.PayloadType == 0 && ulaw) {
		cfg.PayloadType = 8
		if ulaw {
			cfg.PayloadType = 0
		}
	}
	if cfg.DTMFPayloadType == 0 {
		cfg.DTMFPayloadType = 101
	}
	if cfg.SampleRate == 0 {
		cfg.SampleRate = 8000
	}
	if cfg.Ptime == 0 {
		cfg.Ptime = 20 * time.Millisecond
	}
	p := &Phone{
		cfg:   cfg,
		ssrc:  rand.Uint32(),
		frame: int(int64(cfg.SampleRate) * int64(cfg.Ptime) / int64(time.Second)),
		stop:  make(chan struct{}),
	}
	var err error
	if p.conn, p.rtcpConn, err = bindPair(cfg.Addr); err != nil {
		return nil, err
	}
	p.wg.Add(2)
	go p.receive(p.conn)
	go p.receiveRTCP(p.rtcpConn)
	return p, nil
}

// bindPair binds an RTP socket on an even port and RTCP on the next.
func bindPair(addr netip.Addr) (rtpConn, rtcpConn *net.UDPConn, err error) {
	for range 200 {
		a, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
		if err != nil {
			return nil, nil, fmt.Errorf("audiotest: bind: %w", err)
		}
		port := a.LocalAddr().(*net.UDPAddr).Port
		if port%2 == 0 && port < 65535 {
			b, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, uint16(port+1))))
			if err == nil {
				return a, b, nil
			}
		}
		a.Close()
	}
	return nil, nil, errors.New("audiotest: no adjacent port pair found")
}

// Rebind moves the phone to a new RTP/RTCP port pair, as a NAT whose
// mapping changed mid-call would: the phone goes on sending the same
// stream (SSRC, sequence numbers, timestamps) to the same destination from
// the new pair, receives there, and the old sockets are closed.
func (p *Phone) Rebind() error {
	a, b, err := bindPair(p.cfg.Addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errors.Join(errors.New("audiotest: phone closed"), a.Close(), b.Close())
	}
	oldRTP, oldRTCP := p.conn, p.rtcpConn
	p.conn, p.rtcpConn = a, b
	p.wg.Add(2)
	go p.receive(a)
	go p.receiveRTCP(b)
	p.mu.Unlock()
	return errors.Join(oldRTP.Close(), oldRTCP.Close())
}

// Addr is the phone's RTP address (put it in LegParams.Remote).
func (p *Phone) Addr() netip.AddrPort { return p.Conn().LocalAddr().(*net.UDPAddr).AddrPort() }

// RTCPAddr is the phone's RTCP address (Addr's port + 1).
func (p *Phone) RTCPAddr() netip.AddrPort {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rtcpConn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// SendRTCP sends a receiver report from the phone's RTCP socket to dst, as
// a listen-only (recvonly) phone does to show it is there.
func (p *Phone) SendRTCP(dst netip.AddrPort) error {
	b, err := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: p.ssrc}})
	if err != nil {
		return err
	}
	p.mu.Lock()
	c := p.rtcpConn
	p.mu.Unlock()
	_, err = c.WriteToUDPAddrPort(b, dst)
	return err
}

// SSRC is the phone's RTP SSRC.
func (p *Phone) SSRC() uint32 { return p.ssrc }

// Conn is the phone's RTP socket, for tests that craft their own packets
// (a new one after Rebind).
func (p *Phone) Conn() *net.UDPConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn
}

// SetSource sets what the phone sends each frame; nil sends silence.
func (p *Phone) SetSource(fill func([]int16)) {
	p.mu.Lock()
	p.source = fill
	p.mu.Unlock()
}

// Start begins sending one packet per ptime to dst. Calling it again only
// changes the destination.
func (p *Phone) Start(dst netip.AddrPort) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dst = dst
	if p.started {
		return
	}
	p.started = true
	p.wg.Add(1)
	go p.send()
}

// SendDTMF queues an RFC 4733 event for digit lasting d: updates every
// ptime (the first with the marker bit), then three end packets; audio
// pauses meanwhile.
func (p *Phone) SendDTMF(digit rune, d time.Duration) error {
	ev, ok := dtmfEvent(digit)
	if !ok {
		return fmt.Errorf("audiotest: %q is no DTMF digit", digit)
	}
	p.mu.Lock()
	p.digits = append(p.digits, dtmfJob{event: ev, ticks: max(1, int(d/p.cfg.Ptime))})
	p.mu.Unlock()
	return nil
}

func dtmfEvent(r rune) (uint8, bool) {
	switch {
	case r >= '0' && r <= '9':
		return uint8(r - '0'), true
	case r == '*':
		return 10, true
	case r == '#':
		return 11, true
	case r >= 'A' && r <= 'D':
		return uint8(12 + r - 'A'), true
	}
	return 0, false
}

// DTMFPayload builds a 4-byte RFC 4733 payload (volume 10).
func DTMFPayload(digit rune, end bool, duration uint16) []byte {
	ev, _ := dtmfEvent(digit)
	b := []byte{ev, 10, byte(duration >> 8), byte(duration)}
	if end {
		b[1] |= 0x80
	}
	return b
}

func (p *Phone) send() {
	defer p.wg.Done()
	pcm := make([]int16, p.frame)
	buf := make([]byte, 12+p.frame)
	hdr := rtp.Header{Version: 2, SSRC: p.ssrc, SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32(), Marker: true}
	var (
		job      *dtmfJob
		jobTS    uint32
		jobTick  int
		jobEnds  int
		jobEvent uint8
	)
	next := time.Now()
	for {
		next = next.Add(p.cfg.Ptime)
		select {
		case <-p.stop:
			return
		case <-time.After(time.Until(next)):
		}
		p.mu.Lock()
		src, dst, conn := p.source, p.dst, p.conn
		if job == nil && len(p.digits) > 0 {
			j := p.digits[0]
			p.digits = p.digits[1:]
			job, jobTS, jobTick, jobEnds, jobEvent = &j, hdr.Timestamp, 0, 0, j.event
		}
		p.mu.Unlock()
		var payload []byte
		h := hdr
		if job != nil {
			h.PayloadType = p.cfg.DTMFPayloadType
			h.Timestamp = jobTS
			h.Marker = jobTick == 0
			if jobTick < job.ticks {
				jobTick++
				payload = []byte{jobEvent, 10, 0, 0}
			} else {
				jobEnds++
				payload = []byte{jobEvent, 0x80 | 10, 0, 0}
			}
			dur := uint16(jobTick * p.frame)
			payload[2], payload[3] = byte(dur>>8), byte(dur)
			if jobEnds == 3 {
				job = nil
			}
		} else {
			if src != nil {
				src(pcm)
			} else {
				clear(pcm)
			}
			payload = buf[12:]
			Encode(p.cfg.Encoding, payload, pcm)
			h.PayloadType = uint8(p.cfg.PayloadType)
		}
		n, err := h.MarshalTo(buf[:12])
		if err == nil && dst.IsValid() {
			pkt := append(buf[:n:n], payload...)
			_, _ = conn.WriteToUDPAddrPort(pkt, dst)
		}
		hdr.Marker = false
		hdr.SequenceNumber++
		hdr.Timestamp += uint32(p.frame)
	}
}

func (p *Phone) receive(conn *net.UDPConn) {
	defer p.wg.Done()
	buf := make([]byte, 2048)
	var pkt rtp.Packet
	pcm := make([]int16, 2048)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		info := Packet{SSRC: pkt.SSRC, Seq: pkt.SequenceNumber, Timestamp: pkt.Timestamp, PayloadType: pkt.PayloadType,
			Marker: pkt.Marker, PayloadLen: len(pkt.Payload), From: from}
		var dec []int16
		switch pkt.PayloadType {
		case 0:
			dec = pcm[:len(pkt.Payload)]
			Decode("PCMU", dec, pkt.Payload)
		case 8:
			dec = pcm[:len(pkt.Payload)]
			Decode("PCMA", dec, pkt.Payload)
		}
		p.mu.Lock()
		p.pkts = append(p.pkts, info)
		p.rec = append(p.rec, dec...)
		p.mu.Unlock()
	}
}

func (p *Phone) receiveRTCP(conn *net.UDPConn) {
	defer p.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, _, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		p.mu.Lock()
		p.rtcpPkts = append(p.rtcpPkts, pkts)
		p.mu.Unlock()
	}
}

// Recording returns a copy of every sample received since the last reset.
func (p *Phone) Recording() []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int16(nil), p.rec...)
}

// Tail returns the last n received samples (fewer if not yet received).
func (p *Phone) Tail(n int) []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int16(nil), p.rec[max(0, len(p.rec)-n):]...)
}

// Packets returns the headers of the RTP packets received since the last reset.
func (p *Phone) Packets() []Packet {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Packet(nil), p.pkts...)
}

// RTCP returns the compound RTCP packets received on the RTCP port.
func (p *Phone) RTCP() [][]rtcp.Packet {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]rtcp.Packet(nil), p.rtcpPkts...)
}

// ResetRecording forgets the received audio and packets.
func (p *Phone) ResetRecording() {
	p.mu.Lock()
	p.rec, p.pkts = nil, nil
	p.mu.Unlock()
}

// Close stops the phone and closes its sockets.
func (p *Phone) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	conns := []*net.UDPConn{p.conn, p.rtcpConn}
	p.mu.Unlock()
	close(p.stop)
	err := errors.Join(conns[0].Close(), conns[1].Close())
	p.wg.Wait()
	return err
}
