package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"

	"github.com/shortener/shortener/pkg/clicks"
	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/useragent"
)

// Defaults of ConsumerConfig.
const (
	DefaultBatch         = 256
	DefaultBlock         = 2 * time.Second
	DefaultClaimIdle     = 30 * time.Second
	DefaultMaxDeliveries = 5
	DefaultTrimInterval  = 10 * time.Second
)

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	Client     rueidis.Client
	Keys       redisx.Keyspace
	Group      string
	Name       string // consumer name, unique per worker process
	Classifier *useragent.Classifier
	// VisitorKey keys the visitor hash; every worker of a deployment must
	// use the same one (see VisitorKey).
	VisitorKey []byte
	// Batch is the most entries read and applied at once.
	Batch int
	// Block is how long one read waits for new entries.
	Block time.Duration
	// ClaimIdle is how long an entry stays pending with a consumer before
	// another takes it over with XAUTOCLAIM.
	ClaimIdle time.Duration
	// MaxDeliveries is how often an entry may be delivered before it goes to
	// the dead-letter stream.
	MaxDeliveries int
	// TrimInterval is how often the streams are trimmed behind every group.
	TrimInterval time.Duration
	// CampaignCodes get a per-code click series; no other code does.
	CampaignCodes []string
	// MetricReferers are the referer domains with their own label value
	// (nil: DefaultMetricReferers).
	MetricReferers []string
	// MetricTags are the link tags with their own click series.
	MetricTags []string
	Log        *slog.Logger
	Registry   prometheus.Registerer
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Consumer reads click events and applies them. It is safe for concurrent
// use; Run starts one reader per partition.
type Consumer struct {
	cfg      ConsumerConfig
	groupsMu sync.Mutex
	groups   map[int][]string // per partition, the groups last seen by Trim
	now      func() time.Time
	m        consumerMetrics
	business *businessMetrics
}

type consumerMetrics struct {
	applied, duplicate, gone, deadLetter, lost prometheus.Counter
	linkEvents                                 prometheus.Counter
	reclaimed                                  prometheus.Counter
	applySeconds, batchSize                    prometheus.Observer
	pending, lag, groupLag                     *prometheus.GaugeVec
	trimmed, orphans, heads                    prometheus.Counter
}

// Entry is one stream entry as read.
type Entry struct {
	ID      string
	Payload string
	// Link marks a link event (link.EventField): acknowledged, not applied.
	Link bool
}

// NewConsumer validates cfg, fills defaults and registers the metrics.
func NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	if cfg.Client == nil || cfg.Classifier == nil || cfg.Log == nil {
		return nil, errors.New("consumer needs a client, a classifier and a logger")
	}
	if cfg.Group == "" || cfg.Name == "" {
		return nil, errors.New("consumer needs a group and a name")
	}
	if len(cfg.VisitorKey) < 16 {
		return nil, errors.New("visitor key must be at least 16 bytes")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Block <= 0 {
		cfg.Block = DefaultBlock
	}
	if cfg.ClaimIdle <= 0 {
		cfg.ClaimIdle = DefaultClaimIdle
	}
	if cfg.MaxDeliveries <= 0 {
		cfg.MaxDeliveries = DefaultMaxDeliveries
	}
	if cfg.TrimInterval <= 0 {
		cfg.TrimInterval = DefaultTrimInterval
	}
	c := &Consumer{cfg: cfg, now: cfg.Now, business: newBusinessMetrics(cfg.CampaignCodes, cfg.MetricReferers, cfg.MetricTags)}
	if c.now == nil {
		c.now = time.Now
	}
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shortener_worker_events_total",
		Help: "Stream entries handled by result: applied, duplicate (already applied), link_gone (link deleted or expired before the click was applied), dead_letter, lost (trimmed before being applied), link_event (a link change, for webhooks: acknowledged, nothing to apply).",
	}, []string{"result"})
	reclaimed := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shortener_worker_reclaimed_total",
		Help: "Entries taken over from idle consumers with XAUTOCLAIM.",
	})
	applySeconds := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "shortener_worker_apply_seconds",
		Help:    "Time to apply one batch (one Lua call).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
	batchSize := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "shortener_worker_batch_size",
		Help:    "Entries per applied batch.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 12),
	})
	pending := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shortener_worker_pending_entries",
		Help: "Entries delivered to the group but not yet acknowledged, per stream partition (XINFO GROUPS).",
	}, []string{"partition"})
	lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shortener_worker_consumer_lag",
		Help: "Entries not yet delivered to the group, per stream partition (XINFO GROUPS lag).",
	}, []string{"partition"})
	groupLag := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shortener_worker_group_lag",
		Help: "Entries not yet read by each consumer group of the click streams (analytics, webhooks, any other), per partition (XINFO GROUPS lag): streams are trimmed behind the slowest group, so one that stops reading holds the trimming back.",
	}, []string{"group", "partition"})
	orphans := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shortener_worker_orphan_visits_total",
		Help: "Visits of unknown or expired codes, counted for GET /api/v1/stats/orphans.",
	})
	heads := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shortener_worker_head_requests_total",
		Help: "HEAD requests of links: checks, counted apart from clicks.",
	})
	trimmed := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shortener_worker_trimmed_entries_total",
		Help: "Stream entries trimmed behind every consumer group.",
	})
	uaHits := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "shortener_worker_useragent_cache_hits_total",
		Help: "User-agent classifications answered by the LRU.",
	}, func() float64 { h, _ := cfg.Classifier.Stats(); return float64(h) })
	uaMisses := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "shortener_worker_useragent_cache_misses_total",
		Help: "User-agent classifications that needed a parse.",
	}, func() float64 { _, m := cfg.Classifier.Stats(); return float64(m) })
	if cfg.Registry != nil {
		for _, col := range append([]prometheus.Collector{events, reclaimed, applySeconds, batchSize, pending, lag, groupLag, trimmed, uaHits, uaMisses, orphans, heads}, c.business.collectors()...) {
			if err := cfg.Registry.Register(col); err != nil {
				return nil, err
			}
		}
	}
	c.m = consumerMetrics{
		applied: events.WithLabelValues("applied"), duplicate: events.WithLabelValues("duplicate"),
		gone: events.WithLabelValues("link_gone"), deadLetter: events.WithLabelValues("dead_letter"),
		lost: events.WithLabelValues("lost"), linkEvents: events.WithLabelValues("link_event"), reclaimed: reclaimed, applySeconds: applySeconds,
		batchSize: batchSize, pending: pending, lag: lag, groupLag: groupLag, trimmed: trimmed, orphans: orphans, heads: heads,
	}
	return c, nil
}

// VisitorKey returns the deployment's visitor-hash key, creating it in Redis
// the first time (HSETNX), so every worker hashes visitors alike.
func VisitorKey(ctx context.Context, c rueidis.Client, ks redisx.Keyspace, fresh []byte) ([]byte, error) {
	if err := c.Do(ctx, c.B().Hsetnx().Key(ks.Meta()).Field("visitor_key").Value(fmt.Sprintf("%x", fresh)).Build()).Error(); err != nil {
		return nil, fmt.Errorf("cannot store visitor key: %w", err)
	}
	v, err := c.Do(ctx, c.B().Hget().Key(ks.Meta()).Field("visitor_key").Build()).ToString()
	if err != nil {
		return nil, fmt.Errorf("cannot read visitor key: %w", err)
	}
	return []byte(v), nil
}

// EnsureGroups creates the consumer group on every partition's stream (from
// the stream's start, so events appended before the first worker are kept).
func (c *Consumer) EnsureGroups(ctx context.Context) error {
	return redisx.EnsureGroup(ctx, c.cfg.Client, c.cfg.Keys, c.cfg.Group, "0")
}

// Run reads and applies every partition until ctx ends. On cancellation,
// a batch in hand is applied and acknowledged before Run returns.
func (c *Consumer) Run(ctx context.Context) error {
	if err := c.EnsureGroups(ctx); err != nil {
		return err
	}
	redisx.RunPartitions(ctx, c.cfg.Keys.Partitions, c.runPartition, c.runJanitor)
	return nil
}

func (c *Consumer) runPartition(ctx context.Context, p int) {
	redisx.GroupReader{
		Client: c.cfg.Client, Key: c.cfg.Keys.Stream(p), Group: c.cfg.Group, Consumer: c.cfg.Name,
		Count: int64(c.cfg.Batch), Block: c.cfg.Block, ClaimIdle: c.cfg.ClaimIdle, Log: c.cfg.Log,
		Handle: func(_ context.Context, m []rueidis.RedisMessage) error {
			entries, err := parseEntries(m)
			if err != nil {
				return err
			}
			c.Process(p, entries) // logs its own failures; the entries then stay pending
			return nil
		},
		Reclaim: func(ctx context.Context) error { return c.Reclaim(ctx, p) },
		NoGroup: func(ctx context.Context) { _ = c.EnsureGroups(ctx) },
	}.Run(ctx)
}

// Read reads up to Batch entries of partition p: id ">" for new entries,
// "0" for this consumer's own pending ones.
func (c *Consumer) Read(ctx context.Context, p int, id string) ([]Entry, error) {
	m, err := redisx.ReadGroup(ctx, c.cfg.Client, c.cfg.Keys.Stream(p), c.cfg.Group, c.cfg.Name, int64(c.cfg.Batch), c.cfg.Block, id,
		func(ctx context.Context) { _ = c.EnsureGroups(ctx) })
	if err != nil {
		return nil, err
	}
	return parseEntries(m)
}

// parseEntries reads [id, [field, value, …]] entries; an entry whose
// fields are gone (deleted while pending) has a nil field list.
func parseEntries(arr []rueidis.RedisMessage) ([]Entry, error) {
	out := make([]Entry, 0, len(arr))
	for _, e := range arr {
		pair, err := e.ToArray()
		if err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("unexpected stream entry")
		}
		id, err := pair[0].ToString()
		if err != nil {
			return nil, err
		}
		ent := Entry{ID: id}
		if fv, err := pair[1].ToArray(); err == nil {
			for i := 0; i+1 < len(fv); i += 2 {
				switch f, _ := fv[i].ToString(); f {
				case clicks.PayloadField:
					ent.Payload, _ = fv[i+1].ToString()
				case link.EventField:
					ent.Payload, _ = fv[i+1].ToString()
					ent.Link = true
				}
			}
		}
		out = append(out, ent)
	}
	return out, nil
}

// Result counts what one Process call did.
type Result struct {
	Applied, Duplicate, Gone, DeadLetter int
	Orphans, Heads                       int // visits of unknown codes, HEADs of links
	LinkEvents                           int // link events acknowledged (they are the webhooks')
}

// Process applies entries of partition p (malformed ones go to the
// dead-letter stream). It is not cancelled by the caller's context: a batch
// in hand is always finished. Errors are logged; the entries then stay
// pending and are retried or reclaimed.
func (c *Consumer) Process(p int, entries []Entry) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.apply(ctx, p, entries, nil)
	if err != nil {
		c.cfg.Log.Error("cannot apply batch; it stays pending", "partition", p, "entries", len(entries), "err", err)
	}
	return res
}

// apply runs the scripts for entries; dead lists entries (by index) to
// dead-letter regardless of their payload.
func (c *Consumer) apply(ctx context.Context, p int, entries []Entry, dead map[int]string) (Result, error) {
	var res Result
	if len(entries) == 0 {
		return res, nil
	}
	now := c.now().UTC()
	args := make([]string, 0, 12+14*len(entries))
	args = append(args, c.cfg.Group, c.cfg.Keys.AnalyticsPrefix(p), c.cfg.Keys.LinkPrefix(p),
		strconv.Itoa(redisx.DayKeyRetention*24*3600),
		now.AddDate(0, 0, -(DailyRetentionDays-1)).Format("20060102"),
		now.Add(-HourlyRetention).Format("2006010215"),
		strconv.Itoa(RecentClicks), strconv.Itoa(breakdownCap), strconv.FormatInt(now.UnixMilli(), 10),
		c.cfg.Keys.TagPrefix(p), c.cfg.Keys.OrphanPrefix(p), strconv.Itoa(OrphanRetentionDays*24*3600))
	var dl, linkEvents []string
	applied := make([]eventArgs, 0, len(entries))
	for i, e := range entries {
		if e.Link { // for the webhooks group; nothing to count here
			linkEvents = append(linkEvents, e.ID)
			continue
		}
		if reason, ok := dead[i]; ok {
			dl = append(dl, e.ID, reason, e.Payload)
			continue
		}
		ev, err := clicks.Decode(e.Payload)
		if err == nil && redisx.PartitionOf(ev.Code, c.cfg.Keys.Partitions) != p {
			err = errors.New("code belongs to another partition")
		}
		if err != nil {
			dl = append(dl, e.ID, "malformed: "+err.Error(), e.Payload)
			continue
		}
		f := c.fields(e.ID, &ev)
		args = append(args, f[:]...)
		applied = append(applied, f)
	}
	n := (len(args) - 12) / 14
	if n > 0 {
		start := time.Now()
		out, err := applyScript.Exec(ctx, c.cfg.Client,
			[]string{c.cfg.Keys.Stream(p), c.cfg.Keys.PartitionClicks(p), c.cfg.Keys.Top(p)}, args).AsStrSlice()
		if err != nil || len(out) != 2 {
			return res, fmt.Errorf("apply batch: %w", err)
		}
		status, tagLines := out[0], strings.Split(out[1], "\n")
		if len(status) != n {
			return res, fmt.Errorf("apply batch: %d results for %d events", len(status), n)
		}
		c.m.applySeconds.Observe(time.Since(start).Seconds())
		c.m.batchSize.Observe(float64(n))
		for i := 0; i < n; i++ {
			switch status[i] {
			case 'a':
				res.Applied++
				c.business.count(&applied[i])
				if i < len(tagLines) && tagLines[i] != "" {
					c.business.countTags(tagLines[i])
				}
			case 'g':
				res.Gone++
			case 'o':
				res.Orphans++
				c.m.orphans.Inc()
			case 'h':
				res.Heads++
				c.m.heads.Inc()
			default:
				res.Duplicate++
			}
		}
		c.m.applied.Add(float64(res.Applied))
		c.m.gone.Add(float64(res.Gone))
		c.m.duplicate.Add(float64(res.Duplicate))
	}
	if len(linkEvents) > 0 {
		cl := c.cfg.Client
		n, err := cl.Do(ctx, cl.B().Xack().Key(c.cfg.Keys.Stream(p)).Group(c.cfg.Group).Id(linkEvents...).Build()).AsInt64()
		if err != nil {
			return res, fmt.Errorf("ack link events: %w", err)
		}
		res.LinkEvents = int(n)
		c.m.linkEvents.Add(float64(n))
	}
	if len(dl) > 0 {
		moved, err := deadLetterScript.Exec(ctx, c.cfg.Client,
			[]string{c.cfg.Keys.Stream(p), c.cfg.Keys.DeadLetter(p)}, append([]string{c.cfg.Group}, dl...)).AsInt64()
		if err != nil {
			return res, fmt.Errorf("dead-letter: %w", err)
		}
		res.DeadLetter = int(moved)
		c.m.deadLetter.Add(float64(moved))
		c.cfg.Log.Warn("entries moved to the dead-letter stream", "partition", p, "count", moved, "stream", c.cfg.Keys.DeadLetter(p))
	}
	return res, nil
}

// Reclaim takes over entries of partition p pending with any consumer for
// longer than ClaimIdle, and applies them; entries delivered more than
// MaxDeliveries times go to the dead-letter stream instead.
func (c *Consumer) Reclaim(ctx context.Context, p int) error {
	return redisx.AutoClaim(ctx, c.cfg.Client, c.cfg.Keys.Stream(p), c.cfg.Group, c.cfg.Name, c.cfg.ClaimIdle, int64(c.cfg.Batch),
		func(m []rueidis.RedisMessage, deleted int) error {
			if deleted > 0 {
				c.m.lost.Add(float64(deleted))
				c.cfg.Log.Error("pending entries were trimmed before being applied: clicks lost", "partition", p, "count", deleted)
			}
			entries, err := parseEntries(m)
			if err != nil {
				return fmt.Errorf("xautoclaim %s: %w", c.cfg.Keys.Stream(p), err)
			}
			if len(entries) == 0 {
				return nil
			}
			c.m.reclaimed.Add(float64(len(entries)))
			dead, err := c.overDelivered(ctx, p, entries)
			if err != nil {
				return err
			}
			_, err = c.apply(ctx, p, entries, dead)
			return err
		})
}

// overDelivered returns the entries (by index) delivered more than
// MaxDeliveries times, from XPENDING of this consumer over their ID range.
func (c *Consumer) overDelivered(ctx context.Context, p int, entries []Entry) (map[int]string, error) {
	cl := c.cfg.Client
	rows, err := cl.Do(ctx, cl.B().Xpending().Key(c.cfg.Keys.Stream(p)).Group(c.cfg.Group).Start(entries[0].ID).
		End(entries[len(entries)-1].ID).Count(int64(len(entries))).Consumer(c.cfg.Name).Build()).ToArray()
	if err != nil {
		return nil, fmt.Errorf("xpending: %w", err)
	}
	counts := make(map[string]int64, len(rows))
	for _, r := range rows {
		f, err := r.ToArray()
		if err != nil || len(f) < 4 {
			continue
		}
		id, _ := f[0].ToString()
		n, _ := f[3].AsInt64()
		counts[id] = n
	}
	var dead map[int]string
	for i, e := range entries {
		if counts[e.ID] > int64(c.cfg.MaxDeliveries) {
			if dead == nil {
				dead = map[int]string{}
			}
			dead[i] = fmt.Sprintf("delivered %d times", counts[e.ID])
		}
	}
	return dead, nil
}

func (c *Consumer) runJanitor(ctx context.Context) {
	t := time.NewTicker(c.cfg.TrimInterval)
	defer t.Stop()
	for {
		for p := 0; p < c.cfg.Keys.Partitions && ctx.Err() == nil; p++ {
			if err := c.Trim(ctx, p); err != nil && ctx.Err() == nil {
				c.cfg.Log.Warn("trim failed", "partition", p, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Trim removes the entries of partition p's stream that every consumer
// group has acknowledged: it trims to the oldest ID still pending in any
// group, or to the last ID any group has read. A lagging group's backlog is
// never trimmed. It also refreshes the pending and lag gauges.
func (c *Consumer) Trim(ctx context.Context, p int) error {
	cl := c.cfg.Client
	key := c.cfg.Keys.Stream(p)
	groups, err := cl.Do(ctx, cl.B().XinfoGroups().Key(key).Build()).ToArray()
	if err != nil {
		return fmt.Errorf("xinfo groups %s: %w", key, err)
	}
	if len(groups) == 0 {
		return nil
	}
	label := strconv.Itoa(p)
	minID := ""
	var pendingTotal, lagMax int64
	var seen []string
	defer func() { c.forgetGroups(p, seen) }()
	for _, g := range groups {
		info, err := g.AsMap()
		if err != nil {
			return fmt.Errorf("xinfo groups %s: %w", key, err)
		}
		nameMsg, pendingMsg, lastMsg, lag := info["name"], info["pending"], info["last-delivered-id"], info["lag"]
		name, _ := nameMsg.ToString()
		seen = append(seen, name)
		pending, _ := pendingMsg.AsInt64()
		last, _ := lastMsg.ToString()
		if !lag.IsNil() {
			if n, err := lag.AsInt64(); err == nil {
				c.m.groupLag.WithLabelValues(name, label).Set(float64(n))
				if name == c.cfg.Group {
					lagMax = n
				}
			}
		}
		if name == c.cfg.Group {
			pendingTotal = pending
		}
		candidate := last
		if pending > 0 {
			sum, err := cl.Do(ctx, cl.B().Xpending().Key(key).Group(name).Build()).ToArray()
			if err != nil || len(sum) < 2 {
				return fmt.Errorf("xpending %s %s: %w", key, name, err)
			}
			// The group may have acknowledged everything since XINFO: then
			// nothing is pending and every entry up to last (read before)
			// is done; keep last.
			if n, _ := sum[0].AsInt64(); n > 0 {
				if candidate, err = sum[1].ToString(); err != nil {
					return fmt.Errorf("xpending %s %s: %w", key, name, err)
				}
			}
		}
		if candidate == "" {
			return nil // a group whose position is unknown: trim nothing this round
		}
		if minID == "" || lessID(candidate, minID) {
			minID = candidate
		}
	}
	c.m.pending.WithLabelValues(label).Set(float64(pendingTotal))
	c.m.lag.WithLabelValues(label).Set(float64(lagMax))
	if minID == "" || minID == "0-0" {
		return nil
	}
	n, err := cl.Do(ctx, cl.B().Xtrim().Key(key).Minid().Almost().Threshold(minID).Build()).AsInt64()
	if err != nil {
		return fmt.Errorf("xtrim %s: %w", key, err)
	}
	c.m.trimmed.Add(float64(n))
	return nil
}

// forgetGroups drops the lag series of the groups of partition p that
// are gone (destroyed) since the last Trim, so no alert sees them stuck.
func (c *Consumer) forgetGroups(p int, now []string) {
	c.groupsMu.Lock()
	defer c.groupsMu.Unlock()
	if c.groups == nil {
		c.groups = map[int][]string{}
	}
	for _, g := range c.groups[p] {
		if !slices.Contains(now, g) {
			c.m.groupLag.DeleteLabelValues(g, strconv.Itoa(p))
		}
	}
	c.groups[p] = now
}

// lessID compares stream IDs "ms-seq".
func lessID(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	ami, _ := strconv.ParseUint(am, 10, 64)
	bmi, _ := strconv.ParseUint(bm, 10, 64)
	if ami != bmi {
		return ami < bmi
	}
	asi, _ := strconv.ParseUint(as, 10, 64)
	bsi, _ := strconv.ParseUint(bs, 10, 64)
	return asi < bsi
}
