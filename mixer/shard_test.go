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

// BenchmarkTickRooms is one tick of 100 rooms of 10 (2 talkers each) on
// the clock alone (workers=0) and spread over GOMAXPROCS.
func BenchmarkTickRooms(b *testing.B) {
	for _, procs := range []int{1, runtime.NumCPU()} {
		b.Run(fmt.Sprintf("procs=%d", procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			e, all := shardedEngine(b, 100, 10, discard)
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
