package analytics_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/analytics"
	"github.com/shortener/shortener/pkg/clicks"
	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/redisx/redistest"
	"github.com/shortener/shortener/pkg/useragent"
)

const (
	uaIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
	uaDesktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	uaBot     = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)

type fixture struct {
	srv   *redistest.Server
	c     rueidis.Client
	ks    redisx.Keyspace
	store *link.Store
	cls   *useragent.Classifier
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := redistest.Start(t)
	ks, err := redisx.NewKeyspace(srv.Prefix, 4)
	require.NoError(t, err)
	c := srv.Client(t)
	cls, err := useragent.New(100)
	require.NoError(t, err)
	return &fixture{srv: srv, c: c, ks: ks, store: link.NewStore(c, link.Config{Keys: ks, DefaultTTL: link.DefaultTTL}), cls: cls}
}

func (f *fixture) consumer(t *testing.T, name string, mod func(*analytics.ConsumerConfig)) *analytics.Consumer {
	t.Helper()
	cfg := analytics.ConsumerConfig{
		Client: f.c, Keys: f.ks, Group: "analytics", Name: name, Classifier: f.cls,
		VisitorKey: []byte("0123456789abcdef0123456789abcdef"), Batch: 100, Block: 50 * time.Millisecond,
		ClaimIdle: time.Second, TrimInterval: 50 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := analytics.NewConsumer(cfg)
	require.NoError(t, err)
	require.NoError(t, c.EnsureGroups(context.Background()))
	return c
}

// add appends events straight to the partition streams, as the edge does.
func (f *fixture) add(t *testing.T, events ...clicks.Event) {
	t.Helper()
	cmds := make(rueidis.Commands, len(events))
	for i := range events {
		p := f.ks.Partition(events[i].Code)
		cmds[i] = f.c.B().Xadd().Key(f.ks.Stream(p)).Id("*").FieldValue().FieldValue(clicks.PayloadField, string(clicks.AppendEncode(nil, &events[i]))).Build()
	}
	for _, r := range f.c.DoMulti(context.Background(), cmds...) {
		require.NoError(t, r.Error())
	}
}

func (f *fixture) newLink(t *testing.T, code string) {
	t.Helper()
	_, _, err := f.store.Create(context.Background(), link.CreateRequest{URL: "https://example.com/" + code, CustomCode: code, Owner: "alice"})
	require.NoError(t, err)
}

// drain reads and applies every partition until nothing is left.
func (f *fixture) drain(t *testing.T, c *analytics.Consumer) analytics.Result {
	t.Helper()
	var total analytics.Result
	for p := 0; p < f.ks.Partitions; p++ {
		for {
			entries, err := c.Read(context.Background(), p, ">")
			require.NoError(t, err)
			if len(entries) == 0 {
				break
			}
			r := c.Process(p, entries)
			total.Applied += r.Applied
			total.Duplicate += r.Duplicate
			total.Gone += r.Gone
			total.DeadLetter += r.DeadLetter
		}
	}
	return total
}

func (f *fixture) pending(t *testing.T) int64 {
	t.Helper()
	var n int64
	for p := 0; p < f.ks.Partitions; p++ {
		arr, err := f.c.Do(context.Background(), f.c.B().Xpending().Key(f.ks.Stream(p)).Group("analytics").Build()).ToArray()
		require.NoError(t, err)
		c, _ := arr[0].AsInt64()
		n += c
	}
	return n
}

func click(code string, at time.Time, ip, ua, ref, country string) clicks.Event {
	return clicks.Event{Code: code, Time: at, IP: ip, UserAgent: ua, Referer: ref, Country: country}
}

func TestApplyCountsEveryBreakdown(t *testing.T) {
	f := newFixture(t)
	f.newLink(t, "promo")
	now := time.Now().UTC()
	yesterday := now.AddDate(0, 0, -1)
	var events []clicks.Event
	for i := 0; i < 30; i++ {
		events = append(events, click("promo", now, "192.0.2."+strconv.Itoa(i%10), uaIPhone, "https://www.news.example.org/a", "DE"))
	}
	for i := 0; i < 20; i++ {
		events = append(events, click("promo", yesterday, "198.51.100.1", uaDesktop, "", "US"))
	}
	for i := 0; i < 7; i++ {
		events = append(events, click("promo", now, "203.0.113.9", uaBot, "", "US"))
	}
	f.add(t, events...)
	c := f.consumer(t, "w1", nil)
	res := f.drain(t, c)
	assert.Equal(t, analytics.Result{Applied: 57}, res)
	assert.Zero(t, f.pending(t), "every entry acknowledged")

	rep, err := analytics.NewReader(f.c, f.ks, nil).Link(context.Background(), "promo", 7)
	require.NoError(t, err)
	assert.EqualValues(t, 57, rep.TotalClicks)
	assert.EqualValues(t, 50, rep.HumanClicks)
	assert.EqualValues(t, 7, rep.BotClicks)
	assert.Equal(t, map[string]int64{"DE": 30, "US": 20}, rep.ByCountry)
	assert.Equal(t, map[string]int64{"desktop": 20, "mobile": 30, "tablet": 0}, rep.ByDevice)
	assert.Equal(t, map[string]int64{"Mobile Safari": 30, "Chrome": 20}, rep.ByBrowser)
	assert.Equal(t, map[string]int64{"iOS": 30, "Windows": 20}, rep.ByOS)
	assert.Equal(t, map[string]int64{"news.example.org": 30, "direct": 20}, rep.ByReferer)
	assert.Len(t, rep.Daily, 7)
	assert.EqualValues(t, 30, rep.Daily[now.Format("2006-01-02")])
	assert.EqualValues(t, 20, rep.Daily[yesterday.Format("2006-01-02")])
	assert.Len(t, rep.Hourly, analytics.HourlyWindow)
	assert.EqualValues(t, 30, rep.Hourly[now.Format("2006-01-02T15")])
	assert.EqualValues(t, 11, rep.UniqueVisitors, "10 iPhone visitors today, 1 desktop visitor yesterday")
	assert.EqualValues(t, 10, rep.UniqueToday)
	require.Len(t, rep.RecentClicks, analytics.RecentShown)
	assert.True(t, rep.RecentClicks[0].Bot, "newest first: the bots came last")
	assert.Equal(t, "bot", rep.RecentClicks[0].Device)
	assert.Equal(t, "203.0.113.0", rep.RecentClicks[0].IP, "the IP is anonymized")

	clicksOf, err := f.store.Clicks(context.Background(), "promo")
	require.NoError(t, err)
	assert.EqualValues(t, 57, clicksOf[0])
	total, err := f.store.TotalClicks(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 57, total)
	top, err := analytics.NewReader(f.c, f.ks, nil).Top(context.Background(), 10)
	require.NoError(t, err)
	assert.Equal(t, []analytics.TopEntry{{Code: "promo", Clicks: 57}}, top)

	// No key holds a raw IP.
	for _, k := range f.srv.Keys(t, f.c) {
		typ, _ := f.c.Do(context.Background(), f.c.B().Type().Key(k).Build()).ToString()
		if typ == "list" {
			vals, _ := f.c.Do(context.Background(), f.c.B().Lrange().Key(k).Start(0).Stop(-1).Build()).AsStrSlice()
			for _, v := range vals {
				assert.NotContains(t, v, "192.0.2.5", "raw IP stored in %s", k)
			}
		}
	}
}

func TestReplayedBatchCountsOnce(t *testing.T) {
	f := newFixture(t)
	f.newLink(t, "once")
	var events []clicks.Event
	for i := 0; i < 250; i++ {
		events = append(events, click("once", time.Now(), "192.0.2.1", uaDesktop, "", "FR"))
	}
	f.add(t, events...)
	c := f.consumer(t, "w1", nil)
	p := f.ks.Partition("once")
	entries, err := c.Read(context.Background(), p, ">")
	require.NoError(t, err)
	require.Len(t, entries, 100)
	// The worker applied the batch but died before it learned so: a
	// replacement applies the same entries again.
	assert.Equal(t, analytics.Result{Applied: 100}, c.Process(p, entries))
	assert.Equal(t, analytics.Result{Duplicate: 100}, c.Process(p, entries))
	f.drain(t, c)
	n, err := f.store.Clicks(context.Background(), "once")
	require.NoError(t, err)
	assert.EqualValues(t, 250, n[0])
}

func TestKilledWorkerIsReplaced(t *testing.T) {
	f := newFixture(t)
	f.newLink(t, "crash")
	var events []clicks.Event
	for i := 0; i < 300; i++ {
		events = append(events, click("crash", time.Now(), "192.0.2."+strconv.Itoa(i%50), uaIPhone, "", "IT"))
	}
	f.add(t, events...)
	p := f.ks.Partition("crash")
	dead := f.consumer(t, "dead", nil)
	// The first worker applies one batch, then reads another and dies
	// before applying it: its entries stay pending.
	first, err := dead.Read(context.Background(), p, ">")
	require.NoError(t, err)
	dead.Process(p, first)
	_, err = dead.Read(context.Background(), p, ">")
	require.NoError(t, err)
	require.EqualValues(t, 100, f.pending(t))

	alive := f.consumer(t, "alive", func(c *analytics.ConsumerConfig) { c.ClaimIdle = 100 * time.Millisecond })
	f.drain(t, alive)
	require.EqualValues(t, 100, f.pending(t), "the dead worker's batch is still pending")
	time.Sleep(150 * time.Millisecond)
	require.NoError(t, alive.Reclaim(context.Background(), p))
	assert.Zero(t, f.pending(t))
	// Even if the dead worker had applied its first batch twice:
	dead.Process(p, first)
	n, err := f.store.Clicks(context.Background(), "crash")
	require.NoError(t, err)
	assert.EqualValues(t, 300, n[0])
	rep, err := analytics.NewReader(f.c, f.ks, nil).Link(context.Background(), "crash", 1)
	require.NoError(t, err)
	assert.EqualValues(t, 300, rep.ByCountry["IT"])
	assert.EqualValues(t, 50, rep.UniqueVisitors)
}

func TestTwoWorkersSplitTheWork(t *testing.T) {
	f := newFixture(t)
	codes := []string{"aaa", "bbb", "ccc", "ddd", "eee", "fff"}
	for _, c := range codes {
		f.newLink(t, c)
	}
	const per = 2000
	var events []clicks.Event
	for i := 0; i < per; i++ {
		for _, c := range codes {
			events = append(events, click(c, time.Now(), "192.0.2.1", uaDesktop, "", "NL"))
		}
	}
	f.add(t, events...)
	regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry()}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, reg := range regs {
		c := f.consumer(t, fmt.Sprintf("w%d", i), func(cfg *analytics.ConsumerConfig) { cfg.Registry = reg; cfg.Batch = 50 })
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Run(ctx) }()
	}
	require.Eventually(t, func() bool {
		n, err := f.store.TotalClicks(context.Background())
		return err == nil && n == int64(per*len(codes))
	}, 20*time.Second, 20*time.Millisecond)
	cancel()
	wg.Wait()
	for _, code := range codes {
		n, err := f.store.Clicks(context.Background(), code)
		require.NoError(t, err)
		assert.EqualValues(t, per, n[0], "clicks of %s", code)
	}
	applied := func(reg *prometheus.Registry) float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() == "shortener_worker_events_total" {
				for _, m := range mf.GetMetric() {
					if m.GetLabel()[0].GetValue() == "applied" {
						return m.GetCounter().GetValue()
					}
				}
			}
		}
		return 0
	}
	a, b := applied(regs[0]), applied(regs[1])
	assert.EqualValues(t, per*len(codes), a+b)
	assert.Greater(t, a, 0.0, "worker 0 did part of the work")
	assert.Greater(t, b, 0.0, "worker 1 did part of the work")
}

func TestRunFinishesBatchOnCancel(t *testing.T) {
	f := newFixture(t)
	f.newLink(t, "term")
	var events []clicks.Event
	for i := 0; i < 5000; i++ {
		events = append(events, click("term", time.Now(), "192.0.2.1", uaDesktop, "", "NL"))
	}
	f.add(t, events...)
	c := f.consumer(t, "w1", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	time.Sleep(30 * time.Millisecond)
	cancel()
	<-done
	assert.Zero(t, f.pending(t), "every batch read before the stop was applied and acknowledged")
	n, err := f.store.Clicks(context.Background(), "term")
	require.NoError(t, err)
	c2 := f.consumer(t, "w2", nil)
	f.drain(t, c2)
	m, err := f.store.Clicks(context.Background(), "term")
	require.NoError(t, err)
	assert.EqualValues(t, 5000, m[0], "the rest is applied by the next worker (%d before)", n[0])
}

func TestMalformedAndPoisonEventsGoToDeadLetter(t *testing.T) {
	f := newFixture(t)
	f.newLink(t, "okay")
	p := f.ks.Partition("okay")
	f.add(t, click("okay", time.Now(), "192.0.2.1", uaDesktop, "", "NL"))
	for _, bad := range []string{"garbage", "", "9\t1\tokay\tNL\t\t\t"} {
		require.NoError(t, f.c.Do(context.Background(), f.c.B().Xadd().Key(f.ks.Stream(p)).Id("*").FieldValue().FieldValue(clicks.PayloadField, bad).Build()).Error())
	}
	c := f.consumer(t, "w1", func(cfg *analytics.ConsumerConfig) { cfg.MaxDeliveries = 2; cfg.ClaimIdle = 10 * time.Millisecond })
	res := f.drain(t, c)
	assert.Equal(t, analytics.Result{Applied: 1, DeadLetter: 3}, res)
	n, err := f.c.Do(context.Background(), f.c.B().Xlen().Key(f.ks.DeadLetter(p)).Build()).AsInt64()
	require.NoError(t, err)
	assert.EqualValues(t, 3, n)
	assert.Zero(t, f.pending(t))

	// A valid event whose worker keeps dying is dead-lettered after MaxDeliveries.
	f.add(t, click("okay", time.Now(), "192.0.2.1", uaDesktop, "", "NL"))
	for i := 0; i < 3; i++ { // delivered, then claimed twice without being applied
		if i == 0 {
			_, err = c.Read(context.Background(), p, ">")
		} else {
			time.Sleep(20 * time.Millisecond)
			_, err = f.c.Do(context.Background(), f.c.B().Xautoclaim().Key(f.ks.Stream(p)).Group("analytics").Consumer("w1").MinIdleTime("10").Start("0-0").Build()).ToArray()
		}
		require.NoError(t, err)
	}
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, c.Reclaim(context.Background(), p))
	n, err = f.c.Do(context.Background(), f.c.B().Xlen().Key(f.ks.DeadLetter(p)).Build()).AsInt64()
	require.NoError(t, err)
	assert.EqualValues(t, 4, n)
	assert.Zero(t, f.pending(t))
	clk, _ := f.store.Clicks(context.Background(), "okay")
	assert.EqualValues(t, 1, clk[0])
}

func TestTrimKeepsUnacknowledged(t *testing.T) {
	f := newFixture(t)
	f.newLink(t, "trim")
	p := f.ks.Partition("trim")
	var events []clicks.Event
	for i := 0; i < 1000; i++ {
		events = append(events, click("trim", time.Now(), "192.0.2.1", uaDesktop, "", "NL"))
	}
	f.add(t, events...)
	c := f.consumer(t, "w1", nil)
	xlen := func() int64 {
		n, err := f.c.Do(context.Background(), f.c.B().Xlen().Key(f.ks.Stream(p)).Build()).AsInt64()
		require.NoError(t, err)
		return n
	}
	require.NoError(t, c.Trim(context.Background(), p))
	assert.EqualValues(t, 1000, xlen(), "nothing is trimmed before the group has read it")
	entries, err := c.Read(context.Background(), p, ">")
	require.NoError(t, err)
	require.NoError(t, c.Trim(context.Background(), p))
	assert.EqualValues(t, 1000, xlen(), "read but unacknowledged entries are kept")
	c.Process(p, entries)
	f.drain(t, c)
	// A second group that lags holds the trim back.
	require.NoError(t, f.c.Do(context.Background(), f.c.B().XgroupCreate().Key(f.ks.Stream(p)).Group("webhooks").Id("0").Build()).Error())
	require.NoError(t, c.Trim(context.Background(), p))
	assert.EqualValues(t, 1000, xlen())
	require.NoError(t, f.c.Do(context.Background(), f.c.B().XgroupDestroy().Key(f.ks.Stream(p)).Group("webhooks").Build()).Error())
	require.NoError(t, c.Trim(context.Background(), p))
	assert.Less(t, xlen(), int64(200), "acknowledged entries are trimmed (approximately, by whole nodes)")
}

func TestOldFieldsArePruned(t *testing.T) {
	f := newFixture(t)
	f.newLink(t, "prune")
	now := time.Now().UTC()
	old := now.AddDate(0, 0, -100)
	clock := old
	c := f.consumer(t, "w1", func(cfg *analytics.ConsumerConfig) { cfg.Now = func() time.Time { return clock } })
	f.add(t, click("prune", old, "192.0.2.1", uaDesktop, "", "NL"))
	f.drain(t, c)
	base := f.ks.ClickTotals("prune")
	fields := func(suffix string) []string {
		k, err := f.c.Do(context.Background(), f.c.B().Hkeys().Key(base+suffix).Build()).AsStrSlice()
		require.NoError(t, err)
		return k
	}
	assert.Equal(t, []string{old.Format("20060102")}, fields(redisx.SuffixDaily))
	assert.Equal(t, []string{old.Format("2006010215")}, fields(redisx.SuffixHourly))
	clock = now
	f.add(t, click("prune", now, "192.0.2.1", uaDesktop, "", "NL"))
	f.drain(t, c)
	assert.Equal(t, []string{now.Format("20060102")}, fields(redisx.SuffixDaily), "a day older than 90 days is pruned")
	assert.Equal(t, []string{now.Format("2006010215")}, fields(redisx.SuffixHourly), "an hour older than 7 days is pruned")
	ttl, err := f.c.Do(context.Background(), f.c.B().Ttl().Key(base+redisx.SuffixBreakdown+now.Format("20060102")).Build()).AsInt64()
	require.NoError(t, err)
	assert.InDelta(t, redisx.DayKeyRetention*24*3600, ttl, 10, "per-day keys expire")
	linkTTL, err := f.c.Do(context.Background(), f.c.B().Pttl().Key(base).Build()).AsInt64()
	require.NoError(t, err)
	assert.InDelta(t, link.DefaultTTL.Milliseconds(), linkTTL, 10000, "totals expire with the link")
}

func TestDeletedLinkClicksAreCountedAsGone(t *testing.T) {
	f := newFixture(t)
	f.newLink(t, "gone")
	f.add(t, click("gone", time.Now(), "192.0.2.1", uaDesktop, "", "NL"))
	require.NoError(t, f.store.Delete(context.Background(), "gone", "alice", false))
	res := f.drain(t, f.consumer(t, "w1", nil))
	assert.Equal(t, analytics.Result{Gone: 1}, res)
	keys := f.srv.Keys(t, f.c)
	for _, k := range keys {
		assert.NotContains(t, k, ":a:", "no analytics key is created for a deleted link: %s", k)
	}
}

func TestRefererDomain(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "direct",
		"https://www.News.Example.org/a?b":   "news.example.org",
		"http://example.com:8080/":           "example.com",
		"android-app://com.google.android":   "com.google.android",
		"not a url":                          "other",
		"https://" + string(make([]byte, 3)): "other",
	} {
		assert.Equal(t, want, analytics.RefererDomain(in), "RefererDomain(%q)", in)
	}
}

func TestExpiryFollowsTheLink(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, _, err := f.store.Create(ctx, link.CreateRequest{URL: "https://example.com/x", CustomCode: "moving", Owner: "alice", TTL: time.Hour})
	require.NoError(t, err)
	f.add(t, click("moving", time.Now(), "192.0.2.1", uaDesktop, "", "NL"))
	f.drain(t, f.consumer(t, "w1", nil))
	base := f.ks.ClickTotals("moving")
	pttl := func(key string) int64 {
		n, err := f.c.Do(ctx, f.c.B().Pttl().Key(key).Build()).AsInt64()
		require.NoError(t, err)
		return n
	}
	for _, k := range []string{base, base + redisx.SuffixDaily, base + redisx.SuffixHourly, base + redisx.SuffixRecent} {
		assert.InDelta(t, time.Hour.Milliseconds(), pttl(k), 5000, "%s expires with the link", k)
	}
	later := time.Now().Add(48 * time.Hour)
	_, err = f.store.Update(ctx, "moving", "alice", false, link.Patch{ExpiresAt: &later})
	require.NoError(t, err)
	for _, k := range []string{base, base + redisx.SuffixDaily, base + redisx.SuffixHourly, base + redisx.SuffixRecent} {
		assert.InDelta(t, (48 * time.Hour).Milliseconds(), pttl(k), 5000, "%s follows a new expiry", k)
	}
	_, err = f.store.Update(ctx, "moving", "alice", false, link.Patch{ClearExpiresAt: true})
	require.NoError(t, err)
	assert.EqualValues(t, -1, pttl(base), "a link that never expires keeps its analytics")
}
