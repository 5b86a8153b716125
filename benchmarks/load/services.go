package main

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// service is an edge, a worker or the ceiling server the harness started.
type service struct {
	*proc
	base string // http://127.0.0.1:port of the public listener ("" for a worker)
	ops  string // http://127.0.0.1:port of /metrics ("" for the ceiling)
}

func (s *service) metrics(ctx context.Context) (metrics, error) {
	return scrape(ctx, s.ops+"/metrics")
}

func twoPorts() (int, int, error) {
	a, err := freePort()
	if err != nil {
		return 0, 0, err
	}
	b, err := freePort()
	for err == nil && b == a {
		b, err = freePort()
	}
	return a, b, err
}

// startEdge runs bin/edge against redisURL with the harness's settings plus
// extra flags, and waits for /readyz.
func (h *harness) startEdge(ctx context.Context, g *procs, name, redisURL, adminKey string, extra ...string) (*service, error) {
	port, ops, err := twoPorts()
	if err != nil {
		return nil, err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	args := []string{"--listen", "127.0.0.1:" + strconv.Itoa(port), "--ops-listen", "127.0.0.1:" + strconv.Itoa(ops),
		"--redis", redisURL, "--base-url", base, "--admin-key", adminKey, "--log-format", "text", "--log-level", "warn"}
	p, err := g.start(name, h.bins["edge"], append(args, extra...)...)
	if err != nil {
		return nil, err
	}
	s := &service{proc: p, base: base, ops: fmt.Sprintf("http://127.0.0.1:%d", ops)}
	return s, waitHTTP(ctx, p, s.ops+"/readyz", 200, 20*time.Second)
}

// startWorker runs bin/worker against redisURL as consumer and waits for /readyz.
func (h *harness) startWorker(ctx context.Context, g *procs, name, redisURL, consumer string, extra ...string) (*service, error) {
	ops, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{"--redis", redisURL, "--ops-listen", "127.0.0.1:" + strconv.Itoa(ops),
		"--consumer", consumer, "--log-format", "text", "--log-level", "warn"}, extra...)
	p, err := g.start(name, h.bins["worker"], args...)
	if err != nil {
		return nil, err
	}
	s := &service{proc: p, ops: fmt.Sprintf("http://127.0.0.1:%d", ops)}
	return s, waitHTTP(ctx, p, s.ops+"/readyz", 200, 20*time.Second)
}

// startCeiling runs the ceiling server answering with location.
func (h *harness) startCeiling(ctx context.Context, g *procs, location string) (*service, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p, err := g.start("ceiling", h.bins["ceiling"], "--listen", "127.0.0.1:"+strconv.Itoa(port), "--location", location)
	if err != nil {
		return nil, err
	}
	s := &service{proc: p, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	return s, waitHTTP(ctx, p, s.base+"/probe", 302, 10*time.Second)
}

// workersEvents sums shortener_worker_events_total by result over workers.
func workersEvents(ctx context.Context, ws []*service) (applied, gone, dead, dup int64, err error) {
	for _, w := range ws {
		m, err := w.metrics(ctx)
		if err != nil {
			return 0, 0, 0, 0, err
		}
		applied += m.int("shortener_worker_events_total", `result="applied"`)
		gone += m.int("shortener_worker_events_total", `result="link_gone"`)
		dead += m.int("shortener_worker_events_total", `result="dead_letter"`)
		dup += m.int("shortener_worker_events_total", `result="duplicate"`)
	}
	return applied, gone, dead, dup, nil
}
