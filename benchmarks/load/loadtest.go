package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redisx"
)

// The servers of the redirect runs, in the order each round drives them.
var loadServers = []struct{ Name, Label string }{
	{"ceiling", "ceiling: fixed 302, no work"},
	{"edge", "edge: cache on, clicks on"},
	{"edge-nocache", "edge: cache off (client_cache=0), clicks on"},
	{"edge-norecord", "edge: cache on, clicks off (--record-clicks=false)"},
}

// The code distributions.
var dists = []string{"uniform", "zipf"}

// zipfSamples is the length of the Zipf path list wrk cycles through.
const zipfSamples = 200000

// runResult is one measured wrk run.
type runResult struct {
	Server, Dist string
	Round        int
	Wrk          wrkResult
	// CPU used during the run, in cores (CPU seconds per second).
	ServerCores, RedisCores, WrkCores float64
	// OtherCores is the CPU every other process on the machine used meanwhile.
	OtherCores float64
	StealPct   float64
	// Context switches of the server's threads per second: voluntary
	// (blocking, waking) and involuntary (preempted for another thread).
	VolCS, InvolCS float64
	Attempt        int // 1, or more when earlier attempts were too noisy
}

// accounting is the exactly-once check of the recording edge's clicks.
type accounting struct {
	WrkCompleted    int64 // completed requests wrk reported, over every run against the edge
	WrkRuns         int   // wrk runs against the edge, warm-ups and profile runs included
	ClientGets      int64 // GETs the harness sent itself (checks, cache warm-up)
	Served          int64 // the edge's shortener_edge_redirects_total{result="ok"}
	Other           int64 // the edge's other redirect results (not_found, expired, error)
	Buffered        int64
	Flushed         int64
	Dropped         int64
	DroppedFull     int64 // of Dropped: the buffer was full
	TotalClicks     int64 // GET /api/v1/stats total_clicks
	Applied         int64 // worker events by result
	Gone, Dead, Dup int64
	Pending         int64 // XPENDING over every partition after the drain
	Lag             int64
	StatusErrors    int64 // non-2xx/3xx answers wrk saw on any server
	DrainTime       time.Duration
	Pass            bool
	Problems        []string
}

// loadResults is everything the redirect phase measured.
type loadResults struct {
	Links           int
	Rounds          int
	Duration        time.Duration
	Warmup          time.Duration
	Connections     int
	Threads         int
	ZipfS           float64
	ZipfTop         float64 // share of requests the hottest code gets
	ZipfDistinct    int     // codes that appear in the Zipf path list
	PreloadTime     time.Duration
	WarmTime        time.Duration
	Runs            []runResult
	Noisy           []runResult // attempts repeated because other processes took CPU
	MaxOther        float64
	EdgeRSSIdle     int64 // after start, nothing resolved
	EdgeRSSHot      int64 // after resolving every code once
	EdgeRSSLoaded   int64 // after the rounds
	CacheHitsWarm   int64 // cache hits / misses of the recording edge after the warm-up
	CacheMissesWarm int64
	Accounting      accounting
	Profiles        []profileResult
}

// load runs the redirect phase and returns the drain check, which waits for
// the worker to apply every click and compares the counts.
func (h *harness) load(ctx context.Context) (func() error, error) {
	o := h.o
	lr := &loadResults{Links: o.links, Rounds: o.rounds, Duration: o.duration, Warmup: o.warmup,
		Connections: o.connections, Threads: o.threads, ZipfS: o.zipfS, MaxOther: o.maxOther}
	h.res.Load = lr
	g := h.group("load")
	fail := func(err error) (func() error, error) { g.stopAll(); return nil, err }

	rs, err := g.startRedis(ctx, "redis")
	if err != nil {
		return fail(err)
	}
	ks, _ := redisx.NewKeyspace("", redisx.DefaultPartitions)
	ksNC, _ := redisx.NewKeyspace("nc:", redisx.DefaultPartitions)
	codes := genCodes(o.links, 1)
	t := time.Now()
	now := time.Now()
	for _, k := range []redisx.Keyspace{ks, ksNC} {
		if err := preloadLinks(ctx, rs.client, k, codes, linkURL, defaultLinks(now)); err != nil {
			return fail(fmt.Errorf("preload links: %w", err))
		}
	}
	lr.PreloadTime = time.Since(t)
	h.logf("preloaded %d links (twice: key prefixes \"\" and \"nc:\") in %s", o.links, lr.PreloadTime.Round(time.Millisecond))

	adminKey := randomHex(24)
	servers := map[string]*service{}
	if servers["ceiling"], err = h.startCeiling(ctx, g, linkURL(0)); err != nil {
		return fail(err)
	}
	edgeFlags := map[string][]string{
		"edge":          {rs.url},
		"edge-nocache":  {rs.url + "?client_cache=0", "--key-prefix", "nc:"},
		"edge-norecord": {rs.url, "--record-clicks=false"},
	}
	for _, name := range []string{"edge", "edge-nocache", "edge-norecord"} {
		f := edgeFlags[name]
		if servers[name], err = h.startEdge(ctx, g, name, f[0], adminKey, f[1:]...); err != nil {
			return fail(err)
		}
	}
	edge := servers["edge"]
	lr.EdgeRSSIdle = edge.rss()
	acc := &lr.Accounting

	// Check the preloaded records: through the store's own decoder, and
	// over HTTP on every edge.
	store := link.NewStore(rs.client, link.Config{Keys: ks})
	for _, i := range []int{0, 1, o.links / 2, o.links - 1} {
		l, err := store.Get(ctx, codes[i])
		if err != nil || l.URL != linkURL(i) || l.ExpiresAt.IsZero() {
			return fail(fmt.Errorf("preloaded link %s reads back as %+v, %v", codes[i], l, err))
		}
		for _, name := range []string{"edge", "edge-nocache", "edge-norecord"} {
			if err := expectRedirect(ctx, servers[name].base+"/"+codes[i], linkURL(i)); err != nil {
				return fail(fmt.Errorf("%s: %w", name, err))
			}
			if name == "edge" {
				acc.ClientGets++
			}
		}
	}
	h.logf("checked preloaded links: store decode and 302 with the stored Location on every edge")

	uniform, zipf := filepath.Join(g.dir, "paths-uniform.txt"), filepath.Join(g.dir, "paths-zipf.txt")
	if lr.ZipfTop, err = pathFiles(codes, o.zipfS, zipfSamples, uniform, zipf); err != nil {
		return fail(err)
	}
	lr.ZipfDistinct = distinctLines(zipf)
	paths := map[string]string{"uniform": uniform, "zipf": zipf}
	h.logf("zipf s=%.2f over %d codes: hottest code %.1f%% of requests, %d distinct codes in %d samples",
		o.zipfS, o.links, 100*lr.ZipfTop, lr.ZipfDistinct, zipfSamples)

	// Warm the client-side caches: resolve every code once.
	t = time.Now()
	var warmed [2]int64
	var warmErr [2]error
	var wg sync.WaitGroup
	for i, name := range []string{"edge", "edge-norecord"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			warmed[i], warmErr[i] = resolveAll(ctx, servers[name].base, codes)
			if warmErr[i] != nil {
				warmErr[i] = fmt.Errorf("warm %s: %w", name, warmErr[i])
			}
		}()
	}
	wg.Wait()
	acc.ClientGets += warmed[0]
	if err := errors.Join(warmErr[:]...); err != nil {
		return fail(err)
	}
	lr.WarmTime = time.Since(t)
	lr.EdgeRSSHot = edge.rss()
	if m, err := edge.metrics(ctx); err == nil {
		lr.CacheHitsWarm = m.int("shortener_edge_cache_lookups_total", `result="hit"`)
		lr.CacheMissesWarm = m.int("shortener_edge_cache_lookups_total", `result="miss"`)
	}
	h.logf("warmed the caches of edge and edge-norecord (%d GETs each) in %s; edge RSS %s idle, %s with %d hot links",
		len(codes), lr.WarmTime.Round(time.Millisecond), mib(lr.EdgeRSSIdle), mib(lr.EdgeRSSHot), len(codes))

	wrk, err := newWrkRunner(g.dir, o.threads, o.connections, h.res.addCommand)
	if err != nil {
		return fail(err)
	}
	count := func(server string, w wrkResult) {
		acc.StatusErrors += w.Status
		if server == "edge" {
			acc.WrkCompleted += w.Requests
			acc.WrkRuns++
		}
	}
	if o.warmup > 0 {
		for _, s := range loadServers {
			w, err := wrk.run(ctx, servers[s.Name].base, uniform, o.warmup)
			if err != nil {
				return fail(err)
			}
			count(s.Name, w)
		}
		h.logf("wrk warm-up of %s per server done", o.warmup)
	}

	if waited, busy := waitQuiet(ctx, o.quietWait, o.maxOther); waited > 3*time.Second || busy > o.maxOther {
		h.logf("waited %s for other processes to calm down (last 2 s: %.2f cores busy)", waited.Round(time.Second), busy)
	}
	retries := o.retries
	for round := 1; round <= o.rounds; round++ {
		for _, dist := range dists {
			for _, s := range loadServers {
				// A run during which other processes took CPU is repeated
				// (at most twice, within the phase's budget); the least
				// disturbed attempt counts, the others are listed.
				var r runResult
				for attempt := 1; ; attempt++ {
					a, err := measureRun(ctx, wrk, servers[s.Name], rs, paths[dist], o.duration)
					if err != nil {
						return fail(err)
					}
					a.Server, a.Dist, a.Round, a.Attempt = s.Name, dist, round, attempt
					count(s.Name, a.Wrk)
					if attempt == 1 || a.OtherCores < r.OtherCores {
						if attempt > 1 {
							lr.Noisy = append(lr.Noisy, r)
						}
						r = a
					} else {
						lr.Noisy = append(lr.Noisy, a)
					}
					if r.OtherCores <= o.maxOther || retries == 0 || attempt == 3 {
						break
					}
					retries--
					h.logf("round %d %-7s %-13s %9.0f req/s while other processes used %.2f cores: repeating it", round, dist, s.Name, a.Wrk.RPS(), a.OtherCores)
				}
				lr.Runs = append(lr.Runs, r)
				h.logf("round %d %-7s %-13s %9.0f req/s  p50 %s  p99 %s  p99.9 %s  cores: wrk %.2f server %.2f redis %.2f other %.2f  cs/s %.0f+%.0f%s",
					round, dist, s.Name, r.Wrk.RPS(), ms(r.Wrk.P50), ms(r.Wrk.P99), ms(r.Wrk.P999),
					r.WrkCores, r.ServerCores, r.RedisCores, r.OtherCores, r.VolCS, r.InvolCS, errNote(r.Wrk))
			}
		}
	}
	lr.EdgeRSSLoaded = edge.rss()

	if o.profile > 0 && h.res.PerfNote == "" {
		for _, name := range []string{"ceiling", "edge"} {
			procs := map[string]*proc{name: servers[name].proc}
			if name == "edge" {
				procs["redis-server"] = rs.proc
			}
			p, w, err := h.profileRun(ctx, g.dir, wrk, servers[name], zipf, procs)
			if err != nil {
				h.logf("profile of %s failed: %v", name, err)
				continue
			}
			count(name, w)
			p.Title = fmt.Sprintf("%s under wrk (zipf, %d connections), system-wide perf for %s", name, o.connections, o.profile)
			lr.Profiles = append(lr.Profiles, p)
			h.logf("profiled %s: %s", name, p.oneLine())
		}
	}

	// Stop the servers that are no longer needed; let the edge flush.
	for _, name := range []string{"ceiling", "edge-nocache", "edge-norecord"} {
		servers[name].stop(15 * time.Second)
	}
	if err := waitFlushed(ctx, edge); err != nil {
		return fail(err)
	}
	// The worker starts only now: on two cores it would take CPU from the
	// edge during the rounds. The consumer group reads from the start of
	// each stream, so nothing appended before it is missed.
	t = time.Now()
	worker, err := h.startWorker(ctx, g, "worker", rs.url, "bench-drain")
	if err != nil {
		return fail(err)
	}
	h.logf("worker started; it drains the edge's clicks while the next phase runs")
	drain := func() error {
		defer func() { g.stopAll(); rs.close() }()
		return h.checkClicks(ctx, rs, ks, edge, worker, adminKey, t)
	}
	return drain, nil
}

// measureRun runs wrk once against s and measures the CPU each process
// used, in cores over the wall time around the wrk process.
func measureRun(ctx context.Context, wrk *wrkRunner, s *service, rs *redisServer, paths string, d time.Duration) (runResult, error) {
	var r runResult
	t0, s0, r0, st0 := time.Now(), s.cpu(), rs.cpu(), readCPUStat()
	v0, i0 := s.ctxSwitches()
	w, err := wrk.run(ctx, s.base, paths, d)
	if err != nil {
		return r, err
	}
	s1, r1, st1 := s.cpu(), rs.cpu(), readCPUStat()
	v1, i1 := s.ctxSwitches()
	secs := time.Since(t0).Seconds()
	r.VolCS, r.InvolCS = float64(v1-v0)/secs, float64(i1-i0)/secs
	r.Wrk = w
	r.ServerCores = (s1 - s0).Seconds() / secs
	r.RedisCores = (r1 - r0).Seconds() / secs
	r.WrkCores = w.CPU.Seconds() / secs
	r.StealPct = st1.stealPct(st0)
	r.OtherCores = max(0, st1.busyCores(st0, secs)-r.ServerCores-r.RedisCores-r.WrkCores)
	return r, nil
}

// waitFlushed waits until the edge's click buffer is empty.
func waitFlushed(ctx context.Context, edge *service) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		m, err := edge.metrics(ctx)
		if err != nil {
			return err
		}
		if m.int("shortener_edge_click_buffer_depth") == 0 &&
			m.int("shortener_edge_clicks_buffered_total") == m.int("shortener_edge_clicks_flushed_total")+m.int("shortener_edge_clicks_dropped_total", `reason="shutdown"`) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("the edge did not flush its click buffer within a minute")
}

// checkClicks waits for the worker to apply every flushed click, then
// compares: every 302 the edge answered must be counted exactly once, as a
// click in GET /api/v1/stats or as a dropped click on the edge.
func (h *harness) checkClicks(ctx context.Context, rs *redisServer, ks redisx.Keyspace, edge, worker *service, adminKey string, started time.Time) error {
	acc := &h.res.Load.Accounting
	em, err := edge.metrics(ctx)
	if err != nil {
		return err
	}
	acc.Served = em.int("shortener_edge_redirects_total", `result="ok"`)
	acc.Other = em.int("shortener_edge_redirects_total") - acc.Served
	acc.Buffered = em.int("shortener_edge_clicks_buffered_total")
	acc.Flushed = em.int("shortener_edge_clicks_flushed_total")
	acc.Dropped = em.int("shortener_edge_clicks_dropped_total")
	acc.DroppedFull = em.int("shortener_edge_clicks_dropped_total", `reason="buffer_full"`)
	deadline := time.Now().Add(15 * time.Minute)
	last, lastChange := int64(-1), time.Now()
	for {
		applied, gone, dead, dup, err := workersEvents(ctx, []*service{worker})
		if err != nil {
			return err
		}
		acc.Applied, acc.Gone, acc.Dead, acc.Dup = applied, gone, dead, dup
		done := applied + gone + dead
		if done >= acc.Flushed {
			break
		}
		// Events of other kinds (HEADs, unknown codes) have counters of
		// their own; the streams say when everything was handled.
		if done == last && time.Since(lastChange) > time.Second {
			if drained, err := streamsDrained(ctx, rs, ks); err != nil {
				return err
			} else if drained {
				break
			}
		}
		if done != last {
			last, lastChange = done, time.Now()
		}
		if time.Since(lastChange) > time.Minute || time.Now().After(deadline) {
			return fmt.Errorf("the worker stopped at %d of %d events", done, acc.Flushed)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	acc.DrainTime = time.Since(started)
	h.logf("worker drained %d events in %s (%.0f events/s, sharing the CPU with the memory phase)",
		acc.Flushed, acc.DrainTime.Round(time.Millisecond), float64(acc.Flushed)/acc.DrainTime.Seconds())
	for p := 0; p < ks.Partitions; p++ {
		pending, lag, err := groupState(ctx, rs, ks.Stream(p), "analytics")
		if err != nil {
			return err
		}
		acc.Pending += pending
		acc.Lag += lag
	}
	var stats struct {
		TotalClicks int64 `json:"total_clicks"`
		TotalLinks  int64 `json:"total_links"`
	}
	if err := getJSON(ctx, edge.base+"/api/v1/stats", map[string]string{"Authorization": "Bearer " + adminKey}, &stats); err != nil {
		return err
	}
	acc.TotalClicks = stats.TotalClicks
	sent := acc.WrkCompleted + acc.ClientGets
	inFlight := acc.Served - sent
	maxInFlight := int64(h.o.connections * acc.WrkRuns)
	check := func(ok bool, format string, args ...any) {
		if !ok {
			acc.Problems = append(acc.Problems, fmt.Sprintf(format, args...))
		}
	}
	check(acc.Served == acc.TotalClicks+acc.Dropped, "edge answered %d redirects but total_clicks %d + dropped %d = %d",
		acc.Served, acc.TotalClicks, acc.Dropped, acc.TotalClicks+acc.Dropped)
	check(acc.Buffered+acc.DroppedFull == acc.Served, "edge buffered %d clicks and dropped %d (buffer full) for %d redirects", acc.Buffered, acc.DroppedFull, acc.Served)
	check(inFlight >= 0 && inFlight <= maxInFlight, "edge answered %d redirects, wrk and the harness completed %d: %d apart, more than the %d requests that can be in flight when wrk stops",
		acc.Served, sent, inFlight, maxInFlight)
	check(acc.Other == 0, "%d redirects were not ok (not_found, expired or error)", acc.Other)
	check(acc.StatusErrors == 0, "wrk saw %d answers that were not 2xx or 3xx", acc.StatusErrors)
	check(acc.Gone == 0 && acc.Dead == 0 && acc.Dup == 0, "worker: %d link_gone, %d dead_letter, %d duplicate", acc.Gone, acc.Dead, acc.Dup)
	check(acc.Pending == 0 && acc.Lag == 0, "streams: %d pending, lag %d after the drain", acc.Pending, acc.Lag)
	acc.Pass = len(acc.Problems) == 0
	verdict := "PASS"
	if !acc.Pass {
		verdict = "FAIL: " + strings.Join(acc.Problems, "; ")
	}
	h.logf("clicks: edge answered %d redirects (wrk completed %d + harness %d; %d were in flight when wrk stopped); total_clicks %d + dropped %d → %s",
		acc.Served, acc.WrkCompleted, acc.ClientGets, inFlight, acc.TotalClicks, acc.Dropped, verdict)
	if !acc.Pass {
		return errors.New("click accounting failed")
	}
	return nil
}

// streamsDrained reports whether the analytics group has read and
// acknowledged every entry of every partition.
func streamsDrained(ctx context.Context, rs *redisServer, ks redisx.Keyspace) (bool, error) {
	for p := 0; p < ks.Partitions; p++ {
		pending, lag, err := groupState(ctx, rs, ks.Stream(p), "analytics")
		if err != nil || pending != 0 || lag != 0 {
			return false, err
		}
	}
	return true, nil
}

// groupState returns the pending count and lag of group on stream.
func groupState(ctx context.Context, rs *redisServer, stream, group string) (pending, lag int64, err error) {
	arr, err := rs.client.Do(ctx, rs.client.B().XinfoGroups().Key(stream).Build()).ToArray()
	if err != nil {
		return 0, 0, fmt.Errorf("xinfo groups %s: %w", stream, err)
	}
	for _, g := range arr {
		m, err := g.AsMap()
		if err != nil {
			return 0, 0, err
		}
		nameMsg, pendingMsg := m["name"], m["pending"]
		if name, _ := nameMsg.ToString(); name != group {
			continue
		}
		pending, _ = pendingMsg.AsInt64()
		if l, ok := m["lag"]; ok && !l.IsNil() {
			lag, _ = l.AsInt64()
		}
	}
	return pending, lag, nil
}

// expectRedirect GETs url and wants a 302 to location.
func expectRedirect(ctx context.Context, url, location string) error {
	req, err := newRequest(ctx, url)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != location {
		return fmt.Errorf("GET %s: %d Location %q, want 302 %q", url, resp.StatusCode, resp.Header.Get("Location"), location)
	}
	return nil
}

// resolveAll GETs every code once from 32 keep-alive connections and wants
// a 302 each time. It returns how many GETs completed.
func resolveAll(ctx context.Context, base string, codes []string) (int64, error) {
	c := &fasthttp.HostClient{Addr: strings.TrimPrefix(base, "http://"), MaxConns: 32}
	var next, done, bad atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.Header.SetUserAgent(mixAgents[0])
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(codes)) {
					return
				}
				req.SetRequestURI(base + "/" + codes[i])
				if err := c.DoTimeout(req, resp, 10*time.Second); err != nil {
					firstErr.CompareAndSwap(nil, err)
					bad.Add(1)
					continue
				}
				done.Add(1)
				if resp.StatusCode() != 302 {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() > 0 {
		return done.Load(), fmt.Errorf("%d of %d GETs did not answer 302 (first error: %v)", bad.Load(), len(codes), firstErr.Load())
	}
	return done.Load(), ctx.Err()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func errNote(w wrkResult) string {
	if w.Errors() == 0 {
		return ""
	}
	return fmt.Sprintf("  ERRORS: %d status, %d connect, %d read, %d write, %d timeout (wrk: %s)", w.Status, w.Connect, w.Read, w.Write, w.Timeout, w.SocketErrorsOrStatusLines)
}
