package analytics

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/shortener/shortener/pkg/redisx"
)

// Reader reads analytics back. It is safe for concurrent use.
type Reader struct {
	c   rueidis.Client
	ks  redisx.Keyspace
	now func() time.Time
}

// NewReader returns a Reader; now nil means time.Now.
func NewReader(c rueidis.Client, ks redisx.Keyspace, now func() time.Time) *Reader {
	if now == nil {
		now = time.Now
	}
	return &Reader{c: c, ks: ks, now: now}
}

// Recent is one entry of the recent-clicks log.
type Recent struct {
	Timestamp string `json:"timestamp"`
	Country   string `json:"country"`
	Device    string `json:"device"`
	Browser   string `json:"browser"`
	OS        string `json:"os"`
	Referer   string `json:"referer"`
	Bot       bool   `json:"bot"`
	Preview   bool   `json:"preview"` // a link-preview fetcher (a bot)
	IP        string `json:"-"`       // anonymized; kept for exports
}

// Report is the analytics document of one link over a window of days.
type Report struct {
	TotalClicks    int64            `json:"total_clicks"`
	HumanClicks    int64            `json:"human_clicks"`
	BotClicks      int64            `json:"bot_clicks"`
	PreviewClicks  int64            `json:"preview_clicks"` // bot clicks by link-preview fetchers
	HeadRequests   int64            `json:"head_requests"`  // HEADs: checks, not clicks
	UniqueVisitors int64            `json:"unique_visitors"`
	UniqueToday    int64            `json:"unique_today"`
	Daily          map[string]int64 `json:"daily"`
	Hourly         map[string]int64 `json:"hourly"`
	ByCountry      map[string]int64 `json:"by_country"`
	ByDevice       map[string]int64 `json:"by_device"`
	ByBrowser      map[string]int64 `json:"by_browser"`
	ByOS           map[string]int64 `json:"by_os"`
	ByReferer      map[string]int64 `json:"by_referer"`
	RecentClicks   []Recent         `json:"recent_clicks"`
}

// HourlyWindow is how many hours the hourly series covers.
const HourlyWindow = 48

// RecentShown is how many recent clicks a report lists.
const RecentShown = 10

// Link reads the analytics of code over the last days days (today
// included, UTC). Every command goes to the code's slot in one round trip.
func (r *Reader) Link(ctx context.Context, code string, days int) (Report, error) {
	if days < 1 || days > DailyRetentionDays {
		return Report{}, fmt.Errorf("days must be 1 to %d", DailyRetentionDays)
	}
	now := r.now().UTC()
	base := r.ks.ClickTotals(code)
	cl := r.c
	cmds := rueidis.Commands{
		cl.B().Hgetall().Key(base).Build(),
		cl.B().Hgetall().Key(base + redisx.SuffixDaily).Build(),
		cl.B().Hgetall().Key(base + redisx.SuffixHourly).Build(),
		cl.B().Lrange().Key(base + redisx.SuffixRecent).Start(0).Stop(RecentShown - 1).Build(),
		cl.B().Pfcount().Key(base + redisx.SuffixVisitors + now.Format("20060102")).Build(),
	}
	dayKeys := make([]string, days)
	uKeys := make([]string, days)
	for i := 0; i < days; i++ {
		d := now.AddDate(0, 0, -i).Format("20060102")
		dayKeys[i] = d
		uKeys[i] = base + redisx.SuffixVisitors + d
		cmds = append(cmds, cl.B().Hgetall().Key(base+redisx.SuffixBreakdown+d).Build())
	}
	cmds = append(cmds, cl.B().Pfcount().Key(uKeys...).Build())
	res := cl.DoMulti(ctx, cmds...)
	for _, x := range res {
		if err := x.Error(); err != nil && !rueidis.IsRedisNil(err) {
			return Report{}, fmt.Errorf("read analytics of %q: %w", code, err)
		}
	}
	totals, _ := res[0].AsIntMap()
	daily, _ := res[1].AsIntMap()
	hourly, _ := res[2].AsIntMap()
	recent, _ := res[3].AsStrSlice()
	rep := Report{
		TotalClicks: totals["human"] + totals["bot"], HumanClicks: totals["human"], BotClicks: totals["bot"],
		PreviewClicks: totals["preview"], HeadRequests: totals["head"],
		Daily: make(map[string]int64, days), Hourly: make(map[string]int64, HourlyWindow),
		ByCountry: map[string]int64{}, ByDevice: map[string]int64{"desktop": 0, "mobile": 0, "tablet": 0},
		ByBrowser: map[string]int64{}, ByOS: map[string]int64{}, ByReferer: map[string]int64{},
		RecentClicks: make([]Recent, 0, len(recent)),
	}
	rep.UniqueToday, _ = res[4].AsInt64()
	rep.UniqueVisitors, _ = res[len(res)-1].AsInt64()
	for i, d := range dayKeys {
		t, _ := time.Parse("20060102", d)
		rep.Daily[t.Format("2006-01-02")] = daily[d]
		fields, _ := res[5+i].AsIntMap()
		addBreakdown(fields, rep.ByCountry, rep.ByDevice, rep.ByBrowser, rep.ByOS, rep.ByReferer)
	}
	hour := now.Truncate(time.Hour)
	for i := 0; i < HourlyWindow; i++ {
		h := hour.Add(-time.Duration(i) * time.Hour)
		rep.Hourly[h.Format("2006-01-02T15")] = hourly[h.Format("2006010215")]
	}
	for _, s := range recent {
		if rc, ok := parseRecent(s); ok {
			rep.RecentClicks = append(rep.RecentClicks, rc)
		}
	}
	return rep, nil
}

func parseRecent(s string) (Recent, bool) {
	f := strings.Split(s, "\t")
	if len(f) != 8 && len(f) != 9 {
		return Recent{}, false
	}
	ms, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return Recent{}, false
	}
	return Recent{
		Timestamp: time.UnixMilli(ms).UTC().Format(time.RFC3339), Country: f[1], Device: f[2],
		Browser: f[3], OS: f[4], Referer: f[5], Bot: f[6] == "1", IP: f[7], Preview: len(f) == 9 && f[8] == "1",
	}, true
}

// TopEntry is one line of the top-links list.
type TopEntry struct {
	Code   string
	Clicks int64
}

// Top returns the limit most clicked codes over every partition, most
// clicked first (ties by code).
func (r *Reader) Top(ctx context.Context, limit int) ([]TopEntry, error) {
	cl := r.c
	cmds := make(rueidis.Commands, r.ks.Partitions)
	for p := range cmds {
		cmds[p] = cl.B().Zrange().Key(r.ks.Top(p)).Min("+inf").Max("-inf").Byscore().Rev().Limit(0, int64(limit)).Withscores().Build()
	}
	var all []TopEntry
	for _, res := range cl.DoMulti(ctx, cmds...) {
		zs, err := res.AsZScores()
		if err != nil && !rueidis.IsRedisNil(err) {
			return nil, fmt.Errorf("read top links: %w", err)
		}
		for _, z := range zs {
			all = append(all, TopEntry{Code: z.Member, Clicks: int64(z.Score)})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Clicks != all[j].Clicks {
			return all[i].Clicks > all[j].Clicks
		}
		return all[i].Code < all[j].Code
	})
	if len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

// DayRow is one day of a link's series.
type DayRow struct {
	Date           string // YYYY-MM-DD
	Clicks         int64  // human clicks
	UniqueVisitors int64
}

// Days returns a link's daily human clicks and unique visitors for the last
// days days, oldest first.
func (r *Reader) Days(ctx context.Context, code string, days int) ([]DayRow, error) {
	if days < 1 || days > DailyRetentionDays {
		return nil, fmt.Errorf("days must be 1 to %d", DailyRetentionDays)
	}
	now := r.now().UTC()
	base := r.ks.ClickTotals(code)
	cmds := rueidis.Commands{r.c.B().Hgetall().Key(base + redisx.SuffixDaily).Build()}
	rows := make([]DayRow, days)
	for i := range rows {
		d := now.AddDate(0, 0, -(days - 1 - i))
		rows[i].Date = d.Format("2006-01-02")
		cmds = append(cmds, r.c.B().Pfcount().Key(base+redisx.SuffixVisitors+d.Format("20060102")).Build())
	}
	res := r.c.DoMulti(ctx, cmds...)
	daily, err := res[0].AsIntMap()
	if err != nil && !rueidis.IsRedisNil(err) {
		return nil, fmt.Errorf("read daily series of %q: %w", code, err)
	}
	for i := range rows {
		rows[i].Clicks = daily[strings.ReplaceAll(rows[i].Date, "-", "")]
		if rows[i].UniqueVisitors, err = res[1+i].AsInt64(); err != nil {
			return nil, fmt.Errorf("read unique visitors of %q: %w", code, err)
		}
	}
	return rows, nil
}

// Recent returns up to n entries of a link's recent-clicks log, newest first.
func (r *Reader) Recent(ctx context.Context, code string, n int) ([]Recent, error) {
	vals, err := r.c.Do(ctx, r.c.B().Lrange().Key(r.ks.ClickTotals(code)+redisx.SuffixRecent).Start(0).Stop(int64(n-1)).Build()).AsStrSlice()
	if err != nil && !rueidis.IsRedisNil(err) {
		return nil, fmt.Errorf("read recent clicks of %q: %w", code, err)
	}
	out := make([]Recent, 0, len(vals))
	for _, v := range vals {
		if rc, ok := parseRecent(v); ok {
			out = append(out, rc)
		}
	}
	return out, nil
}

// addBreakdown adds one breakdown hash (fields c:, d:, b:, o:, r: for
// country, device, browser, OS and referer) to the maps of a report.
func addBreakdown(fields map[string]int64, country, device, browser, os, referer map[string]int64) {
	for f, n := range fields {
		dim, val, ok := strings.Cut(f, ":")
		if !ok {
			continue
		}
		switch dim {
		case "c":
			country[val] += n
		case "d":
			device[val] += n
		case "b":
			browser[val] += n
		case "o":
			os[val] += n
		case "r":
			referer[val] += n
		}
	}
}
