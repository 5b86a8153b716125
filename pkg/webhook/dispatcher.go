package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"

	"github.com/shortener/shortener/pkg/clicks"
	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/useragent"
)

// Defaults of DispatcherConfig.
const (
	DefaultGroup               = "webhooks"
	DefaultConcurrency         = 16
	DefaultTimeout             = 10 * time.Second
	DefaultMaxAttempts         = 10
	DefaultBackoff             = 5 * time.Second
	DefaultMaxBackoff          = time.Hour
	DefaultPollInterval        = time.Second
	DefaultQueueMax            = 10_000
	DefaultDeadLetterRetention = 14 * 24 * time.Hour
	defaultBatch               = 256
	defaultBlock               = 2 * time.Second
	defaultClaimIdle           = 30 * time.Second
	janitorInterval            = 10 * time.Second
	// UserAgent is sent with every delivery.
	UserAgent = "shortener-webhooks/1"
)

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	// Client must have client-side caching on: the link and subscription
	// of every event are read through it.
	Client        rueidis.Client
	Keys          redisx.Keyspace
	Group         string // consumer group on the click streams; DefaultGroup if ""
	Name          string // consumer name, unique per process
	Subscriptions *Registry
	Links         *link.Store
	Classifier    *useragent.Classifier
	// HTTP posts the deliveries; nil means NewHTTPClient(AllowPrivate,
	// Timeout, Concurrency).
	HTTP         *http.Client
	AllowPrivate bool
	// Concurrency is the most deliveries in flight at once.
	Concurrency int
	// Timeout bounds one try, from dialling to the end of the answer.
	Timeout time.Duration
	// MaxAttempts is how many tries a delivery gets before it becomes a
	// dead letter.
	MaxAttempts int
	// Backoff is the wait after the first failed try; it doubles after
	// each further one (±20% jitter), up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// PollInterval is how often due retries are looked for when idle.
	PollInterval time.Duration
	// QueueMax bounds the queued deliveries of one partition: past it the
	// dispatcher stops reading that partition's stream, so the backlog
	// waits in the stream (and shows as lag) instead of growing the queue.
	QueueMax int
	// DeadLetterRetention is how long a dead letter is kept for replay.
	DeadLetterRetention time.Duration
	// Block is how long one stream read waits for new events (and so how
	// long a stop may wait for a read in flight); 0 means 2 s.
	Block time.Duration
	// ClaimIdle is how long a stream entry stays pending with a consumer
	// (a dispatcher that died before queueing it) before another takes it
	// over; 0 means 30 s.
	ClaimIdle time.Duration
	Log       *slog.Logger
	Registry  prometheus.Registerer
	Now       func() time.Time
}

// Dispatcher delivers webhooks. It is safe for concurrent use; Run does
// the work.
type Dispatcher struct {
	cfg   DispatcherConfig
	now   func() time.Time
	lease time.Duration
	wake  chan struct{} // new jobs queued
	free  chan struct{} // a delivery finished
	m     dispatcherMetrics
	full  []atomic.Bool // per partition: queue at QueueMax
}

type dispatcherMetrics struct {
	events     *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	seconds    prometheus.Observer
	queued     prometheus.Gauge
	dead       prometheus.Gauge
	expired    prometheus.Counter
}

// NewDispatcher validates cfg, fills defaults and registers the metrics.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	if cfg.Client == nil || cfg.Subscriptions == nil || cfg.Links == nil || cfg.Classifier == nil || cfg.Log == nil {
		return nil, errors.New("dispatcher needs a client, subscriptions, links, a classifier and a logger")
	}
	if cfg.Name == "" {
		return nil, errors.New("dispatcher needs a consumer name")
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.Timeout, DefaultTimeout)
	def(&cfg.Backoff, DefaultBackoff)
	def(&cfg.MaxBackoff, DefaultMaxBackoff)
	def(&cfg.PollInterval, DefaultPollInterval)
	def(&cfg.DeadLetterRetention, DefaultDeadLetterRetention)
	def(&cfg.ClaimIdle, defaultClaimIdle)
	def(&cfg.Block, defaultBlock)
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.QueueMax <= 0 {
		cfg.QueueMax = DefaultQueueMax
	}
	if cfg.HTTP == nil {
		cfg.HTTP = NewHTTPClient(cfg.AllowPrivate, cfg.Timeout, cfg.Concurrency)
	}
	// A try lasts at most Timeout (the HTTP client's limit), then its
	// outcome is recorded: a lease of twice that and some leaves no doubt
	// that a leased job whose lease ended has nobody working on it.
	d := &Dispatcher{cfg: cfg, now: cfg.Now, lease: 2*cfg.Timeout + 5*time.Second,
		wake: make(chan struct{}, 1), free: make(chan struct{}, 1), full: make([]atomic.Bool, cfg.Keys.Partitions)}
	if d.now == nil {
		d.now = time.Now
	}
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shortener_worker_webhook_events_total",
		Help: "Stream entries the webhooks group handled, by result: queued (deliveries queued), no_subscriber, skipped (HEAD requests and orphan visits), link_gone (a click of a link deleted or expired meanwhile), malformed, lost (trimmed before being queued).",
	}, []string{"result"})
	deliveries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shortener_worker_webhook_deliveries_total",
		Help: "Webhook delivery tries, by result: delivered (2xx), failed (retried later), dead_letter (failed its last try), subscription_gone (deleted before delivery).",
	}, []string{"result"})
	seconds := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "shortener_worker_webhook_delivery_seconds",
		Help:    "Time of one delivery try, until the receiver's answer or the failure.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	})
	queued := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "shortener_worker_webhook_queued_deliveries",
		Help: "Deliveries queued (due, waiting for a retry or in flight), over every partition.",
	})
	dead := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "shortener_worker_webhook_dead_letters",
		Help: "Deliveries kept in the webhook dead-letter streams for replay, over every partition.",
	})
	expired := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shortener_worker_webhook_dead_letters_expired_total",
		Help: "Dead letters removed unreplayed after the dead-letter retention: deliveries given up for good.",
	})
	if cfg.Registry != nil {
		for _, c := range []prometheus.Collector{events, deliveries, seconds, queued, dead, expired} {
			if err := cfg.Registry.Register(c); err != nil {
				return nil, err
			}
		}
	}
	for _, r := range []string{"queued", "no_subscriber", "skipped", "link_gone", "malformed", "lost"} {
		events.WithLabelValues(r)
	}
	for _, r := range []string{"delivered", "failed", "dead_letter", "subscription_gone"} {
		deliveries.WithLabelValues(r)
	}
	d.m = dispatcherMetrics{events: events, deliveries: deliveries, seconds: seconds, queued: queued, dead: dead, expired: expired}
	return d, nil
}

// EnsureGroups creates the webhooks group on every partition's stream. A
// new group starts at the stream's end: events from before webhooks were
// turned on are not delivered.
func (d *Dispatcher) EnsureGroups(ctx context.Context) error {
	return redisx.EnsureGroup(ctx, d.cfg.Client, d.cfg.Keys, d.cfg.Group, "$")
}

// Run reads events and delivers webhooks until ctx ends; deliveries in
// flight then finish (each within Timeout) before it returns.
func (d *Dispatcher) Run(ctx context.Context) error {
	if err := d.EnsureGroups(ctx); err != nil {
		return err
	}
	redisx.RunPartitions(ctx, d.cfg.Keys.Partitions, d.readPartition, d.deliverLoop, d.janitor)
	return nil
}

func (d *Dispatcher) readPartition(ctx context.Context, p int) {
	redisx.GroupReader{
		Client: d.cfg.Client, Key: d.cfg.Keys.Stream(p), Group: d.cfg.Group, Consumer: d.cfg.Name,
		Count: defaultBatch, Block: d.cfg.Block, ClaimIdle: d.cfg.ClaimIdle, Log: d.cfg.Log,
		Handle: func(ctx context.Context, m []rueidis.RedisMessage) error {
			entries, err := xrange(m)
			if err != nil {
				return err
			}
			return d.handle(ctx, p, entries)
		},
		Reclaim: func(ctx context.Context) error { return d.reclaim(ctx, p) },
		NoGroup: func(ctx context.Context) { _ = d.EnsureGroups(ctx) },
		// A full queue pauses the reading: the backlog waits in the stream.
		Paused: func(ctx context.Context) bool {
			if !d.full[p].Load() {
				return false
			}
			n, err := d.cfg.Client.Do(ctx, d.cfg.Client.B().Zcard().Key(d.cfg.Keys.WebhookQueue(p)).Build()).AsInt64()
			if err != nil || n >= int64(d.cfg.QueueMax) {
				return true
			}
			d.full[p].Store(false)
			return false
		},
		Pause: d.cfg.PollInterval,
	}.Run(ctx)
}

// xrange parses stream entries.
func xrange(m []rueidis.RedisMessage) ([]rueidis.XRangeEntry, error) {
	out := make([]rueidis.XRangeEntry, len(m))
	for i := range m {
		e, err := m[i].AsXRangeEntry()
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// reclaim takes over entries pending with any consumer of the group for
// longer than the claim idle time (a dispatcher that died) and queues them.
func (d *Dispatcher) reclaim(ctx context.Context, p int) error {
	key := d.cfg.Keys.Stream(p)
	return redisx.AutoClaim(ctx, d.cfg.Client, key, d.cfg.Group, d.cfg.Name, d.cfg.ClaimIdle, defaultBatch,
		func(m []rueidis.RedisMessage, deleted int) error {
			if deleted > 0 {
				d.m.events.WithLabelValues("lost").Add(float64(deleted))
				d.cfg.Log.Error("webhooks: pending events were trimmed before being queued: deliveries lost", "partition", p, "count", deleted)
			}
			entries, err := xrange(m)
			if err != nil {
				return fmt.Errorf("xautoclaim %s: %w", key, err)
			}
			if len(entries) == 0 {
				return nil
			}
			return d.handle(ctx, p, entries)
		})
}

// MessageID is the webhook-id of the event at stream entry id of
// partition p: the same for every subscription and every try.
func MessageID(p int, id string) string { return "evt_" + strconv.Itoa(p) + "_" + id }

// handle turns entries into deliveries and queues them, acknowledging
// the entries in the same script.
func (d *Dispatcher) handle(ctx context.Context, p int, entries []rueidis.XRangeEntry) error {
	now := d.now()
	args := []string{d.cfg.Group, strconv.FormatInt(now.UnixMilli(), 10)}
	counts := map[string]int{}
	for _, e := range entries {
		jobs, result, err := d.jobsFor(ctx, p, e)
		if err != nil {
			return err
		}
		counts[result]++
		args = append(args, e.ID, strconv.Itoa(len(jobs)))
		for _, j := range jobs {
			b, _ := json.Marshal(j)
			args = append(args, j.id(), string(b))
		}
	}
	k := d.cfg.Keys
	n, err := enqueueScript.ExecMulti(ctx, d.cfg.Client, redisx.Call{
		Keys: []string{k.Stream(p), k.WebhookQueue(p), k.WebhookJobs(p)}, Args: args,
	})[0].AsInt64()
	if err != nil {
		return fmt.Errorf("queue deliveries: %w", err)
	}
	for r, c := range counts {
		d.m.events.WithLabelValues(r).Add(float64(c))
	}
	if n >= int64(d.cfg.QueueMax) {
		if !d.full[p].Swap(true) {
			d.cfg.Log.Warn("webhooks: delivery queue full; reading of the partition paused", "partition", p, "queued", n)
		}
	}
	if counts["queued"] > 0 {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// timestampLayout is the layout of an event's timestamp: RFC 3339 UTC to
// the millisecond.
const timestampLayout = "2006-01-02T15:04:05.000Z"

// envelope is the body of every delivery (Standard Webhooks' shape).
type envelope struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// ClickData is the data of a click event.
type ClickData struct {
	Code    string `json:"code"`
	URL     string `json:"url"`
	Country string `json:"country"`
	Referer string `json:"referer"`
	Device  string `json:"device"`
	Browser string `json:"browser"`
	OS      string `json:"os"`
	Bot     bool   `json:"bot"`
	Preview bool   `json:"preview"`
}

// jobsFor returns the deliveries of one stream entry and what became of it.
// An error (Redis unreachable) leaves the batch pending.
func (d *Dispatcher) jobsFor(ctx context.Context, p int, e rueidis.XRangeEntry) ([]job, string, error) {
	var typ, owner string
	var at time.Time
	var data []byte
	var click clicks.Event
	var target string
	if v, ok := e.FieldValues[link.EventField]; ok {
		ev, err := link.DecodeEvent(v)
		if err != nil || !json.Valid(ev.Data) {
			return nil, "malformed", nil
		}
		typ, owner, at, data = ev.Type, ev.Owner, ev.Time, ev.Data
	} else {
		ev, err := clicks.Decode(e.FieldValues[clicks.PayloadField])
		if err != nil {
			return nil, "malformed", nil
		}
		if ev.Kind != clicks.KindClick {
			return nil, "skipped", nil
		}
		l, err := d.cfg.Links.Cached(ctx, ev.Code)
		if errors.Is(err, link.ErrNotFound) || errors.Is(err, link.ErrExpired) {
			return nil, "link_gone", nil
		}
		if err != nil {
			return nil, "", err
		}
		if l.Owner == "" {
			return nil, "no_subscriber", nil
		}
		typ, owner, at, click, target = EventClick, l.Owner, ev.Time, ev, l.URL
	}
	subs, err := d.cfg.Subscriptions.ForOwner(ctx, owner)
	if err != nil {
		return nil, "", err
	}
	if !anyWants(subs, typ) {
		return nil, "no_subscriber", nil
	}
	if typ == EventClick { // classified only when someone wants it
		ua := d.cfg.Classifier.Classify(click.UserAgent)
		data, _ = json.Marshal(ClickData{Code: click.Code, URL: target, Country: click.Country, Referer: click.Referer,
			Device: ua.Device, Browser: ua.Browser, OS: ua.OS, Bot: ua.Bot, Preview: ua.Preview})
	}
	body, _ := json.Marshal(envelope{Type: typ, Timestamp: at.UTC().Format(timestampLayout), Data: data})
	msg := MessageID(p, e.ID)
	var jobs []job
	for i := range subs {
		if subs[i].Wants(typ) {
			jobs = append(jobs, job{Sub: subs[i].ID, Owner: owner, Msg: msg, Type: typ, Body: string(body)})
		}
	}
	return jobs, "queued", nil
}

func anyWants(subs []Subscription, typ string) bool {
	for i := range subs {
		if subs[i].Wants(typ) {
			return true
		}
	}
	return false
}

// deliverLoop leases due deliveries, round robin over the partitions, and
// posts them with at most Concurrency in flight.
func (d *Dispatcher) deliverLoop(ctx context.Context) {
	sem := make(chan struct{}, d.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	start := 0
	for ctx.Err() == nil {
		claimed := 0
		parts := d.cfg.Keys.Partitions
		for i := 0; i < parts && ctx.Err() == nil; i++ {
			p := (start + i) % parts
			room := cap(sem) - len(sem)
			if room == 0 {
				break
			}
			jobs, err := d.claim(ctx, p, room)
			if err != nil {
				if ctx.Err() == nil {
					d.cfg.Log.Warn("webhooks: cannot lease deliveries", "partition", p, "err", err)
				}
				continue
			}
			claimed += len(jobs)
			for _, j := range jobs {
				sem <- struct{}{}
				wg.Add(1)
				go func(j job) {
					defer wg.Done()
					d.deliver(p, j)
					<-sem
					select {
					case d.free <- struct{}{}:
					default:
					}
				}(j)
			}
		}
		start = (start + 1) % parts
		if claimed > 0 && len(sem) < cap(sem) {
			continue // more may be due
		}
		t := time.NewTimer(d.cfg.PollInterval)
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-d.free:
		case <-t.C:
		}
		t.Stop()
	}
}

func (d *Dispatcher) claim(ctx context.Context, p, n int) ([]job, error) {
	k := d.cfg.Keys
	now := d.now()
	res := claimScript.ExecMulti(ctx, d.cfg.Client, redisx.Call{
		Keys: []string{k.WebhookQueue(p), k.WebhookJobs(p)},
		Args: []string{strconv.FormatInt(now.UnixMilli(), 10), strconv.FormatInt(now.Add(d.lease).UnixMilli(), 10), strconv.Itoa(n)},
	})[0]
	if err := res.Error(); err != nil {
		return nil, err
	}
	msg, _ := res.ToMessage()
	jobs, bad, err := parseJobs(msg)
	if err != nil {
		return nil, err
	}
	for _, id := range bad {
		d.cfg.Log.Error("webhooks: dropping a queued delivery that does not parse", "partition", p, "job", id)
		d.finish(p, id)
	}
	return jobs, nil
}

// finish removes a job from the queue.
func (d *Dispatcher) finish(p int, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	k := d.cfg.Keys
	if err := doneScript.ExecMulti(ctx, d.cfg.Client, redisx.Call{Keys: []string{k.WebhookQueue(p), k.WebhookJobs(p)}, Args: []string{id}})[0].Error(); err != nil {
		// The lease ends and the delivery is tried again: a receiver may
		// see it twice, with the same webhook-id.
		d.cfg.Log.Warn("webhooks: cannot remove a finished delivery", "partition", p, "job", id, "err", err)
	}
}

// deliver makes one try of j. It runs to completion whatever the
// dispatcher's context: a try in flight is bounded by Timeout.
func (d *Dispatcher) deliver(p int, j job) {
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.Timeout+5*time.Second)
	defer cancel()
	subs, err := d.cfg.Subscriptions.ForOwner(ctx, j.Owner)
	if err != nil {
		d.cfg.Log.Warn("webhooks: cannot read subscriptions; the delivery waits for its lease to end", "owner", j.Owner, "err", err)
		return
	}
	var sub *Subscription
	for i := range subs {
		if subs[i].ID == j.Sub {
			sub = &subs[i]
		}
	}
	if sub == nil {
		d.m.deliveries.WithLabelValues("subscription_gone").Inc()
		d.finish(p, j.id())
		return
	}
	start := time.Now()
	status, err := d.post(ctx, sub, &j)
	d.m.seconds.Observe(time.Since(start).Seconds())
	if err == nil {
		d.m.deliveries.WithLabelValues("delivered").Inc()
		d.finish(p, j.id())
		return
	}
	j.Attempts++
	j.LastStatus, j.LastError, j.FailedAt = status, err.Error(), d.now().UnixMilli()
	b, _ := json.Marshal(j)
	k := d.cfg.Keys
	if j.Attempts >= d.cfg.MaxAttempts {
		d.m.deliveries.WithLabelValues("dead_letter").Inc()
		d.cfg.Log.Warn("webhooks: delivery failed its last try; kept as a dead letter", "webhook", j.Sub, "owner", j.Owner,
			"message", j.Msg, "attempts", j.Attempts, "err", err)
		err = deadScript.ExecMulti(ctx, d.cfg.Client, redisx.Call{
			Keys: []string{k.WebhookQueue(p), k.WebhookJobs(p), k.WebhookDeadLetter(p)}, Args: []string{j.id(), string(b)},
		})[0].Error()
	} else {
		d.m.deliveries.WithLabelValues("failed").Inc()
		due := d.now().Add(d.backoff(j.Attempts)).UnixMilli()
		err = retryScript.ExecMulti(ctx, d.cfg.Client, redisx.Call{
			Keys: []string{k.WebhookQueue(p), k.WebhookJobs(p)}, Args: []string{j.id(), string(b), strconv.FormatInt(due, 10)},
		})[0].Error()
	}
	if err != nil {
		d.cfg.Log.Warn("webhooks: cannot record a failed try; it is retried when its lease ends", "job", j.id(), "err", err)
	}
}

// backoff is the wait after the n-th failed try.
func (d *Dispatcher) backoff(n int) time.Duration {
	b := d.cfg.Backoff
	for i := 1; i < n && b < d.cfg.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.cfg.MaxBackoff)
	return time.Duration(float64(b) * (0.8 + 0.4*rand.Float64()))
}

// post makes one try: status is the receiver's HTTP status (0 without an
// answer); err is nil exactly for a 2xx.
func (d *Dispatcher) post(ctx context.Context, sub *Subscription, j *job) (int, error) {
	ts := d.now()
	sig, err := SignatureHeader(sub, j.Msg, ts, []byte(j.Body))
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, strings.NewReader(j.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderID, j.Msg)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	resp, err := d.cfg.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, nil
	}
	msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if s := strings.TrimSpace(string(bytes.ToValidUTF8(snippet, nil))); s != "" {
		msg += ": " + strings.Join(strings.Fields(s), " ")
	}
	return resp.StatusCode, errors.New(msg)
}

// janitor refreshes the gauges and ends dead letters past retention.
func (d *Dispatcher) janitor(ctx context.Context) {
	for ctx.Err() == nil {
		if err := d.Tidy(ctx); err != nil && ctx.Err() == nil {
			d.cfg.Log.Warn("webhooks: janitor failed", "err", err)
		}
		redisx.Sleep(ctx, janitorInterval)
	}
}

// Tidy trims dead letters older than the retention and refreshes the
// queue and dead-letter gauges. (The webhooks group's lag is exported with
// every group's by the analytics workers: shortener_worker_group_lag.)
func (d *Dispatcher) Tidy(ctx context.Context) error {
	cl := d.cfg.Client
	k := d.cfg.Keys
	minID := strconv.FormatInt(d.now().Add(-d.cfg.DeadLetterRetention).UnixMilli(), 10) + "-0"
	var queued, dead int64
	for p := 0; p < k.Partitions; p++ {
		out := cl.DoMulti(ctx,
			cl.B().Xtrim().Key(k.WebhookDeadLetter(p)).Minid().Threshold(minID).Build(),
			cl.B().Zcard().Key(k.WebhookQueue(p)).Build(),
			cl.B().Xlen().Key(k.WebhookDeadLetter(p)).Build())
		trimmed, err := out[0].AsInt64()
		if err != nil {
			return err
		}
		d.m.expired.Add(float64(trimmed))
		q, err := out[1].AsInt64()
		if err != nil {
			return err
		}
		n, err := out[2].AsInt64()
		if err != nil {
			return err
		}
		queued, dead = queued+q, dead+n
	}
	d.m.queued.Set(float64(queued))
	d.m.dead.Set(float64(dead))
	return nil
}
