package main

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"
)

// results is everything the harness measured, for the report.
type results struct {
	Started    time.Time
	Total      time.Duration
	Args       []string
	Machine    machine
	PerfNote   string  // why there are no profiles, if there are none
	MaxOther   float64 // cores other processes may use before a run counts as disturbed
	TmpDir     string
	mu         sync.Mutex
	Commands   []string
	Micro      []microResult
	Load       *loadResults
	Worker     *workerResults
	Memory     *memoryResults
	PhaseTimes []phaseTime
	Errors     []string
	Targets    []targetResult
}

type phaseTime struct {
	Name string
	D    time.Duration
}

// targetResult is one target of the issue, checked against the measurements.
type targetResult struct {
	Name   string
	Got    string
	Status string   // PASS, MISS or "not run"
	Bound  []string // for a MISS: what bounds it, measured, and what would lift it
}

var (
	reLoopback = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	rePortFlag = regexp.MustCompile(`(--port|-p) \d+`)
	reAdminKey = regexp.MustCompile(`--admin-key [0-9a-f]+`)
)

// addCommand records a command line the harness ran, with the temporary
// directory, ports and the admin key replaced by placeholders; each shape
// is kept once.
func (r *results) addCommand(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.TmpDir != "" {
		line = strings.ReplaceAll(line, r.TmpDir, "$TMP")
	}
	line = reLoopback.ReplaceAllLiteralString(line, "127.0.0.1:$PORT")
	line = rePortFlag.ReplaceAllString(line, "$1 $$PORT")
	line = reAdminKey.ReplaceAllString(line, "--admin-key $$ADMIN_KEY")
	for _, c := range r.Commands {
		if c == line {
			return
		}
	}
	r.Commands = append(r.Commands, line)
}

// serverSummary is the median over rounds of one server and distribution.
// Only clean runs count (other processes used at most MaxOther cores)
// when at least two are clean; otherwise every run does.
type serverSummary struct {
	Server, Dist                      string
	Runs, AllRuns                     int // runs in the medians, runs in all
	RPS                               float64
	P50, P99, P999                    time.Duration
	WrkCores, ServerCores, RedisCores float64
	OtherCores                        float64
	// CPU time per request, µs: the server's, Redis's and wrk's.
	ServerUs, RedisUs, WrkUs float64
	VolCS, InvolCS           float64 // server context switches per second
	Errors                   int64
	// RatioRPS and RatioP99 compare with the ceiling: the median of the
	// per-round ratios over the undisturbed rounds (RatioRounds), or, when
	// fewer than two rounds were undisturbed, the ratio of the medians.
	RatioRPS, RatioP99 float64
	RatioRounds        []int
}

// ratioHow says how the ratios to the ceiling were taken.
func (s serverSummary) ratioHow() string {
	if len(s.RatioRounds) >= 2 {
		return "median of rounds " + intList(s.RatioRounds)
	}
	return "ratio of the medians: too few undisturbed rounds"
}

// clean reports whether other processes left run r alone.
func (lr *loadResults) clean(r runResult) bool { return r.OtherCores <= lr.MaxOther }

func (lr *loadResults) summary(server, dist string) serverSummary {
	s := serverSummary{Server: server, Dist: dist}
	var all, use []runResult
	for _, r := range lr.Runs {
		if r.Server == server && r.Dist == dist {
			all = append(all, r)
			if lr.clean(r) {
				use = append(use, r)
			}
		}
	}
	if len(use) < 2 {
		use = all
	}
	s.Runs, s.AllRuns = len(use), len(all)
	var rps, p50, p99, p999, wc, sc, rc, oc, su, ru, wu, vc, ic []float64
	for _, r := range use {
		rps = append(rps, r.Wrk.RPS())
		p50 = append(p50, float64(r.Wrk.P50))
		p99 = append(p99, float64(r.Wrk.P99))
		p999 = append(p999, float64(r.Wrk.P999))
		wc, sc, rc, oc = append(wc, r.WrkCores), append(sc, r.ServerCores), append(rc, r.RedisCores), append(oc, r.OtherCores)
		vc, ic = append(vc, r.VolCS), append(ic, r.InvolCS)
		if x := r.Wrk.RPS(); x > 0 {
			su, ru, wu = append(su, 1e6*r.ServerCores/x), append(ru, 1e6*r.RedisCores/x), append(wu, 1e6*r.WrkCores/x)
		}
	}
	for _, r := range all {
		s.Errors += r.Wrk.Errors()
	}
	s.RPS = median(rps)
	s.P50, s.P99, s.P999 = time.Duration(median(p50)), time.Duration(median(p99)), time.Duration(median(p999))
	s.WrkCores, s.ServerCores, s.RedisCores, s.OtherCores = median(wc), median(sc), median(rc), median(oc)
	s.ServerUs, s.RedisUs, s.WrkUs = median(su), median(ru), median(wu)
	s.VolCS, s.InvolCS = median(vc), median(ic)
	if server == "ceiling" {
		return s
	}
	var rr, pr []float64
	s.RatioRounds, rr, pr = lr.ratios(server, dist)
	if len(s.RatioRounds) >= 2 {
		s.RatioRPS, s.RatioP99 = median(rr), median(pr)
	} else if c := lr.summary("ceiling", dist); c.RPS > 0 && c.P99 > 0 {
		s.RatioRPS, s.RatioP99 = s.RPS/c.RPS, float64(s.P99)/float64(c.P99)
	}
	return s
}

// ratios returns server/ceiling ratios of req/s and p99 per round, over the
// rounds where both runs were undisturbed.
func (lr *loadResults) ratios(server, dist string) (rounds []int, rps, p99 []float64) {
	for round := 1; round <= lr.Rounds; round++ {
		e, ok1 := lr.run(server, dist, round)
		c, ok2 := lr.run("ceiling", dist, round)
		if !ok1 || !ok2 || c.Wrk.RPS() == 0 || c.Wrk.P99 == 0 || !lr.clean(e) || !lr.clean(c) {
			continue
		}
		rounds = append(rounds, round)
		rps = append(rps, e.Wrk.RPS()/c.Wrk.RPS())
		p99 = append(p99, float64(e.Wrk.P99)/float64(c.Wrk.P99))
	}
	return rounds, rps, p99
}

func (lr *loadResults) run(server, dist string, round int) (runResult, bool) {
	for _, r := range lr.Runs {
		if r.Server == server && r.Dist == dist && r.Round == round {
			return r, true
		}
	}
	return runResult{}, false
}

// Fixed reference figures of the targets.
const (
	expressRPS      = 4300 // the seed article's Node.js/Express implementation, as reported there
	targetRatio     = 0.60
	targetP99Ratio  = 1.5
	targetWorkerEPS = 50000
	targetBeyondURL = 150
)

// checkTargets sets r.Targets from the measurements.
func checkTargets(r *results) {
	status := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "MISS"
	}
	notRun := func(name string) targetResult { return targetResult{Name: name, Got: "—", Status: "not run"} }

	const (
		nRatio   = "edge (clicks on) ≥ 60% of the ceiling's requests/s, same run"
		nP99     = "edge (clicks on) p99 ≤ 1.5× the ceiling's p99 at 64 connections"
		nExpress = "edge (clicks on) ≥ 10× the seed article's Node.js/Express (≈ 4,300 req/s, a fixed reference figure, not measured here) = 43,000 req/s"
		nAllocs  = "0 allocations per redirect on a cache hit (BenchmarkRedirect)"
		nWorker  = "one worker ≥ 50,000 events/s"
		nMemory  = "≤ 150 bytes of Redis memory per link beyond the URL's own bytes"
	)
	if lr := r.Load; lr != nil && len(lr.Runs) > 0 {
		var ratios, p99s, rps []string
		okRatio, okP99, okRPS := true, true, true
		for _, d := range dists {
			s := lr.summary("edge", d)
			ratios = append(ratios, fmt.Sprintf("%s %.0f%% (%s)", d, 100*s.RatioRPS, s.ratioHow()))
			p99s = append(p99s, fmt.Sprintf("%s %.2f× (%s; medians %s vs %s)", d, s.RatioP99, s.ratioHow(), ms(s.P99), ms(lr.summary("ceiling", d).P99)))
			rps = append(rps, fmt.Sprintf("%s %s req/s = %.1f×", d, n0(s.RPS), s.RPS/expressRPS))
			okRatio = okRatio && s.RatioRPS >= targetRatio
			okP99 = okP99 && s.RatioP99 <= targetP99Ratio
			okRPS = okRPS && s.RPS >= 10*expressRPS
		}
		r.Targets = append(r.Targets,
			targetResult{Name: nRatio, Got: strings.Join(ratios, ", "), Status: status(okRatio)},
			targetResult{Name: nP99, Got: strings.Join(p99s, ", "), Status: status(okP99)},
			targetResult{Name: nExpress, Got: strings.Join(rps, ", "), Status: status(okRPS)})
	} else {
		r.Targets = append(r.Targets, notRun(nRatio), notRun(nP99), notRun(nExpress))
	}
	if len(r.Micro) > 0 {
		var got []string
		ok := true
		for _, m := range r.Micro {
			got = append(got, fmt.Sprintf("%s: %d allocs/op", strings.TrimPrefix(m.Name, "Benchmark"), m.AllocsOp))
			ok = ok && m.AllocsOp == 0
		}
		r.Targets = append(r.Targets, targetResult{Name: nAllocs, Got: strings.Join(got, ", "), Status: status(ok)})
	} else {
		r.Targets = append(r.Targets, notRun(nAllocs))
	}
	if w := r.Worker; w != nil && len(w.Runs) > 0 {
		eps := w.Runs[0].EventsPerSec
		r.Targets = append(r.Targets, targetResult{Name: nWorker, Got: fmt.Sprintf("%s events/s", n0(eps)), Status: status(eps >= targetWorkerEPS)})
	} else {
		r.Targets = append(r.Targets, notRun(nWorker))
	}
	if m := r.Memory; m != nil && m.TotalBytes > 0 {
		r.Targets = append(r.Targets, targetResult{Name: nMemory,
			Got:    fmt.Sprintf("%.0f bytes/link − %d URL bytes = %.0f", m.TotalBytes, m.URLBytes, m.BeyondURL),
			Status: status(m.BeyondURL <= targetBeyondURL)})
	} else {
		r.Targets = append(r.Targets, notRun(nMemory))
	}
	edgeFacts := false // the CPU facts of the redirect runs are given once
	for i := range r.Targets {
		if r.Targets[i].Status != "MISS" {
			continue
		}
		r.Targets[i].Bound = explain(r, r.Targets[i].Name, !edgeFacts)
		if isEdgeTarget(r.Targets[i].Name) {
			edgeFacts = true
		}
	}
}

// printSummary writes the targets and the main figures as plain text.
func printSummary(w io.Writer, r *results) {
	fmt.Fprintln(w, "\nTargets:")
	for _, t := range r.Targets {
		fmt.Fprintf(w, "  %-7s %s\n          %s\n", t.Status, t.Name, t.Got)
	}
	if acc := r.accounting(); acc != nil {
		v := "PASS"
		if !acc.Pass {
			v = "FAIL"
		}
		fmt.Fprintf(w, "  %-7s every click answered by the edge counted exactly once (%s redirects = %s clicks + %s dropped)\n",
			v, nI(acc.Served), nI(acc.TotalClicks), nI(acc.Dropped))
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  ERROR   %s\n", e)
	}
}

func (r *results) accounting() *accounting {
	if r.Load == nil || r.Load.Accounting.TotalClicks == 0 && r.Load.Accounting.Served == 0 {
		return nil
	}
	return &r.Load.Accounting
}

func intList(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}
