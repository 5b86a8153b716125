// Command load is the load harness of the shortener. It builds the edge, the
// worker and the ceiling server (benchmarks/ceiling) into a temporary
// directory, runs them against private redis-servers on 127.0.0.1, and
// measures:
//
//   - redirects: the edge (client-side cache on, click recording on), the
//     edge with the cache off, the edge with recording off, and the ceiling
//     server, driven in alternation by wrk (uniform and Zipf codes), then
//     checks that every click the edge answered was counted exactly once;
//   - the worker: events/s draining a preloaded backlog with one and two
//     workers, Redis commands per event, beside redis-benchmark;
//   - memory: Redis bytes per link and per link-day of analytics, edge RSS;
//   - allocations per cached redirect (go test -bench BenchmarkRedirect).
//
// It prints what it measures as it goes and writes RESULTS.md and
// results.png (-out). Every process it starts listens on 127.0.0.1 only and
// is stopped before it returns. See benchmarks/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "load:", err)
		}
		os.Exit(1)
	}
}

// options are the harness's flags.
type options struct {
	out          string
	quick        bool
	phases       map[string]bool
	duration     time.Duration
	warmup       time.Duration
	rounds       int
	connections  int
	threads      int
	links        int
	zipfS        float64
	workerEvents int
	workerLinks  int
	memLinks     int
	dayLinks     int
	dayClicks    int
	profile      time.Duration
	maxOther     float64
	retries      int
	quietWait    time.Duration
	keep         bool
	root         string
}

var allPhases = []string{"micro", "load", "worker", "memory"}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var phases string
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.out, "out", "", "write the report to this Markdown file and the chart to results.png beside it (empty: print only)")
	fs.BoolVar(&o.quick, "quick", false, "a short run (about a minute): 1 round of 3 s, smaller preloads; explicit flags still win")
	fs.StringVar(&phases, "phases", strings.Join(allPhases, ","), "comma-separated phases to run: "+strings.Join(allPhases, ", "))
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "length of one measured wrk run")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "wrk warm-up of each server before the first round")
	fs.IntVar(&o.rounds, "rounds", 5, "rounds; each round runs every server once per code distribution")
	fs.Float64Var(&o.maxOther, "max-other", 0.25, "repeat a run (at most twice) when processes outside the test used more than this many cores during it")
	fs.IntVar(&o.retries, "retries", 6, "most runs repeated for noise over the whole phase")
	fs.DurationVar(&o.quietWait, "quiet-wait", 30*time.Second, "before the redirect rounds and each worker drain, wait at most this long for other processes to leave the CPU idle")
	fs.IntVar(&o.connections, "connections", 64, "wrk connections")
	fs.IntVar(&o.threads, "threads", 2, "wrk threads")
	fs.IntVar(&o.links, "links", 100000, "links preloaded for the redirect runs")
	fs.Float64Var(&o.zipfS, "zipf-s", 1.1, "exponent of the Zipf code distribution")
	fs.IntVar(&o.workerEvents, "worker-events", 1000000, "click events preloaded for the worker throughput runs")
	fs.IntVar(&o.workerLinks, "worker-links", 10000, "links the worker events point at")
	fs.IntVar(&o.memLinks, "mem-links", 1000000, "links preloaded to measure Redis bytes per link")
	fs.IntVar(&o.dayLinks, "day-links", 1000, "links given one day of analytics to measure its memory")
	fs.IntVar(&o.dayClicks, "day-clicks", 100, "clicks per link in that day")
	fs.DurationVar(&o.profile, "profile", 4*time.Second, "length of each perf profile (0: no profiles)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binaries, logs, perf data)")
	fs.StringVar(&o.root, "root", "", "module root (default: found from the working directory)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := map[string]func(){
			"duration":      func() { o.duration = 3 * time.Second },
			"warmup":        func() { o.warmup = time.Second },
			"rounds":        func() { o.rounds = 1 },
			"links":         func() { o.links = 20000 },
			"worker-events": func() { o.workerEvents = 100000 },
			"worker-links":  func() { o.workerLinks = 2000 },
			"mem-links":     func() { o.memLinks = 100000 },
			"day-links":     func() { o.dayLinks = 200 },
			"profile":       func() { o.profile = 3 * time.Second },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	}
	o.phases = map[string]bool{}
	for _, p := range strings.Split(phases, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		known := false
		for _, a := range allPhases {
			known = known || a == p
		}
		if !known {
			return o, fmt.Errorf("unknown phase %q (phases: %s)", p, strings.Join(allPhases, ", "))
		}
		o.phases[p] = true
	}
	switch {
	case o.duration < time.Second || o.warmup < 0 || o.rounds < 1:
		return o, errors.New("-duration must be at least 1s, -warmup >= 0 and -rounds >= 1")
	case o.connections < 1 || o.threads < 1 || o.connections < o.threads:
		return o, errors.New("-connections and -threads must be >= 1, with connections >= threads")
	case o.links < 100 || o.workerEvents < 1000 || o.workerLinks < 1 || o.memLinks < 1000 || o.dayLinks < 1 || o.dayClicks < 1:
		return o, errors.New("-links >= 100, -worker-events >= 1000, -mem-links >= 1000; the other sizes >= 1")
	case o.zipfS <= 1:
		return o, errors.New("-zipf-s must be > 1")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	root, err := moduleRoot(o.root)
	if err != nil {
		return err
	}
	for _, tool := range []string{"go", "redis-server", "redis-benchmark", "wrk"} {
		if _, err := lookPath(tool); err != nil {
			return fmt.Errorf("%s is missing: install it (apt-get install -y wrk redis-server redis-tools; Go from go.dev)", tool)
		}
	}
	tmp, err := os.MkdirTemp("", "shortener-bench-")
	if err != nil {
		return err
	}
	h := &harness{o: o, root: root, dir: tmp, log: stdout, res: &results{Started: start, TmpDir: tmp, MaxOther: o.maxOther, Args: append([]string{"go run ./benchmarks/load"}, args...)}}
	defer func() {
		h.stopAll()
		if o.keep {
			fmt.Fprintf(stdout, "kept %s\n", tmp)
		} else {
			_ = os.RemoveAll(tmp)
		}
	}()

	h.logf("machine")
	h.res.Machine = machineInfo(ctx)
	if h.res.PerfNote = perfAvailable(ctx); o.profile > 0 && h.res.PerfNote != "" {
		h.logf("  no profiles: %s", h.res.PerfNote)
	}
	h.logf("building edge, worker and ceiling into %s", tmp)
	if h.bins, err = build(ctx, root, filepath.Join(tmp, "bin")); err != nil {
		return err
	}

	var phaseErrs []error
	runPhase := func(name string, f func(context.Context) error) {
		if !o.phases[name] || ctx.Err() != nil {
			return
		}
		t := time.Now()
		h.logf("== %s", name)
		if err := f(ctx); err != nil {
			h.logf("phase %s failed: %v", name, err)
			phaseErrs = append(phaseErrs, fmt.Errorf("%s: %w", name, err))
			h.res.Errors = append(h.res.Errors, fmt.Sprintf("%s: %v", name, err))
		}
		h.res.PhaseTimes = append(h.res.PhaseTimes, phaseTime{name, time.Since(t)})
	}
	runPhase("micro", h.micro)
	// The load phase leaves the worker draining the recording edge's clicks
	// in the background; the memory phase (insensitive to CPU contention)
	// runs meanwhile, and the drain is checked before the worker phase,
	// which needs a quiet machine.
	var drain func() error
	runPhase("load", func(ctx context.Context) error {
		var err error
		drain, err = h.load(ctx)
		return err
	})
	runPhase("memory", h.memory)
	if drain != nil && ctx.Err() == nil {
		t := time.Now()
		if err := drain(); err != nil {
			h.logf("click accounting failed: %v", err)
			phaseErrs = append(phaseErrs, fmt.Errorf("accounting: %w", err))
			h.res.Errors = append(h.res.Errors, fmt.Sprintf("accounting: %v", err))
		}
		h.res.PhaseTimes = append(h.res.PhaseTimes, phaseTime{"drain (after memory)", time.Since(t)})
	}
	runPhase("worker", h.worker)
	if err := ctx.Err(); err != nil {
		return err
	}

	h.res.Total = time.Since(start)
	checkTargets(h.res)
	printSummary(stdout, h.res)
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
		}
		if err := writeReport(o.out, h.res); err != nil {
			return err
		}
		h.logf("wrote %s and %s", o.out, filepath.Join(filepath.Dir(o.out), chartFile))
	}
	h.logf("total run time %s", h.res.Total.Round(time.Second))
	return errors.Join(phaseErrs...)
}

// harness carries what every phase needs.
type harness struct {
	o      options
	root   string
	dir    string
	bins   map[string]string
	log    io.Writer
	res    *results
	mu     sync.Mutex
	groups []*procs
}

// group returns a new set of processes, stopped by its owner (or at exit).
func (h *harness) group(name string) *procs {
	h.mu.Lock()
	defer h.mu.Unlock()
	dir := filepath.Join(h.dir, name)
	_ = os.MkdirAll(dir, 0o755)
	g := &procs{dir: dir, cmds: h.res.addCommand}
	h.groups = append(h.groups, g)
	return g
}

// stopAll stops every process still running.
func (h *harness) stopAll() {
	h.mu.Lock()
	gs := h.groups
	h.mu.Unlock()
	for i := len(gs) - 1; i >= 0; i-- {
		gs[i].stopAll()
	}
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
