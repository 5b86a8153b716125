package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/rueidis"
)

// TagReport is the analytics of every link of one owner with one tag, over
// a window of days. (Unique visitors are per link only: a union of
// HyperLogLogs across partitions would span cluster slots.)
type TagReport struct {
	Tag         string           `json:"tag"`
	TotalClicks int64            `json:"total_clicks"`
	HumanClicks int64            `json:"human_clicks"`
	BotClicks   int64            `json:"bot_clicks"`
	Daily       map[string]int64 `json:"daily"`
	ByCountry   map[string]int64 `json:"by_country"`
	ByDevice    map[string]int64 `json:"by_device"`
	ByBrowser   map[string]int64 `json:"by_browser"`
	ByOS        map[string]int64 `json:"by_os"`
	ByReferer   map[string]int64 `json:"by_referer"`
}

// Tag reads the analytics of owner's links tagged tag ("" owner: the
// anonymous links), summing every partition's share in one round trip.
func (r *Reader) Tag(ctx context.Context, owner, tag string, days int) (TagReport, error) {
	if days < 1 || days > DailyRetentionDays {
		return TagReport{}, fmt.Errorf("days must be 1 to %d", DailyRetentionDays)
	}
	if owner == "" {
		owner = "~anon"
	}
	now := r.now().UTC()
	per := 2 + days
	cmds := make(rueidis.Commands, 0, r.ks.Partitions*per)
	dayKeys := make([]string, days)
	for i := range dayKeys {
		dayKeys[i] = now.AddDate(0, 0, -i).Format("20060102")
	}
	for p := 0; p < r.ks.Partitions; p++ {
		base := r.ks.TagPrefix(p) + owner + ":" + tag
		cmds = append(cmds, r.c.B().Hgetall().Key(base).Build(), r.c.B().Hgetall().Key(base+":d").Build())
		for _, d := range dayKeys {
			cmds = append(cmds, r.c.B().Hgetall().Key(base+":b:"+d).Build())
		}
	}
	rep := TagReport{Tag: tag, Daily: make(map[string]int64, days), ByCountry: map[string]int64{},
		ByDevice: map[string]int64{"desktop": 0, "mobile": 0, "tablet": 0}, ByBrowser: map[string]int64{}, ByOS: map[string]int64{}, ByReferer: map[string]int64{}}
	for _, d := range dayKeys {
		t, _ := time.Parse("20060102", d)
		rep.Daily[t.Format("2006-01-02")] = 0
	}
	res := r.c.DoMulti(ctx, cmds...)
	for i, x := range res {
		m, err := x.AsIntMap()
		if err != nil && !rueidis.IsRedisNil(err) {
			return TagReport{}, fmt.Errorf("read tag analytics: %w", err)
		}
		switch j := i % per; j {
		case 0:
			rep.TotalClicks += m["human"] + m["bot"]
			rep.HumanClicks += m["human"]
			rep.BotClicks += m["bot"]
		case 1:
			for _, d := range dayKeys {
				t, _ := time.Parse("20060102", d)
				rep.Daily[t.Format("2006-01-02")] += m[d]
			}
		default:
			addBreakdown(m, rep.ByCountry, rep.ByDevice, rep.ByBrowser, rep.ByOS, rep.ByReferer)
		}
	}
	return rep, nil
}
