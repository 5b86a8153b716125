package analytics

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/redis/rueidis"
)

// Count is one value of a ranking and how often it was seen.
type Count struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// OrphanReport ranks the visits of unknown or expired codes by path and by
// referer: broken campaign links show up here.
type OrphanReport struct {
	Days     int     `json:"days"`
	Total    int64   `json:"total"`
	Paths    []Count `json:"paths"`
	Referers []Count `json:"referers"`
}

// Orphans reads the orphan visits of the last days days (at most
// OrphanRetentionDays), the limit most frequent paths and referers.
func (r *Reader) Orphans(ctx context.Context, days, limit int) (OrphanReport, error) {
	if days < 1 || days > OrphanRetentionDays {
		return OrphanReport{}, fmt.Errorf("days must be 1 to %d", OrphanRetentionDays)
	}
	now := r.now().UTC()
	cmds := make(rueidis.Commands, 0, r.ks.Partitions*days)
	for p := 0; p < r.ks.Partitions; p++ {
		for i := 0; i < days; i++ {
			cmds = append(cmds, r.c.B().Hgetall().Key(r.ks.OrphanPrefix(p)+now.AddDate(0, 0, -i).Format("20060102")).Build())
		}
	}
	rep := OrphanReport{Days: days}
	paths, refs := map[string]int64{}, map[string]int64{}
	for _, res := range r.c.DoMulti(ctx, cmds...) {
		m, err := res.AsIntMap()
		if err != nil && !rueidis.IsRedisNil(err) {
			return rep, fmt.Errorf("read orphan visits: %w", err)
		}
		for f, n := range m {
			switch {
			case f == "total":
				rep.Total += n
			case strings.HasPrefix(f, "p:"):
				paths[f[2:]] += n
			case strings.HasPrefix(f, "r:"):
				refs[f[2:]] += n
			}
		}
	}
	rep.Paths, rep.Referers = rank(paths, limit), rank(refs, limit)
	return rep, nil
}

func rank(m map[string]int64, limit int) []Count {
	out := make([]Count, 0, len(m))
	for v, n := range m {
		out = append(out, Count{v, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Value < out[j].Value
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}
