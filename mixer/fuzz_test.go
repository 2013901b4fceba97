package mixer

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// FuzzIngest feeds datagrams (length-prefixed chunks of the input) through
// a leg's whole receive path, interleaved with clock pulls, and checks the
// invariants that must hold whatever arrives.
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
	e := newTestEngine(f, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		l := newSocketlessLeg(e, LegParams{Remote: remote(30000), Codec: PCMU(), DTMFPayloadType: 101})
		s := newMixSlot(e.frame)
		now := time.Unix(1e9, 0)
		for len(data) >= 2 {
			n := int(binary.BigEndian.Uint16(data))
			data = data[2:]
			n = min(n, len(data))
			l.ingest(data[:n], remote(30000), now)
			data = data[n:]
			now = now.Add(20 * time.Millisecond)
			l.pull(&s)
			if len(s.in) != e.frame {
				t.Fatal("frame size changed")
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
