package redisx

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/rueidis"
)

// Connect is New, retried with exponential backoff (100 ms doubling to 5 s)
// until Redis answers or ctx ends: a process may start before Redis does.
func Connect(ctx context.Context, cfg Config, log *slog.Logger) (rueidis.Client, error) {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		c, err := New(cfg)
		if err == nil {
			return c, nil
		}
		log.Warn("redis not reachable, retrying", "attempt", attempt, "retry_in", backoff.String(), "err", err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff):
		}
		if backoff *= 2; backoff > 5*time.Second {
			backoff = 5 * time.Second
		}
	}
}

// WatchUp pings Redis every interval until ctx ends and reports whether it
// answered (within a second) to up, for a redis-up gauge.
func WatchUp(ctx context.Context, c rueidis.Client, interval time.Duration, up func(bool)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		up(Ping(ctx, c, time.Second) == nil)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
