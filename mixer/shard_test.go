package mixer

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// shardedEngine builds rooms×size socketless legs in the engine's room
// table (as join does) and starts tick workers as Run would.
func shardedEngine(t testing.TB, rooms, size int, write rtpWriter) (*Engine, [][]*Leg) {
	e := newTestEngine(t, nil)
	e.mix.write = write
	all := make([][]*Leg, rooms)
	for r := range rooms {
		for i := range size {
			l := newSocketlessLeg(e, LegParams{Remote: remote(uint16(20000 + 2*(r*size+i))), Codec: PCMU()})
			all[r] = append(all[r], l)
			e.mu.Lock()
			rm := e.rooms[fmt.Sprint(r)]
			if rm == nil {
				rm = newRoom(fmt.Sprint(r), e.frame)
				e.rooms[fmt.Sprint(r)] = rm
			}
			rm.setMembers(append(rm.members[:len(rm.members):len(rm.members)], l))
			e.publish()
			e.mu.Unlock()
		}
	}
	stop := e.startWorkers()
	t.Cleanup(stop)
	return e, all
}

// TestShardedTickMixMinus: with the tick spread over workers, every room
// still gets exactly its own mix-minus: leg i of room r talks at value
// 800·(r+1)+50·i and hears the sum of its room's others, nothing of another
// room.
func TestShardedTickMixMinus(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	cp := newCapture()
	e, all := shardedEngine(t, 12, 3, cp.write)
	if len(e.workers) != 3 {
		t.Fatalf("%d workers with GOMAXPROCS=4", len(e.workers))
	}
	now := time.Now()
	for k := range 3 {
		for r, legs := range all {
			for i, l := range legs {
				feed(l, e.frame, int16(800*(r+1)+50*i))
			}
		}
		e.tick(now, 0)
		now = now.Add(20 * time.Millisecond)
		if k == 0 {
			continue
		}
		for r, legs := range all {
			for i, l := range legs {
				p, ok := cp.last(l)
				if !ok {
					t.Fatalf("room %d leg %d: nothing sent", r, i)
				}
				want := int16(0)
				for j := range legs {
					if j != i {
						want += int16(800*(r+1) + 50*j)
					}
				}
				got := make([]int16, len(p.Payload))
				kindPCMU.decode(got, p.Payload)
				// G.711 is lossy: within 3 % of the exact sum
				if d := int(got[0]) - int(want); d*33 > int(want) || -d*33 > int(want) {
					t.Fatalf("tick %d room %d leg %d hears %d, want ≈%d", k, r, i, got[0], want)
				}
			}
		}
	}
	e2, all2 := shardedEngine(t, 12, 3, discard)
	step := func() {
		for _, legs := range all2 {
			feed(legs[0], e2.frame, 3000)
		}
		e2.tick(now, 0)
		now = now.Add(20 * time.Millisecond)
	}
	for range 10 {
		step()
	}
	pcm := make([]int16, e2.frame)
	for i := range pcm {
		pcm[i] = 3000
	}
	if got := testAllocs(func() {
		for _, legs := range all2 {
			legs[0].mu.Lock()
			legs[0].jb.put(legs[0].jb.highTS, pcm)
			legs[0].mu.Unlock()
		}
		e2.tick(now, 0)
		now = now.Add(20 * time.Millisecond)
	}); got != 0 {
		t.Errorf("%v allocations per sharded tick", got)
	}
}

func testAllocs(f func()) float64 { return testing.AllocsPerRun(50, f) }

// BenchmarkTickRooms is one tick of 100 rooms of 10, and of one room of
// 1000 (2 talkers per room), on the clock alone (procs=1) and spread over
// GOMAXPROCS (rooms, then the large room's fan-out in chunks).
func BenchmarkTickRooms(b *testing.B) {
	for _, size := range []struct{ rooms, per int }{{100, 10}, {1, 1000}} {
		for _, procs := range []int{1, runtime.NumCPU()} {
			benchTickRooms(b, size.rooms, size.per, procs)
		}
	}
}

func benchTickRooms(b *testing.B, rooms, per, procs int) {
	{
		b.Run(fmt.Sprintf("rooms=%d×%d/procs=%d", rooms, per, procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			e, all := shardedEngine(b, rooms, per, discard)
			now := time.Now()
			tone := make([]int16, e.frame)
			for i := range tone {
				tone[i] = int16(3000 * ((i / 10) % 2))
			}
			step := func() {
				for _, legs := range all {
					feedPCM(legs[0], tone)
					feedPCM(legs[1], tone)
				}
				e.tick(now, 0)
				now = now.Add(20 * time.Millisecond)
			}
			for range 20 {
				step()
			}
			b.ReportAllocs()
			for b.Loop() {
				step()
			}
		})
	}
}

// TestSplitFanOut: a room of 300 legs (three talkers) beside a small one,
// with GOMAXPROCS=4: the large room's fan-out goes out in chunks over the
// workers, and every leg still gets its exact mix-minus (talkers the other
// two, listeners all three), the small room only its own; no allocations.
func TestSplitFanOut(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	cp := newCapture()
	e, all := shardedEngine(t, 1, 300, cp.write)
	small := make([]*Leg, 3)
	for i := range small {
		small[i] = newSocketlessLeg(e, LegParams{Remote: remote(uint16(50000 + 2*i)), Codec: PCMU()})
	}
	e.mu.Lock()
	rm := newRoom("small", e.frame)
	rm.setMembers(small)
	e.rooms["small"] = rm
	e.publish()
	e.mu.Unlock()
	big := all[0]
	talk := map[*Leg]int16{big[0]: 1000, big[150]: 1500, big[299]: 2000, small[0]: 3000, small[1]: 700}
	now := time.Now()
	for k := range 3 {
		for l, v := range talk {
			feed(l, e.frame, v)
		}
		e.tick(now, 0)
		now = now.Add(20 * time.Millisecond)
		if k == 0 {
			continue
		}
		check := func(name string, legs []*Leg) {
			var total int
			for _, l := range legs {
				total += int(talk[l])
			}
			for i, l := range legs {
				p, ok := cp.last(l)
				if !ok {
					t.Fatalf("%s leg %d: nothing sent", name, i)
				}
				got := make([]int16, len(p.Payload))
				kindPCMU.decode(got, p.Payload)
				want := total - int(talk[l])
				if d := int(got[0]) - want; d*33 > want || -d*33 > want {
					t.Fatalf("tick %d %s leg %d hears %d, want ≈%d", k, name, i, got[0], want)
				}
			}
		}
		check("big", big)
		check("small", small)
	}
	if !e.rooms["0"].deferred || e.rooms["small"].deferred {
		t.Fatal("the big room's fan-out was not split (or the small one's was)")
	}
	if r := e.rooms["0"]; r.encodes != 3+1 {
		t.Errorf("big room: %d encodings, want 4 (three talkers, one shared)", r.encodes)
	}
	e2, all2 := shardedEngine(t, 1, 300, discard)
	step := func() {
		for _, l := range all2[0][:3] {
			feed(l, e2.frame, 2000)
		}
		e2.tick(now, 0)
		now = now.Add(20 * time.Millisecond)
	}
	for range 10 {
		step()
	}
	pcm := make([]int16, e2.frame)
	for i := range pcm {
		pcm[i] = 2000
	}
	if got := testAllocs(func() {
		for _, l := range all2[0][:3] {
			l.mu.Lock()
			l.jb.put(l.jb.highTS, pcm)
			l.mu.Unlock()
		}
		e2.tick(now, 0)
		now = now.Add(20 * time.Millisecond)
	}); got != 0 {
		t.Errorf("%v allocations per tick with a split fan-out", got)
	}
}

// TestSplitFanOutPrompt: prompts playing to listeners in different chunks
// of a split fan-out are mixed into their own packets only, while the
// chunks run concurrently (under -race, no shared counter is written).
func TestSplitFanOutPrompt(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	cp := newCapture()
	e, all := shardedEngine(t, 1, 300, cp.write)
	big := all[0]
	prompt := make([]int16, 10*e.frame)
	for i := range prompt {
		prompt[i] = 600
	}
	cued := map[*Leg]bool{big[10]: true, big[200]: true}
	for l := range cued {
		l.Play(prompt)
	}
	now := time.Now()
	for range 2 {
		feed(big[0], e.frame, 1000)
		feed(big[299], e.frame, 2000)
		e.tick(now, 0)
		now = now.Add(20 * time.Millisecond)
	}
	for _, i := range []int{10, 11, 200, 201} {
		p, ok := cp.last(big[i])
		if !ok {
			t.Fatalf("leg %d: nothing sent", i)
		}
		got := make([]int16, len(p.Payload))
		kindPCMU.decode(got, p.Payload)
		want := 3000
		if cued[big[i]] {
			want += 600
		}
		if d := int(got[0]) - want; d*33 > want || -d*33 > want {
			t.Errorf("leg %d hears %d, want ≈%d", i, got[0], want)
		}
	}
	if r := e.rooms["0"]; !r.deferred || r.encodes != 2+1+2 {
		t.Errorf("big room: split %v, %d encodings, want 5 (two talkers, one shared, two prompts)", r.deferred, r.encodes)
	}
}
