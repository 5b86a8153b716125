package redisx

import (
	"context"
	"fmt"
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
	handle func(entries rueidis.RedisMessage, deleted int) error) error {
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
		if err := handle(arr[1], deleted); err != nil {
			return err
		}
		if cursor == "0-0" || cursor == "" {
			return nil
		}
	}
}
