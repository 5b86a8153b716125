package link_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/redisx/redistest"
)

type env struct {
	srv   *redistest.Server
	raw   rueidis.Client // no client-side cache, for inspection
	ks    redisx.Keyspace
	store *link.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := redistest.Start(t)
	ks, err := redisx.NewKeyspace(srv.Prefix, 16)
	require.NoError(t, err)
	return &env{srv: srv, raw: srv.Client(t), ks: ks, store: newStore(t, srv, ks)}
}

// newStore returns a Store with its own cached client: another "edge".
func newStore(t *testing.T, srv *redistest.Server, ks redisx.Keyspace) *link.Store {
	t.Helper()
	c, err := redisx.New(redisx.Config{URL: srv.URL})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	policy, err := link.NewURLPolicy(0, "https://sho.rt", nil)
	require.NoError(t, err)
	return link.NewStore(c, link.Config{Keys: ks, Policy: policy, DefaultTTL: link.DefaultTTL})
}

func TestCreateGetDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	l, existing, err := e.store.Create(ctx, link.CreateRequest{URL: "https://example.com/a?b=1#c", Owner: "alice"})
	require.NoError(t, err)
	assert.False(t, existing)
	assert.Len(t, l.Code, link.RandomCodeLength)
	assert.WithinDuration(t, time.Now().Add(link.DefaultTTL), l.ExpiresAt, 5*time.Second, "default TTL is one year")

	ttl, err := e.raw.Do(ctx, e.raw.B().Pttl().Key(e.ks.Link(l.Code)).Build()).AsInt64()
	require.NoError(t, err)
	assert.InDelta(t, (link.DefaultTTL + link.TombstoneRetention).Milliseconds(), ttl, 5000, "the record outlives its expiry by the tombstone retention")

	got, err := e.store.Get(ctx, l.Code)
	require.NoError(t, err)
	assert.Equal(t, l, got)

	n, err := e.store.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)

	assert.ErrorIs(t, e.store.Delete(ctx, l.Code, "mallory", false), link.ErrForbidden)
	_, err = e.store.Get(ctx, l.Code)
	require.NoError(t, err, "a refused delete changes nothing")

	require.NoError(t, e.store.Delete(ctx, l.Code, "alice", false))
	_, err = e.store.Get(ctx, l.Code)
	assert.ErrorIs(t, err, link.ErrNotFound)
	assert.ErrorIs(t, e.store.Delete(ctx, l.Code, "alice", false), link.ErrNotFound)
	assert.Empty(t, e.srv.Keys(t, e.raw), "delete leaves no key behind")
	n, err = e.store.Count(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestCustomCode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, _, err := e.store.Create(ctx, link.CreateRequest{URL: "https://example.com/1", CustomCode: "promo", Owner: "alice"})
	require.NoError(t, err)
	_, _, err = e.store.Create(ctx, link.CreateRequest{URL: "https://example.com/2", CustomCode: "promo", Owner: "bob"})
	assert.ErrorIs(t, err, link.ErrCodeTaken)
	got, err := e.store.Get(ctx, "promo")
	require.NoError(t, err)
	assert.Equal(t, "https://example.com/1", got.URL, "a taken code keeps its link")
	_, err = e.store.Get(ctx, "PROMO")
	assert.ErrorIs(t, err, link.ErrNotFound, "codes are case-sensitive")
	for _, code := range []string{"api", "ab", "a/b"} {
		_, _, err = e.store.Create(ctx, link.CreateRequest{URL: "https://example.com/", CustomCode: code})
		assert.Error(t, err, "custom code %q", code)
	}
}

func TestNoDuplicateCodesUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const n = 2000
	codes := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			l, _, err := e.store.Create(ctx, link.CreateRequest{URL: "https://example.com/same", Owner: "alice"})
			if err != nil {
				errs <- err
				return
			}
			codes[i] = l.Code
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	seen := make(map[string]bool, n)
	for _, c := range codes {
		require.False(t, seen[c], "code %q handed out twice", c)
		seen[c] = true
	}
	count, err := e.store.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(n), count)
}

func TestCustomCodeRace(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, taken := 0, 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := e.store.Create(ctx, link.CreateRequest{URL: "https://example.com/", CustomCode: "contested"})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won++
			} else if assert.ErrorIs(t, err, link.ErrCodeTaken) {
				taken++
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, won)
	assert.Equal(t, 49, taken)
}

func TestDedupe(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	req := link.CreateRequest{URL: "https://example.com/dedupe", Owner: "alice", Dedupe: true}
	var wg sync.WaitGroup
	results := make([]link.Link, 20)
	existing := make([]bool, 20)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var err error
			results[i], existing[i], err = e.store.Create(ctx, req)
			assert.NoError(t, err)
		}(i)
	}
	wg.Wait()
	created := 0
	for i := range results {
		assert.Equal(t, results[0].Code, results[i].Code, "concurrent deduped creates give one link")
		if !existing[i] {
			created++
		}
	}
	assert.Equal(t, 1, created)

	other, ex, err := e.store.Create(ctx, link.CreateRequest{URL: req.URL, Owner: "bob", Dedupe: true})
	require.NoError(t, err)
	assert.False(t, ex)
	assert.NotEqual(t, results[0].Code, other.Code, "dedupe is per owner")

	plain, ex, err := e.store.Create(ctx, link.CreateRequest{URL: req.URL, Owner: "alice"})
	require.NoError(t, err)
	assert.False(t, ex)
	assert.NotEqual(t, results[0].Code, plain.Code, "without dedupe a new link is made")

	require.NoError(t, e.store.Delete(ctx, results[0].Code, "alice", false))
	again, ex, err := e.store.Create(ctx, req)
	require.NoError(t, err)
	assert.False(t, ex, "after delete, dedupe makes a new link")
	assert.NotEqual(t, results[0].Code, again.Code)
}

func TestList(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var want []string
	for i := 0; i < 25; i++ {
		l, _, err := e.store.Create(ctx, link.CreateRequest{URL: "https://example.com/" + string(rune('a'+i)), Owner: "alice"})
		require.NoError(t, err)
		want = append([]string{l.Code}, want...) // newest first
		time.Sleep(time.Millisecond)
	}
	_, _, err := e.store.Create(ctx, link.CreateRequest{URL: "https://example.com/bob", Owner: "bob"})
	require.NoError(t, err)
	require.NoError(t, e.store.Delete(ctx, want[3], "alice", false))
	want = append(want[:3], want[4:]...)

	var got []string
	cursor := ""
	pages := 0
	for {
		links, next, err := e.store.List(ctx, "alice", "", cursor, 10)
		require.NoError(t, err)
		pages++
		for _, l := range links {
			assert.Equal(t, "alice", l.Owner)
			got = append(got, l.Code)
		}
		if next == "" {
			break
		}
		cursor = next
		require.Less(t, pages, 10, "pagination does not end")
	}
	assert.Equal(t, want, got)
	assert.Equal(t, 3, pages)
	_, _, err = e.store.List(ctx, "alice", "", "not-a-cursor!", 10)
	assert.ErrorIs(t, err, link.ErrCursor)
}

func TestResolveCachesHitsAndMisses(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A miss is cached: the second lookup costs no round trip.
	_, err := e.store.Resolve(ctx, []byte("later1"))
	require.ErrorIs(t, err, link.ErrNotFound)
	tg, err := e.store.Resolve(ctx, []byte("later1"))
	require.ErrorIs(t, err, link.ErrNotFound)
	assert.True(t, tg.Cached, "second lookup of an unknown code must come from the cache")

	// Creating the code invalidates the cached miss.
	_, _, err = e.store.Create(ctx, link.CreateRequest{URL: "https://example.com/later", CustomCode: "later1"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		tg, err = e.store.Resolve(ctx, []byte("later1"))
		return err == nil
	}, time.Second, time.Millisecond, "created code still answers 404 from the cache")
	assert.Equal(t, "https://example.com/later", tg.URL)
	tg, err = e.store.Resolve(ctx, []byte("later1"))
	require.NoError(t, err)
	assert.True(t, tg.Cached, "a hot code is served from the cache")
}

func TestDeleteInvalidatesOtherEdges(t *testing.T) {
	e := newEnv(t)
	other := newStore(t, e.srv, e.ks)
	ctx := context.Background()
	l, _, err := e.store.Create(ctx, link.CreateRequest{URL: "https://example.com/x", Owner: "alice"})
	require.NoError(t, err)
	for i := 0; i < 2; i++ {
		_, err = other.Resolve(ctx, []byte(l.Code))
		require.NoError(t, err)
	}
	tg, _ := other.Resolve(ctx, []byte(l.Code))
	require.True(t, tg.Cached)

	require.NoError(t, e.store.Delete(ctx, l.Code, "alice", false))
	start := time.Now()
	for {
		_, err = other.Resolve(ctx, []byte(l.Code))
		if err != nil {
			break
		}
		require.Less(t, time.Since(start), 100*time.Millisecond, "the other edge still redirects after 100 ms")
		time.Sleep(time.Millisecond)
	}
	assert.ErrorIs(t, err, link.ErrNotFound)
}

func TestExpiredLink(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	c, err := redisx.New(redisx.Config{URL: e.srv.URL})
	require.NoError(t, err)
	defer c.Close()
	s := link.NewStore(c, link.Config{Keys: e.ks, Now: clock})
	l, _, err := s.Create(ctx, link.CreateRequest{URL: "https://example.com/soon", TTL: time.Hour})
	require.NoError(t, err)
	_, err = s.Resolve(ctx, []byte(l.Code))
	require.NoError(t, err)
	now = now.Add(time.Hour + time.Second) // the cached record says it has expired: 410 at once
	_, err = s.Resolve(ctx, []byte(l.Code))
	assert.ErrorIs(t, err, link.ErrExpired)
	_, err = s.Get(ctx, l.Code)
	assert.ErrorIs(t, err, link.ErrExpired)
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	past := time.Now().Add(-time.Minute)
	for _, tc := range []struct {
		name string
		req  link.CreateRequest
		want error
	}{
		{"bad url", link.CreateRequest{URL: "javascript:alert(1)"}, link.ErrURLScheme},
		{"self", link.CreateRequest{URL: "https://sho.rt/x"}, link.ErrURLSelf},
		{"ttl and expires_at", link.CreateRequest{URL: "https://example.com", TTL: time.Hour, ExpiresAt: time.Now().Add(time.Hour)}, link.ErrTTLAndExpiresAt},
		{"negative ttl", link.CreateRequest{URL: "https://example.com", TTL: -time.Second}, link.ErrTTL},
		{"past expires_at", link.CreateRequest{URL: "https://example.com", ExpiresAt: past}, link.ErrExpiresAt},
		{"negative max clicks", link.CreateRequest{URL: "https://example.com", MaxClicks: -1}, link.ErrMaxClicks},
		{"bad owner", link.CreateRequest{URL: "https://example.com", Owner: "a{b}"}, link.ErrOwner},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.store.Create(ctx, tc.req)
			assert.ErrorIs(t, err, tc.want)
		})
	}
	assert.Empty(t, e.srv.Keys(t, e.raw), "refused creates write nothing")
}

func TestResolveAllocs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	l, _, err := e.store.Create(ctx, link.CreateRequest{URL: "https://example.com/hot"})
	require.NoError(t, err)
	code := []byte(l.Code)
	for i := 0; i < 3; i++ {
		_, err = e.store.Resolve(ctx, code)
		require.NoError(t, err)
	}
	allocs := testing.AllocsPerRun(1000, func() { _, _ = e.store.Resolve(ctx, code) })
	assert.Zero(t, allocs, "a cached resolve allocates")
}
