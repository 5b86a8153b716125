//go:build faults

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx/redistest"
)

const faultAdminKey = "fault-admin-key"

// system is Redis, one edge and workers, run as processes.
type system struct {
	t         *testing.T
	redis     *redistest.Server
	dir       string
	edgeBin   string
	workerBin string
	listen    string
	edgeOps   string
	env       []string
	codes     []string
	hc        *http.Client
	workerSeq int
}

func newSystem(t *testing.T, edgeArgs ...string) *system {
	t.Helper()
	s := &system{t: t, dir: t.TempDir()}
	s.redis = redistest.StartPrivate(t, "--appendonly", "yes", "--appendfsync", "everysec")
	s.edgeBin, s.workerBin = build(t, s.dir, "./edge"), build(t, s.dir, "./worker")
	s.listen, s.edgeOps = freeAddr(t), freeAddr(t)
	s.env = []string{"SHORTENER_REDIS=" + s.redis.URL, "SHORTENER_LOG_FORMAT=text"}
	start(t, s.edgeBin, s.env, append([]string{"--listen", s.listen, "--ops-listen", s.edgeOps,
		"--admin-key", faultAdminKey, "--base-url", "https://sho.rt"}, edgeArgs...)...)
	waitOK(t, "http://"+s.edgeOps+"/readyz")
	s.hc = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for i := 0; i < 20; i++ {
		req, _ := http.NewRequest("POST", "http://"+s.listen+"/api/v1/links", strings.NewReader(fmt.Sprintf(`{"url":"https://example.com/%d"}`, i)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+faultAdminKey)
		resp, err := s.hc.Do(req)
		require.NoError(t, err)
		var l struct{ Code string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&l))
		resp.Body.Close()
		require.Equal(t, 201, resp.StatusCode)
		s.codes = append(s.codes, l.Code)
	}
	return s
}

func (s *system) startWorker(extra ...string) *exec.Cmd {
	s.t.Helper()
	s.workerSeq++
	ops := freeAddr(s.t)
	cmd := start(s.t, s.workerBin, s.env, append([]string{"--ops-listen", ops, "--block", "100ms", "--claim-idle", "1s",
		"--consumer", "fault-worker-" + strconv.Itoa(s.workerSeq)}, extra...)...)
	waitOK(s.t, "http://"+ops+"/healthz")
	return cmd
}

// load sends GETs until ctx ends and counts the redirects served.
type load struct {
	served, unavailable, other atomic.Int64
	wg                         sync.WaitGroup
}

func (s *system) load(ctx context.Context, workers int, pause time.Duration) *load {
	l := &load{}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func(w int) {
			defer l.wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				req, _ := http.NewRequest("GET", "http://"+s.listen+"/"+s.codes[(i*7+w)%len(s.codes)], nil)
				req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")
				resp, err := s.hc.Do(req)
				if err != nil {
					l.other.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case 302:
					l.served.Add(1)
				case 503:
					l.unavailable.Add(1)
				default:
					l.other.Add(1)
				}
				time.Sleep(pause)
			}
		}(w)
	}
	return l
}

func (s *system) metric(name string) float64 {
	s.t.Helper()
	resp, err := http.Get("http://" + s.edgeOps + "/metrics")
	require.NoError(s.t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			require.NoError(s.t, err)
			sum += v
		}
	}
	return sum
}

func (s *system) totalClicks() (int64, bool) {
	req, _ := http.NewRequest("GET", "http://"+s.listen+"/api/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer "+faultAdminKey)
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var st struct {
		TotalClicks int64 `json:"total_clicks"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&st) != nil {
		return 0, false
	}
	return st.TotalClicks, true
}

// account waits for the worker to drain and checks the books: every
// redirect served is a click counted or a click reported dropped.
func (s *system) account(l *load) {
	s.t.Helper()
	l.wg.Wait()
	served := l.served.Load()
	require.Positive(s.t, served)
	assert.EqualValues(s.t, served, s.metric("shortener_edge_redirects_total{result=\"ok\"}")+s.metric("shortener_edge_redirects_total{result=\"stale\"}"),
		"the edge's own count of redirects agrees with the client's")
	var counted int64
	var dropped float64
	ok := assert.Eventually(s.t, func() bool {
		c, ok := s.totalClicks()
		counted, dropped = c, s.metric("shortener_edge_clicks_dropped_total")
		return ok && float64(counted)+dropped == float64(served)
	}, 60*time.Second, 100*time.Millisecond)
	s.t.Logf("served %d redirects (%d answered 503, %d failed): %d clicks counted + %.0f reported dropped",
		served, l.unavailable.Load(), l.other.Load(), counted, dropped)
	if !ok {
		s.t.Errorf("accounting: counted %d + dropped %.0f != served %d", counted, dropped, served)
	}
}

func TestFaultKillWorkerMidDrain(t *testing.T) {
	s := newSystem(t)
	victim := s.startWorker("--batch", "50")
	s.startWorker("--batch", "50")
	ctx, cancel := context.WithCancel(context.Background())
	l := s.load(ctx, 8, 0)
	time.Sleep(2 * time.Second)
	require.NoError(t, victim.Process.Kill()) // kill -9, batches in hand
	_ = victim.Wait()
	time.Sleep(2 * time.Second)
	cancel()
	s.account(l)
	assert.Zero(t, s.metric("shortener_edge_clicks_dropped_total"))
}

func TestFaultRestartRedisUnderLoad(t *testing.T) {
	s := newSystem(t)
	s.startWorker()
	ctx, cancel := context.WithCancel(context.Background())
	l := s.load(ctx, 8, time.Millisecond)
	time.Sleep(1500 * time.Millisecond)
	s.redis.Shutdown(t) // graceful: the AOF holds every acknowledged write
	time.Sleep(1500 * time.Millisecond)
	s.redis.Start(t)
	time.Sleep(2 * time.Second)
	cancel()
	s.account(l)
	assert.Positive(t, s.metric("shortener_edge_redirects_total{result=\"stale\"}"), "cached codes kept redirecting during the restart")
}

func TestFaultPauseRedis(t *testing.T) {
	s := newSystem(t)
	s.startWorker()
	ctx, cancel := context.WithCancel(context.Background())
	l := s.load(ctx, 8, time.Millisecond)
	time.Sleep(time.Second)
	c := s.redis.Client(t)
	require.NoError(t, c.Do(context.Background(), c.B().ClientPause().Timeout(2000).All().Build()).Error())
	time.Sleep(3 * time.Second)
	cancel()
	s.account(l)
	assert.Zero(t, s.metric("shortener_edge_clicks_dropped_total"))
}

func TestFaultFillTheBuffer(t *testing.T) {
	s := newSystem(t, "--click-buffer", "200", "--stale-window", "1m")
	s.startWorker()
	ctx, cancel := context.WithCancel(context.Background())
	l := s.load(ctx, 8, time.Millisecond)
	time.Sleep(time.Second)
	s.redis.Shutdown(t) // appends stop; cached codes keep redirecting and the buffer fills
	time.Sleep(3 * time.Second)
	s.redis.Start(t)
	time.Sleep(2 * time.Second)
	cancel()
	s.account(l)
	assert.Positive(t, s.metric("shortener_edge_clicks_dropped_total"), "the full buffer dropped clicks, and said so")
}

// TestSoak is make soak: a fixed request rate for SOAK_DURATION (default
// 60 s), then a drain; zero errors and exact click accounting.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(envOr("SOAK_DURATION", "60s"))
	require.NoError(t, err)
	rate, err := strconv.Atoi(envOr("SOAK_RATE", "2000"))
	require.NoError(t, err)
	s := newSystem(t)
	s.startWorker()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	l := &load{}
	const workers = 8
	var mu sync.Mutex
	var lat []time.Duration
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func(w int) {
			defer l.wg.Done()
			tick := time.NewTicker(time.Second * workers / time.Duration(rate))
			defer tick.Stop()
			mine := make([]time.Duration, 0, rate*int(d/time.Second)/workers+1)
			defer func() { mu.Lock(); lat = append(lat, mine...); mu.Unlock() }()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				start := time.Now()
				resp, err := s.hc.Get("http://" + s.listen + "/" + s.codes[(i*7+w)%len(s.codes)])
				if err != nil {
					l.other.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(start))
				if resp.StatusCode == 302 {
					l.served.Add(1)
				} else {
					l.other.Add(1)
				}
			}
		}(w)
	}
	s.account(l)
	assert.Zero(t, l.other.Load(), "errors during the soak")
	assert.Zero(t, s.metric("shortener_edge_clicks_dropped_total"))
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		pct := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)] }
		t.Logf("soak: %s at %d req/s: %d redirects, p50 %s, p99 %s, p99.9 %s, max %s",
			d, rate, len(lat), pct(0.5), pct(0.99), pct(0.999), lat[len(lat)-1])
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// TestFaultWebhooksKillWorkerAndRestartRedis: clicks under load are
// delivered to a receiver that fails every request while a worker is
// killed with SIGKILL and Redis restarts; once it recovers, every counted
// click has arrived exactly once per event ID, signed.
func TestFaultWebhooksKillWorkerAndRestartRedis(t *testing.T) {
	s := newSystem(t, "--webhook-allow-private")
	var healthy atomic.Bool
	var failed atomic.Int64
	var mu sync.Mutex
	got := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !healthy.Load() {
			failed.Add(1)
			http.Error(w, "down", 503)
			return
		}
		if !strings.Contains(string(body), `"type":"click"`) {
			http.Error(w, "not a click", 400)
			return
		}
		mu.Lock()
		got[r.Header.Get("webhook-id")]++
		mu.Unlock()
		w.WriteHeader(200)
	}))
	defer rcv.Close()
	req, _ := http.NewRequest("POST", "http://"+s.listen+"/api/v1/webhooks",
		strings.NewReader(`{"url":"`+rcv.URL+`/in","events":["click"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+faultAdminKey)
	resp, err := s.hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 201, resp.StatusCode)

	flags := []string{"--webhook-allow-private", "--webhook-timeout", "1s", "--webhook-backoff", "100ms",
		"--webhook-max-backoff", "500ms", "--webhook-poll-interval", "50ms", "--webhook-attempts", "1000"}
	victim := s.startWorker(flags...)
	s.startWorker(flags...)
	time.Sleep(500 * time.Millisecond) // both have their groups; the webhooks group starts at the end
	ctx, cancel := context.WithCancel(context.Background())
	l := s.load(ctx, 4, 2*time.Millisecond)
	time.Sleep(1500 * time.Millisecond)
	require.NoError(t, victim.Process.Kill()) // leased deliveries and unqueued entries in hand
	_ = victim.Wait()
	time.Sleep(1500 * time.Millisecond)
	s.redis.Shutdown(t)
	time.Sleep(time.Second)
	s.redis.Start(t)
	time.Sleep(1500 * time.Millisecond)
	cancel()
	s.account(l)
	counted, ok := s.totalClicks()
	require.True(t, ok)
	require.Positive(t, failed.Load(), "the receiver failed requests before it recovered")
	healthy.Store(true)
	ok = assert.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return int64(len(got)) == counted
	}, 90*time.Second, 100*time.Millisecond)
	time.Sleep(2 * time.Second) // a duplicate would arrive by now
	mu.Lock()
	defer mu.Unlock()
	var dup int
	for id, n := range got {
		if n != 1 {
			dup++
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	t.Logf("%d clicks counted; %d events delivered (%d twice); %d failed tries before the receiver recovered",
		counted, len(got), dup, failed.Load())
	if !ok {
		t.Errorf("delivered %d distinct events of %d clicks", len(got), counted)
	}
}
