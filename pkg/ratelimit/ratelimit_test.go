package ratelimit_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/ratelimit"
	"github.com/shortener/shortener/pkg/redisx/redistest"
)

// hour is a window long enough that a test never sees it slide.
const hour = time.Hour

type env struct {
	srv *redistest.Server
	c   rueidis.Client
	l   *ratelimit.Limiter
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv := redistest.Start(t)
	c := srv.Client(t)
	return &env{srv: srv, c: c, l: ratelimit.New(c, srv.Prefix)}
}

// serverTime is the Redis server's clock, which the limiter's windows follow.
func (e *env) serverTime(t testing.TB) time.Time {
	t.Helper()
	v, err := e.c.Do(context.Background(), e.c.B().Time().Build()).AsStrSlice()
	require.NoError(t, err)
	require.Len(t, v, 2)
	sec, err := strconv.ParseInt(v[0], 10, 64)
	require.NoError(t, err)
	usec, err := strconv.ParseInt(v[1], 10, 64)
	require.NoError(t, err)
	return time.Unix(sec, usec*1000)
}

// sleepUntilWindowStart sleeps until the server clock is at offset into a
// window of length w that starts at least min from now.
func (e *env) sleepUntilWindowStart(t testing.TB, w, offset, min time.Duration) time.Time {
	t.Helper()
	now := e.serverTime(t)
	start := now.Add(min).Truncate(w).Add(w)
	time.Sleep(start.Add(offset).Sub(now))
	return start
}

func TestAllowExactlyN(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cases := []struct {
		name  string
		n     int
		extra int
		w     time.Duration
	}{
		{"one", 1, 3, hour},
		{"five", 5, 5, hour},
		{"fifty", 50, 20, hour},
		{"one second window", 10, 5, time.Second},
		{"millisecond window", 3, 0, time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lim := ratelimit.Limit{N: tc.n, Window: tc.w}
			id := "client-" + tc.name
			if tc.w < 10*time.Millisecond {
				// so short a window can pass between any two calls: only
				// the bounds hold, not the count
				d, err := e.l.Allow(ctx, "exact", id, lim)
				require.NoError(t, err)
				assert.True(t, d.Allowed, "first request in a fresh window")
				assert.Greater(t, d.Reset, time.Duration(0), "Reset")
				assert.LessOrEqual(t, d.Reset, tc.w, "Reset")
				return
			}
			if tc.w < hour {
				// a fresh window with room for the whole burst
				e.sleepUntilWindowStart(t, tc.w, 10*time.Millisecond, 0)
			}
			allowed := 0
			for i := 0; i < tc.n+tc.extra; i++ {
				d, err := e.l.Allow(ctx, "exact", id, lim)
				require.NoError(t, err)
				assert.Equal(t, tc.n, d.Limit, "request %d: Limit", i)
				assert.Greater(t, d.Reset, time.Duration(0), "request %d: Reset", i)
				assert.LessOrEqual(t, d.Reset, tc.w, "request %d: Reset", i)
				if i < tc.n {
					assert.True(t, d.Allowed, "request %d: Allowed = false, want true", i)
					assert.Equal(t, tc.n-1-i, d.Remaining, "request %d: Remaining", i)
					assert.Zero(t, d.RetryAfter, "request %d: RetryAfter when allowed", i)
				} else {
					assert.False(t, d.Allowed, "request %d: Allowed = true, want false", i)
					assert.Zero(t, d.Remaining, "request %d: Remaining when refused", i)
					assert.Greater(t, d.RetryAfter, time.Duration(0), "request %d: RetryAfter", i)
					assert.LessOrEqual(t, d.RetryAfter, tc.w, "request %d: RetryAfter", i)
				}
				if d.Allowed {
					allowed++
				}
			}
			assert.Equal(t, tc.n, allowed, "allowed of %d requests", tc.n+tc.extra)

			pttl, err := e.c.Do(ctx, e.c.B().Pttl().Key(e.l.Key("exact", id)).Build()).AsInt64()
			require.NoError(t, err)
			assert.Greater(t, pttl, int64(0), "PTTL")
			assert.LessOrEqual(t, pttl, 2*tc.w.Milliseconds(), "PTTL at most two windows")
		})
	}
}

func TestRefusedNotCounted(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const n = 3
	w := 500 * time.Millisecond
	lim := ratelimit.Limit{N: n, Window: w}
	// Fill the window right at its start: the plain two-window estimate
	// would keep the count for Window + Window/N, past Window.
	e.sleepUntilWindowStart(t, w, 5*time.Millisecond, 0)
	for i := 0; i < n; i++ {
		d, err := e.l.Allow(ctx, "api", "hammer", lim)
		require.NoError(t, err)
		require.True(t, d.Allowed, "request %d of %d", i, n)
	}
	var last ratelimit.Decision
	for i := 0; i < 50; i++ {
		var err error
		last, err = e.l.Allow(ctx, "api", "hammer", lim)
		require.NoError(t, err)
		require.False(t, last.Allowed, "refusal %d", i)
	}
	count, err := e.c.Do(ctx, e.c.B().Hget().Key(e.l.Key("api", "hammer")).Field("c").Build()).AsInt64()
	require.NoError(t, err)
	assert.Equal(t, int64(n), count, "stored count after 50 refusals")
	require.Greater(t, last.RetryAfter, time.Duration(0))
	require.LessOrEqual(t, last.RetryAfter, w, "RetryAfter of a burst at the start of a window")

	time.Sleep(last.RetryAfter + 5*time.Millisecond)
	d, err := e.l.Allow(ctx, "api", "hammer", lim)
	require.NoError(t, err)
	assert.True(t, d.Allowed, "request after RetryAfter %v", last.RetryAfter)

	time.Sleep(2*w + 5*time.Millisecond)
	d, err = e.l.Allow(ctx, "api", "hammer", lim)
	require.NoError(t, err)
	assert.True(t, d.Allowed, "request two windows later")
	assert.Equal(t, n-1, d.Remaining, "Remaining two windows later: the full budget")
}

func TestTwoEdgesExactlyN(t *testing.T) {
	srv := redistest.Start(t)
	edges := []*ratelimit.Limiter{
		ratelimit.New(srv.Client(t), srv.Prefix),
		ratelimit.New(srv.Client(t), srv.Prefix),
	}
	const n, goroutines = 50, 200
	lim := ratelimit.Limit{N: n, Window: hour}
	var (
		allowed   atomic.Int64
		wg        sync.WaitGroup
		mu        sync.Mutex
		remaining []int
		start     = make(chan struct{})
	)
	for i := 0; i < goroutines; i++ {
		wg.Add(1)
		go func(l *ratelimit.Limiter) {
			defer wg.Done()
			<-start
			d, err := l.Allow(context.Background(), "create", "203.0.113.7", lim)
			if !assert.NoError(t, err) {
				return
			}
			if d.Allowed {
				allowed.Add(1)
				mu.Lock()
				remaining = append(remaining, d.Remaining)
				mu.Unlock()
			}
		}(edges[i%len(edges)])
	}
	close(start)
	wg.Wait()
	assert.Equal(t, int64(n), allowed.Load(), "allowed of %d concurrent requests on two edges", goroutines)
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	assert.ElementsMatch(t, want, remaining, "each Remaining value given once")
}

func TestUnlimited(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name string
		l    *ratelimit.Limiter
		lim  ratelimit.Limit
	}{
		{"zero, nil client", ratelimit.New(nil, "x:"), ratelimit.Limit{N: 0, Window: hour}},
		{"negative, nil client", ratelimit.New(nil, "x:"), ratelimit.Limit{N: -1}},
		{"zero, no window", e.l, ratelimit.Limit{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < 100; i++ {
				d, err := tc.l.Allow(context.Background(), "api", "anyone", tc.lim)
				require.NoError(t, err)
				assert.Equal(t, ratelimit.Decision{Allowed: true, Limit: tc.lim.N}, d, "Allow(%+v)", tc.lim)
			}
		})
	}
	assert.Empty(t, e.srv.Keys(t, e.c), "keys written for unlimited requests")
}

func TestInvalidLimit(t *testing.T) {
	l := ratelimit.New(nil, "x:")
	for _, lim := range []ratelimit.Limit{
		{N: 1},
		{N: 1, Window: time.Microsecond},
		{N: 1, Window: -time.Second},
		{N: 1, Window: ratelimit.MaxWindow + time.Millisecond},
		{N: 1 << 40, Window: hour},
	} {
		_, err := l.Allow(context.Background(), "api", "x", lim)
		assert.ErrorIs(t, err, ratelimit.ErrInvalidLimit, "Allow(%+v)", lim)
	}
}

// TestSliding fills one window with requests spread evenly across it, then
// half-way into the next window expects about half the budget: the exact
// sliding count is n/2, and the estimate is within one of it for evenly
// spread traffic (see the package doc).
func TestSliding(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const n = 10
	w := 3 * time.Second // long enough that scheduling delays on a busy machine stay small against it
	lim := ratelimit.Limit{N: n, Window: w}
	start := e.sleepUntilWindowStart(t, w, 0, 0)
	for i := 0; i < n; i++ {
		// at 25ms, 325ms, …, 2725ms into the window
		time.Sleep(time.Until(start.Add(25*time.Millisecond + time.Duration(i)*w/n)))
		d, err := e.l.Allow(ctx, "api", "steady", lim)
		require.NoError(t, err)
		require.True(t, d.Allowed, "request %d filling the window", i)
	}
	time.Sleep(time.Until(start.Add(w + w/2)))
	allowed := 0
	for i := 0; i < 2*n; i++ {
		d, err := e.l.Allow(ctx, "api", "steady", lim)
		require.NoError(t, err)
		if d.Allowed {
			allowed++
		}
	}
	assert.InDelta(t, n/2, allowed, 1, "allowed half-way into the window after a full one")
}

// hostile are bucket, identity pairs a client might send; they seed FuzzKey.
var hostile = []struct {
	name, bucket, identity string
}{
	{"empty", "api", ""},
	{"ipv4", "api", "203.0.113.7"},
	{"ipv6", "api", "2001:db8::1"},
	{"64 bytes", "api", strings.Repeat("a", 64)},
	{"65 bytes", "api", strings.Repeat("a", 65)},
	{"one megabyte", "api", strings.Repeat("x", 1<<20)},
	{"braces", "api", "{evil}"},
	{"reversed braces", "api", "}{"},
	{"brace inside", "api", "a}b{c"},
	{"NUL", "api", "nul\x00byte"},
	{"CRLF", "api", "crlf\r\nSET x y"},
	{"DEL", "api", "\x7f"},
	{"space", "api", "a b"},
	{"non-ASCII", "api", "café"},
	{"invalid UTF-8", "api", "\xff\xfe"},
	{"hashed form", "api", "~" + strings.Repeat("0", 64)},
	{"colon in bucket", "a:b", "c"},
	{"colon in identity", "a", "b:c"},
	{"brace bucket", "{x", "y"},
	{"empty bucket", "", ""},
}

// checkKey asserts that key holds exactly one hash tag and is bounded.
func checkKey(t *testing.T, prefix, key string) {
	t.Helper()
	open, closing := strings.Count(key, "{"), strings.Count(key, "}")
	if open != 1 || closing != 1 || strings.Index(key, "{") > strings.Index(key, "}") {
		t.Fatalf("key %q: want exactly one '{' before one '}'", key)
	}
	if !strings.HasPrefix(key, prefix) || !strings.HasSuffix(key, "}") {
		t.Fatalf("key %q: want %q…}", key, prefix)
	}
	if max := len(prefix) + len("rl:{") + 65 + 1 + 65 + 1; len(key) > max {
		t.Fatalf("key of %d bytes, want at most %d", len(key), max)
	}
}

func TestHostileIdentities(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	lim := ratelimit.Limit{N: 2, Window: hour}
	seen := map[string]string{}
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			key := e.l.Key(tc.bucket, tc.identity)
			checkKey(t, e.srv.Prefix, key)
			if other, ok := seen[key]; ok {
				t.Fatalf("cases %q and %q share key %q", other, tc.name, key)
			}
			seen[key] = tc.name

			d, err := e.l.Allow(ctx, tc.bucket, tc.identity, lim)
			require.NoError(t, err)
			assert.True(t, d.Allowed, "first request")
			assert.Equal(t, 1, d.Remaining, "Remaining")
			n, err := e.c.Do(ctx, e.c.B().Hget().Key(key).Field("c").Build()).AsInt64()
			require.NoError(t, err, "state under Key(%q, %.20q)", tc.bucket, tc.identity)
			assert.Equal(t, int64(1), n, "count under Key")
		})
	}
	assert.Len(t, e.srv.Keys(t, e.c), len(hostile), "one key per case")
}

func FuzzKey(f *testing.F) {
	for _, tc := range hostile {
		f.Add(tc.bucket, tc.identity)
	}
	l := ratelimit.New(nil, "p:")
	f.Fuzz(func(t *testing.T, bucket, identity string) {
		key := l.Key(bucket, identity)
		checkKey(t, "p:", key)
		if key != l.Key(bucket, identity) {
			t.Fatalf("Key(%q, %q) is not deterministic", bucket, identity)
		}
	})
}

func TestNewPanicsOnBraces(t *testing.T) {
	assert.Panics(t, func() { ratelimit.New(nil, "a{") }, "New with a brace in the prefix")
}

func TestDecisionSeconds(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want int64
	}{
		{0, 0},
		{time.Millisecond, 1},
		{time.Second, 1},
		{time.Second + time.Millisecond, 2},
		{hour, 3600},
	}
	for _, tc := range cases {
		d := ratelimit.Decision{Reset: tc.d, RetryAfter: tc.d}
		assert.Equal(t, tc.want, d.ResetSeconds(), "ResetSeconds(%v)", tc.d)
		assert.Equal(t, tc.want, d.RetryAfterSeconds(), "RetryAfterSeconds(%v)", tc.d)
	}
}

func BenchmarkAllow(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	lim := ratelimit.Limit{N: 1 << 29, Window: hour}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.l.Allow(ctx, "api", "bench-serial", lim); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := e.l.Allow(ctx, "api", "bench-parallel", lim); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
