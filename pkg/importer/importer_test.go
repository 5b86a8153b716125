package importer

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func at(y, mo, d, h, mi, s int) time.Time {
	return time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC)
}

func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(tb, err, "read fixture %s", name)
	return data
}

// fixtureCases pairs each hand-written export in testdata/ with the exact
// Items and Skips it must produce.
var fixtureCases = []struct {
	name   string
	format string
	file   string
	items  []Item
	skips  []Skip
}{
	{
		name: "bitly json page", format: "bitly", file: "bitly.json",
		items: []Item{
			{Line: 1, Code: "3abcDEF", URL: "https://example.com/spring?utm_source=newsletter&utm_medium=email", Title: "Spring sale", Tags: []string{"promo", "2020"}, CreatedAt: at(2020, 1, 1, 0, 0, 0)},
			{Line: 2, Code: "3xYz12q", URL: "https://example.com/summer", Title: "Summer sale", Tags: []string{"promo"}, CreatedAt: at(2020, 6, 15, 9, 30, 0)},
			{Line: 2, Code: "summer-sale", URL: "https://example.com/summer", Title: "Summer sale", Tags: []string{"promo"}, CreatedAt: at(2020, 6, 15, 9, 30, 0)},
			{Line: 3, Code: "menu", URL: "https://例え.jp/メニュー?q=crème", Title: "Café crème — menú du jour", Tags: []string{"café"}, CreatedAt: at(2021, 3, 4, 4, 6, 7)},
			{Line: 7, Code: "3arch1v", URL: "https://example.org/archived", CreatedAt: at(2019, 12, 31, 23, 59, 59)},
		},
		skips: []Skip{
			{Line: 4, Reason: "record 4: no destination URL"},
			{Line: 5, Reason: `record 5: created_at is not a time: "yesterday"`},
			{Line: 6, Reason: `record 6: code "3abcDEF" repeats record 1`},
			{Line: 8, Reason: "record 8: tags is a JSON string, want a list"},
		},
	},
	{
		name: "bitly csv with BOM and CRLF", format: "bitly", file: "bitly.csv",
		items: []Item{
			{Line: 2, Code: "3abcDEF", URL: "https://example.com/spring?utm_source=newsletter&utm_medium=email", Title: "Spring sale", Tags: []string{"promo", "2020"}, CreatedAt: at(2020, 1, 1, 0, 0, 0)},
			{Line: 3, Code: "3xYz12q", URL: "https://example.com/summer", Title: "Summer sale", Tags: []string{"promo"}, CreatedAt: at(2020, 6, 15, 9, 30, 0)},
			{Line: 3, Code: "summer-sale", URL: "https://example.com/summer", Title: "Summer sale", Tags: []string{"promo"}, CreatedAt: at(2020, 6, 15, 9, 30, 0)},
			{Line: 4, Code: "menu", URL: "https://例え.jp/メニュー?q=crème", Title: "Café, \"crème\"\nmenú du jour", Tags: []string{"café", "food"}, CreatedAt: at(2021, 3, 4, 4, 6, 7)},
			{Line: 10, Code: "3noDate", URL: "https://example.org/plain", Title: "No date"},
		},
		skips: []Skip{
			{Line: 7, Reason: "line 7: no destination URL"},
			{Line: 8, Reason: `line 8: Date Created is not a time: "13/01/2021"`},
			{Line: 9, Reason: `line 9: code "3abcDEF" repeats line 2`},
		},
	},
	{
		name: "yourls table with header", format: "yourls", file: "yourls.csv",
		items: []Item{
			{Line: 2, Code: "ozh", URL: "https://ozh.org/", Title: "ozh.org", CreatedAt: at(2024, 1, 5, 10, 0, 0)},
			{Line: 3, Code: "yourls", URL: "https://yourls.org/", Title: "YOURLS: Your Own URL Shortener", CreatedAt: at(2024, 1, 5, 10, 0, 1)},
			{Line: 4, Code: "yourlsblog", URL: "https://blog.yourls.org/", Title: "YOURLS' Blog", CreatedAt: at(2024, 1, 5, 10, 0, 2)},
			{Line: 5, Code: "cafe", URL: "https://example.fr/café?q=crème brûlée", Title: "Café « crème », 東京", CreatedAt: at(2024, 2, 1, 8, 30, 0)},
			{Line: 6, Code: "notitle", URL: "https://example.com/x"},
		},
		skips: []Skip{
			{Line: 8, Reason: "line 8: no destination URL"},
			{Line: 9, Reason: `line 9: timestamp is not a time: "2024-13-45 99:99:99"`},
			{Line: 10, Reason: `line 10: code "ozh" repeats line 2`},
		},
	},
	{
		name: "yourls table without header", format: "yourls", file: "yourls_headerless.csv",
		items: []Item{
			{Line: 1, Code: "1", URL: "https://example.com/one", Title: "One", CreatedAt: at(2023, 7, 1, 12, 0, 0)},
			{Line: 2, Code: "2", URL: "https://example.com/deux", Title: "Deux — zwei", CreatedAt: at(2023, 7, 2, 12, 0, 0)},
			{Line: 3, Code: "promo", URL: "https://shop.example.com/?ref=yourls,promo", CreatedAt: at(2023, 7, 3, 12, 0, 0)},
		},
		skips: []Skip{
			{Line: 4, Reason: `line 4: broken CSV quoting: extraneous or missing " in quoted-field (line 4, column 47)`},
			{Line: 5, Reason: "line 5: no destination URL"},
		},
	},
	{
		name: "yourls import-export plugin", format: "yourls", file: "yourls_plugin.csv",
		items: []Item{
			{Line: 2, Code: "abc", URL: "https://example.com/a"},
			{Line: 3, Code: "déjà", URL: "https://example.com/déjà-vu"},
			{Line: 7, Code: "xyz", URL: "https://example.com/z"},
		},
		skips: []Skip{
			{Line: 4, Reason: "line 4: no destination URL"},
			{Line: 6, Reason: `line 6: code "abc" repeats line 2`},
		},
	},
	{
		name: "kutt json page", format: "kutt", file: "kutt.json",
		items: []Item{
			{Line: 1, Code: "docs", URL: "https://docs.example.com/start", Title: "Project docs", CreatedAt: at(2024, 5, 1, 10, 0, 0)},
			{Line: 2, Code: "sqlite1", URL: "https://example.com/limited", CreatedAt: at(2024, 6, 1, 8, 0, 0), ExpiresAt: at(2026, 12, 31, 23, 59, 59)},
			{Line: 3, Code: "Zürich", URL: "https://bücher.example/straße?q=ä", Title: "Grüezi — 你好", CreatedAt: at(2024, 7, 1, 0, 0, 0), ExpiresAt: at(2027, 1, 1, 0, 0, 0)},
		},
		skips: []Skip{
			{Line: 4, Reason: `record 4: link "secret" is password-protected in Kutt, and Kutt does not export the password`},
			{Line: 5, Reason: `record 5: link "phish" is banned in Kutt`},
			{Line: 6, Reason: "record 6: no destination URL"},
			{Line: 7, Reason: `record 7: created_at is not a time: "Invalid Date"`},
			{Line: 8, Reason: `record 8: code "docs" repeats record 1`},
		},
	},
	{
		name: "shlink json page", format: "shlink", file: "shlink.json",
		items: []Item{
			{Line: 1, Code: "12C18", URL: "https://store.example.com/", Title: "Welcome to Store", Tags: []string{"games", "tech"}, CreatedAt: at(2016, 8, 21, 11, 12, 33)},
			{Line: 2, Code: "black-friday", URL: "https://store.example.com/offers?season=bf", CreatedAt: at(2023, 11, 1, 0, 0, 0), ExpiresAt: at(2023, 11, 27, 23, 0, 0), MaxClicks: 500},
			{Line: 3, Code: "ñandú", URL: "https://es.example.org/aves/ñandú?lang=es", Title: "Ñandú — Rhea americana", Tags: []string{"naturaleza", "aves"}, CreatedAt: at(2024, 2, 29, 17, 0, 0)},
			{Line: 8, Code: "fromurl", URL: "https://example.com/from-short-url", Title: "Code from shortUrl", Tags: []string{"a"}, CreatedAt: at(2024, 3, 5, 0, 0, 0)},
		},
		skips: []Skip{
			{Line: 4, Reason: "record 4: no destination URL"},
			{Line: 5, Reason: `record 5: meta.validUntil is not a time: "tomorrow"`},
			{Line: 6, Reason: "record 6: meta.maxVisits is not a whole number: 2.5"},
			{Line: 7, Reason: `record 7: code "12C18" repeats record 1`},
		},
	},
	{
		name: "shlink web client csv", format: "shlink", file: "shlink.csv",
		items: []Item{
			{Line: 2, Code: "12C18", URL: "https://store.example.com/", Title: "Welcome to Store", Tags: []string{"games", "tech"}, CreatedAt: at(2016, 8, 21, 11, 12, 33)},
			{Line: 3, Code: "black-friday", URL: "https://store.example.com/offers?season=bf,2023", CreatedAt: at(2023, 11, 1, 0, 0, 0)},
			{Line: 4, Code: "ñandú", URL: "https://es.example.org/aves/ñandú?lang=es", Title: `Ñandú, "Rhea americana"`, Tags: []string{"naturaleza", "aves"}, CreatedAt: at(2024, 2, 29, 17, 0, 0)},
			{Line: 9, Code: "old-client", URL: "https://example.com/old", Title: "Old client row", Tags: []string{"a", "b"}, CreatedAt: at(2021, 1, 1, 0, 0, 0)},
		},
		skips: []Skip{
			{Line: 6, Reason: "line 6: no destination URL"},
			{Line: 7, Reason: `line 7: createdAt is not a time: "2024-02-30T00:00:00+00:00"`},
			{Line: 8, Reason: `line 8: code "12C18" repeats line 2`},
		},
	},
	{
		name: "generic csv", format: "csv", file: "generic.csv",
		items: []Item{
			{Line: 2, Code: "launch", URL: "https://example.com/launch", Title: "Launch page", Tags: []string{"news", "product"}, ExpiresAt: at(2026, 12, 31, 23, 59, 59), MaxClicks: 100},
			{Line: 3, Code: "q3-report", URL: "https://example.com/reports/q3?format=pdf", Title: "Quarterly report, Q3", Tags: []string{"finance", "reports"}, ExpiresAt: at(2026, 9, 30, 22, 0, 0)},
			{Line: 4, Code: "umlaut", URL: "https://例え.テスト/パス?q=ü", Title: "Ümlaut & 日本語", Tags: []string{"i18n", "demo"}},
			{Line: 10, URL: "https://example.com/codeless", Title: "Code-less"},
			{Line: 12, Code: "spaced", URL: "https://example.com/spaces", Title: "Spaces", Tags: []string{"a", "b"}},
		},
		skips: []Skip{
			{Line: 5, Reason: "line 5: no destination URL"},
			{Line: 6, Reason: `line 6: expires_at is not an RFC 3339 time such as 2026-12-31T23:59:59Z: "31/12/2026"`},
			{Line: 8, Reason: `line 8: max_clicks is not a whole number: "-1"`},
			{Line: 9, Reason: `line 9: code "launch" repeats line 2`},
			{Line: 11, Reason: "line 11: duplicates line 10"},
		},
	},
}

func TestParseFixtures(t *testing.T) {
	for _, tc := range fixtureCases {
		t.Run(tc.name, func(t *testing.T) {
			items, skips, err := Parse(tc.format, bytes.NewReader(readFixture(t, tc.file)))
			require.NoError(t, err, "Parse(%q, %s)", tc.format, tc.file)
			assert.Equal(t, tc.items, items, "Parse(%q, %s) items", tc.format, tc.file)
			assert.Equal(t, tc.skips, skips, "Parse(%q, %s) skips", tc.format, tc.file)
		})
	}
}

// parseCases are small inputs for the shapes and edge cases the fixtures
// do not cover.
var parseCases = []struct {
	name   string
	format string
	input  string
	items  []Item
	skips  []Skip
}{
	{
		name: "csv CRLF, BOM and a quoted newline", format: "csv",
		input: "\xEF\xBB\xBFurl,title\r\nhttps://a.example/,\"two\r\nlines\"\r\nhttps://b.example/,b\r\n",
		items: []Item{{Line: 2, URL: "https://a.example/", Title: "two\nlines"}, {Line: 4, URL: "https://b.example/", Title: "b"}},
	},
	{
		name: "csv header in any case, unknown and missing columns", format: "csv",
		input: "Extra,URL,CODE\nx,https://a.example/,a\ny,https://b.example/\n",
		items: []Item{{Line: 2, Code: "a", URL: "https://a.example/"}, {Line: 3, Code: "", URL: "https://b.example/"}},
	},
	{
		name: "csv separated by semicolons", format: "csv",
		input: "url;code;tags\nhttps://a.example/?x=1,2;a;\"x|y\"\n",
		items: []Item{{Line: 2, Code: "a", URL: "https://a.example/?x=1,2", Tags: []string{"x", "y"}}},
	},
	{
		name: "csv separated by tabs", format: "csv",
		input: "url\tcode\nhttps://a.example/\ta\n",
		items: []Item{{Line: 2, Code: "a", URL: "https://a.example/"}},
	},
	{
		name: "csv blank and comma-only rows are ignored", format: "csv",
		input: "\n\nurl,code\n\n,,\n  ,  \nhttps://a.example/,a\n",
		items: []Item{{Line: 7, Code: "a", URL: "https://a.example/"}},
	},
	{
		name: "csv bare quote skips one row only", format: "csv",
		input: "url,title\nhttps://a.example/,say \"hi\"\nhttps://b.example/,ok\n",
		items: []Item{{Line: 3, URL: "https://b.example/", Title: "ok"}},
		skips: []Skip{{Line: 2, Reason: `line 2: broken CSV quoting: bare " in non-quoted-field (line 2, column 24)`}},
	},
	{
		name: "csv unclosed quote swallows the rest", format: "csv",
		input: "url,title\nhttps://a.example/,a\nhttps://b.example/,\"open\nhttps://c.example/,c\n",
		items: []Item{{Line: 2, URL: "https://a.example/", Title: "a"}},
		skips: []Skip{{Line: 3, Reason: "line 3: a quoted field opened here is never closed, so lines 3 to 4 could not be read"}},
	},
	{
		name: "csv unquoted separator in a value", format: "csv",
		input: "url\nhttps://a.example/?x=1,2\nhttps://b.example/,\n",
		items: []Item{{Line: 3, URL: "https://b.example/"}},
		skips: []Skip{{Line: 2, Reason: `line 2: 2 fields where the first line has 1; quote values that contain ','`}},
	},
	{
		name: "csv max_clicks zero and RFC 3339 with fraction", format: "csv",
		input: "url,max_clicks,expires_at\nhttps://a.example/,0,2030-01-02T03:04:05.5+01:00\n",
		items: []Item{{Line: 2, URL: "https://a.example/", ExpiresAt: time.Date(2030, 1, 2, 2, 4, 5, 5e8, time.UTC)}},
	},
	{
		name: "csv max_clicks not a number", format: "csv",
		input: "url,max_clicks\nhttps://a.example/,ten\n",
		skips: []Skip{{Line: 2, Reason: `line 2: max_clicks is not a whole number: "ten"`}},
	},
	{
		name: "bitly pages appended to one file", format: "bitly",
		input: `{"links":[{"id":"bit.ly/a1","long_url":"https://a.example/"}],"pagination":{"next":"x"}}
{"links":[{"id":"bit.ly/b2","long_url":"https://b.example/"},{"id":"bit.ly/a1","long_url":"https://c.example/"}],"pagination":{}}`,
		items: []Item{{Line: 1, Code: "a1", URL: "https://a.example/"}, {Line: 2, Code: "b2", URL: "https://b.example/"}},
		skips: []Skip{{Line: 3, Reason: `record 3: code "a1" repeats record 1`}},
	},
	{
		name: "bitly bare array, code from link when id is missing", format: "bitly",
		input: ` [{"link":"https://bit.ly/x9","long_url":"https://a.example/"}, 5, null]`,
		items: []Item{{Line: 1, Code: "x9", URL: "https://a.example/"}},
		skips: []Skip{{Line: 2, Reason: "record 2: is a JSON number, not a link object"}, {Line: 3, Reason: "record 3: no destination URL"}},
	},
	{
		name: "bitly empty page", format: "bitly",
		input: `{"links":[],"pagination":{"total":0}}`,
	},
	{
		name: "bitly csv with api-style column names", format: "bitly",
		input: "id,long_url,title,created_at,tags,custom_bitlinks\nbit.ly/k1,https://a.example/,A,2020-01-01T00:00:00+0000,\"x,y\",\"https://bit.ly/alias1, https://bit.ly/alias2\"\n",
		items: []Item{
			{Line: 2, Code: "k1", URL: "https://a.example/", Title: "A", Tags: []string{"x", "y"}, CreatedAt: at(2020, 1, 1, 0, 0, 0)},
			{Line: 2, Code: "alias1", URL: "https://a.example/", Title: "A", Tags: []string{"x", "y"}, CreatedAt: at(2020, 1, 1, 0, 0, 0)},
			{Line: 2, Code: "alias2", URL: "https://a.example/", Title: "A", Tags: []string{"x", "y"}, CreatedAt: at(2020, 1, 1, 0, 0, 0)},
		},
	},
	{
		name: "kutt bare array with numeric banned and an expiry in SQLite form", format: "kutt",
		input: `[{"address":"a","target":"https://a.example/","banned":0,"password":"","expire_in":"2030-01-01 00:00:00"},{"address":"b","target":"https://b.example/","banned":1}]`,
		items: []Item{{Line: 1, Code: "a", URL: "https://a.example/", ExpiresAt: at(2030, 1, 1, 0, 0, 0)}},
		skips: []Skip{{Line: 2, Reason: `record 2: link "b" is banned in Kutt`}},
	},
	{
		name: "kutt wrong field type", format: "kutt",
		input: `{"data":[{"address":"a","target":["https://a.example/"]}],"total":1}`,
		skips: []Skip{{Line: 1, Reason: "record 1: target is a JSON array, want text"}},
	},
	{
		name: "shlink maxVisits given as a string number", format: "shlink",
		input: `{"shortUrls":{"data":[{"shortCode":"a","longUrl":"https://a.example/","meta":{"maxVisits":"7"}},{"shortCode":"b","longUrl":"https://b.example/","meta":{"maxVisits":-1}}]}}`,
		items: []Item{{Line: 1, Code: "a", URL: "https://a.example/", MaxClicks: 7}},
		skips: []Skip{{Line: 2, Reason: "record 2: meta.maxVisits is not a whole number: -1"}},
	},
	{
		name: "shlink importer csv column names", format: "shlink",
		input: "Long URL,Short code,Title,Tags\nhttps://a.example/,abc,A,x|y\n",
		items: []Item{{Line: 2, Code: "abc", URL: "https://a.example/", Title: "A", Tags: []string{"x", "y"}}},
	},
	{
		name: "yourls keyword given as a full short URL", format: "yourls",
		input: "shorturl,url,title\nhttps://sho.rt/abc,https://a.example/,\\N\n",
		items: []Item{{Line: 2, Code: "abc", URL: "https://a.example/"}},
	},
	{
		name: "format name in any case with spaces", format: " Shlink ",
		input: `{"shortUrls":{"data":[]}}`,
	},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			items, skips, err := Parse(tc.format, strings.NewReader(tc.input))
			require.NoError(t, err, "Parse(%q, %q)", tc.format, tc.input)
			assert.Equal(t, tc.items, items, "Parse(%q, %q) items", tc.format, tc.input)
			assert.Equal(t, tc.skips, skips, "Parse(%q, %q) skips", tc.format, tc.input)
		})
	}
}

func TestParseErrors(t *testing.T) {
	errRead := errors.New("disk on fire")
	cases := []struct {
		name    string
		format  string
		r       io.Reader
		lim     Limits
		want    error
		message string
	}{
		{"unknown format", "rebrandly", strings.NewReader("url\nhttps://a.example/\n"), Limits{}, ErrFormat, "bitly, yourls, kutt, shlink, csv"},
		{"empty format", "", strings.NewReader("url\n"), Limits{}, ErrFormat, `format ""`},
		{"empty input", "csv", strings.NewReader(""), Limits{}, ErrInput, "empty"},
		{"only a BOM and blank lines", "bitly", strings.NewReader("\xEF\xBB\xBF\r\n\r\n"), Limits{}, ErrInput, "empty"},
		{"UTF-16", "csv", strings.NewReader("\xFF\xFEu\x00r\x00l\x00"), Limits{}, ErrInput, "UTF-16"},
		{"csv without url header", "csv", strings.NewReader("link,code\nhttps://a.example/,a\n"), Limits{}, ErrInput, "no url column (it has: link, code)"},
		{"csv header with broken quoting", "csv", strings.NewReader("url,\"code\nx"), Limits{}, ErrInput, "first line is not CSV"},
		{"JSON given as generic csv", "csv", strings.NewReader(`[{"url":"https://a.example/"}]`), Limits{}, ErrInput, "must be CSV"},
		{"JSON given as yourls", "yourls", strings.NewReader(`{"links":{}}`), Limits{}, ErrInput, "must be CSV"},
		{"CSV given as kutt", "kutt", strings.NewReader("address,target\na,https://a.example/\n"), Limits{}, ErrInput, "Kutt exports are JSON"},
		{"bitly csv without destination", "bitly", strings.NewReader("Title,Link\nA,https://bit.ly/a\n"), Limits{}, ErrInput, "no long_url"},
		{"shlink csv without longUrl", "shlink", strings.NewReader("shortCode,title\na,A\n"), Limits{}, ErrInput, "no longUrl"},
		{"yourls csv without url", "yourls", strings.NewReader("keyword,title\na,A\n"), Limits{}, ErrInput, "no url (or target) column"},
		{"bitly object without links", "bitly", strings.NewReader(`{"groups":[]}`), Limits{}, ErrInput, `no "links"`},
		{"bitly API error saved as export", "bitly", strings.NewReader(`{"message":"FORBIDDEN","resource":"bitlinks"}`), Limits{}, ErrInput, `API error: "FORBIDDEN"`},
		{"shlink problem saved as export", "shlink", strings.NewReader(`{"type":"INVALID_API_KEY","title":"Invalid API key","detail":"Provided API key does not exist or is invalid.","status":401}`), Limits{}, ErrInput, "Provided API key does not exist"},
		{"shlink data is not an array", "shlink", strings.NewReader(`{"shortUrls":{"data":{}}}`), Limits{}, ErrInput, `"shortUrls.data" is not an array`},
		{"kutt links is a string", "kutt", strings.NewReader(`{"data":"none"}`), Limits{}, ErrInput, `"data" is not an array`},
		{"truncated JSON", "kutt", strings.NewReader("{\"data\":[\n{\"address\":\"a\",\n"), Limits{}, ErrInput, "malformed JSON"},
		{"second page not JSON", "bitly", strings.NewReader(`{"links":[]} nonsense`), Limits{}, ErrInput, "malformed JSON at line 1"},
		{"second page wrong shape", "bitly", strings.NewReader(`{"links":[]} {"data":[]}`), Limits{}, ErrInput, "JSON value 2"},
		{"over the byte limit", "csv", strings.NewReader("url\nhttps://a.example/\n"), Limits{MaxBytes: 10}, ErrTooLarge, "more than 10 bytes"},
		{"over the csv record limit", "csv", strings.NewReader("url\nhttps://a.example/\n\nhttps://b.example/\nhttps://c.example/\n"), Limits{MaxRecords: 2}, ErrTooLarge, "more than 2 records"},
		{"over the yourls header-less record limit", "yourls", strings.NewReader("a,https://a.example/\nb,https://b.example/\n"), Limits{MaxRecords: 1}, ErrTooLarge, "more than 1 records"},
		{"over the json record limit", "shlink", strings.NewReader(`{"shortUrls":{"data":[{},{}]}} [{}]`), Limits{MaxRecords: 2}, ErrTooLarge, "more than 2 records"},
		{"read error", "csv", iotest.ErrReader(errRead), Limits{}, errRead, "cannot read csv export"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			items, skips, err := ParseWithLimits(tc.format, tc.r, tc.lim)
			require.Error(t, err, "ParseWithLimits(%q) error = nil, want %v", tc.format, tc.want)
			assert.ErrorIs(t, err, tc.want, "ParseWithLimits(%q) error", tc.format)
			assert.Contains(t, err.Error(), tc.message, "ParseWithLimits(%q) error message", tc.format)
			assert.Nil(t, items, "ParseWithLimits(%q) items on error", tc.format)
			assert.Nil(t, skips, "ParseWithLimits(%q) skips on error", tc.format)
		})
	}
}

func TestParseRecordLimitIsInclusive(t *testing.T) {
	items, skips, err := ParseWithLimits("csv", strings.NewReader("url\nhttps://a.example/\n\n,\n"), Limits{MaxRecords: 2})
	require.NoError(t, err, "two records with MaxRecords 2")
	assert.Len(t, items, 1)
	assert.Empty(t, skips)
}

func TestParseDefaultByteLimit(t *testing.T) {
	// One byte over 64 MiB of an otherwise valid CSV.
	header := "url\n"
	r := io.MultiReader(strings.NewReader(header), io.LimitReader(repeatReader('a'), DefaultMaxBytes+1-int64(len(header))))
	_, _, err := Parse("csv", r)
	assert.ErrorIs(t, err, ErrTooLarge, "Parse of DefaultMaxBytes+1 bytes")
}

type repeatReader byte

func (b repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

func TestErrFormatListsFormats(t *testing.T) {
	assert.Equal(t, []string{"bitly", "yourls", "kutt", "shlink", "csv"}, Formats)
	for _, f := range Formats {
		assert.Contains(t, ErrFormat.Error(), f, "ErrFormat names %q", f)
	}
}

func TestParseTime(t *testing.T) {
	cases := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2020-01-01T00:00:00+0000", at(2020, 1, 1, 0, 0, 0), true},
		{"2020-01-01T01:00:00+0100", at(2020, 1, 1, 0, 0, 0), true},
		{"2019-02-08T10:20:30+01:00", at(2019, 2, 8, 9, 20, 30), true},
		{"2024-05-01T10:00:00.000Z", at(2024, 5, 1, 10, 0, 0), true},
		{"2024-05-01 10:00:00", at(2024, 5, 1, 10, 0, 0), true},
		{"2024-05-01T10:00:00", at(2024, 5, 1, 10, 0, 0), true},
		{"2024-05-01", at(2024, 5, 1, 0, 0, 0), true},
		{"0000-00-00 00:00:00", time.Time{}, true},
		{"yesterday", time.Time{}, false},
		{"01/13/2021", time.Time{}, false},
		{"2024-02-30", time.Time{}, false},
	}
	for _, tc := range cases {
		got, ok := parseTime(tc.in)
		assert.Equal(t, tc.ok, ok, "parseTime(%q) ok", tc.in)
		assert.Equal(t, tc.want, got, "parseTime(%q)", tc.in)
	}
}

func TestBackHalf(t *testing.T) {
	cases := map[string]string{
		"bit.ly/3abc":                "3abc",
		"https://bit.ly/3abc":        "3abc",
		"http://go.example.com/a/b/": "a/b",
		"3abc":                       "3abc",
		"  https://s.test/x  ":       "x",
		"":                           "",
		"https://bit.ly":             "",
	}
	for in, want := range cases {
		assert.Equal(t, want, backHalf(in), "backHalf(%q)", in)
	}
}
