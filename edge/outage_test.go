package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx/redistest"
)

func status(t *testing.T, u string) int {
	t.Helper()
	resp, err := client.Get(u)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestEdgeStartsWithoutRedis(t *testing.T) {
	// A port where no Redis runs yet.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	listen, ops := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		done <- run(ctx, []string{"--listen", listen, "--ops-listen", ops, "--redis", "redis://127.0.0.1:" + strconv.Itoa(port),
			"--log-level", "warn"}, func(string) string { return "" }, io.Discard, logs)
	}()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + ops + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 5*time.Second, 10*time.Millisecond, "the edge is alive without Redis")
	assert.Equal(t, 503, status(t, "http://"+ops+"/readyz"), "not ready without Redis")
	a := do(t, "GET", "http://"+listen+"/abc123", "", "", nil)
	assertProblem(t, a, 503, "urn:shortener:problem:unavailable")
	assert.Equal(t, "1", a.header.Get("Retry-After"))

	// Redis appears on that port: the edge connects and becomes ready.
	redistest.StartOnPort(t, port)
	require.Eventually(t, func() bool { return status(t, "http://"+ops+"/readyz") == 200 }, 15*time.Second, 50*time.Millisecond)
	e := &edgeProc{base: "http://" + listen, ops: "http://" + ops}
	r := createLink(t, e, "", map[string]any{"url": "https://example.com/late"})
	require.Equal(t, 201, r.status, "body %s", r.body)
	assert.Contains(t, logs.String(), "redis not reachable, retrying")
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("edge did not stop")
	}
}

func TestRedisOutage(t *testing.T) {
	srv := redistest.StartPrivate(t, "--appendonly", "yes")
	e := startEdge(t, srv, "--stale-window", "1m")
	startWorker(t, srv, "w1")
	code := createLink(t, e, "", map[string]any{"url": "https://example.com/outage"}).json(t)["code"].(string)
	other := createLink(t, e, "", map[string]any{"url": "https://example.com/other"}).json(t)["code"].(string)
	for i := 0; i < 3; i++ {
		require.Equal(t, 302, status(t, e.base+"/"+code))
	}
	require.Eventually(t, func() bool { return clicksOf(t, e, code) == 3 }, 10*time.Second, 20*time.Millisecond)

	srv.Stop() // Redis is gone
	require.Eventually(t, func() bool { return status(t, e.ops+"/readyz") == 503 }, 5*time.Second, 20*time.Millisecond, "/readyz answers 503 without Redis")
	for i := 0; i < 5; i++ {
		start := time.Now()
		resp, err := client.Get(e.base + "/" + code)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 302, resp.StatusCode, "a recently served code keeps redirecting")
		assert.Equal(t, "https://example.com/outage", resp.Header.Get("Location"))
		assert.Less(t, time.Since(start), time.Second, "redirects never block on the outage")
	}
	assertProblem(t, do(t, "GET", e.base+"/"+other, "", "", nil), 503, "")
	assertProblem(t, do(t, "GET", e.base+"/neverseen", "", "", nil), 503, "")
	assert.Equal(t, 5.0, metricValue(t, e.ops, `shortener_edge_redirects_total{result="stale"}`))
	assert.Zero(t, metricValue(t, e.ops, `shortener_edge_clicks_dropped_total{reason="buffer_full"}`))

	srv.Restart(t) // same port, same AOF: the buffered clicks go through
	require.Eventually(t, func() bool { return status(t, e.ops+"/readyz") == 200 }, 15*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool { return clicksOf(t, e, code) == 8 }, 20*time.Second, 50*time.Millisecond,
		"the 5 clicks made during the outage arrive after it")
	assert.Equal(t, 302, status(t, e.base+"/"+other), "uncached codes resolve again")
}

func TestStaleWindowIsBounded(t *testing.T) {
	srv := redistest.StartPrivate(t)
	e := startEdge(t, srv, "--stale-window", "1s")
	code := createLink(t, e, "", map[string]any{"url": "https://example.com/w"}).json(t)["code"].(string)
	require.Equal(t, 302, status(t, e.base+"/"+code))
	srv.Stop()
	require.Equal(t, 302, status(t, e.base+"/"+code), "within the window")
	time.Sleep(2500 * time.Millisecond)
	assert.Equal(t, 503, status(t, e.base+"/"+code), "past the staleness window the edge says 503")
}

func clicksOf(t *testing.T, e *edgeProc, code string) float64 {
	t.Helper()
	a := do(t, "GET", e.base+"/api/v1/links/"+code, "", "", nil)
	if a.status != 200 {
		return -1
	}
	return a.json(t)["clicks"].(float64)
}
