package redisx

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

// EnsureGroup creates a consumer group on every partition's click stream,
// starting at start: "0" for the whole stream, "$" for new entries only. A
// group that exists already is left where it is.
func EnsureGroup(ctx context.Context, c rueidis.Client, ks Keyspace, group, start string) error {
	for p := 0; p < ks.Partitions; p++ {
		err := c.Do(ctx, c.B().XgroupCreate().Key(ks.Stream(p)).Group(group).Id(start).Mkstream().Build()).Error()
		if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
			return fmt.Errorf("cannot create group %q on %s: %w", group, ks.Stream(p), err)
		}
	}
	return nil
}

// RunPartitions runs perPartition for every partition and each of others,
// each in its own goroutine, and returns when all have returned.
func RunPartitions(ctx context.Context, partitions int, perPartition func(ctx context.Context, p int), others ...func(ctx context.Context)) {
	var wg sync.WaitGroup
	for p := 0; p < partitions; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			perPartition(ctx, p)
		}(p)
	}
	for _, f := range others {
		wg.Add(1)
		go func(f func(context.Context)) {
			defer wg.Done()
			f(ctx)
		}(f)
	}
	wg.Wait()
}

// AutoClaim takes over, for consumer, the entries of key pending in group
// for at least minIdle, count at a time, and hands each page to handle
// with the number of pending entries that no longer exist (trimmed or
// deleted: XAUTOCLAIM drops them from the pending list). It stops at the
// first error.
func AutoClaim(ctx context.Context, c rueidis.Client, key, group, consumer string, minIdle time.Duration, count int64,
	handle func(entries []rueidis.RedisMessage, deleted int) error) error {
	cursor := "0-0"
	for {
		arr, err := c.Do(ctx, c.B().Xautoclaim().Key(key).Group(group).Consumer(consumer).
			MinIdleTime(strconv.FormatInt(minIdle.Milliseconds(), 10)).Start(cursor).Count(count).Build()).ToArray()
		if err != nil {
			return fmt.Errorf("xautoclaim %s: %w", key, err)
		}
		if len(arr) < 2 {
			return fmt.Errorf("xautoclaim %s: short reply", key)
		}
		cursor, _ = arr[0].ToString()
		deleted := 0
		if len(arr) > 2 {
			if ids, _ := arr[2].AsStrSlice(); len(ids) > 0 {
				deleted = len(ids)
			}
		}
		entries, err := arr[1].ToArray()
		if err != nil {
			return fmt.Errorf("xautoclaim %s: %w", key, err)
		}
		if err := handle(entries, deleted); err != nil {
			return err
		}
		if cursor == "0-0" || cursor == "" {
			return nil
		}
	}
}

// ReadGroup reads up to count entries of key for consumer in group: id
// ">" for new entries (waiting up to block for some), "0" for the ones
// this consumer has pending. It returns the entries, each
// [id, [field, value, …]] (nil fields for an entry deleted while
// pending), none when there are none; on NOGROUP
// (the stream was deleted) it calls noGroup before returning the error.
func ReadGroup(ctx context.Context, c rueidis.Client, key, group, consumer string, count int64, block time.Duration, id string,
	noGroup func(context.Context)) ([]rueidis.RedisMessage, error) {
	b := c.B().Xreadgroup().Group(group, consumer).Count(count)
	var cmd rueidis.Completed
	if id == ">" {
		cmd = b.Block(block.Milliseconds()).Streams().Key(key).Id(id).Build()
	} else {
		cmd = b.Streams().Key(key).Id(id).Build()
	}
	res := c.Do(ctx, cmd)
	if rueidis.IsRedisNil(res.Error()) {
		return nil, nil
	}
	if err := res.Error(); err != nil {
		if strings.Contains(err.Error(), "NOGROUP") && noGroup != nil {
			noGroup(ctx)
		}
		return nil, err
	}
	m, err := res.ToMessage()
	if err != nil {
		return nil, err
	}
	var entries rueidis.RedisMessage
	if streams, err := m.AsMap(); err == nil { // RESP3: {key: entries}
		entries = streams[key]
	} else { // RESP2: [[key, entries]]
		arr, err := m.ToArray()
		if err != nil || len(arr) == 0 {
			return nil, fmt.Errorf("unexpected XREADGROUP reply: %w", err)
		}
		pair, err := arr[0].ToArray()
		if err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("unexpected XREADGROUP reply: %w", err)
		}
		entries = pair[1]
	}
	out, err := entries.ToArray()
	if err != nil {
		return nil, fmt.Errorf("unexpected XREADGROUP reply: %w", err)
	}
	return out, nil
}

// GroupReader reads one partition stream as a consumer of a group until
// its context ends: first the entries this consumer name left pending (a
// restart), then new ones, taking over other consumers' idle entries
// every ClaimIdle/2. Failed reads are retried with backoff (100 ms
// doubling to 5 s).
type GroupReader struct {
	Client          rueidis.Client
	Key             string
	Group, Consumer string
	Count           int64
	Block           time.Duration
	ClaimIdle       time.Duration
	Log             *slog.Logger
	// Handle gets every page of entries read (a ReadGroup result, never
	// empty). An error leaves the page pending: the reclaim retries it.
	Handle func(ctx context.Context, entries []rueidis.RedisMessage) error
	// Reclaim takes over idle pending entries (see AutoClaim).
	Reclaim func(ctx context.Context) error
	// NoGroup recreates the group after a NOGROUP answer.
	NoGroup func(ctx context.Context)
	// Paused, if set, is asked before each read of new entries; while it
	// says so, the reader waits pause and asks again.
	Paused func(ctx context.Context) bool
	Pause  time.Duration
}

// Run reads until ctx ends. A read is never cancelled in flight (that
// would leave the entries Redis delivered pending with nobody to handle
// them until a reclaim): a stop waits out Block, bounded should Redis hang.
func (r GroupReader) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	fail := func(what string, err error) {
		r.Log.Warn("stream read failed", "op", what, "stream", r.Key, "group", r.Group, "err", err, "retry_in", backoff.String())
		Sleep(ctx, backoff)
		backoff = min(2*backoff, 5*time.Second)
	}
	read := func(id string) ([]rueidis.RedisMessage, bool) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.Block+5*time.Second)
		defer cancel()
		m, err := ReadGroup(rctx, r.Client, r.Key, r.Group, r.Consumer, r.Count, r.Block, id, r.NoGroup)
		if err != nil {
			if ctx.Err() == nil {
				fail("read", err)
			}
			return m, false
		}
		backoff = 100 * time.Millisecond
		return m, true
	}
	handle := func(m []rueidis.RedisMessage) {
		if err := r.Handle(ctx, m); err != nil && ctx.Err() == nil {
			fail("handle", err)
		}
	}
	for ctx.Err() == nil { // what this consumer name left pending
		m, ok := read("0")
		if !ok {
			continue
		}
		if len(m) == 0 {
			break
		}
		handle(m)
	}
	lastClaim := time.Now()
	for ctx.Err() == nil {
		if r.Paused != nil && r.Paused(ctx) {
			Sleep(ctx, r.Pause)
			continue
		}
		if m, ok := read(">"); ok && len(m) > 0 {
			handle(m)
		}
		if time.Since(lastClaim) >= r.ClaimIdle/2 {
			lastClaim = time.Now()
			if err := r.Reclaim(ctx); err != nil && ctx.Err() == nil {
				r.Log.Warn("reclaim failed", "stream", r.Key, "group", r.Group, "err", err)
			}
		}
	}
}

// Sleep waits for d or ctx's end, whichever is first.
func Sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
