package mixer

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// FuzzIngest feeds datagrams (length-prefixed chunks of the input) through
// a leg's whole receive path, interleaved with clock pulls, and checks the
// invariants that must hold whatever arrives. The top two bits of a length
// prefix pick the datagram's source (the SDP address, the same in IPv4-mapped
// form, or one of two others), so that re-latching is exercised too; the
// engine re-latches after 40 ms of quiet and 2 packets to make that easy.
func FuzzIngest(f *testing.F) {
	var seeds [][]byte
	for i := range 4 {
		seeds = append(seeds, rtpBytes(f, 0, uint16(65534+i), uint32(160*i), 7, silence(160)))
	}
	seeds = append(seeds, rtpBytes(f, 101, 3, 640, 7, []byte{5, 0x8a, 1, 0}))
	seeds = append(seeds, rtpBytes(f, 0, 9, 1<<31, 8, silence(240)))
	raw, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.SenderReport{SSRC: 7}})
	seeds = append(seeds, raw)
	var all []byte
	for _, s := range seeds {
		all = append(all, byte(len(s)>>8), byte(len(s)))
		all = append(all, s...)
		f.Add(append([]byte{byte(len(s) >> 8), byte(len(s))}, s...))
	}
	f.Add(all)
	f.Add([]byte{0, 12, 0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7})
	// latched to the SDP address, which goes quiet; the stream goes on from another source
	var moved []byte
	for i := range 8 {
		src := byte(0) // sources[0]
		if i >= 3 {
			src = 2 << 6
		}
		p := rtpBytes(f, 0, uint16(100+i), uint32(160*i), 7, silence(160))
		if i == 3 || i == 4 {
			p = []byte{0xff} // quiet ticks: garbage from elsewhere
			src = 3 << 6
		}
		moved = append(moved, src|byte(len(p)>>8), byte(len(p)))
		moved = append(moved, p...)
	}
	f.Add(moved)

	const quiet, run = 40 * time.Millisecond, 2
	e := newTestEngine(f, func(c *Config) { c.RelatchQuiet, c.RelatchPackets = quiet, run })
	sdp := remote(30000)
	sources := [4]netip.AddrPort{
		sdp,
		netip.AddrPortFrom(netip.AddrFrom16(sdp.Addr().As16()), sdp.Port()), // the same, IPv4-mapped
		netip.MustParseAddrPort("127.0.0.3:52000"),
		netip.MustParseAddrPort("[2001:db8::1]:7078"),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l := newSocketlessLeg(e, LegParams{Remote: sdp, Codec: PCMU(), DTMFPayloadType: 101})
		s := newMixSlot(e.frame)
		now := time.Unix(1e9, 0)
		var (
			lastSeen = map[netip.AddrPort]time.Time{} // last datagram per (unmapped) source
			since    = map[netip.AddrPort]int{}       // datagrams per source since the latched one's last
		)
		for len(data) >= 2 {
			raw := sources[data[0]>>6]
			src := unmap(raw)
			n := int(binary.BigEndian.Uint16(data) & 0x3fff)
			data = data[2:]
			n = min(n, len(data))

			l.mu.Lock()
			wasLatched, from, ssrc, relatches := l.latched, l.latchAddr, l.remoteSSRC, l.relatches
			l.mu.Unlock()
			l.ingest(data[:n], raw, now)
			data = data[n:]
			if src == from {
				clear(since)
			} else {
				since[src]++
			}
			lastSeen[src] = now

			l.mu.Lock()
			latched, to, newSSRC, newRelatches := l.latched, l.latchAddr, l.remoteSSRC, l.relatches
			l.mu.Unlock()
			switch {
			case wasLatched && !latched:
				t.Fatal("latch lost without Update")
			case wasLatched && to != from:
				if to != src || newRelatches != relatches+1 {
					t.Fatalf("latch moved %v → %v on a datagram from %v (relatches %d → %d)", from, to, src, relatches, newRelatches)
				}
				if q := now.Sub(lastSeen[from]); q < quiet {
					t.Fatalf("re-latched after %v of quiet", q)
				}
				if since[to] < run || newSSRC != ssrc {
					t.Fatalf("re-latched after %d packets of %v, SSRC %#x → %#x", since[to], to, ssrc, newSSRC)
				}
				clear(since)
			case newRelatches != relatches:
				t.Fatal("re-latch counted without a move")
			}

			now = now.Add(20 * time.Millisecond)
			l.pull(&s)
			if len(s.in) != e.frame {
				t.Fatal("frame size changed")
			}
			if latched && s.dst != to {
				t.Fatalf("mix to %v, latched to %v", s.dst, to)
			}
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.jb.depth < jbMinDepth || l.jb.depth > jbMaxDepth {
			t.Fatalf("depth %d", l.jb.depth)
		}
		if l.jb.started {
			if lead := l.jb.lead(); lead > int32(len(l.jb.samples)) {
				t.Fatalf("lead %d beyond the ring", lead)
			}
		}
		if d := l.rtcpDst(); !d.IsValid() {
			t.Fatal("no RTCP destination")
		}
		l.stats.reportBlock()
	})
}

// FuzzRTCP: arbitrary bytes on the RTCP port never panic, and a report
// can still be built and marshalled afterwards.
func FuzzRTCP(f *testing.F) {
	raw, _ := rtcp.Marshal([]rtcp.Packet{
		&rtcp.SenderReport{SSRC: 7, NTPTime: 1 << 40, Reports: []rtcp.ReceptionReport{{SSRC: 9, LastSenderReport: 5, Delay: 3}}},
		rtcp.NewCNAMESourceDescription(7, "x"),
		&rtcp.Goodbye{Sources: []uint32{7}, Reason: "bye"},
	})
	f.Add(raw)
	f.Add([]byte{0x80, 201, 0, 1, 0, 0, 0, 1})
	f.Add([]byte{0x81, 200, 0, 0})
	e := newTestEngine(f, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		l := newSocketlessLeg(e, LegParams{Remote: remote(30000), Codec: PCMA()})
		now := time.Unix(1e9, 0)
		l.handleRTCP(data, remote(30001), now)
		l.ingest(data, remote(30000), now) // the rtcp-mux path
		pkts, _ := l.buildReport(now.Add(time.Second))
		if pkts == nil {
			t.Fatal("no report")
		}
		if _, err := rtcp.Marshal(pkts); err != nil {
			t.Fatalf("own report does not marshal: %v", err)
		}
	})
}

// FuzzDTMF: 8-byte records (timestamp, payload) into the decoder; only
// valid digits, and at most one per event start (a change of timestamp
// between consecutive packets; serial-number comparison lets a timestamp
// recur after wrapping, so distinct timestamps are no bound).
func FuzzDTMF(f *testing.F) {
	rec := func(ts uint32, p []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, ts)
		return append(b, p...)
	}
	var seed []byte
	for _, p := range press(1000, 5, 3) {
		seed = append(seed, rec(p.ts, p.payload())...)
	}
	f.Add(seed)
	f.Add(rec(1, []byte{16, 0x80, 0, 1}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d dtmfDecoder
		starts, digits := 0, 0
		var prev uint32
		for len(data) >= 8 {
			ts := binary.BigEndian.Uint32(data)
			if starts == 0 || ts != prev {
				starts++
			}
			prev = ts
			ds, err := d.feed(ts, data[4:8])
			if err != nil {
				t.Fatal(err)
			}
			for i := range ds.n {
				if r := ds.d[i]; !(r >= '0' && r <= '9' || r == '*' || r == '#' || r >= 'A' && r <= 'D') {
					t.Fatalf("digit %q", r)
				}
			}
			digits += ds.n
			data = data[8:]
		}
		if _, err := d.feed(0, data[:min(len(data), 3)]); err == nil {
			t.Fatal("short payload accepted")
		}
		if r := d.flush(); r != 0 {
			digits++
		}
		if digits > starts {
			t.Fatalf("%d digits from %d event starts", digits, starts)
		}
	})
}

// FuzzJitterBuffer drives put/pop with arbitrary timestamps and sizes.
func FuzzJitterBuffer(f *testing.F) {
	f.Add([]byte{0, 0, 1, 1, 0, 1, 0, 2, 1, 1, 0, 3, 1})
	f.Add([]byte{0, 200, 1, 0, 0, 255, 3, 1, 1, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		jb := newJitterBuffer(tf)
		out := make([]int16, tf)
		pcm := make([]int16, jbMaxPacket*tf+1)
		ts := uint32(0)
		for len(ops) >= 3 {
			op, a, b := ops[0], ops[1], ops[2]
			ops = ops[3:]
			switch op % 3 {
			case 0: // put: a = signed frame offset from the running ts, b = size in 10 ms units
				at := ts + uint32(int32(int8(a))*tf)
				n := int(b) * 80 % len(pcm)
				jb.put(at, pcm[:n])
			case 1:
				jb.pop(out)
				ts += tf
			case 2: // a big jump
				ts += uint32(a)<<24 | uint32(b)<<8
			}
			if jb.depth < jbMinDepth || jb.depth > jbMaxDepth || jb.stall < 0 || jb.skip < 0 {
				t.Fatalf("depth %d stall %d skip %d", jb.depth, jb.stall, jb.skip)
			}
		}
	})
}
