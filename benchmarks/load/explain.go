package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// explain returns, for a missed target, what the measurements say bounds
// it and what would lift it. Every figure comes from this run; what is
// inferred rather than measured says so.
func explain(r *results, target string, facts bool) []string {
	switch {
	case strings.Contains(target, "p99"):
		return explainEdge(r, true, facts)
	case isEdgeTarget(target):
		return explainEdge(r, false, facts)
	case strings.Contains(target, "worker"):
		return explainWorker(r)
	case strings.Contains(target, "bytes"):
		return explainMemory(r)
	}
	return nil
}

// isEdgeTarget reports whether target is about the redirect runs.
func isEdgeTarget(target string) bool {
	return strings.Contains(target, "p99") || strings.Contains(target, "requests/s") || strings.Contains(target, "Express")
}

// worstDist returns the code distribution where the edge did worse.
func worstDist(lr *loadResults, latency bool) string {
	worst, wv := dists[0], 0.0
	for _, d := range dists {
		s := lr.summary("edge", d)
		v := -s.RatioRPS
		if latency {
			v = s.RatioP99
		}
		if d == dists[0] || v > wv {
			worst, wv = d, v
		}
	}
	return worst
}

// explainEdge explains a missed redirect target; facts adds the CPU
// measurements, which the redirect targets share (given with the first).
func explainEdge(r *results, latency, facts bool) []string {
	lr := r.Load
	if lr == nil {
		return nil
	}
	d := worstDist(lr, latency)
	e, c, nr, nc := lr.summary("edge", d), lr.summary("ceiling", d), lr.summary("edge-norecord", d), lr.summary("edge-nocache", d)
	var out []string
	if facts {
		out = append(out, edgeFacts(r, d)...)
	} else {
		out = append(out, fmt.Sprintf("The same CPU bound as the target above (%s codes here: edge %.1f µs + Redis %.1f µs of CPU per request against the ceiling's %.1f µs).",
			d, e.ServerUs, e.RedisUs, c.ServerUs))
	}
	if latency {
		out = append(out, fmt.Sprintf("Latency: with %d connections and no think time, mean latency = connections / throughput (Little's law): %s for the edge against %s for the ceiling, "+
			"so a server that spends more CPU per request also waits longer per request on a saturated machine. "+
			"The tail is time a thread spends descheduled: the edge's threads were preempted %s times/s (involuntary context switches) against the ceiling's %s/s, "+
			"each time stalling the connections that thread was serving for a scheduler slice.",
			lr.Connections, ms(littleMean(lr.Connections, e.RPS)), ms(littleMean(lr.Connections, c.RPS)), n0(e.InvolCS), n0(c.InvolCS)))
		if nc.RPS > 0 && c.P99 > 0 {
			out = append(out, fmt.Sprintf("Consistent with that: the cache-off edge, whose goroutines mostly wait for Redis instead of running, was preempted %s times/s, "+
				"and its p99 is %.2f× the ceiling's although its p50 is %s; the clicks-off edge was preempted %s times/s, p99 %.2f×.",
				n0(nc.InvolCS), float64(nc.P99)/float64(c.P99), ms(nc.P50), n0(nr.InvolCS), float64(nr.P99)/float64(c.P99)))
		}
		out = append(out, fmt.Sprintf("What would lift it (not measured here): give the edge cores nobody else runs on — wrk used %.2f cores and Redis %.2f that, in production, live on other machines; "+
			"then the same edge CPU per request is no longer queued behind them. Within the edge, less CPU per request shortens the queue "+
			"(the click hand-off costs %.1f µs of edge CPU and %.1f µs of Redis per request).",
			e.WrkCores, e.RedisCores, e.ServerUs-nr.ServerUs, e.RedisUs))
	} else {
		out = append(out, fmt.Sprintf("What would lift it: less CPU per request in the edge. Measured here: recording clicks costs %.1f µs of edge CPU and %.1f µs of Redis per request "+
			"(an append script per partition batch); the rest is the cache lookup, the metrics and the Go runtime (above). "+
			"Inferred, not measured: appending larger batches less often would cut the Redis part and the flusher's wake-ups; "+
			"and in production wrk's %.2f cores and Redis's are on other machines, so the edge alone would have both cores.",
			e.ServerUs-nr.ServerUs, e.RedisUs, e.WrkCores))
	}
	return out
}

// edgeFacts are the CPU measurements behind the redirect targets, for codes d.
func edgeFacts(r *results, d string) []string {
	lr := r.Load
	e, c := lr.summary("edge", d), lr.summary("ceiling", d)
	nr, nc := lr.summary("edge-norecord", d), lr.summary("edge-nocache", d)
	var out []string
	if e.OtherCores > lr.MaxOther || c.OtherCores > lr.MaxOther {
		out = append(out, fmt.Sprintf("Caution: this run had too few undisturbed rounds; other processes on the machine used %.2f cores during the edge runs and %.2f during the ceiling runs (medians), "+
			"which stretches latencies well beyond what the servers cause. Rerun on a quiet machine before reading much into the figures.", e.OtherCores, c.OtherCores))
	}
	out = append(out, fmt.Sprintf("Bound: CPU, on a machine where the load generator and Redis share the %d cores with the server. "+
		"In the edge runs (%s codes, medians) wrk used %.2f cores, the edge %.2f, Redis %.2f and other processes %.2f: %.2f of %d. "+
		"The ceiling runs used wrk %.2f + ceiling %.2f = %.2f.",
		r.Machine.Cores, d, e.WrkCores, e.ServerCores, e.RedisCores, e.OtherCores, e.WrkCores+e.ServerCores+e.RedisCores+e.OtherCores, r.Machine.Cores,
		c.WrkCores, c.ServerCores, c.WrkCores+c.ServerCores))
	edgeUs, ceilUs := e.ServerUs+e.RedisUs+e.WrkUs, c.ServerUs+c.RedisUs+c.WrkUs
	if edgeUs > 0 && ceilUs > 0 {
		out = append(out, fmt.Sprintf("CPU per request: edge %.1f µs + Redis %.1f µs (appending the click) + wrk %.1f µs = %.1f µs, against ceiling %.1f µs + wrk %.1f µs = %.1f µs. "+
			"With the cores saturated, requests/s ≈ busy cores / CPU per request, which predicts an edge/ceiling ratio of %.0f%%; the measured ratio is %.0f%%. "+
			"So the edge's extra %.1f µs of its own CPU and %.1f µs of Redis's per request are the gap.",
			e.ServerUs, e.RedisUs, e.WrkUs, edgeUs, c.ServerUs, c.WrkUs, ceilUs, 100*ceilUs/edgeUs, 100*e.RatioRPS, e.ServerUs-c.ServerUs, e.RedisUs))
	}
	if p := edgeProfile(lr); p != nil {
		out = append(out, fmt.Sprintf("Where the edge's CPU goes (perf, share of the edge process's samples): %s. Top symbols: %s.",
			shares(p.Areas, 2, 8), shares(p.Symbols, 0, 6)))
	}
	if nr.RPS > 0 && nc.RPS > 0 {
		out = append(out, fmt.Sprintf("What each part costs (%s codes): clicks off, the edge serves %s req/s (%.0f%% of the ceiling, p99 %s) at %.1f µs of edge CPU per request; "+
			"clicks on, %s req/s (p99 %s) at %.1f µs plus %.1f µs of Redis; cache off, %s req/s (p99 %s), every request a Redis round trip (%.1f µs of Redis).",
			d, n0(nr.RPS), 100*nr.RatioRPS, ms(nr.P99), nr.ServerUs, n0(e.RPS), ms(e.P99), e.ServerUs, e.RedisUs, n0(nc.RPS), ms(nc.P99), nc.RedisUs))
	}
	return out
}

// littleMean is the mean latency conns closed-loop connections see at rps.
func littleMean(conns int, rps float64) time.Duration {
	if rps <= 0 {
		return 0
	}
	return time.Duration(float64(conns) / rps * float64(time.Second))
}

func edgeProfile(lr *loadResults) *procProfile {
	for i := range lr.Profiles {
		for j := range lr.Profiles[i].Procs {
			if lr.Profiles[i].Procs[j].Name == "edge" {
				return &lr.Profiles[i].Procs[j]
			}
		}
	}
	return nil
}

// shares renders the entries at or above minPct, at most n of them.
func shares(ss []share, minPct float64, n int) string {
	var parts []string
	for _, s := range ss {
		if s.Pct < minPct || len(parts) == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0f%%", s.Name, s.Pct))
	}
	return strings.Join(parts, ", ")
}

func perEvent(r workerRun, names ...string) float64 {
	var n int64
	for _, c := range r.TopCommands {
		for _, name := range names {
			if c.Name == name {
				n += c.N
			}
		}
	}
	return float64(n) / float64(r.Events)
}

func explainWorker(r *results) []string {
	wr := r.Worker
	if wr == nil || len(wr.Runs) == 0 {
		return nil
	}
	one := wr.Runs[0]
	var out []string
	line := fmt.Sprintf("Bound: Redis's command thread. Every batch is one Lua script, and scripts run on Redis's single main thread: with one worker Redis used %.2f cores "+
		"and the worker %.2f (other processes on the machine %.2f).", one.RedisCores, one.WorkerCores, one.OtherCores)
	if len(wr.Runs) > 1 {
		two := wr.Runs[1]
		line += fmt.Sprintf(" Two workers reached %s events/s (%.2f× one; Redis %.2f cores, other processes %.2f)", n0(two.EventsPerSec), two.EventsPerSec/one.EventsPerSec, two.RedisCores, two.OtherCores)
		if two.EventsPerSec < 1.15*one.EventsPerSec {
			line += ": a second worker adds no throughput, because both feed the same Redis main thread."
		} else {
			line += "."
		}
	}
	if one.OtherCores > r.MaxOther {
		line += fmt.Sprintf(" Other processes on the machine took %.2f cores during this drain, so the figure is lower than the worker reaches alone.", one.OtherCores)
	}
	out = append(out, line)
	cps := one.EventsPerSec * one.PerEvent
	line = fmt.Sprintf("Each event costs %.1f Redis commands inside the script (%s per event); at %s events/s that is %s commands/s",
		one.PerEvent, topPerEvent(one, 6), n0(one.EventsPerSec), n0(cps))
	if p16, p1 := benchRPS(wr, "SET", 16), benchRPS(wr, "SET", 1); p16 > 0 && p1 > 0 {
		line += fmt.Sprintf(" on the one thread, against redis-benchmark's %s SET/s with pipelines of 16 (%.0f%% of it) and %s without pipelining (%.1f× it): "+
			"inside a script a command costs no network round trip, but each still looks up its key and updates its value.",
			n0(p16), 100*cps/p16, n0(p1), cps/p1)
	} else {
		line += "."
	}
	out = append(out, line)
	if p := wr.Profile; p != nil {
		for _, pp := range p.Procs {
			if pp.Name != "redis-server" {
				continue
			}
			line := fmt.Sprintf("perf of redis-server (%.0f%% of all samples): %s; top symbols %s. "+
				"The Debian binary is stripped: samples in its static functions (the Lua VM among them) show as \"unknown\".",
				pp.Pct, shares(pp.Areas, 2, 8), shares(pp.Symbols, 0, 8))
			if strings.Contains(shares(pp.Symbols, 0, 15), "printf") {
				line += " The printf-family symbols are number formatting (inferred: Lua numbers passed as command arguments are turned into strings)."
			}
			out = append(out, line)
		}
	}
	hincr := perEvent(one, "hincrby")
	out = append(out, fmt.Sprintf("What would lift it: fewer Redis commands per event, or more Redis cores. "+
		"Of the %.1f commands per event, %.1f are HINCRBYs (totals, day and hour series, breakdown fields), one per key and field touched; "+
		"summing them per key and field across a batch would pay off when a batch holds the same link several times, as skewed real traffic does "+
		"(this benchmark spreads events uniformly over %s links, so a batch of %d per partition rarely repeats one: little gain here; not measured). "+
		"More cores: on Redis Cluster each partition's script runs on the master that owns its slot, so masters add apply throughput (not measured here).",
		one.PerEvent, hincr, nI(int64(wr.Links)), 256))
	return out
}

func topPerEvent(r workerRun, n int) string {
	cs := append([]namedCount(nil), r.TopCommands...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].N > cs[j].N })
	var parts []string
	for i, c := range cs {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.2f", c.Name, float64(c.N)/float64(r.Events)))
	}
	return strings.Join(parts, ", ")
}

func explainMemory(r *results) []string {
	m := r.Memory
	if m == nil || m.TotalBytes == 0 {
		return nil
	}
	var out []string
	out = append(out, fmt.Sprintf("Bound: Redis's per-key overhead. The record value is %d bytes (the %d-byte URL and %d bytes of version, created, expiry, limit and owner fields), "+
		"yet the record costs %.0f bytes: %.0f go to Redis's key, value object, dictionary entry and expiry entry. "+
		"The expiry index entry (a member of a sorted set of %d members per partition, stored as skiplist and dict) costs %.0f more. "+
		"A link that never expires (no key TTL) still takes %.0f bytes.",
		m.RecordLen, m.URLBytes, m.RecordLen-m.URLBytes, m.RecordBytes, m.RecordBytes-float64(m.RecordLen), m.Links/16, m.IndexBytes, m.NoTTLBytes))
	if m.BucketBytes > 0 {
		out = append(out, fmt.Sprintf("What would lift it: fewer keys. The same records as fields of %d-field hashes kept as listpacks take %.0f bytes per link here (%.0f beyond the URL), "+
			"measured above. The price: no per-key TTL (expiry would rest on the sweeper, which already tombstones expired links) and coarser invalidation — "+
			"the client-side cache tracks keys, so a change to one link would drop the cached copies of its whole bucket on every edge. "+
			"The expiry index could be bucketed the same way (e.g. small sorted sets per expiry hour, kept as listpacks); not measured here.",
			m.BucketSize, m.BucketBytes, m.BucketBytes-float64(m.URLBytes)))
	}
	return out
}
