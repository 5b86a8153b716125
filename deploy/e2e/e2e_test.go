// Package e2e runs the built binaries the way an operator does: Redis, an
// edge, a worker and a real Prometheus (Debian's package) scraping both with
// the alert rules of deploy/prometheus, and reads the results back through
// Prometheus's HTTP query API.
package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx/redistest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// build compiles a main package of the repository into dir.
func build(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", out, pkg)
	cmd.Dir = "../.."
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build %s: %s", pkg, b)
	return out
}

// start runs a process until the test ends (SIGINT, then SIGKILL after 15 s).
func start(t *testing.T, name string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	logFile, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(name)+".log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start(), "start %s", name)
	t.Cleanup(func() {
		if cmd.ProcessState != nil {
			return
		}
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("%s log:\n%s", filepath.Base(name), b)
		}
	})
	return cmd
}

func waitOK(t *testing.T, u string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(u)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 30*time.Second, 50*time.Millisecond, "%s never answered 200", u)
}

// query runs an instant PromQL query and returns the single value.
func query(t *testing.T, prom, q string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(q))
	require.NoError(t, err)
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	require.Equal(t, "success", r.Status, "query %s", q)
	if len(r.Data.Result) != 1 {
		return 0, false
	}
	v, err := strconv.ParseFloat(r.Data.Result[0].Value[1].(string), 64)
	require.NoError(t, err)
	return v, true
}

func TestPrometheusScrapesEdgeAndWorker(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	require.NoError(t, err, "prometheus not found: install Debian's package with `apt-get install -y prometheus` (make check-deploy does)")
	srv := redistest.StartPrivate(t)
	dir := t.TempDir()
	edge, worker := build(t, dir, "./edge"), build(t, dir, "./worker")

	listen, edgeOps, workerOps, promAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	env := []string{"SHORTENER_REDIS=" + srv.URL, "SHORTENER_LOG_FORMAT=text"}
	start(t, worker, env, "--ops-listen", workerOps, "--block", "100ms", "--trim-interval", "1s",
		"--metrics-campaign-codes", "promo", "--consumer", "e2e-worker")
	start(t, edge, env, "--listen", listen, "--ops-listen", edgeOps, "--base-url", "https://sho.rt",
		"--admin-key", "e2e-admin-key", "--rate-create-anonymous", "1")
	waitOK(t, "http://"+edgeOps+"/readyz")
	waitOK(t, "http://"+workerOps+"/readyz")

	rules, err := filepath.Abs("../prometheus/alerts.yml")
	require.NoError(t, err)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: shortener-edge
    static_configs: [{targets: [%q]}]
  - job_name: shortener-worker
    static_configs: [{targets: [%q]}]
`, rules, edgeOps, workerOps)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600))
	start(t, promBin, nil, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)
	prom := "http://" + promAddr
	waitOK(t, prom+"/-/ready")

	// A campaign link, driven with a known mix; one refused anonymous create.
	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(key, body string) int {
		req, _ := http.NewRequest("POST", "http://"+listen+"/api/v1/links", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, 201, post("e2e-admin-key", `{"url":"https://example.com/e2e","custom_code":"promo"}`))
	require.Equal(t, 201, post("", `{"url":"https://example.com/anon"}`))
	require.Equal(t, 429, post("", `{"url":"https://example.com/anon2"}`))
	const humans, bots = 240, 60
	for i := 0; i < humans+bots; i++ {
		req, _ := http.NewRequest("GET", "http://"+listen+"/promo", nil)
		if i < humans {
			req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")
		} else {
			req.Header.Set("User-Agent", "curl/8.5.0")
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 302, resp.StatusCode)
	}
	resp, err := hc.Get("http://" + listen + "/missing1")
	require.NoError(t, err)
	resp.Body.Close()

	expect := map[string]float64{
		`sum(shortener_edge_redirects_total{result="ok"})`:                humans + bots,
		`sum(shortener_edge_redirects_total{result="not_found"})`:         1,
		`sum(shortener_edge_clicks_flushed_total)`:                        humans + bots + 1, // and the orphan visit
		`sum(shortener_worker_orphan_visits_total)`:                       1,
		`sum(shortener_worker_clicks_total)`:                              humans + bots,
		`sum(shortener_worker_clicks_total{kind="bot"})`:                  bots,
		`sum(shortener_worker_clicks_by_device_total{device="desktop"})`:  humans,
		`sum(shortener_worker_clicks_by_browser_total{browser="Chrome"})`: humans,
		`sum(shortener_worker_clicks_by_referer_total{referer="direct"})`: humans,
		`sum(shortener_worker_campaign_clicks_total{code="promo"})`:       humans + bots,
		`sum(shortener_edge_rate_limited_total{bucket="create"})`:         1,
		`sum(shortener_edge_clicks_dropped_total)`:                        0,
		`sum(shortener_edge_redis_up) + sum(shortener_worker_redis_up)`:   2,
		`sum(up{job=~"shortener-.*"})`:                                    2,
		`max(shortener_worker_consumer_lag)`:                              0,
		`count(ALERTS{alertstate="firing"})`:                              0,
	}
	var last map[string]float64
	assert.Eventually(t, func() bool {
		last = map[string]float64{}
		ok := true
		for q, want := range expect {
			v, found := query(t, prom, q)
			if !found && want == 0 {
				v, found = 0, true // an empty result is a zero here (no firing alert, no series yet)
			}
			last[q] = v
			if !found || v != want {
				ok = false
			}
		}
		return ok
	}, 60*time.Second, 250*time.Millisecond, "Prometheus never saw the expected figures (see below)")
	for q, want := range expect {
		assert.Equal(t, want, last[q], q)
	}

	// The metric names are a contract with dashboards and alerts: compare
	// them with the golden file (UPDATE_GOLDEN=1 rewrites it).
	resp, err = http.Get(prom + "/api/v1/label/__name__/values")
	require.NoError(t, err)
	var names struct {
		Data []string `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&names))
	resp.Body.Close()
	var ours []string
	for _, n := range names.Data {
		if strings.HasPrefix(n, "shortener_") {
			ours = append(ours, strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count"))
		}
	}
	sort.Strings(ours)
	ours = dedupe(ours)
	golden := filepath.Join("testdata", "metrics.golden")
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		require.NoError(t, os.WriteFile(golden, []byte(strings.Join(ours, "\n")+"\n"), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run with UPDATE_GOLDEN=1 to create %s", golden)
	assert.Equal(t, strings.TrimSpace(string(want)), strings.Join(ours, "\n"), "metric names changed: dashboards and alerts depend on them")

	// The alert rules of deploy/prometheus were loaded and evaluated.
	resp, err = http.Get(prom + "/api/v1/rules")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, alert := range []string{"ShortenerClicksDropped", "ShortenerRedisUnreachable", "ShortenerWorkerLagGrowing"} {
		assert.Contains(t, string(body), alert)
	}
	assert.NotContains(t, string(body), `"health":"err"`)
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
