package ratelimit

import (
	"context"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx/redistest"
)

// fakeClock runs the limiter's script on a real Redis, with the time in ms
// taken from ARGV[3] instead of TIME, so a test can walk through windows.
type fakeClock struct {
	t      *testing.T
	c      rueidis.Client
	script *rueidis.Lua
	n      int
	w      int64
}

type outcome struct {
	allowed                   bool
	remaining, reset, retryMS int64
}

func newFakeClock(t *testing.T, c rueidis.Client, n int, w int64) *fakeClock {
	t.Helper()
	src := strings.Replace(allowSrc, "redis.call('TIME')", "{'0', ARGV[3] * 1000}", 1)
	require.NotEqual(t, allowSrc, src, "the script no longer calls TIME as the test expects")
	return &fakeClock{t: t, c: c, script: rueidis.NewLuaScript(src), n: n, w: w}
}

func (f *fakeClock) allow(key string, now int64) outcome {
	f.t.Helper()
	v, err := f.script.Exec(context.Background(), f.c, []string{key},
		[]string{strconv.Itoa(f.n), strconv.FormatInt(f.w, 10), strconv.FormatInt(now, 10)}).AsIntSlice()
	require.NoError(f.t, err)
	require.Len(f.t, v, 4)
	return outcome{allowed: v[0] == 1, remaining: v[1], reset: v[2], retryMS: v[3]}
}

// probe is allow on a copy of key's state, leaving key as it was.
func (f *fakeClock) probe(key string, now int64) outcome {
	f.t.Helper()
	ctx := context.Background()
	scratch := key + ":probe" // same hash tag
	require.NoError(f.t, f.c.Do(ctx, f.c.B().Del().Key(scratch).Build()).Error())
	require.NoError(f.t, f.c.Do(ctx, f.c.B().Copy().Source(key).Destination(scratch).Build()).Error())
	return f.allow(scratch, now)
}

// TestScriptProperties drives the script through random traffic on a fake
// clock and checks every decision against the exact log of allowed requests
// and against the bounds the package doc promises.
func TestScriptProperties(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	const w = 60_000 // long enough that real-time expiry never interferes
	cases := []struct {
		name string
		n    int
		seed uint64
	}{
		{"n=1", 1, 1},
		{"n=2", 2, 2},
		{"n=3", 3, 3},
		{"n=5", 5, 4},
		{"n=10", 10, 5},
		{"n=37", 37, 6},
		{"n=100", 100, 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeClock(t, c, tc.n, w)
			key := srv.Prefix + "rl:{prop:" + tc.name + "}"
			rng := rand.New(rand.NewPCG(tc.seed, 0))
			now := int64(1_700_000_000_000) + rng.Int64N(w)
			var log []int64 // times of allowed requests
			for i := 0; i < 1500; i++ {
				switch r := rng.IntN(100); {
				case r < 40: // burst
				case r < 70:
					now += rng.Int64N(w / 100)
				case r < 90:
					now += rng.Int64N(2 * w / int64(tc.n))
				case r < 98:
					now += rng.Int64N(w)
				default:
					now += rng.Int64N(3 * w)
				}
				inWindow := countSince(log, now-w)
				d := f.allow(key, now)
				assert.GreaterOrEqual(t, d.reset, int64(1), "step %d: Reset ms", i)
				assert.LessOrEqual(t, d.reset, int64(w), "step %d: Reset ms", i)
				if inWindow == 0 {
					assert.True(t, d.allowed, "step %d: refused with nothing in the last window", i)
					assert.Equal(t, int64(tc.n-1), d.remaining, "step %d: Remaining with nothing in the last window", i)
				}
				if !d.allowed {
					assert.Zero(t, d.remaining, "step %d: Remaining when refused", i)
					assert.GreaterOrEqual(t, d.retryMS, int64(1), "step %d: RetryAfter ms", i)
					assert.LessOrEqual(t, d.retryMS, int64(w), "step %d: RetryAfter ms", i)
					assert.GreaterOrEqual(t, countSince(log, now-2*w), tc.n, "step %d: refused with fewer than n in two windows", i)
					if d.retryMS > 1 {
						assert.False(t, f.probe(key, now+d.retryMS-1).allowed, "step %d: retry 1ms before RetryAfter %d allowed", i, d.retryMS)
					}
					assert.True(t, f.probe(key, now+d.retryMS).allowed, "step %d: retry at RetryAfter %d refused", i, d.retryMS)
					continue
				}
				log = append(log, now)
				assert.Zero(t, d.retryMS, "step %d: RetryAfter when allowed", i)
				assert.GreaterOrEqual(t, d.remaining, int64(0), "step %d: Remaining", i)
				assert.Less(t, d.remaining, int64(tc.n), "step %d: Remaining", i)
				assert.LessOrEqual(t, inWindow+1, 2*tc.n-1, "step %d: allowed in the last window", i)
				// Reset: one slot more at now+Reset, not a moment before.
				p := f.probe(key, now+d.reset)
				assert.True(t, p.allowed && p.remaining >= d.remaining, "step %d: at Reset %d, probe %+v after remaining %d", i, d.reset, p, d.remaining)
				if d.reset > 1 {
					p = f.probe(key, now+d.reset-1)
					if d.remaining == 0 {
						assert.False(t, p.allowed, "step %d: 1ms before Reset %d, probe %+v", i, d.reset, p)
					} else {
						assert.Equal(t, d.remaining-1, p.remaining, "step %d: 1ms before Reset %d, probe %+v", i, d.reset, p)
					}
				}
			}
			// at most n allowed in any aligned window
			perWindow := map[int64]int{}
			for _, at := range log {
				perWindow[at/w]++
			}
			for win, k := range perWindow {
				assert.LessOrEqual(t, k, tc.n, "allowed in aligned window %d", win)
			}
			assert.Greater(t, len(log), tc.n, "the traffic never got past one window's budget")
		})
	}
}

// countSince counts the times in the sorted log after since.
func countSince(log []int64, since int64) int {
	return len(log) - sort.Search(len(log), func(i int) bool { return log[i] > since })
}

func TestScriptWorstCase(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	const n, w = 10, 60_000
	f := newFakeClock(t, c, n, w)
	start := int64(1_700_000_040_000) // a multiple of w
	require.Zero(t, start%w)

	t.Run("burst at the end of a window, then at the end of the next", func(t *testing.T) {
		key := srv.Prefix + "rl:{worst:a}"
		allowed := 0
		for i := 0; i < 2*n; i++ {
			if f.allow(key, start+w-1).allowed {
				allowed++
			}
		}
		for i := 0; i < 2*n; i++ {
			if f.allow(key, start+2*w-2).allowed {
				allowed++
			}
		}
		assert.Equal(t, 2*n-1, allowed, "allowed within %dms: the documented worst case", w-1)
	})
	t.Run("burst at the start of a window", func(t *testing.T) {
		key := srv.Prefix + "rl:{worst:b}"
		for i := 0; i < n; i++ {
			require.True(t, f.allow(key, start+1).allowed)
		}
		d := f.allow(key, start+1)
		require.False(t, d.allowed)
		// The plain two-window estimate would refuse until start+w+w/n.
		assert.Equal(t, int64(w), d.retryMS, "RetryAfter: the burst leaves the window exactly w later")
		assert.True(t, f.allow(key, start+1+w).allowed, "request w after the burst")
	})
	t.Run("clock going back keeps the count", func(t *testing.T) {
		key := srv.Prefix + "rl:{worst:c}"
		for i := 0; i < n; i++ {
			require.True(t, f.allow(key, start+w+5).allowed)
		}
		d := f.allow(key, start+w-10) // back into the previous window
		assert.False(t, d.allowed, "request after the clock went back: %+v", d)
		assert.Greater(t, d.retryMS, int64(0), "RetryAfter")
	})
	t.Run("another window starts afresh", func(t *testing.T) {
		key := srv.Prefix + "rl:{worst:d}"
		for i := 0; i < n; i++ {
			require.True(t, f.allow(key, start+5).allowed)
		}
		g := newFakeClock(t, c, n, w/2)
		d := g.allow(key, start+6)
		assert.True(t, d.allowed, "request under a changed window")
		assert.Equal(t, int64(n-1), d.remaining, "Remaining under a changed window")
	})
}
