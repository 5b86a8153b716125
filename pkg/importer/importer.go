// Package importer turns the link exports of other URL shorteners into a
// list of links to create. It reads, without network access, the files an
// operator downloads from:
//
//   - Bitly: the JSON page of GET /v4/groups/{guid}/bitlinks, or the CSV the
//     web app's Export button writes;
//   - YOURLS: the yourls_url table as CSV (keyword,url,title,timestamp,ip,
//     clicks, with or without the header row), or the source,target,hits CSV
//     of the YOURLS-Import-Export plugin;
//   - Kutt: the JSON page of GET /api/v2/links;
//   - Shlink: the JSON page of GET /rest/v3/short-urls, or the CSV that
//     shlink-web-client exports;
//   - a generic CSV with a header row naming url (required), code, tags,
//     expires_at, max_clicks and title in any order.
//
// Where a tool has both a JSON and a CSV shape, Parse looks at the first
// byte. JSON input may hold several pages one after another (the output of
// a loop that appends each API response to one file) or a bare array of
// link objects.
//
// Parsing is deliberately shallow: fields are trimmed, never rewritten, and
// URLs and codes are not validated here; the link store does that and
// reports its own reasons. A record that cannot become an Item becomes a
// Skip with a sentence saying why, and never fails the whole file. Parse
// fails only when the input as a whole is unreadable, too large, or of an
// unknown format.
//
// A few records are left out on purpose: a second record with a code
// already seen (or, without a code, identical to an earlier one), and Kutt
// links that are banned or password-protected, since their password is not
// exported. A Bitly link with custom back-halves yields one Item per
// back-half, all with the same destination, so every published alias keeps
// working. Times that are present but unreadable make the record a Skip
// rather than silently dropping, say, an expiry.
package importer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Formats lists the accepted format names. Callers must not modify it.
var Formats = []string{"bitly", "yourls", "kutt", "shlink", "csv"}

// Errors returned by Parse. Match them with errors.Is; the returned error
// wraps one of them with the detail a person needs.
var (
	// ErrFormat is returned for a format name not in Formats.
	ErrFormat = errors.New("importer: unknown format; want one of " + strings.Join(Formats, ", "))
	// ErrTooLarge is returned when the input exceeds Limits.MaxBytes or
	// holds more than Limits.MaxRecords records.
	ErrTooLarge = errors.New("importer: export too large")
	// ErrInput is returned when the input as a whole cannot be read: it is
	// empty, not CSV or JSON, JSON of the wrong shape, or CSV without the
	// required header.
	ErrInput = errors.New("importer: unreadable export")
)

// Default limits used by Parse.
const (
	DefaultMaxBytes   = 64 << 20
	DefaultMaxRecords = 1_000_000
)

// Limits bounds the memory one Parse call may use. A zero field means its
// default.
type Limits struct {
	// MaxBytes is the largest input accepted, in bytes (DefaultMaxBytes).
	MaxBytes int64
	// MaxRecords is the largest number of source records accepted, bad
	// ones included (DefaultMaxRecords). A CSV header is not a record.
	MaxRecords int
}

// Item is one link to import.
type Item struct {
	// Line is the 1-based line (CSV) where the record starts, or the
	// record's 1-based position (JSON, counted across pages), for messages.
	Line int
	// Code is the short code at the source, or "" when the source has
	// none: the back-half of a Bitly bitlink ("3abc" from "bit.ly/3abc"),
	// a YOURLS keyword, a Kutt address, a Shlink shortCode.
	Code string
	// URL is the destination, as exported apart from surrounding spaces.
	URL   string
	Title string
	// Tags are trimmed, without empty or repeated names; nil when none.
	Tags []string
	// CreatedAt is the creation time at the source in UTC, zero if unknown.
	CreatedAt time.Time
	// ExpiresAt is when the link stops working, in UTC, zero if never
	// (Shlink meta.validUntil, Kutt expire_in, CSV expires_at).
	ExpiresAt time.Time
	// MaxClicks is the visit limit, 0 if none (Shlink meta.maxVisits, CSV
	// max_clicks).
	MaxClicks int64
}

// Skip is a source record that cannot become an Item, and why.
type Skip struct {
	// Line is the line (CSV) or record number (JSON), as in Item.Line.
	Line int
	// Reason is a whole sentence that names the place, for example
	// "line 7: no destination URL" or "record 3: created_at is not a time".
	Reason string
}

// Parse reads one export in the named format with the default Limits. It
// returns the links to create and the records it had to leave out, in
// source order. It is safe for concurrent use.
func Parse(format string, r io.Reader) ([]Item, []Skip, error) {
	return ParseWithLimits(format, r, Limits{})
}

// ParseWithLimits is Parse with explicit limits. It is safe for concurrent
// use.
func ParseWithLimits(format string, r io.Reader, lim Limits) ([]Item, []Skip, error) {
	name := strings.ToLower(strings.TrimSpace(format))
	if !slices.Contains(Formats, name) {
		return nil, nil, fmt.Errorf("format %q: %w", format, ErrFormat)
	}
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultMaxBytes
	}
	if lim.MaxRecords <= 0 {
		lim.MaxRecords = DefaultMaxRecords
	}
	data, err := readInput(r, lim.MaxBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read %s export: %w", name, err)
	}
	isJSON := looksJSON(data)

	var s *sink
	switch {
	case name == "bitly" && isJSON:
		s, err = parseBitlyJSON(data, lim)
	case name == "bitly":
		s, err = parseBitlyCSV(data, lim)
	case name == "shlink" && isJSON:
		s, err = parseShlinkJSON(data, lim)
	case name == "shlink":
		s, err = parseShlinkCSV(data, lim)
	case name == "kutt" && isJSON:
		s, err = parseKuttJSON(data, lim)
	case name == "kutt":
		err = fmt.Errorf("%w: Kutt exports are JSON (the GET /api/v2/links response), and this is not JSON", ErrInput)
	case isJSON:
		// yourls and csv are CSV-only.
		err = fmt.Errorf("%w: this is JSON; a %s export must be CSV with a header row", ErrInput, name)
	case name == "yourls":
		s, err = parseYOURLS(data, lim)
	default:
		s, err = parseGeneric(data, lim)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cannot parse %s export: %w", name, err)
	}
	return s.items, s.skips, nil
}

// readInput reads at most max bytes, strips a UTF-8 byte order mark, and
// refuses empty, oversized and UTF-16 input.
func readInput(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return nil, fmt.Errorf("%w: the file is UTF-16; save it as UTF-8", ErrInput)
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: the file is empty", ErrInput)
	}
	return data, nil
}

// looksJSON reports whether the first byte that is not white space opens a
// JSON object or array. Leading white space is left in data so that CSV
// line numbers stay those of the file.
func looksJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// sink collects Items and Skips, numbers records, enforces the record
// limit and drops repeated links.
type sink struct {
	unit       string // "line" or "record"
	maxRecords int
	records    int
	items      []Item
	skips      []Skip
	codes      map[string]int // code → line of its first Item
	rows       map[string]int // key of a code-less Item → line of the first
}

func newSink(unit string, lim Limits) *sink {
	return &sink{unit: unit, maxRecords: lim.MaxRecords, codes: map[string]int{}, rows: map[string]int{}}
}

// record counts one source record and fails once the limit is passed.
func (s *sink) record() error {
	s.records++
	if s.records > s.maxRecords {
		return fmt.Errorf("%w: more than %d records", ErrTooLarge, s.maxRecords)
	}
	return nil
}

// skip records why the record at line is left out.
func (s *sink) skip(line int, format string, args ...any) {
	s.skips = append(s.skips, Skip{Line: line, Reason: fmt.Sprintf("%s %d: ", s.unit, line) + fmt.Sprintf(format, args...)})
}

// add keeps it unless it has no URL or repeats an earlier Item: the same
// code, or, for code-less Items, the same URL, title, tags, expiry and
// limit.
func (s *sink) add(it Item) {
	if it.URL == "" {
		s.skip(it.Line, "no destination URL")
		return
	}
	if it.Code != "" {
		if first, ok := s.codes[it.Code]; ok {
			s.skip(it.Line, "code %q repeats %s %d", it.Code, s.unit, first)
			return
		}
		s.codes[it.Code] = it.Line
	} else {
		key := fmt.Sprintf("%q %q %q %d %d", it.URL, it.Title, it.Tags, it.ExpiresAt.UnixNano(), it.MaxClicks)
		if first, ok := s.rows[key]; ok {
			s.skip(it.Line, "duplicates %s %d", s.unit, first)
			return
		}
		s.rows[key] = it.Line
	}
	s.items = append(s.items, it)
}

// cleanTags trims names and drops empty and repeated ones, keeping order.
func cleanTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// splitTags splits a CSV tags cell on '|', ';' and ','.
func splitTags(s string) []string {
	return cleanTags(strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == ';' || r == ',' }))
}

// backHalf returns the code of a short link given as "https://host/code",
// "host/code" or a bare "code"; a URL without a path has none.
func backHalf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
		if !strings.Contains(s, "/") {
			return ""
		}
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	return strings.Trim(s, "/")
}

// timeLayouts are the time shapes the supported tools write, tried in
// order. Those without a zone are read as UTC.
var timeLayouts = []string{
	time.RFC3339Nano,                     // Shlink, Kutt on Postgres: 2024-05-01T10:00:00.000Z
	"2006-01-02T15:04:05.999999999Z0700", // Bitly: 2020-01-01T00:00:00+0000
	"2006-01-02 15:04:05.999999999",      // YOURLS, Kutt on SQLite: 2024-05-01 10:00:00
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02",
}

// parseTime reads s in one of timeLayouts and returns it in UTC. The MySQL
// zero date reads as the zero time.
func parseTime(s string) (time.Time, bool) {
	if strings.HasPrefix(s, "0000-00-00") {
		return time.Time{}, true
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// optTime reads an optional time field named name: "" is the zero time;
// anything unreadable is a Skip for the record at line.
func optTime(s *sink, line int, name, v string) (t time.Time, ok bool) {
	if v = strings.TrimSpace(v); v == "" {
		return time.Time{}, true
	}
	if t, ok = parseTime(v); !ok {
		s.skip(line, "%s is not a time: %q", name, v)
	}
	return t, ok
}
