package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/analytics"
	"github.com/shortener/shortener/pkg/geo/geotest"
	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/redisx/redistest"
	"github.com/shortener/shortener/pkg/useragent"
)

// startWorker runs the real worker code (the analytics consumer) until the
// test ends.
func startWorker(t *testing.T, srv *redistest.Server, name string) {
	t.Helper()
	ks, err := redisx.NewKeyspace(srv.Prefix, redisx.DefaultPartitions)
	require.NoError(t, err)
	cls, err := useragent.New(1000)
	require.NoError(t, err)
	c, err := analytics.NewConsumer(analytics.ConsumerConfig{
		Client: srv.Client(t), Keys: ks, Group: "analytics", Name: name, Classifier: cls,
		VisitorKey: []byte("test-visitor-key-0123456789"), Block: 50 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

type report = analytics.Report

func readReport(t *testing.T, e *edgeProc, code string, days int) report {
	t.Helper()
	a := do(t, "GET", fmt.Sprintf("%s/api/v1/links/%s/analytics?days=%d", e.base, code, days), adminKey, "", nil)
	require.Equal(t, 200, a.status, "body %s", a.body)
	var r report
	require.NoError(t, json.Unmarshal(a.body, &r))
	return r
}

// hammer sends requests with a keep-alive pool of workers.
func hammer(t *testing.T, n, conc int, req func(i int) *http.Request) {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: conc}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				resp, err := hc.Do(req(i))
				if !assert.NoError(t, err) {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				assert.Equal(t, 302, resp.StatusCode)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

func TestClicksCountedExactly(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv, "--country-header", "X-Country", "--trusted-proxies", "127.0.0.1/32")
	startWorker(t, srv, "w1")
	a := createLink(t, e, adminKey, map[string]any{"url": "https://example.com/campaign"})
	require.Equal(t, 201, a.status)
	code := a.json(t)["code"].(string)

	type agent struct{ ua, device, browser, os string }
	agents := []agent{
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", "mobile", "Mobile Safari", "iOS"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", "desktop", "Chrome", "Windows"},
		{"Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Safari/537.36", "tablet", "Chrome", "Android"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0", "desktop", "Firefox", "Mac OS X"},
	}
	countries := []string{"DE", "US", "FR", "BR", "JP"}
	referers := []string{"", "https://news.example.org/story", "https://www.search.example.com/?q=x"}
	refDomain := map[string]string{"": "direct", referers[1]: "news.example.org", referers[2]: "search.example.com"}

	const humans, bots = 10000, 1000
	want := report{ByCountry: map[string]int64{}, ByDevice: map[string]int64{"desktop": 0, "mobile": 0, "tablet": 0},
		ByBrowser: map[string]int64{}, ByOS: map[string]int64{}, ByReferer: map[string]int64{}}
	for i := 0; i < humans; i++ {
		ag := agents[i%len(agents)]
		want.ByCountry[countries[i%len(countries)]]++
		want.ByDevice[ag.device]++
		want.ByBrowser[ag.browser]++
		want.ByOS[ag.os]++
		want.ByReferer[refDomain[referers[i%len(referers)]]]++
	}
	started := time.Now().UTC()
	hammer(t, humans+bots, 16, func(i int) *http.Request {
		req, _ := http.NewRequest("GET", e.base+"/"+code, nil)
		if i >= humans {
			req.Header.Set("User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
			req.Header.Set("X-Forwarded-For", "66.249.66.1")
			return req
		}
		req.Header.Set("User-Agent", agents[i%len(agents)].ua)
		req.Header.Set("X-Country", countries[i%len(countries)])
		if r := referers[i%len(referers)]; r != "" {
			req.Header.Set("Referer", r)
		}
		// every human request is a distinct visitor (a distinct client IP)
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.7, 198.18.%d.%d", i/256, i%256))
		return req
	})
	// HEAD is not a click.
	status, _ := rawGet(t, e.base, "HEAD", "/"+code)
	require.Equal(t, "HTTP/1.1 302 Found", status)

	var got report
	require.Eventually(t, func() bool {
		got = readReport(t, e, code, 7)
		return got.TotalClicks >= humans+bots
	}, 60*time.Second, 50*time.Millisecond, "worker did not count every click")
	time.Sleep(200 * time.Millisecond)
	got = readReport(t, e, code, 7)

	assert.EqualValues(t, humans+bots, got.TotalClicks)
	assert.EqualValues(t, humans, got.HumanClicks)
	assert.EqualValues(t, bots, got.BotClicks)
	assert.Equal(t, want.ByCountry, got.ByCountry)
	assert.Equal(t, want.ByDevice, got.ByDevice)
	assert.Equal(t, want.ByBrowser, got.ByBrowser)
	assert.Equal(t, want.ByOS, got.ByOS)
	assert.Equal(t, want.ByReferer, got.ByReferer)
	today := time.Now().UTC()
	assert.Len(t, got.Daily, 7)
	var daySum, hourSum int64
	for _, n := range got.Daily {
		daySum += n
	}
	for _, n := range got.Hourly {
		hourSum += n
	}
	assert.EqualValues(t, humans, daySum, "daily series")
	assert.EqualValues(t, humans, hourSum, "hourly series")
	if started.Format("2006-01-02") == today.Format("2006-01-02") {
		assert.EqualValues(t, humans, got.Daily[today.Format("2006-01-02")], "today holds every click")
	}
	if started.Truncate(time.Hour).Equal(today.Truncate(time.Hour)) {
		assert.EqualValues(t, humans, got.Hourly[today.Format("2006-01-02T15")], "this hour holds every click")
	}
	assert.Len(t, got.Hourly, 48)
	assert.InEpsilon(t, humans, got.UniqueVisitors, 0.02, "unique visitors within 2%%")
	assert.InEpsilon(t, humans, got.UniqueToday, 0.02)
	assert.Len(t, got.RecentClicks, 10)

	link := do(t, "GET", e.base+"/api/v1/links/"+code, "", "", nil).json(t)
	assert.EqualValues(t, humans+bots, link["clicks"], "the link object's clicks is total_clicks")
	stats := do(t, "GET", e.base+"/api/v1/stats", "", "", nil).json(t)
	assert.EqualValues(t, humans+bots, stats["total_clicks"])
	top := do(t, "GET", e.base+"/api/v1/stats/top?limit=5", "", "", nil)
	require.Equal(t, 200, top.status)
	assert.JSONEq(t, fmt.Sprintf(`{"links":[{"code":%q,"url":"https://example.com/campaign","clicks":%d}]}`, code, humans+bots), string(top.body))
	assert.Equal(t, float64(humans+bots+1), metricValue(t, e.ops, "shortener_edge_clicks_flushed_total"), "every click, and the HEAD")
	assert.EqualValues(t, 1, got.HeadRequests, "the HEAD is counted apart")
	assert.Equal(t, 0.0, metricValue(t, e.ops, `shortener_edge_clicks_dropped_total{reason="buffer_full"}`))
}

func TestCachedRedirectDoesNotWaitOnRedis(t *testing.T) {
	srv := redistest.StartPrivate(t)
	e := startEdge(t, srv)
	startWorker(t, srv, "w1")
	code := createLink(t, e, "", map[string]any{"url": "https://example.com/paused"}).json(t)["code"].(string)
	for i := 0; i < 2; i++ {
		status, _ := rawGet(t, e.base, "GET", "/"+code)
		require.Equal(t, "HTTP/1.1 302 Found", status)
	}
	raw := srv.Client(t)
	require.NoError(t, raw.Do(context.Background(), raw.B().ClientPause().Timeout(3000).All().Build()).Error())
	paused := time.Now()
	for i := 0; i < 20; i++ {
		start := time.Now()
		status, h := rawGet(t, e.base, "GET", "/"+code)
		require.Equal(t, "HTTP/1.1 302 Found", status)
		assert.Equal(t, "https://example.com/paused", string(h["location"]))
		assert.Less(t, time.Since(start), 250*time.Millisecond, "a cached redirect waited on paused Redis")
	}
	require.Less(t, time.Since(paused), 3*time.Second, "the redirects must have run during the pause")
	require.Eventually(t, func() bool {
		a := do(t, "GET", e.base+"/api/v1/links/"+code, "", "", nil)
		return a.status == 200 && a.json(t)["clicks"] == float64(22)
	}, 10*time.Second, 20*time.Millisecond, "the clicks made during the pause arrive after it")
}

func TestCountryFromGeoIPDatabase(t *testing.T) {
	srv := redistest.Start(t)
	db := t.TempDir() + "/country.mmdb"
	geotest.WriteDB(t, db, map[string]string{"81.2.69.0/24": "GB", "2001:db8::/32": "DE"})
	e := startEdge(t, srv, "--geoip-db", db, "--trusted-proxies", "127.0.0.0/8")
	startWorker(t, srv, "w1")
	code := createLink(t, e, adminKey, map[string]any{"url": "https://example.com/geo"}).json(t)["code"].(string)
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	for _, xff := range []string{"81.2.69.160", "81.2.69.1", "2001:db8::1", "192.0.2.1", "81.2.69.5, 127.0.0.2"} {
		req, _ := http.NewRequest("GET", e.base+"/"+code, nil)
		req.Header.Set("X-Forwarded-For", xff)
		req.Header.Set("User-Agent", ua)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 302, resp.StatusCode)
	}
	require.Eventually(t, func() bool { return readReport(t, e, code, 1).TotalClicks == 5 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, map[string]int64{"GB": 3, "DE": 1, "unknown": 1}, readReport(t, e, code, 1).ByCountry)
}
