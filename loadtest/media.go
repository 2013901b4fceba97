package loadtest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"

	"cusax.dev/bridge/mixer/audiotest"
)

const (
	ptime     = 20 * time.Millisecond
	frame     = 160 // samples (and PCMU bytes) per 20 ms packet
	toneCycle = 75  // ticks: a tone repeats every 1.5 s …
	toneOn    = 50  // … sounding for the first 1 s
	numFreqs  = 30  // 400, 500, … 3300 Hz: two Hann-windowed Goertzel bins apart, so no leakage
	hearDB    = -30 // a tone at or above this level (dBFS) in a frame is heard
	quietDB   = -40 // … and below this one it has stopped (hysteresis)
	batchSize = 64  // messages per recvmmsg
	toneAmp   = 0.25 * 32767
)

// freqOf is the tone of talker k of room r (K talkers per room).
func freqOf(room, k, talkers int) float64 {
	return 400 + 100*float64((room*talkers+k)%numFreqs)
}

// caller is one simulated phone's media state.
type caller struct {
	id, room, talker int // talker: index among the room's talkers, -1 when silent
	sock             int // index of the generator socket it uses
	freq             float64
	tone             []byte // its PCMU tone frame (talkers)
	phase            int    // tick offset of its tone cycle

	src     netip.Addr                  // its own source address (distinct-address mode), else invalid
	oob     []byte                      // IP_PKTINFO naming src, for sendmmsg
	dst     atomic.Pointer[net.UDPAddr] // where its RTP goes; nil until answered
	bufs    [][]byte                    // {pkt[:]} for ipv4.Message
	pkt     [12 + frame]byte
	seq     uint16
	ts      uint32
	onsetAt atomic.Int64 // unix nanoseconds of its latest tone onset packet

	// receive side, owned by the reader of sock
	rxPackets, rxGaps uint64
	rxHave            bool
	rxSeq             uint16
	rxSSRC            uint32
	listen            *listener // non-nil for sampled callers
}

// listener is the audio check of one sampled caller.
type listener struct {
	expect   []*caller // callers whose tone it must hear
	forbid   []float64 // tones it must not hear
	heard    []int     // frames with expect[i] at or above hearDB
	on       []bool
	frames   int
	leaked   int // frames with a forbidden tone at or above hearDB
	leakMax  float64
	delays   []time.Duration
	pcm      [frame]int16
	minSince int64 // onsets before this (window start) are not timed
}

func (ls *listener) analyse(pcm []int16, now int64) {
	ls.frames++
	for i, t := range ls.expect {
		lvl := audiotest.PowerDB(pcm, t.freq, 8000)
		switch {
		case lvl >= hearDB:
			ls.heard[i]++
			if !ls.on[i] {
				ls.on[i] = true
				if at := t.onsetAt.Load(); at >= ls.minSince && now-at < int64(time.Second) {
					ls.delays = append(ls.delays, time.Duration(now-at))
				}
			}
		case lvl < quietDB:
			ls.on[i] = false
		}
	}
	leak := false
	for _, f := range ls.forbid {
		lvl := audiotest.PowerDB(pcm, f, 8000)
		if lvl >= hearDB {
			leak = true
		}
		ls.leakMax = max(ls.leakMax, lvl)
	}
	if leak {
		ls.leaked++
	}
}

// media sends every caller's RTP every 20 ms and receives what comes back,
// over a few shared sockets with batched system calls.
type media struct {
	conns   []*net.UDPConn
	pcs     []*ipv4.PacketConn
	callers []*caller
	bySock  [][]*caller
	byPort  []atomic.Pointer[caller] // by the source port of the target's stream
	// distinct: each caller sends from its own 127/8 address through the
	// wildcard sockets of listenLoopbackAny, and what comes back is
	// credited by its destination address (IP_PKTINFO)
	distinct bool

	winStart, winEnd atomic.Int64 // the measurement window, unix nanoseconds
	silence          [frame]byte

	sendErrors, stray, genLate atomic.Uint64
	credited                   atomic.Uint64 // packets credited to a caller
	sentInWindow               atomic.Uint64
	wg                         sync.WaitGroup
}

// newMedia binds sockets on ip for callers (each caller's sock field says
// which). With distinct, each caller gets its own source address (see
// media.distinct) if the system allows it; the caller then needs as many
// sockets as callers (newMedia with distinct=false and sockets=len(callers)).
func newMedia(ip netip.Addr, sockets int, callers []*caller, distinct bool) (*media, error) {
	m := &media{callers: callers, byPort: make([]atomic.Pointer[caller], 65536), bySock: make([][]*caller, sockets), distinct: distinct}
	for i := range m.silence {
		m.silence[i] = 0xFF // PCMU zero
	}
	for range sockets {
		var c *net.UDPConn
		var err error
		if distinct {
			c, err = listenLoopbackAny()
		} else {
			c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		}
		if err != nil {
			m.close()
			return nil, fmt.Errorf("loadtest: bind media socket: %w", err)
		}
		_ = c.SetReadBuffer(4 << 20)
		_ = c.SetWriteBuffer(4 << 20)
		m.conns = append(m.conns, c)
		pc := ipv4.NewPacketConn(c)
		if distinct {
			if err := pc.SetControlMessage(ipv4.FlagDst, true); err != nil {
				m.close()
				return nil, fmt.Errorf("loadtest: IP_PKTINFO: %w", err)
			}
		}
		m.pcs = append(m.pcs, pc)
	}
	for _, c := range callers {
		c.bufs = [][]byte{c.pkt[:]}
		c.pkt[0] = 0x80
		c.pkt[1] = 0 // PCMU
		c.seq = uint16(rand.Uint32())
		c.ts = rand.Uint32()
		binary.BigEndian.PutUint32(c.pkt[8:], rand.Uint32())
		m.bySock[c.sock] = append(m.bySock[c.sock], c)
		if distinct {
			c.src = callerAddr(c.id)
			c.oob = (&ipv4.ControlMessage{Src: c.src.AsSlice()}).Marshal()
		}
	}
	return m, nil
}

// callerAddr is caller id's own address in distinct-address mode:
// 127.1.0.1 and up (id < 16,646,144).
func callerAddr(id int) netip.Addr {
	n := id + 1
	return netip.AddrFrom4([4]byte{127, byte(1 + n>>16), byte(n >> 8), byte(n)})
}

// callerOf inverts callerAddr; -1 for any other address.
func callerOf(a netip.Addr) int {
	a = a.Unmap()
	if !a.Is4() {
		return -1
	}
	b := a.As4()
	if b[0] != 127 || b[1] == 0 {
		return -1
	}
	return (int(b[1])-1)<<16 | int(b[2])<<8 | int(b[3]) - 1
}

// addr is c's media address (for the SDP offer).
func (m *media) addr(c *caller) netip.AddrPort {
	p := m.conns[c.sock].LocalAddr().(*net.UDPAddr).AddrPort()
	if m.distinct {
		return netip.AddrPortFrom(c.src, p.Port())
	}
	return p
}

// activate starts c's stream to dst; the target's packets from dst's port are c's.
func (m *media) activate(c *caller, dst netip.AddrPort) {
	m.byPort[dst.Port()].Store(c)
	c.dst.Store(net.UDPAddrFromAddrPort(dst))
}

// run starts the sender and the readers; they stop when ctx ends.
func (m *media) run(ctx context.Context) {
	for i := range m.pcs {
		m.wg.Add(1)
		go m.read(i)
	}
	m.wg.Add(1)
	go m.send(ctx)
	go func() {
		<-ctx.Done()
		m.close()
	}()
}

func (m *media) close() {
	for _, c := range m.conns {
		c.Close()
	}
}

func (m *media) wait() { m.wg.Wait() }

// send is the generator's clock: every caller one packet per tick.
func (m *media) send(ctx context.Context) {
	defer m.wg.Done()
	msgs := make([][]ipv4.Message, len(m.bySock))
	for i, cs := range m.bySock {
		msgs[i] = make([]ipv4.Message, 0, len(cs))
	}
	next := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for tick := 0; ; tick++ {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		now := time.Now()
		if late := now.Sub(next); late >= ptime {
			skipped := int(late / ptime)
			m.genLate.Add(uint64(skipped))
			tick += skipped
			next = next.Add(time.Duration(skipped) * ptime)
		}
		nowNs := now.UnixNano()
		ws, we := m.winStart.Load(), m.winEnd.Load()
		inWin := ws != 0 && nowNs >= ws && (we == 0 || nowNs < we)
		sent := 0
		for s, cs := range m.bySock {
			ms := msgs[s][:0]
			for _, c := range cs {
				dst := c.dst.Load()
				if dst == nil {
					continue
				}
				payload := m.silence[:]
				if c.talker >= 0 {
					if p := (tick - c.phase) % toneCycle; p < toneOn {
						payload = c.tone
						if p == 0 {
							c.onsetAt.Store(nowNs)
						}
					}
				}
				binary.BigEndian.PutUint16(c.pkt[2:], c.seq)
				binary.BigEndian.PutUint32(c.pkt[4:], c.ts)
				copy(c.pkt[12:], payload)
				c.seq++
				c.ts += frame
				ms = append(ms, ipv4.Message{Buffers: c.bufs, OOB: c.oob, Addr: dst})
			}
			sent += len(ms)
			msgs[s] = ms
			for off := 0; off < len(ms); {
				n, err := m.pcs[s].WriteBatch(ms[off:], 0)
				if err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					m.sendErrors.Add(1)
					n = max(n, 1) // skip the message that failed
				}
				off += n
			}
		}
		if inWin {
			m.sentInWindow.Add(uint64(sent))
		}
		next = next.Add(ptime)
		timer.Reset(time.Until(next))
	}
}

// read receives socket i's packets in batches and credits them to the
// caller whose stream (by source port) they belong to.
func (m *media) read(i int) {
	defer m.wg.Done()
	msgs := make([]ipv4.Message, batchSize)
	for j := range msgs {
		msgs[j].Buffers = [][]byte{make([]byte, 1500)}
		if m.distinct {
			msgs[j].OOB = ipv4.NewControlMessage(ipv4.FlagDst)
		}
	}
	var cm ipv4.ControlMessage
	pc := m.pcs[i]
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := time.Now().UnixNano()
		ws, we := m.winStart.Load(), m.winEnd.Load()
		in := ws != 0 && now >= ws && (we == 0 || now < we)
		for j := range n {
			ua, ok := msgs[j].Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			c := m.byPort[ua.Port].Load()
			switch {
			case m.distinct: // by the caller's own address
				c = nil
				if cm.Parse(msgs[j].OOB[:msgs[j].NN]) == nil && cm.Dst != nil {
					if a, ok := netip.AddrFromSlice(cm.Dst); ok {
						if id := callerOf(a); id >= 0 && id < len(m.callers) {
							c = m.callers[id]
						}
					}
				}
			case len(m.bySock[i]) == 1: // a socket per caller (shared mode: one source port for all)
				c = m.bySock[i][0]
			}
			b := msgs[j].Buffers[0][:msgs[j].N]
			if c == nil || c.sock != i || len(b) < 12 || b[0]>>6 != 2 || b[1]&0x7F >= 72 && b[1]&0x7F <= 76 {
				m.stray.Add(1)
				continue
			}
			m.credited.Add(1)
			m.receive(c, b, in, now)
		}
	}
}

// receive accounts one RTP packet of c's stream.
func (m *media) receive(c *caller, b []byte, in bool, now int64) {
	seq := binary.BigEndian.Uint16(b[2:])
	ssrc := binary.BigEndian.Uint32(b[8:])
	if in {
		c.rxPackets++
		if c.rxHave && ssrc == c.rxSSRC {
			if d := seq - c.rxSeq; d > 1 && d < 3000 {
				c.rxGaps += uint64(d - 1)
			}
		}
	}
	c.rxHave, c.rxSeq, c.rxSSRC = true, seq, ssrc
	ls := c.listen
	if ls == nil || !in {
		return
	}
	hdr := 12 + 4*int(b[0]&0x0F)
	if b[0]&0x10 != 0 && len(b) >= hdr+4 {
		hdr += 4 + 4*int(binary.BigEndian.Uint16(b[hdr+2:]))
	}
	if len(b)-hdr != frame {
		return
	}
	audiotest.Decode("PCMU", ls.pcm[:], b[hdr:])
	ls.analyse(ls.pcm[:], now)
}
