package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/shortener/shortener/pkg/clicks"
	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redisx"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// genCodes returns n distinct codes shaped like generated ones (7 base62
// characters), drawn from a seeded generator so runs are comparable.
func genCodes(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	seen := make(map[string]bool, n)
	out := make([]string, 0, n)
	var b [link.RandomCodeLength]byte
	for len(out) < n {
		for i := range b {
			b[i] = base62[r.IntN(len(base62))]
		}
		c := string(b[:])
		if seen[c] || link.IsReserved(c) {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	return out
}

// urlLen is the length of every destination URL the harness stores: a
// typical campaign link.
const urlLen = 80

// linkURL returns the urlLen-byte destination of link i.
func linkURL(i int) string {
	u := fmt.Sprintf("https://www.example.com/articles/%07d/launch?utm_source=newsletter&utm_medium=e", i)
	for len(u) < urlLen {
		u += "x"
	}
	return u[:urlLen]
}

// linkSpec says how preloaded links look.
type linkSpec struct {
	created time.Time
	expires time.Time // zero: never expires
	records bool      // write the records (l:{pN}:<code>)
	index   bool      // write the expiry index entries (exp:{pN})
}

// defaultLinks are links as an anonymous POST /api/v1/links creates them
// with the default TTL (one year): the record expires 30 days after the link.
func defaultLinks(now time.Time) linkSpec {
	return linkSpec{created: now, expires: now.Add(link.DefaultTTL), records: true, index: true}
}

// record returns the link record of the documented format (anonymous owner,
// no click limit): 1\n<created ms>\n<expires ms>\n0\n<owner>\n<url>.
func (s linkSpec) record(url string) string {
	var exp int64
	if !s.expires.IsZero() {
		exp = s.expires.UnixMilli()
	}
	return "1\n" + strconv.FormatInt(s.created.UnixMilli(), 10) + "\n" + strconv.FormatInt(exp, 10) + "\n0\n\n" + url
}

// preloadLinks writes the records and expiry-index entries of codes
// directly, in pipelined batches, as link.Store's create script would.
func preloadLinks(ctx context.Context, c rueidis.Client, ks redisx.Keyspace, codes []string, url func(int) string, spec linkSpec) error {
	const batch = 1000
	pxat := spec.expires.Add(link.TombstoneRetention).UnixMilli()
	score := "+inf"
	if !spec.expires.IsZero() {
		score = strconv.FormatInt(spec.expires.UnixMilli(), 10)
	}
	return parallelBatches(ctx, len(codes), batch, 4, func(lo, hi int) error {
		cmds := make(rueidis.Commands, 0, 2*(hi-lo))
		for i := lo; i < hi; i++ {
			code := codes[i]
			if spec.records {
				set := c.B().Set().Key(ks.Link(code)).Value(spec.record(url(i)))
				if spec.expires.IsZero() {
					cmds = append(cmds, set.Build())
				} else {
					cmds = append(cmds, set.PxatMillisecondsTimestamp(pxat).Build())
				}
			}
			if spec.index {
				cmds = append(cmds, c.B().Arbitrary("ZADD").Keys(ks.Expiry(ks.Partition(code))).Args(score, code).Build())
			}
		}
		return firstError(c.DoMulti(ctx, cmds...))
	})
}

// parallelBatches calls f on [lo, hi) batches of n items from workers goroutines.
func parallelBatches(ctx context.Context, n, batch, workers int, f func(lo, hi int) error) error {
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range next {
				if err := f(lo, min(lo+batch, n)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for lo := 0; lo < n; lo += batch {
		select {
		case next <- lo:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs
	}
	return err
}

func firstError(rs []rueidis.RedisResult) error {
	for _, r := range rs {
		if err := r.Error(); err != nil {
			return err
		}
	}
	return nil
}

// eventMix draws realistic click events: browsers and a few bots, countries,
// referers, many visitors.
type eventMix struct {
	r *rand.Rand
}

var (
	mixAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
	}
	mixCountries = []string{"US", "US", "US", "DE", "DE", "GB", "FR", "IN", "BR", "JP", "CA", "SE", "NL", "ES", "IT", "PL", "AU", "MX", "KR", "ZA"}
	mixReferers  = []string{"", "", "", "https://www.google.com/", "https://t.co/abc", "https://www.facebook.com/", "https://news.ycombinator.com/item?id=1", "https://www.linkedin.com/feed/", "https://mail.example.org/"}
)

func newEventMix(seed uint64) *eventMix { return &eventMix{r: rand.New(rand.NewPCG(seed, 0xc1c))} }

// event returns a click on code at t from one of visitors distinct visitors.
func (m *eventMix) event(code string, t time.Time, visitors int) clicks.Event {
	v := m.r.IntN(visitors)
	return clicks.Event{
		Code:      code,
		Time:      t,
		IP:        fmt.Sprintf("%d.%d.%d.%d", 11+v>>16&0x7f, v>>8&0xff, v&0xff, 1+v%250),
		UserAgent: mixAgents[v%len(mixAgents)],
		Referer:   mixReferers[m.r.IntN(len(mixReferers))],
		Country:   mixCountries[v%len(mixCountries)],
	}
}

// preloadEvents appends n encoded events to the click streams, codes drawn
// uniformly from codes, times spread over the hour before now.
func preloadEvents(ctx context.Context, c rueidis.Client, ks redisx.Keyspace, codes []string, n int, now time.Time, seed uint64) error {
	const batch = 1000
	return parallelBatches(ctx, n, batch, 4, func(lo, hi int) error {
		m := newEventMix(seed + uint64(lo))
		cmds := make(rueidis.Commands, 0, hi-lo)
		buf := make([]byte, 0, clicks.MaxEncodedLen)
		for i := lo; i < hi; i++ {
			code := codes[m.r.IntN(len(codes))]
			ev := m.event(code, now.Add(-time.Duration(m.r.Int64N(int64(time.Hour)))), 1<<20)
			buf = clicks.AppendEncode(buf[:0], &ev)
			cmds = append(cmds, c.B().Xadd().Key(ks.Stream(ks.Partition(code))).Id("*").FieldValue().FieldValue(clicks.PayloadField, string(buf)).Build())
		}
		return firstError(c.DoMulti(ctx, cmds...))
	})
}

// dayEvents appends perLink events to each code, all on the UTC day before
// now, spread over its 24 hours, from visitors distinct visitors per link.
func dayEvents(ctx context.Context, c rueidis.Client, ks redisx.Keyspace, codes []string, perLink, visitors int, now time.Time) error {
	day := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
	return parallelBatches(ctx, len(codes), 10, 4, func(lo, hi int) error {
		m := newEventMix(uint64(lo) + 77)
		cmds := make(rueidis.Commands, 0, (hi-lo)*perLink)
		buf := make([]byte, 0, clicks.MaxEncodedLen)
		for i := lo; i < hi; i++ {
			for j := 0; j < perLink; j++ {
				t := day.Add(time.Duration(j) * 24 * time.Hour / time.Duration(perLink))
				ev := m.event(codes[i], t, visitors)
				buf = clicks.AppendEncode(buf[:0], &ev)
				cmds = append(cmds, c.B().Xadd().Key(ks.Stream(ks.Partition(codes[i]))).Id("*").FieldValue().FieldValue(clicks.PayloadField, string(buf)).Build())
			}
		}
		return firstError(c.DoMulti(ctx, cmds...))
	})
}

// pathFiles writes the request paths wrk replays: uniform (every code once,
// shuffled) and Zipf (samples of rank s over the codes, ranks mapped to
// codes at random). It returns the share of requests the hottest code gets.
func pathFiles(codes []string, zipfS float64, samples int, uniformPath, zipfPath string) (top float64, err error) {
	r := rand.New(rand.NewPCG(42, 7))
	perm := r.Perm(len(codes))
	var b strings.Builder
	for _, i := range perm {
		b.WriteString("/" + codes[i] + "\n")
	}
	if err := writeFile(uniformPath, b.String()); err != nil {
		return 0, err
	}
	b.Reset()
	z := rand.NewZipf(r, zipfS, 1, uint64(len(codes)-1))
	var hot int
	for i := 0; i < samples; i++ {
		k := int(z.Uint64())
		if k == 0 {
			hot++
		}
		b.WriteString("/" + codes[perm[k]] + "\n")
	}
	return float64(hot) / float64(samples), writeFile(zipfPath, b.String())
}
