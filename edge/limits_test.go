package main

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/redisx/redistest"
)

func TestMaxClicksExactUnderConcurrency(t *testing.T) {
	srv := redistest.Start(t)
	a, b := startEdge(t, srv), startEdge(t, srv)
	startWorker(t, srv, "w1")
	resp := createLink(t, a, adminKey, map[string]any{"url": "https://example.com/limited", "max_clicks": 100})
	require.Equal(t, 201, resp.status)
	code := resp.json(t)["code"].(string)
	// Both edges have the link cached before the rush.
	for _, e := range []*edgeProc{a, b} {
		status, _ := rawGet(t, e.base, "HEAD", "/"+code)
		require.Equal(t, "HTTP/1.1 302 Found", status, "HEAD does not use up a click")
	}
	var redirected, gone atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			e := a
			if i%2 == 1 {
				e = b
			}
			<-start
			r, err := client.Get(e.base + "/" + code)
			if !assert.NoError(t, err) {
				return
			}
			r.Body.Close()
			switch r.StatusCode {
			case 302:
				redirected.Add(1)
			case 410:
				gone.Add(1)
			default:
				t.Errorf("status %d", r.StatusCode)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	assert.EqualValues(t, 100, redirected.Load(), "exactly max_clicks redirects")
	assert.EqualValues(t, 100, gone.Load())
	for _, method := range []string{"GET", "HEAD"} {
		status, h := rawGet(t, b.base, method, "/"+code)
		assert.Equal(t, "HTTP/1.1 410 Gone", status, method)
		assert.Empty(t, h["location"])
	}
	assert.Equal(t, 101.0, metricValue(t, a.ops, `shortener_edge_redirects_total{result="limit_reached"}`)+metricValue(t, b.ops, `shortener_edge_redirects_total{result="limit_reached"}`)-1,
		"every refused GET and HEAD is counted (one HEAD on b after the rush)")
	require.Eventually(t, func() bool {
		l := do(t, "GET", a.base+"/api/v1/links/"+code, "", "", nil)
		return l.status == 200 && l.json(t)["clicks"] == 100.0
	}, 10*time.Second, 20*time.Millisecond, "the worker counts exactly the 100 redirects")
	// A link without a limit stays on the cached path: no extra Redis key.
	plain := createLink(t, a, adminKey, map[string]any{"url": "https://example.com/plain"}).json(t)["code"].(string)
	status, _ := rawGet(t, a.base, "GET", "/"+plain)
	require.Equal(t, "HTTP/1.1 302 Found", status)
	ks, _ := redisx.NewKeyspace(srv.Prefix, redisx.DefaultPartitions)
	n, err := srv.Client(t).Do(context.Background(), srv.Client(t).B().Exists().Key(ks.ClickLimit(plain)).Build()).AsInt64()
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestExpiredLinkAnswers410AndLeavesNoData(t *testing.T) {
	srv := redistest.Start(t)
	a, b := startEdge(t, srv), startEdge(t, srv)
	startWorker(t, srv, "w1")
	raw := srv.Client(t)
	ks, err := redisx.NewKeyspace(srv.Prefix, redisx.DefaultPartitions)
	require.NoError(t, err)
	resp := createLink(t, a, adminKey, map[string]any{"url": "https://example.com/short-lived", "ttl": 2, "max_clicks": 50})
	require.Equal(t, 201, resp.status)
	code := resp.json(t)["code"].(string)
	expires, err := time.Parse(time.RFC3339, resp.json(t)["expires_at"].(string))
	require.NoError(t, err)
	created, _ := time.Parse(time.RFC3339, resp.json(t)["created_at"].(string))
	require.Contains(t, []time.Duration{2 * time.Second, 3 * time.Second}, expires.Sub(created), "ttl 2 s, rounded up to a whole second")
	for i := 0; i < 3; i++ {
		for _, e := range []*edgeProc{a, b} {
			status, _ := rawGet(t, e.base, "GET", "/"+code)
			require.Equal(t, "HTTP/1.1 302 Found", status)
		}
	}
	require.Eventually(t, func() bool {
		n, _ := raw.Do(context.Background(), raw.B().Hget().Key(ks.ClickTotals(code)).Field("bot").Build()).AsInt64()
		return n == 6 // rawGet sends no User-Agent: bots
	}, 5*time.Second, 10*time.Millisecond, "clicks applied before expiry")

	// Both edges answer 410 as soon as the link expires, not when a cache
	// entry happens to age out.
	time.Sleep(time.Until(expires) + 30*time.Millisecond)
	for _, e := range []*edgeProc{a, b} {
		status, _ := rawGet(t, e.base, "GET", "/"+code)
		assert.Equal(t, "HTTP/1.1 410 Gone", status)
	}
	assertProblem(t, do(t, "GET", a.base+"/api/v1/links/"+code, "", "", nil), 410, "urn:shortener:problem:expired")

	// The sweeper turns it into a tombstone; its data leaves Redis.
	store := link.NewStore(raw, link.Config{Keys: ks})
	total := 0
	for p := 0; p < ks.Partitions; p++ {
		_, n, err := store.Sweep(context.Background(), p)
		require.NoError(t, err)
		total += n
	}
	assert.Equal(t, 1, total)
	var left []string
	for _, k := range srv.Keys(t, raw) {
		if strings.Contains(k, code) {
			left = append(left, k)
		}
	}
	// Per-day keys expire with the link; give Redis's expiry a moment.
	require.Eventually(t, func() bool {
		left = left[:0]
		for _, k := range srv.Keys(t, raw) {
			if strings.Contains(k, code) {
				left = append(left, k)
			}
		}
		return len(left) == 1
	}, 3*time.Second, 20*time.Millisecond)
	assert.Equal(t, []string{ks.Link(code)}, left, "only the tombstone is left")
	tomb, err := raw.Do(context.Background(), raw.B().Get().Key(ks.Link(code)).Build()).ToString()
	require.NoError(t, err)
	assert.NotContains(t, tomb, "example.com", "the tombstone holds no data")
	for p := 0; p < ks.Partitions; p++ {
		for _, key := range []string{ks.Expiry(p), ks.Top(p)} {
			score := raw.Do(context.Background(), raw.B().Zscore().Key(key).Member(code).Build())
			assert.True(t, score.Error() != nil, "%s still indexes the expired code", key)
		}
	}
	for _, e := range []*edgeProc{a, b} {
		status, _ := rawGet(t, e.base, "GET", "/"+code)
		assert.Equal(t, "HTTP/1.1 410 Gone", status, "a tombstone still answers 410")
	}
	assertProblem(t, createLink(t, a, adminKey, map[string]any{"url": "https://example.com/x", "custom_code": code}), 409, "")
	stats := do(t, "GET", a.base+"/api/v1/stats", "", "", nil).json(t)
	assert.EqualValues(t, 0, stats["total_links"])
}
