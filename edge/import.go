package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/shortener/shortener/pkg/flagenv"
	"github.com/shortener/shortener/pkg/importer"
	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redisx"
)

// runImport is "edge import --format bitly|yourls|kutt|shlink|csv --owner
// NAME FILE": it creates the links of another tool's export, keeping their
// codes where they are valid here. Rerunning it creates no duplicates: a
// code that already holds the same URL of the same owner counts as already
// imported, and links without a code are deduplicated by URL.
func runImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c config
	var format, owner string
	fs := flag.NewFlagSet("edge import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	redisFlags(fs, &c)
	fs.StringVar(&format, "format", "", "the export's tool: "+strings.Join(importer.Formats, ", "))
	fs.StringVar(&owner, "owner", "", "owner of the imported links (required)")
	fs.DurationVar(&c.defaultTTL, "default-ttl", link.DefaultTTL, "lifetime of imported links without an expiry; 0 = never expire")
	fs.StringVar(&c.baseURL, "base-url", "http://localhost:8080", "the service's base URL (links to its host are refused)")
	if err := flagenv.Parse(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() != 1 || format == "" || owner == "" {
		return errors.New("usage: edge import --format " + strings.Join(importer.Formats, "|") + " --owner NAME FILE")
	}
	if !link.ValidOwner(owner) {
		return link.ErrOwner
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("cannot open export: %w", err)
	}
	defer f.Close()
	items, skips, err := importer.Parse(format, f)
	if err != nil {
		return fmt.Errorf("cannot read %s export %s: %w", format, fs.Arg(0), err)
	}
	ks, err := redisx.NewKeyspace(c.keyPrefix, c.partitions)
	if err != nil {
		return err
	}
	rdb, err := redisx.New(redisx.Config{URL: c.redisURL, ClientName: "shortener-import", DisableCache: true})
	if err != nil {
		return err
	}
	defer rdb.Close()
	if err := redisx.PinPartitions(ctx, rdb, ks); err != nil {
		return err
	}
	policy, err := link.NewURLPolicy(0, c.baseURL, nil)
	if err != nil {
		return err
	}
	store := link.NewStore(rdb, link.Config{Keys: ks, Policy: policy, DefaultTTL: c.defaultTTL})

	var imported, existing, renamed int
	reasons := map[string][]string{} // reason -> places
	skip := func(place, reason string) { reasons[reason] = append(reasons[reason], place) }
	for _, s := range skips {
		place, reason, ok := strings.Cut(s.Reason, ": ")
		if !ok {
			place, reason = fmt.Sprintf("record %d", s.Line), s.Reason
		}
		skip(place, reason)
	}
	start := time.Now()
	for i, it := range items {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if i > 0 && i%500 == 0 {
			fmt.Fprintf(stderr, "imported %d of %d (%.0f/s)\n", i, len(items), float64(i)/time.Since(start).Seconds())
		}
		place := fmt.Sprintf("record %d", it.Line)
		if !it.ExpiresAt.IsZero() && !it.ExpiresAt.After(time.Now()) {
			skip(place, "expired at the source")
			continue
		}
		req := link.CreateRequest{URL: it.URL, Owner: owner, ExpiresAt: it.ExpiresAt, MaxClicks: it.MaxClicks,
			Options: link.OptionsRequest{Tags: importTags(it.Tags)}}
		if it.Code != "" && link.ValidateCustomCode(it.Code) == nil {
			req.CustomCode = it.Code
		} else {
			req.Dedupe = true // no usable code: the URL identifies the link on a rerun
			if it.Code != "" {
				renamed++
			}
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, wasThere, err := store.Create(rctx, req)
		if errors.Is(err, link.ErrCodeTaken) {
			if old, gerr := store.Get(rctx, req.CustomCode); gerr == nil && old.URL == it.URL && old.Owner == owner {
				err, wasThere = nil, true
			} else {
				err = fmt.Errorf("code %q is taken by another link", req.CustomCode)
			}
		}
		cancel()
		switch {
		case err != nil:
			skip(place, err.Error())
		case wasThere:
			existing++
		default:
			imported++
		}
	}
	fmt.Fprintf(stdout, "%s import of %s: %d imported, %d already there, %d skipped\n",
		format, fs.Arg(0), imported, existing, countPlaces(reasons))
	if renamed > 0 {
		fmt.Fprintf(stdout, "  %d links had a code that is not valid here (3-64 of A-Z a-z 0-9 _ -, not reserved) and got a new one\n", renamed)
	}
	keys := make([]string, 0, len(reasons))
	for r := range reasons {
		keys = append(keys, r)
	}
	sort.Slice(keys, func(i, j int) bool {
		return len(reasons[keys[i]]) > len(reasons[keys[j]]) || len(reasons[keys[i]]) == len(reasons[keys[j]]) && keys[i] < keys[j]
	})
	for _, r := range keys {
		places := reasons[r]
		shown := places
		if len(shown) > 5 {
			shown = shown[:5]
		}
		more := ""
		if len(places) > len(shown) {
			more = fmt.Sprintf(", and %d more", len(places)-len(shown))
		}
		fmt.Fprintf(stdout, "  skipped %d: %s (%s%s)\n", len(places), r, strings.Join(shown, ", "), more)
	}
	return nil
}

func countPlaces(m map[string][]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

// importTags keeps the source's tags that are valid here.
func importTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		t = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(t), " ", "-"))
		if link.ValidTag(t) && len(out) < link.MaxTags {
			out = append(out, t)
		}
	}
	return out
}
