package api

import (
	"bufio"
	"encoding/csv"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/shortener/shortener/pkg/analytics"
	"github.com/shortener/shortener/pkg/auth"
	"github.com/shortener/shortener/pkg/link"
)

// readable returns the link code for an owner's or an admin's export, or
// answers the refusal.
func (a *API) readable(ctx *fasthttp.RequestCtx, p auth.Principal, code string) (link.Link, bool) {
	if !requireKey(ctx, p) {
		return link.Link{}, false
	}
	c, cancel := a.context()
	defer cancel()
	l, err := a.cfg.Store.Get(c, code)
	if err != nil {
		a.fail(ctx, err)
		return l, false
	}
	return l, mayRead(ctx, p, l)
}

// streamCSV answers text/csv, written row by row as the client reads.
func streamCSV(ctx *fasthttp.RequestCtx, filename string, rows func(w *csv.Writer) error) {
	ctx.Response.Header.SetContentType("text/csv; charset=utf-8")
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBodyStreamWriter(func(bw *bufio.Writer) {
		w := csv.NewWriter(bw)
		_ = rows(w)
		w.Flush()
	})
}

// analyticsCSV answers GET /links/{code}/analytics.csv?days=30: one row a
// day, oldest first: date, human clicks, unique visitors.
func (a *API) analyticsCSV(ctx *fasthttp.RequestCtx, p auth.Principal, code string) {
	days, ok := intParam(ctx, "days", 30, 1, analytics.DailyRetentionDays)
	if !ok {
		return
	}
	if _, ok := a.readable(ctx, p, code); !ok {
		return
	}
	c, cancel := a.context()
	defer cancel()
	rows, err := a.cfg.Analytics.Days(c, code, days)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	streamCSV(ctx, code+"-analytics.csv", func(w *csv.Writer) error {
		_ = w.Write([]string{"date", "clicks", "unique_visitors"})
		for _, r := range rows {
			if err := w.Write([]string{r.Date, strconv.FormatInt(r.Clicks, 10), strconv.FormatInt(r.UniqueVisitors, 10)}); err != nil {
				return err
			}
		}
		return nil
	})
}

// clicksCSV answers GET /links/{code}/clicks.csv: the recent-clicks log
// (the last 1,000, newest first), IPs anonymized.
func (a *API) clicksCSV(ctx *fasthttp.RequestCtx, p auth.Principal, code string) {
	if _, ok := a.readable(ctx, p, code); !ok {
		return
	}
	c, cancel := a.context()
	defer cancel()
	recent, err := a.cfg.Analytics.Recent(c, code, analytics.RecentClicks)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	streamCSV(ctx, code+"-clicks.csv", func(w *csv.Writer) error {
		_ = w.Write([]string{"timestamp", "country", "device", "browser", "os", "referer", "bot", "preview", "ip"})
		for _, r := range recent {
			if err := w.Write([]string{r.Timestamp, r.Country, r.Device, csvSafe(r.Browser), csvSafe(r.OS), csvSafe(r.Referer),
				strconv.FormatBool(r.Bot), strconv.FormatBool(r.Preview), r.IP}); err != nil {
				return err
			}
		}
		return nil
	})
}

// csvSafe defuses values a spreadsheet would run as a formula.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}

// orphans answers GET /stats/orphans?days=7&limit=50 (admins): visits of
// unknown or expired codes, by path and by referer.
func (a *API) orphans(ctx *fasthttp.RequestCtx, p auth.Principal) {
	if !requireKey(ctx, p) {
		return
	}
	if !p.Admin {
		WriteProblem(ctx, 403, TypeForbidden, "Forbidden", "only an admin may read orphan visits")
		return
	}
	days, ok := intParam(ctx, "days", 7, 1, analytics.OrphanRetentionDays)
	if !ok {
		return
	}
	limit, ok := intParam(ctx, "limit", 50, 1, 1000)
	if !ok {
		return
	}
	c, cancel := a.context()
	defer cancel()
	rep, err := a.cfg.Analytics.Orphans(c, days, limit)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	writeJSON(ctx, 200, rep)
}
