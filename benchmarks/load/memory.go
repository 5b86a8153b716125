package main

import (
	"context"
	"fmt"
	"time"

	"github.com/shortener/shortener/pkg/redisx"
)

// memoryResults are Redis bytes per link and per link-day of analytics.
type memoryResults struct {
	Links       int
	URLBytes    int
	RecordLen   int     // bytes of one record value
	RecordBytes float64 // per link: l:{pN}:<code> with its expiry
	IndexBytes  float64 // per link: its exp:{pN} entry
	TotalBytes  float64
	BeyondURL   float64
	RecordUsage int64 // MEMORY USAGE of one record key
	PreloadTime time.Duration

	NoTTLLinks int
	NoTTLBytes float64 // per link, for links that never expire (record without TTL, score +inf)

	// For comparison (not what the service stores): the same records as
	// fields of small hashes that stay listpacks.
	BucketLinks, BucketSize int
	BucketBytes             float64

	DayLinks, DayClicks, DayVisitors int
	DayBytes                         float64 // per link
	DayKeys                          []namedCount
	DayApplied                       int64
}

// dayVisitors is how many distinct visitors (IP and user agent) make a
// link's clicks in the one-day analytics measurement.
const dayVisitors = 80

// memory measures Redis bytes per link and per link-day of analytics.
func (h *harness) memory(ctx context.Context) error {
	o := h.o
	mr := &memoryResults{Links: o.memLinks, URLBytes: urlLen, DayLinks: o.dayLinks, DayClicks: o.dayClicks, DayVisitors: dayVisitors}
	h.res.Memory = mr
	g := h.group("memory")
	defer g.stopAll()
	rs, err := g.startRedis(ctx, "redis")
	if err != nil {
		return err
	}
	defer rs.close()
	ks, _ := redisx.NewKeyspace("", redisx.DefaultPartitions)

	codes := genCodes(o.memLinks, 3)
	now := time.Now()
	spec := defaultLinks(now)
	mr.RecordLen = len(spec.record(linkURL(0)))
	m0, err := rs.settledMemory(ctx)
	if err != nil {
		return err
	}
	t := time.Now()
	spec.index = false
	if err := preloadLinks(ctx, rs.client, ks, codes, linkURL, spec); err != nil {
		return err
	}
	m1, err := rs.settledMemory(ctx)
	if err != nil {
		return err
	}
	spec.index, spec.records = true, false
	if err := preloadLinks(ctx, rs.client, ks, codes, linkURL, spec); err != nil {
		return err
	}
	mr.PreloadTime = time.Since(t)
	m2, err := rs.settledMemory(ctx)
	if err != nil {
		return err
	}
	n := float64(len(codes))
	mr.RecordBytes, mr.IndexBytes, mr.TotalBytes = float64(m1-m0)/n, float64(m2-m1)/n, float64(m2-m0)/n
	mr.BeyondURL = mr.TotalBytes - float64(urlLen)
	mr.RecordUsage, _ = rs.client.Do(ctx, rs.client.B().MemoryUsage().Key(ks.Link(codes[0])).Samples(0).Build()).AsInt64()
	h.logf("%d links with %d-byte URLs: %.1f bytes/link (record %.1f, expiry index %.1f) = %.1f beyond the URL",
		len(codes), urlLen, mr.TotalBytes, mr.RecordBytes, mr.IndexBytes, mr.BeyondURL)

	// The same for links that never expire (--default-ttl 0), on fewer links.
	if err := rs.flushAll(ctx); err != nil {
		return err
	}
	mr.NoTTLLinks = min(len(codes), 200000)
	m0, err = rs.settledMemory(ctx)
	if err != nil {
		return err
	}
	if err := preloadLinks(ctx, rs.client, ks, codes[:mr.NoTTLLinks], linkURL, linkSpec{created: now, records: true, index: true}); err != nil {
		return err
	}
	m1, err = rs.settledMemory(ctx)
	if err != nil {
		return err
	}
	mr.NoTTLBytes = float64(m1-m0) / float64(mr.NoTTLLinks)
	h.logf("%d links that never expire: %.1f bytes/link", mr.NoTTLLinks, mr.NoTTLBytes)

	if err := h.bucketMemory(ctx, rs, codes[:mr.NoTTLLinks], now, mr); err != nil {
		return err
	}
	h.logf("%d records as fields of %d-field listpack hashes: %.1f bytes/link", mr.BucketLinks, mr.BucketSize, mr.BucketBytes)

	return h.dayMemory(ctx, g, rs, ks, mr)
}

// bucketMemory stores the records of codes as fields of hashes of
// BucketSize fields, with hash-max-listpack-value raised so they stay
// listpacks, and measures bytes per link.
func (h *harness) bucketMemory(ctx context.Context, rs *redisServer, codes []string, now time.Time, mr *memoryResults) error {
	const size = 256
	mr.BucketLinks, mr.BucketSize = len(codes), size
	c := rs.client
	if err := rs.flushAll(ctx); err != nil {
		return err
	}
	cfg := c.B().ConfigSet().ParameterValue().ParameterValue("hash-max-listpack-value", "256").Build()
	h.res.addCommand("redis-cli CONFIG SET hash-max-listpack-value 256   # the bucketed comparison only")
	if err := c.Do(ctx, cfg).Error(); err != nil {
		return err
	}
	m0, err := rs.settledMemory(ctx)
	if err != nil {
		return err
	}
	spec := defaultLinks(now)
	err = parallelBatches(ctx, len(codes), size, 4, func(lo, hi int) error {
		cmd := c.B().Hset().Key(fmt.Sprintf("lb:%d", lo/size)).FieldValue()
		for i := lo; i < hi; i++ {
			cmd = cmd.FieldValue(codes[i], spec.record(linkURL(i)))
		}
		return c.Do(ctx, cmd.Build()).Error()
	})
	if err != nil {
		return err
	}
	m1, err := rs.settledMemory(ctx)
	if err != nil {
		return err
	}
	mr.BucketBytes = float64(m1-m0) / float64(len(codes))
	return c.Do(ctx, c.B().ConfigSet().ParameterValue().ParameterValue("hash-max-listpack-value", "64").Build()).Error()
}

// dayMemory applies DayClicks events to each of DayLinks links through a
// worker and measures what the analytics keep.
func (h *harness) dayMemory(ctx context.Context, g *procs, rs *redisServer, ks redisx.Keyspace, mr *memoryResults) error {
	if err := rs.flushAll(ctx); err != nil {
		return err
	}
	now := time.Now()
	codes := genCodes(mr.DayLinks, 4)
	if err := preloadLinks(ctx, rs.client, ks, codes, linkURL, defaultLinks(now)); err != nil {
		return err
	}
	w, err := h.startWorker(ctx, g, "worker-day", rs.url, "bench-day")
	if err != nil {
		return err
	}
	// The baseline holds the (empty) streams with their groups, which the
	// worker creates after it reports ready.
	for p := 0; p < ks.Partitions; p++ {
		for i := 0; ; i++ {
			if _, _, err := groupState(ctx, rs, ks.Stream(p), "analytics"); err == nil {
				break
			} else if i == 100 {
				return fmt.Errorf("the worker did not create its groups: %w", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	m0, err := rs.settledMemory(ctx)
	if err != nil {
		return err
	}
	if err := dayEvents(ctx, rs.client, ks, codes, mr.DayClicks, mr.DayVisitors, now); err != nil {
		return err
	}
	want := int64(mr.DayLinks * mr.DayClicks)
	deadline := time.Now().Add(5 * time.Minute)
	for {
		applied, gone, dead, _, err := workersEvents(ctx, []*service{w})
		if err != nil {
			return err
		}
		mr.DayApplied = applied
		if applied+gone+dead >= want {
			if gone+dead > 0 {
				return fmt.Errorf("%d events were not applied (link_gone %d, dead_letter %d)", gone+dead, gone, dead)
			}
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the worker applied %d of %d events in 5 minutes", applied, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Every entry is acknowledged: empty the streams so only analytics remain.
	for p := 0; p < ks.Partitions; p++ {
		if err := rs.client.Do(ctx, rs.client.B().Xtrim().Key(ks.Stream(p)).Maxlen().Threshold("0").Build()).Error(); err != nil {
			return err
		}
	}
	m1, err := rs.settledMemory(ctx)
	if err != nil {
		return err
	}
	mr.DayBytes = float64(m1-m0) / float64(mr.DayLinks)
	day := now.UTC().AddDate(0, 0, -1).Format("20060102")
	base := ks.ClickTotals(codes[0])
	for _, k := range []struct{ name, key string }{
		{"totals hash a:{pN}:<code>", base},
		{"daily hash :d", base + redisx.SuffixDaily},
		{"hourly hash :h", base + redisx.SuffixHourly},
		{"day breakdown hash :b:<day>", base + redisx.SuffixBreakdown + day},
		{"day visitors HyperLogLog :u:<day>", base + redisx.SuffixVisitors + day},
		{"recent clicks list :r", base + redisx.SuffixRecent},
	} {
		n, err := rs.client.Do(ctx, rs.client.B().MemoryUsage().Key(k.key).Samples(0).Build()).AsInt64()
		if err != nil {
			n = 0
		}
		mr.DayKeys = append(mr.DayKeys, namedCount{k.name, n})
	}
	h.logf("one day of analytics at %d clicks (%d visitors) on %d links: %.0f bytes/link", mr.DayClicks, mr.DayVisitors, mr.DayLinks, mr.DayBytes)
	return nil
}
