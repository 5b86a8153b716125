package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/shortener/shortener/pkg/redisx"
)

// redisServer is a private redis-server: a temporary directory, a free
// port, no persistence.
type redisServer struct {
	*proc
	port   int
	url    string
	client rueidis.Client // for the harness's own commands; no client-side cache
}

// redisArgs are the flags every private redis-server gets (plus --port and --dir).
var redisArgs = []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}

func (ps *procs) startRedis(ctx context.Context, name string) (*redisServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(ps.dir, name+"-data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	args := append([]string{"--port", strconv.Itoa(port)}, redisArgs...)
	args = append(args, "--dir", dir)
	p, err := ps.start(name, "redis-server", args...)
	if err != nil {
		return nil, err
	}
	r := &redisServer{proc: p, port: port, url: fmt.Sprintf("redis://127.0.0.1:%d", port)}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if !p.running() {
			return nil, fmt.Errorf("redis-server exited: %v\n%s", p.waitErr, p.logTail())
		}
		c, err := redisx.New(redisx.Config{URL: r.url, DisableCache: true, ClientName: "bench-harness"})
		if err == nil {
			r.client = c
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("redis-server did not answer: %w\n%s", err, p.logTail())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return r, nil
}

// info returns the fields of INFO section as a map.
func (r *redisServer) info(ctx context.Context, section string) (map[string]string, error) {
	s, err := r.client.Do(ctx, r.client.B().Info().Section(section).Build()).ToString()
	if err != nil {
		return nil, fmt.Errorf("info %s: %w", section, err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			m[k] = v
		}
	}
	return m, nil
}

// settledMemory waits briefly for lazy frees and background work, then
// returns used_memory without the client buffers (mem_clients_normal),
// which depend on how many connections are open, not on the data.
func (r *redisServer) settledMemory(ctx context.Context) (int64, error) {
	time.Sleep(300 * time.Millisecond)
	m, err := r.info(ctx, "memory")
	if err != nil {
		return 0, err
	}
	used, err1 := strconv.ParseInt(m["used_memory"], 10, 64)
	clients, err2 := strconv.ParseInt(m["mem_clients_normal"], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("info memory: used_memory %q, mem_clients_normal %q", m["used_memory"], m["mem_clients_normal"])
	}
	return used - clients, nil
}

// commandStats returns calls per command from INFO commandstats.
func (r *redisServer) commandStats(ctx context.Context) (map[string]int64, error) {
	m, err := r.info(ctx, "commandstats")
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for k, v := range m {
		name, ok := strings.CutPrefix(k, "cmdstat_")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(v, ",") {
			if n, ok := strings.CutPrefix(kv, "calls="); ok {
				out[name], _ = strconv.ParseInt(n, 10, 64)
			}
		}
	}
	return out, nil
}

// commandDelta is calls per command between two commandStats snapshots,
// largest first.
func commandDelta(before, after map[string]int64) (total int64, per []namedCount) {
	for name, n := range after {
		if d := n - before[name]; d > 0 {
			per = append(per, namedCount{name, d})
			total += d
		}
	}
	sort.Slice(per, func(i, j int) bool { return per[i].N > per[j].N || per[i].N == per[j].N && per[i].Name < per[j].Name })
	return total, per
}

type namedCount struct {
	Name string
	N    int64
}

func (r *redisServer) flushAll(ctx context.Context) error {
	return r.client.Do(ctx, r.client.B().Flushall().Sync().Build()).Error()
}

func (r *redisServer) close() {
	if r.client != nil {
		r.client.Close()
	}
}
