package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shortener/shortener/benchmarks/internal/chart"
)

// chartFile is the chart's name, beside the report.
const chartFile = "results.png"

// writeReport writes the Markdown report to path and the chart beside it.
func writeReport(path string, r *results) error {
	if r.Load != nil && len(r.Load.Runs) > 0 {
		f, err := os.Create(filepath.Join(filepath.Dir(path), chartFile))
		if err != nil {
			return err
		}
		if err := loadChart(r.Load).WritePNG(f, 1400, 640); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return os.WriteFile(path, []byte(markdown(r)), 0o644)
}

func loadChart(lr *loadResults) chart.Chart {
	var rps, p99 []chart.Group
	for _, s := range loadServers {
		label := strings.NewReplacer("edge-nocache", "edge\nno cache", "edge-norecord", "edge\nno clicks", "edge", "edge\nclicks on").Replace(s.Name)
		var a, b []float64
		for _, d := range dists {
			sum := lr.summary(s.Name, d)
			a = append(a, sum.RPS)
			b = append(b, float64(sum.P99)/float64(time.Millisecond))
		}
		rps = append(rps, chart.Group{Label: label, Values: a})
		p99 = append(p99, chart.Group{Label: label, Values: b})
	}
	return chart.Chart{
		Title:  fmt.Sprintf("Redirects: wrk -t%d -c%d, medians of up to %d runs of %s", lr.Threads, lr.Connections, lr.Rounds, lr.Duration),
		Series: []chart.Series{{Name: "uniform codes", Color: chart.Palette[0]}, {Name: fmt.Sprintf("zipf codes (s=%.1f)", lr.ZipfS), Color: chart.Palette[1]}},
		Panels: []chart.Panel{
			{Title: "requests/s", Groups: rps, Format: kilo, Lines: []chart.Line{{Value: 10 * expressRPS, Label: "10× node/express"}}},
			{Title: "p99 latency, ms", Groups: p99},
		},
	}
}

func kilo(v float64) string {
	if v >= 1000 && math.Mod(v, 1000) == 0 {
		return fmt.Sprintf("%.0fk", v/1000)
	}
	if v >= 1000 {
		return fmt.Sprintf("%.1fk", v/1000)
	}
	return fmt.Sprintf("%.0f", v)
}

// markdown renders the whole report.
func markdown(r *results) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# Load benchmark results")
	p("")
	p("Written by the load harness (`%s`) on %s UTC; the whole run took **%s**. "+
		"Do not edit by hand: run the harness again. What each part measures and how to run it: [README.md](README.md).",
		strings.Join(r.Args, " "), r.Started.UTC().Format("2006-01-02 15:04"), r.Total.Round(time.Second))
	p("")
	if len(r.Errors) > 0 {
		p("**Errors in this run:**")
		p("")
		for _, e := range r.Errors {
			p("- %s", oneLineMD(e))
		}
		p("")
	}

	m := r.Machine
	p("## Machine")
	p("")
	p("| | |")
	p("| --- | --- |")
	hv := ""
	if m.Hypervisor != "" {
		hv = ", virtual machine (" + m.Hypervisor + ")"
	}
	p("| CPU | %s, %d cores%s |", m.CPU, m.Cores, hv)
	p("| memory | %s |", m.Memory)
	p("| kernel | %s |", m.Kernel)
	p("| Go | %s |", m.Go)
	p("| Redis | %s |", m.Redis)
	p("| wrk | %s |", m.Wrk)
	p("")
	p("**Everything shares %d cores.** wrk, the server under test and Redis run on the same machine, so each "+
		"takes CPU from the others: absolute figures are lower than with the load generator and Redis on their "+
		"own machines, and latency percentiles include time spent waiting for a core. The tables give the "+
		"cores each process used during each run (CPU seconds per second, from /proc; \"other\" is every process "+
		"outside the test, such as other users of the machine), and the steal time the hypervisor took. Each configuration runs in alternation with the others, round after round, so a noisy "+
		"moment hits one round, not one configuration.", m.Cores)
	p("")

	writeTargets(p, r)
	if r.Load != nil && len(r.Load.Runs) > 0 {
		writeLoad(p, r.Load)
	}
	if r.Worker != nil && len(r.Worker.Runs) > 0 {
		writeWorker(p, r.Worker)
	}
	if r.Memory != nil {
		writeMemory(p, r.Memory, r.Load)
	}
	if len(r.Micro) > 0 {
		p("## Allocations per redirect")
		p("")
		p("`go %s` (the handler on a cache hit, without the network; `cached+record` includes the click hand-off):", strings.Join(microArgs, " "))
		p("")
		p("| benchmark | ns/op | B/op | allocs/op |")
		p("| --- | ---: | ---: | ---: |")
		for _, mr := range r.Micro {
			p("| %s | %.1f | %d | %d |", mr.Name, mr.NsPerOp, mr.BPerOp, mr.AllocsOp)
		}
		p("")
	}
	writeProfiles(p, r)

	p("## Commands")
	p("")
	p("Every command the harness ran, once per shape (`$TMP` is its temporary directory, `$PORT` a free port):")
	p("")
	p("```sh")
	p("%s", strings.Join(r.Args, " "))
	for _, c := range r.Commands {
		p("%s", c)
	}
	p("```")
	p("")
	p("Time per phase: %s.", phaseList(r.PhaseTimes))
	return b.String()
}

func writeTargets(p func(string, ...any), r *results) {
	p("## Targets")
	p("")
	p("| target | measured | result |")
	p("| --- | --- | --- |")
	for _, t := range r.Targets {
		p("| %s | %s | **%s** |", t.Name, t.Got, t.Status)
	}
	if acc := r.accounting(); acc != nil {
		v := "**PASS**"
		if !acc.Pass {
			v = "**FAIL**: " + strings.Join(acc.Problems, "; ")
		}
		p("| every click the edge answered counted exactly once | %s redirects = %s in `total_clicks` + %s dropped | %s |",
			nI(acc.Served), nI(acc.TotalClicks), nI(acc.Dropped), v)
	}
	p("")
	var missed []targetResult
	for _, t := range r.Targets {
		if len(t.Bound) > 0 {
			missed = append(missed, t)
		}
	}
	if len(missed) == 0 {
		return
	}
	p("### What bounds the missed targets")
	p("")
	for _, t := range missed {
		p("**%s** (%s)", t.Name, t.Got)
		p("")
		for _, line := range t.Bound {
			p("- %s", line)
		}
		p("")
	}
}

func writeLoad(p func(string, ...any), lr *loadResults) {
	p("## Redirects")
	p("")
	p("%s links preloaded (records and expiry index written directly in the documented format, %d-byte URLs, "+
		"checked through `link.Store` and over HTTP), each server warmed (%s GETs per cache-on edge resolve every code once; "+
		"then %s of wrk per server), then %d rounds; each round runs every server for %s with uniform codes "+
		"(every code in turn, shuffled) and with Zipf codes (s=%.2f: the hottest code gets %.1f%% of requests; "+
		"%s distinct codes in the %s-path list), `wrk -t%d -c%d`. Requests carry a desktop Chrome User-Agent. "+
		"The worker is not running during the rounds (clicks wait in the streams; it drains them afterwards), "+
		"so it takes no CPU from the edge.",
		nI(int64(lr.Links)), urlLen, nI(int64(lr.Links)), lr.Warmup, lr.Rounds, lr.Duration, lr.ZipfS, 100*lr.ZipfTop, nI(int64(lr.ZipfDistinct)), nI(zipfSamples),
		lr.Threads, lr.Connections)
	p("")
	p("![requests/s and p99 per configuration](%s)", chartFile)
	p("")
	p("### Medians over the rounds")
	p("")
	p("Medians over the runs during which other processes used at most %.2f cores (the \"runs\" column; every run when fewer than two qualify). Every run is listed further down.", lr.MaxOther)
	p("")
	p("| server | codes | runs | req/s | p50 | p99 | p99.9 | req/s vs ceiling | p99 vs ceiling | cores: wrk / server / Redis / other | CPU µs per request: server / Redis / wrk | server context switches/s: voluntary / involuntary |")
	p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |")
	for _, s := range loadServers {
		for _, d := range dists {
			sum := lr.summary(s.Name, d)
			ratio, pr := "—", "—"
			if s.Name != "ceiling" {
				ratio, pr = fmt.Sprintf("%.0f%%", 100*sum.RatioRPS), fmt.Sprintf("%.2f×", sum.RatioP99)
			}
			p("| %s | %s | %d of %d | %s | %s | %s | %s | %s | %s | %.2f / %.2f / %.2f / %.2f | %.1f / %.1f / %.1f | %s / %s |", s.Label, d, sum.Runs, sum.AllRuns, n0(sum.RPS), ms(sum.P50), ms(sum.P99), ms(sum.P999),
				ratio, pr, sum.WrkCores, sum.ServerCores, sum.RedisCores, sum.OtherCores, sum.ServerUs, sum.RedisUs, sum.WrkUs, n0(sum.VolCS), n0(sum.InvolCS))
		}
	}
	p("")
	p("### Edge (clicks on) / ceiling, per round")
	p("")
	p("A round counts in the median when other processes used at most %.2f cores during both of its runs; when fewer than two rounds qualify, the target uses the ratio of the medians above instead.", lr.MaxOther)
	p("")
	p("| round | uniform req/s | zipf req/s | uniform p99 | zipf p99 |")
	p("| --- | ---: | ---: | ---: | ---: |")
	type col struct {
		rounds   []int
		rps, p99 []float64
	}
	cols := map[string]col{}
	for _, d := range dists {
		var c col
		c.rounds, c.rps, c.p99 = lr.ratios("edge", d)
		cols[d] = c
	}
	cell := func(d string, round int, p99 bool) string {
		e, ok1 := lr.run("edge", d, round)
		c, ok2 := lr.run("ceiling", d, round)
		if !ok1 || !ok2 || c.Wrk.RPS() == 0 || c.Wrk.P99 == 0 {
			return "—"
		}
		v := e.Wrk.RPS() / c.Wrk.RPS()
		if p99 {
			v = float64(e.Wrk.P99) / float64(c.Wrk.P99)
		}
		for _, r := range cols[d].rounds {
			if r == round {
				return fmt.Sprintf("%.2f", v)
			}
		}
		return fmt.Sprintf("(%.2f, noisy)", v)
	}
	for round := 1; round <= lr.Rounds; round++ {
		p("| %d | %s | %s | %s | %s |", round, cell("uniform", round, false), cell("zipf", round, false), cell("uniform", round, true), cell("zipf", round, true))
	}
	med := func(d string, p99 bool) string {
		c := cols[d]
		if len(c.rounds) < 2 {
			s := lr.summary("edge", d)
			if p99 {
				return fmt.Sprintf("%.2f (ratio of the medians)", s.RatioP99)
			}
			return fmt.Sprintf("%.2f (ratio of the medians)", s.RatioRPS)
		}
		if p99 {
			return fmt.Sprintf("%.2f", median(c.p99))
		}
		return fmt.Sprintf("%.2f", median(c.rps))
	}
	p("| **median** | **%s** | **%s** | **%s** | **%s** |", med("uniform", false), med("zipf", false), med("uniform", true), med("zipf", true))
	p("")
	p("### Every run")
	p("")
	writeRuns(p, lr.Runs)
	if len(lr.Noisy) > 0 {
		p("Attempts repeated because processes outside the test used more than %.2f cores during them (the least disturbed attempt of each run is the one above):", lr.MaxOther)
		p("")
		writeRuns(p, lr.Noisy)
	}
	acc := lr.Accounting
	p("### Clicks counted exactly once")
	p("")
	p("After the rounds the worker starts, drains every click the recording edge appended, and the counts are compared. "+
		"wrk stops with up to %d requests in flight, which the edge may already have answered (and recorded) without wrk counting them, "+
		"so the exact comparison uses the edge's own count of the 302s it sent; wrk's count must be at most %d × runs below it.", lr.Connections, lr.Connections)
	p("")
	p("| | |")
	p("| --- | ---: |")
	p("| GETs completed by wrk against the edge (%d runs: warm-up, rounds, profile) | %s |", acc.WrkRuns, nI(acc.WrkCompleted))
	p("| GETs the harness sent itself (checks, cache warm-up) | %s |", nI(acc.ClientGets))
	p("| 302s the edge answered (`shortener_edge_redirects_total{result=\"ok\"}`) | %s |", nI(acc.Served))
	p("| … in flight when wrk stopped (answered, not counted by wrk) | %d |", acc.Served-acc.WrkCompleted-acc.ClientGets)
	p("| other redirect results (not found, expired, error) | %d |", acc.Other)
	p("| answers that were not 2xx/3xx, over every server and run (wrk) | %d |", acc.StatusErrors)
	p("| clicks buffered / flushed to the streams by the edge | %s / %s |", nI(acc.Buffered), nI(acc.Flushed))
	p("| clicks dropped by the edge (`shortener_edge_clicks_dropped_total`) | %d |", acc.Dropped)
	p("| worker events applied / link_gone / dead_letter / duplicate | %s / %d / %d / %d |", nI(acc.Applied), acc.Gone, acc.Dead, acc.Dup)
	p("| pending entries and lag left in the streams | %d / %d |", acc.Pending, acc.Lag)
	p("| `GET /api/v1/stats` total_clicks (with the admin key) | %s |", nI(acc.TotalClicks))
	verdict := "**PASS**: 302s answered = total_clicks + dropped"
	if !acc.Pass {
		verdict = "**FAIL**: " + strings.Join(acc.Problems, "; ")
	}
	p("| result | %s |", verdict)
	p("")
	if acc.DrainTime > 0 {
		p("The drain took %s (%s events/s while sharing the CPU with the memory phase; the worker phase below measures the worker alone).",
			acc.DrainTime.Round(time.Millisecond), n0(float64(acc.Flushed)/acc.DrainTime.Seconds()))
		p("")
	}
}

func writeRuns(p func(string, ...any), runs []runResult) {
	p("| round | codes | server | req/s | p50 | p90 | p99 | p99.9 | max | non-2xx/3xx | socket errors | cores: wrk / server / Redis / other | server context switches/s: voluntary / involuntary | steal |")
	p("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |")
	for _, r := range runs {
		w := r.Wrk
		round := fmt.Sprint(r.Round)
		if r.Attempt > 1 {
			round += fmt.Sprintf(" (attempt %d)", r.Attempt)
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %d | %.2f / %.2f / %.2f / %.2f | %s / %s | %.1f%% |", round, r.Dist, r.Server, n0(w.RPS()),
			ms(w.P50), ms(w.P90), ms(w.P99), ms(w.P999), ms(w.Max), w.Status, w.Connect+w.Read+w.Write+w.Timeout,
			r.WrkCores, r.ServerCores, r.RedisCores, r.OtherCores, n0(r.VolCS), n0(r.InvolCS), r.StealPct)
	}
	p("")
}

func writeWorker(p func(string, ...any), wr *workerResults) {
	p("## Worker")
	p("")
	p("A fresh Redis gets %d links and a backlog of click events (encoded with `clicks.AppendEncode`, XADD to `clicks:{pN}` "+
		"by the code's partition in pipelined batches of 1000; a mix of 12 browsers and bots, 20 countries, 9 referers, "+
		"a million visitors, times in the last hour). Then `bin/worker` (default flags: batch 256) starts and the clock runs "+
		"until `shortener_worker_events_total` covers every event. Redis commands are INFO commandstats deltas (calls made "+
		"inside the apply script count too).", wr.Links)
	p("")
	p("| workers | events | preload | drain | events/s | Redis commands/event | cores: Redis / workers / other processes |")
	p("| ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	row := func(r workerRun, note string) {
		p("| %d%s | %s | %s | %s | **%s** | %.1f | %.2f / %.2f / %.2f |", r.Workers, note, nI(int64(r.Events)), r.PreloadTime.Round(time.Millisecond),
			r.Elapsed.Round(time.Millisecond), n0(r.EventsPerSec), r.PerEvent, r.RedisCores, r.WorkerCores, r.OtherCores)
	}
	for _, r := range wr.Runs {
		if r.Webhooks {
			row(r, " + its webhooks group")
			continue
		}
		row(r, "")
	}
	for _, r := range wr.Noisy {
		row(r, " (the more disturbed of two attempts, not counted)")
	}
	p("")
	for _, h := range wr.Runs {
		if h.Webhooks {
			p("The other runs use `--webhooks=false`. The default worker also reads every event in its `webhooks` consumer "+
				"group; with that group created before the backlog (no subscriptions, so each event is read, its link looked "+
				"up through the client-side cache, and acknowledged) one worker applied analytics at %s events/s, %.0f%% of "+
				"the run without it, and the webhooks group had read every event after %s.",
				n0(h.EventsPerSec), 100*h.EventsPerSec/wr.Runs[0].EventsPerSec, h.WebhooksElapsed.Round(time.Millisecond))
			p("")
		}
	}
	r := wr.Runs[0]
	var parts []string
	for i, c := range r.TopCommands {
		if i == 14 {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.2f", c.Name, float64(c.N)/float64(r.Events)))
	}
	p("Commands per event with one worker: %s.", strings.Join(parts, ", "))
	p("")
	if len(wr.Bench) > 0 {
		p("Redis on the same machine, same run (`redis-benchmark -q -n 200000 -t set,incr,lpush`, 50 clients):")
		p("")
		p("| test | pipeline | requests/s | p50 |")
		p("| --- | ---: | ---: | ---: |")
		for _, b := range wr.Bench {
			p("| %s | %d | %s | %s |", b.Test, b.Pipeline, n0(b.RPS), b.P50)
		}
		p("")
		p("One worker makes Redis execute %s commands/s (%s events/s × %.1f), against %s SET/s with pipelines of 16 "+
			"and %s SET/s without: commands inside a script skip the network and parsing, so the script's work per event, "+
			"not the round trips, is what costs.",
			n0(r.EventsPerSec*r.PerEvent), n0(r.EventsPerSec), r.PerEvent, n0(benchRPS(wr, "SET", 16)), n0(benchRPS(wr, "SET", 1)))
		p("")
	}
}

func benchRPS(wr *workerResults, test string, pipeline int) float64 {
	for _, b := range wr.Bench {
		if b.Test == test && b.Pipeline == pipeline {
			return b.RPS
		}
	}
	return 0
}

func writeMemory(p func(string, ...any), m *memoryResults, lr *loadResults) {
	p("## Memory")
	p("")
	p("Redis `used_memory` deltas, less client buffers (`mem_clients_normal`), on a fresh server after a short settle:")
	p("")
	p("| what | links | bytes per link |")
	p("| --- | ---: | ---: |")
	if m.TotalBytes > 0 {
		p("| link record `l:{pN}:<code>` (string with a PXAT expiry, like an anonymous link with the default one-year TTL) | %s | %.1f |", nI(int64(m.Links)), m.RecordBytes)
		p("| its entry in the expiry index `exp:{pN}` (sorted set) | %s | %.1f |", nI(int64(m.Links)), m.IndexBytes)
		p("| **a link in all** | %s | **%.1f** |", nI(int64(m.Links)), m.TotalBytes)
		p("| … of which the URL | | %d |", m.URLBytes)
		p("| **… beyond the URL** | | **%.1f** |", m.BeyondURL)
		p("| a link that never expires (`--default-ttl 0`: no key TTL, score +inf) | %s | %.1f |", nI(int64(m.NoTTLLinks)), m.NoTTLBytes)
	}
	if m.BucketBytes > 0 {
		p("| for comparison, not the service's layout: the same records as fields of %d-field hashes (listpacks, `hash-max-listpack-value 256`), no index | %s | %.1f |",
			m.BucketSize, nI(int64(m.BucketLinks)), m.BucketBytes)
	}
	if m.DayBytes > 0 {
		p("| one day of analytics: %d clicks from %d visitors through the worker (streams emptied before measuring) | %d | %.0f |",
			m.DayClicks, m.DayVisitors, m.DayLinks, m.DayBytes)
	}
	p("")
	if m.RecordUsage > 0 {
		p("`MEMORY USAGE` of one record: %d bytes.", m.RecordUsage)
	}
	if len(m.DayKeys) > 0 {
		var parts []string
		for _, k := range m.DayKeys {
			parts = append(parts, fmt.Sprintf("%s %d", k.Name, k.N))
		}
		p("`MEMORY USAGE` of one link's analytics keys after that day, bytes: %s (the rest: its share of `top:{pN}`).", strings.Join(parts, ", "))
	}
	p("")
	if lr != nil && lr.EdgeRSSHot > 0 {
		p("Edge RSS (VmRSS of `/proc/<pid>/status`): %s after start, **%s with %s hot links** (each resolved once: cache hits %s, misses %s), "+
			"%s after the rounds (64 connections, click buffer in use). That is %.0f bytes per cached link.",
			mib(lr.EdgeRSSIdle), mib(lr.EdgeRSSHot), nI(int64(lr.Links)), nI(lr.CacheHitsWarm), nI(lr.CacheMissesWarm), mib(lr.EdgeRSSLoaded),
			float64(lr.EdgeRSSHot-lr.EdgeRSSIdle)/float64(lr.Links))
		p("")
	}
}

func writeProfiles(p func(string, ...any), r *results) {
	var profs []profileResult
	if r.Load != nil {
		profs = append(profs, r.Load.Profiles...)
	}
	if r.Worker != nil && r.Worker.Profile != nil {
		profs = append(profs, *r.Worker.Profile)
	}
	p("## Profiles")
	p("")
	if len(profs) == 0 {
		p("No profiles in this run. %s", r.PerfNote)
		p("")
		return
	}
	p("System-wide `perf record -a -F %d` (cpu-clock) while the load ran; binaries are built with symbols. "+
		"\"CPU by process\" is the share of all samples on all cores (swapper = idle); the areas and symbols of a process are "+
		"shares of that process's samples.", perfFreq)
	p("")
	for _, pr := range profs {
		p("### %s", pr.Title)
		p("")
		var parts []string
		for _, s := range pr.ByCommand {
			if s.Pct >= 1 {
				parts = append(parts, fmt.Sprintf("%s %.1f%%", s.Name, s.Pct))
			}
		}
		p("CPU by process: %s.", strings.Join(parts, ", "))
		p("")
		for _, pp := range pr.Procs {
			var areas []string
			for _, a := range pp.Areas {
				if a.Pct >= 1 {
					areas = append(areas, fmt.Sprintf("%s %.1f%%", a.Name, a.Pct))
				}
			}
			p("**%s** (%.1f%% of all samples): %s.", pp.Name, pp.Pct, strings.Join(areas, ", "))
			p("")
			p("| %% of %s | symbol |", pp.Name)
			p("| ---: | --- |")
			for _, s := range pp.Symbols {
				p("| %.1f | `%s` |", s.Pct, s.Name)
			}
			p("")
		}
	}
}

func phaseList(ps []phaseTime) string {
	var parts []string
	for _, pt := range ps {
		parts = append(parts, fmt.Sprintf("%s %s", pt.Name, pt.D.Round(time.Second)))
	}
	return strings.Join(parts, ", ")
}

func oneLineMD(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "|", "\\|")
}
