package analytics_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/analytics"
	"github.com/shortener/shortener/pkg/clicks"
)

// TestTrimBehindAFasterGroupLosesNothing: a second group (the webhooks')
// reads and acknowledges far faster than analytics applies, while the
// janitor trims every few milliseconds. Trimming follows the slowest group,
// even when analytics' pending entries are acknowledged between the two
// reads Trim makes: every event is applied, none trimmed unread.
func TestTrimBehindAFasterGroupLosesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var codes []string
	for i := 0; i < 64; i++ {
		codes = append(codes, fmt.Sprintf("race%d", i))
		f.newLink(t, codes[i])
	}
	const n = 30000
	var cmds rueidis.Commands
	for i := 0; i < n; i++ {
		ev := click(codes[i%len(codes)], time.Now(), "192.0.2.1", uaDesktop, "", "SE")
		cmds = append(cmds, f.c.B().Xadd().Key(f.ks.Stream(f.ks.Partition(ev.Code))).Id("*").FieldValue().
			FieldValue(clicks.PayloadField, string(clicks.AppendEncode(nil, &ev))).Build())
	}
	for _, r := range f.c.DoMulti(ctx, cmds...) {
		require.NoError(t, r.Error())
	}
	for p := 0; p < f.ks.Partitions; p++ {
		require.NoError(t, f.c.Do(ctx, f.c.B().XgroupCreate().Key(f.ks.Stream(p)).Group("fast").Id("0").Build()).Error())
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fastDone := make(chan struct{})
	go func() { // the fast group: read and acknowledge at once
		defer close(fastDone)
		for p := 0; p < f.ks.Partitions && rctx.Err() == nil; {
			res, err := f.c.Do(rctx, f.c.B().Xreadgroup().Group("fast", "f").Count(500).Streams().Key(f.ks.Stream(p)).Id(">").Build()).AsXRead()
			if err != nil && !rueidis.IsRedisNil(err) {
				return
			}
			entries := res[f.ks.Stream(p)]
			if len(entries) == 0 {
				p++
				continue
			}
			ids := make([]string, len(entries))
			for i, e := range entries {
				ids[i] = e.ID
			}
			if f.c.Do(rctx, f.c.B().Xack().Key(f.ks.Stream(p)).Group("fast").Id(ids...).Build()).Error() != nil {
				return
			}
		}
	}()
	reg := prometheus.NewRegistry()
	c := f.consumer(t, "w1", func(cfg *analytics.ConsumerConfig) {
		cfg.Batch = 50
		cfg.TrimInterval = time.Millisecond
		cfg.Registry = reg
	})
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(rctx) }()
	require.Eventually(t, func() bool {
		clk, err := f.store.Clicks(ctx, codes...)
		require.NoError(t, err)
		var sum int64
		for _, v := range clk {
			sum += v
		}
		return sum == n
	}, 60*time.Second, 20*time.Millisecond, "analytics never counted every event: some were trimmed unread")
	cancel()
	<-done
	<-fastDone
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "shortener_worker_trimmed_entries_total" {
			assert.Greater(t, mf.GetMetric()[0].GetCounter().GetValue(), float64(0), "the janitor trimmed meanwhile")
		}
	}
}

// TestGroupLagGauge: every group's lag is exported per partition, and a
// destroyed group's series goes away (an alert on it resolves).
func TestGroupLagGauge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.newLink(t, "lagged")
	p := f.ks.Partition("lagged")
	reg := prometheus.NewRegistry()
	c := f.consumer(t, "w1", func(cfg *analytics.ConsumerConfig) { cfg.Registry = reg })
	require.NoError(t, f.c.Do(ctx, f.c.B().XgroupCreate().Key(f.ks.Stream(p)).Group("slow").Id("$").Build()).Error())
	var events []clicks.Event
	for i := 0; i < 7; i++ {
		events = append(events, click("lagged", time.Now(), "192.0.2.1", uaDesktop, "", "SE"))
	}
	f.add(t, events...)
	f.drain(t, c)
	lags := func() map[string]float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		out := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "shortener_worker_group_lag" {
				continue
			}
			for _, m := range mf.GetMetric() {
				var g, part string
				for _, l := range m.GetLabel() {
					if l.GetName() == "group" {
						g = l.GetValue()
					} else {
						part = l.GetValue()
					}
				}
				if part == strconv.Itoa(p) {
					out[g] = m.GetGauge().GetValue()
				}
			}
		}
		return out
	}
	require.NoError(t, c.Trim(ctx, p))
	assert.Equal(t, map[string]float64{"analytics": 0, "slow": 7}, lags())
	require.NoError(t, f.c.Do(ctx, f.c.B().XgroupDestroy().Key(f.ks.Stream(p)).Group("slow").Build()).Error())
	require.NoError(t, c.Trim(ctx, p))
	assert.Equal(t, map[string]float64{"analytics": 0}, lags())
}
