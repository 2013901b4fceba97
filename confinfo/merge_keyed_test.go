package confinfo

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

// kv is a keyed entry for testing mergeKeyed on its own.
type kv struct {
	K string
	S ElementState
	V []int // merged entries collect the values of their updates
}

func kvKey(e *kv) string         { return e.K }
func kvState(e *kv) ElementState { return e.S }
func kvFresh(e *kv) kv           { return kv{K: e.K, V: slices.Clone(e.V)} }
func kvMerge(dst, src *kv)       { dst.V = append(dst.V, src.V...) }
func mergeKV(dst, src []kv) []kv { return mergeKeyed(dst, src, kvKey, kvState, kvFresh, kvMerge) }

// cloneKVs copies l deeply, keeping nil and empty apart.
func cloneKVs(l []kv) []kv {
	l = slices.Clone(l)
	for i := range l {
		l[i].V = slices.Clone(l[i].V)
	}
	return l
}

// scanMergeKV is the merge loop mergeKeyed replaced, kept as the reference:
// a scan for each update and an immediate delete.
func scanMergeKV(dst, src []kv) []kv {
	for i := range src {
		e := &src[i]
		j := slices.IndexFunc(dst, func(x kv) bool { return x.K == e.K })
		switch {
		case e.S == StateDeleted:
			if j >= 0 {
				dst = nilIfEmpty(slices.Delete(dst, j, j+1))
			}
		case j < 0 || e.S != StatePartial:
			n := kvFresh(e)
			if j < 0 {
				dst = append(dst, n)
			} else {
				dst[j] = n
			}
		default:
			kvMerge(&dst[j], e)
		}
	}
	return dst
}

// kvLists draws a held list and an update with next over a few keys, so
// that keys repeat in the update, and in about half the held lists (as
// only hand-built documents have them), and every state meets every case,
// with lengths on both sides of indexFrom.
func kvLists(next func(n int) int) (dst, src []kv) {
	keys := make([]string, 1+next(4*indexFrom))
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	states := []ElementState{"", StateFull, StatePartial, StateDeleted}
	switch next(3) {
	case 0:
		dst = nil
	case 1:
		dst = []kv{}
	}
	unique := next(2) == 0
	for i := range next(3 * indexFrom) {
		k := keys[next(len(keys))]
		if unique {
			if i >= len(keys) {
				break
			}
			k = keys[i]
		}
		dst = append(dst, kv{K: k, V: []int{next(100)}})
	}
	for range next(4 * indexFrom) {
		src = append(src, kv{K: keys[next(len(keys))], S: states[next(len(states))], V: []int{next(100)}})
	}
	return dst, src
}

func checkMergeKV(t *testing.T, dst, src []kv) {
	t.Helper()
	want := scanMergeKV(cloneKVs(dst), src)
	got := mergeKV(cloneKVs(dst), src)
	if !reflect.DeepEqual(got, want) || (got == nil) != (want == nil) {
		t.Fatalf("mergeKeyed\nheld   %v\nupdate %v\ngot    %#v\nwant   %#v", dst, src, got, want)
	}
}

func TestMergeKeyedMatchesScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		dst, src := kvLists(r.IntN)
		checkMergeKV(t, dst, src)
	}
}

func TestMergeKeyed(t *testing.T) {
	long := func(k string, s ElementState, n int) []kv {
		out := make([]kv, n)
		for i := range out {
			out[i] = kv{K: k, S: s, V: []int{i}}
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		dst, src []kv
		want     []kv
	}{
		{name: "nothing", dst: []kv{}, src: nil, want: []kv{}},
		{name: "add", dst: nil, src: []kv{{K: "a", V: []int{1}}}, want: []kv{{K: "a", V: []int{1}}}},
		{name: "delete last", dst: []kv{{K: "a"}}, src: []kv{{K: "a", S: StateDeleted}}, want: nil},
		{name: "delete unknown", dst: []kv{}, src: []kv{{K: "a", S: StateDeleted}}, want: []kv{}},
		{name: "replace and merge", dst: []kv{{K: "a", V: []int{1}}, {K: "b", V: []int{2}}},
			src:  []kv{{K: "a", S: StateFull, V: []int{3}}, {K: "b", S: StatePartial, V: []int{4}}},
			want: []kv{{K: "a", V: []int{3}}, {K: "b", V: []int{2, 4}}}},
		{name: "indexed: deletes all, re-adds one", dst: long("a", "", indexFrom),
			src:  append(long("a", StateDeleted, indexFrom), kv{K: "a", S: StatePartial, V: []int{7}}),
			want: []kv{{K: "a", V: []int{7}}}},
		{name: "indexed: repeated held key, first one merged", dst: append(long("x", "", 2), kv{K: "a"}),
			src:  append(long("y", StateDeleted, indexFrom), kv{K: "x", S: StatePartial, V: []int{9}}),
			want: []kv{{K: "x", V: []int{0, 9}}, {K: "x", V: []int{1}}, {K: "a"}}},
		{name: "indexed: all deleted", dst: append(long("a", "", 3), long("b", "", 3)...),
			src:  append(long("a", StateDeleted, 3), long("b", StateDeleted, indexFrom)...),
			want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mergeKV(cloneKVs(tc.dst), tc.src)
			if !reflect.DeepEqual(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
			checkMergeKV(t, tc.dst, tc.src)
		})
	}
}

// FuzzMergeKeyed: mergeKeyed, scanning or indexed, does what the scan-and-
// delete loop it replaced did, on any lists, repeated keys included.
func FuzzMergeKeyed(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{2, 11, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 30, 3, 3, 2, 1, 0, 1, 2, 3, 0, 0, 1, 1, 2, 2, 3, 3})
	f.Add([]byte("\x02\x03\x10aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
	f.Fuzz(func(t *testing.T, in []byte) {
		g := &gen{b: in}
		dst, src := kvLists(g.n)
		checkMergeKV(t, dst, src)
	})
}
