package redisx

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/rueidis"
)

// PinPartitions records the partition count in Redis the first time any
// process starts, and refuses to go on when a process is configured with
// another count: a code's keys are tagged by its partition, so changing the
// count would make existing links unreachable.
func PinPartitions(ctx context.Context, c rueidis.Client, ks Keyspace) error {
	want := strconv.Itoa(ks.Partitions)
	if err := c.Do(ctx, c.B().Hsetnx().Key(ks.Meta()).Field("partitions").Value(want).Build()).Error(); err != nil {
		return fmt.Errorf("cannot record partition count: %w", err)
	}
	got, err := c.Do(ctx, c.B().Hget().Key(ks.Meta()).Field("partitions").Build()).ToString()
	if err != nil {
		return fmt.Errorf("cannot read partition count: %w", err)
	}
	if got != want {
		return fmt.Errorf("this keyspace was created with %s partitions, but %s are configured: the partition count cannot change once links exist", got, want)
	}
	return nil
}
