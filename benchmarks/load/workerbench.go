package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shortener/shortener/pkg/redisx"
)

// workerRun is one drain of a preloaded backlog.
type workerRun struct {
	Name         string
	Workers      int
	Events       int
	PreloadTime  time.Duration
	Elapsed      time.Duration // from starting the workers until every event was handled
	EventsPerSec float64
	Commands     int64 // Redis commands executed meanwhile (INFO commandstats; script calls included)
	PerEvent     float64
	TopCommands  []namedCount
	RedisCores   float64
	WorkerCores  float64 // all workers together
	OtherCores   float64 // every process outside the test
	Applied      int64
	Gone         int64
	Dead         int64
	Dup          int64
	// Webhooks: the workers ran their webhooks group too, created before
	// the backlog (no subscriptions: every event is read and acknowledged);
	// WebhooksElapsed is when that group had handled every event.
	Webhooks        bool
	WebhooksElapsed time.Duration
}

// redisBench is one line of redis-benchmark -q.
type redisBench struct {
	Test     string
	Pipeline int
	RPS      float64
	P50      string
}

type workerResults struct {
	Links   int
	Runs    []workerRun
	Noisy   []workerRun // a repeated 1-worker drain: the more disturbed attempt
	Bench   []redisBench
	Profile *profileResult
}

// worker measures how fast workers drain a backlog, and Redis beside it.
func (h *harness) worker(ctx context.Context) error {
	o := h.o
	wr := &workerResults{Links: o.workerLinks}
	h.res.Worker = wr
	g := h.group("worker")
	defer g.stopAll()
	rs, err := g.startRedis(ctx, "redis")
	if err != nil {
		return err
	}
	defer rs.close()
	ks, _ := redisx.NewKeyspace("", redisx.DefaultPartitions)
	codes := genCodes(o.workerLinks, 2)

	for _, n := range []int{1, 2} {
		if waited, busy := waitQuiet(ctx, o.quietWait, o.maxOther); waited > 3*time.Second || busy > o.maxOther {
			h.logf("waited %s for other processes to calm down (last 2 s: %.2f cores busy)", waited.Round(time.Second), busy)
		}
		r, err := h.drainRun(ctx, g, rs, ks, codes, n, o.workerEvents, fmt.Sprintf("drain%d", n), false, nil)
		if err != nil {
			return err
		}
		if n == 1 && r.OtherCores > o.maxOther && o.retries > 0 {
			h.logf("1 worker: %.0f events/s while other processes used %.2f cores: repeating it", r.EventsPerSec, r.OtherCores)
			again, err := h.drainRun(ctx, g, rs, ks, codes, n, o.workerEvents, "drain1-again", false, nil)
			if err != nil {
				return err
			}
			if again.OtherCores < r.OtherCores {
				r, again = again, r
			}
			wr.Noisy = append(wr.Noisy, again)
		}
		wr.Runs = append(wr.Runs, r)
		h.logf("%d worker(s): %d events in %s = %.0f events/s; %.1f Redis commands/event; cores: redis %.2f, workers %.2f, other %.2f",
			n, r.Events, r.Elapsed.Round(time.Millisecond), r.EventsPerSec, r.PerEvent, r.RedisCores, r.WorkerCores, r.OtherCores)
		if r.Gone+r.Dead+r.Dup > 0 {
			return fmt.Errorf("%d workers: %d link_gone, %d dead_letter, %d duplicate events", n, r.Gone, r.Dead, r.Dup)
		}
	}

	// The default worker also runs the webhooks group: the same drain with
	// that group reading every event (no subscriptions) beside analytics.
	waitQuiet(ctx, o.quietWait, o.maxOther)
	hooks, err := h.drainRun(ctx, g, rs, ks, codes, 1, o.workerEvents, "drain1-webhooks", true, nil)
	if err != nil {
		return err
	}
	wr.Runs = append(wr.Runs, hooks)
	h.logf("1 worker with the webhooks group: %.0f events/s (analytics); the webhooks group done after %s",
		hooks.EventsPerSec, hooks.WebhooksElapsed.Round(time.Millisecond))

	if o.profile > 0 && h.res.PerfNote == "" {
		// Enough events for the profile to see only the steady drain.
		events := int(wr.Runs[0].EventsPerSec * (o.profile.Seconds() + 3))
		events = max(min(events, 2*o.workerEvents), 10000)
		var prof profileResult
		_, err := h.drainRun(ctx, g, rs, ks, codes, 1, events, "profiled", false, func(worker *proc) error {
			file := filepath.Join(g.dir, "perf-worker.data")
			pcmd, line, err := perfRecord(ctx, file, o.profile)
			if err != nil {
				return err
			}
			if err := pcmd.Wait(); err != nil {
				return fmt.Errorf("perf record: %w", err)
			}
			h.res.addCommand(line)
			prof, err = analyzeProfile(ctx, file, map[string]int{"worker": worker.Pid(), "redis-server": rs.Pid()})
			prof.Command = line
			return err
		})
		if err != nil {
			h.logf("worker profile failed: %v", err)
		} else {
			prof.Title = fmt.Sprintf("one worker draining a backlog, system-wide perf for %s", o.profile)
			wr.Profile = &prof
			h.logf("profiled the worker: %s", prof.oneLine())
		}
	}

	if err := rs.flushAll(ctx); err != nil {
		return err
	}
	for _, pipeline := range []int{16, 1} {
		args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(rs.port), "-q", "-n", "200000", "-P", strconv.Itoa(pipeline), "-t", "set,incr,lpush"}
		h.res.addCommand(shellQuote(append([]string{"redis-benchmark"}, args...)))
		out, err := exec.CommandContext(ctx, "redis-benchmark", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("redis-benchmark: %w\n%s", err, out)
		}
		lines := parseRedisBenchmark(string(out), pipeline)
		if len(lines) == 0 {
			return fmt.Errorf("no results in redis-benchmark output:\n%s", out)
		}
		wr.Bench = append(wr.Bench, lines...)
		for _, l := range lines {
			h.logf("redis-benchmark -P %d %-5s %10.0f requests/s (p50 %s)", pipeline, l.Test, l.RPS, l.P50)
		}
	}
	return nil
}

// drainRun flushes Redis, preloads the links and events, starts workers
// and waits until every event is handled. during, if set, runs once the
// first worker is ready. Without webhooks the workers run --webhooks=false;
// with it, the webhooks group is created before the workers start, so it
// reads the whole backlog too.
func (h *harness) drainRun(ctx context.Context, g *procs, rs *redisServer, ks redisx.Keyspace, codes []string, workers, events int, name string, webhooks bool, during func(*proc) error) (workerRun, error) {
	r := workerRun{Name: name, Workers: workers, Events: events, Webhooks: webhooks}
	if err := rs.flushAll(ctx); err != nil {
		return r, err
	}
	now := time.Now()
	t := time.Now()
	if err := preloadLinks(ctx, rs.client, ks, codes, linkURL, defaultLinks(now)); err != nil {
		return r, err
	}
	if err := preloadEvents(ctx, rs.client, ks, codes, events, now, uint64(workers)); err != nil {
		return r, fmt.Errorf("preload events: %w", err)
	}
	r.PreloadTime = time.Since(t)
	extra := []string{"--webhooks=false"}
	if webhooks {
		extra = nil
		for p := 0; p < ks.Partitions; p++ {
			if err := rs.client.Do(ctx, rs.client.B().XgroupCreate().Key(ks.Stream(p)).Group("webhooks").Id("0").Mkstream().Build()).Error(); err != nil {
				return r, fmt.Errorf("create the webhooks group: %w", err)
			}
		}
	}
	h.logf("%s: preloaded %d links and %d events in %s", name, len(codes), events, r.PreloadTime.Round(time.Millisecond))
	cs0, err := rs.commandStats(ctx)
	if err != nil {
		return r, err
	}
	redis0, st0 := rs.cpu(), readCPUStat()
	start := time.Now()
	var ws []*service
	for i := 0; i < workers; i++ {
		w, err := h.startWorker(ctx, g, fmt.Sprintf("worker-%s-%d", name, i+1), rs.url, fmt.Sprintf("bench-%s-%d", name, i+1), extra...)
		if err != nil {
			return r, err
		}
		ws = append(ws, w)
	}
	if during != nil {
		if err := during(ws[0].proc); err != nil {
			return r, err
		}
	}
	last, lastChange := int64(-1), time.Now()
	for {
		applied, gone, dead, dup, err := workersEvents(ctx, ws)
		if err != nil {
			return r, err
		}
		r.Applied, r.Gone, r.Dead, r.Dup = applied, gone, dead, dup
		if done := applied + gone + dead; done >= int64(events) {
			break
		} else if done != last {
			last, lastChange = done, time.Now()
		}
		if time.Since(lastChange) > time.Minute {
			return r, fmt.Errorf("%s: the workers stopped at %d of %d events", name, last, events)
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	r.Elapsed = time.Since(start)
	if webhooks {
		for {
			left, err := groupBacklog(ctx, rs, ks, "webhooks")
			if err != nil {
				return r, err
			}
			if left == 0 {
				break
			}
			if time.Since(start) > r.Elapsed+5*time.Minute {
				return r, fmt.Errorf("%s: the webhooks group still has %d events to read", name, left)
			}
			select {
			case <-ctx.Done():
				return r, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
		r.WebhooksElapsed = time.Since(start)
	}
	r.RedisCores = (rs.cpu() - redis0).Seconds() / r.Elapsed.Seconds()
	for _, w := range ws {
		r.WorkerCores += w.cpu().Seconds() / r.Elapsed.Seconds()
	}
	r.OtherCores = max(0, readCPUStat().busyCores(st0, r.Elapsed.Seconds())-r.RedisCores-r.WorkerCores)
	cs1, err := rs.commandStats(ctx)
	if err != nil {
		return r, err
	}
	delete(cs1, "info") // the harness's own INFO calls
	r.Commands, r.TopCommands = commandDelta(cs0, cs1)
	r.EventsPerSec = float64(events) / r.Elapsed.Seconds()
	r.PerEvent = float64(r.Commands) / float64(events)
	for _, w := range ws {
		w.stop(15 * time.Second)
	}
	return r, nil
}

// groupBacklog is what group has not read or not acknowledged yet, over
// every partition (XINFO GROUPS lag + pending).
func groupBacklog(ctx context.Context, rs *redisServer, ks redisx.Keyspace, group string) (int64, error) {
	var n int64
	for p := 0; p < ks.Partitions; p++ {
		groups, err := rs.client.Do(ctx, rs.client.B().XinfoGroups().Key(ks.Stream(p)).Build()).ToArray()
		if err != nil {
			return 0, err
		}
		for _, g := range groups {
			info, err := g.AsMap()
			if err != nil {
				return 0, err
			}
			name, lag, pending := info["name"], info["lag"], info["pending"]
			if s, _ := name.ToString(); s != group {
				continue
			}
			l, _ := lag.AsInt64()
			pe, _ := pending.AsInt64()
			n += l + pe
		}
	}
	return n, nil
}

var benchLineRe = regexp.MustCompile(`^([A-Za-z_]+)[^:]*: ([\d.]+) requests per second(?:, p50=([\d.]+ msec))?`)

func parseRedisBenchmark(out string, pipeline int) []redisBench {
	var res []redisBench
	for _, line := range strings.FieldsFunc(out, func(r rune) bool { return r == '\n' || r == '\r' }) {
		m := benchLineRe.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		rps, _ := strconv.ParseFloat(m[2], 64)
		res = append(res, redisBench{Test: m[1], Pipeline: pipeline, RPS: rps, P50: m[3]})
	}
	return res
}
