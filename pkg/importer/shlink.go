package importer

import (
	"encoding/json"
	"strconv"
	"strings"
)

// shlinkURL is one element of shortUrls.data in Shlink's response to
// GET /rest/v3/short-urls (docs/swagger/definitions/ShortUrl.json). Dates
// are ISO 8601 with an offset ("2019-02-08T10:20:30+01:00").
type shlinkURL struct {
	ShortCode   string   `json:"shortCode"`
	ShortURL    string   `json:"shortUrl"`
	LongURL     string   `json:"longUrl"`
	Title       string   `json:"title"`
	Tags        []string `json:"tags"`
	DateCreated string   `json:"dateCreated"`
	Meta        struct {
		// ValidSince has no counterpart in Item and is not read.
		ValidUntil string      `json:"validUntil"`
		MaxVisits  json.Number `json:"maxVisits"`
	} `json:"meta"`
}

func parseShlinkJSON(data []byte, lim Limits) (*sink, error) {
	recs, err := jsonRecords(data, lim, "a Shlink GET /rest/v3/short-urls response", "shortUrls", "data")
	if err != nil {
		return nil, err
	}
	s := newSink("record", lim)
	for i, raw := range recs {
		line := i + 1
		var u shlinkURL
		if reason, ok := decodeRecord(raw, &u); !ok {
			s.skip(line, "%s", reason)
			continue
		}
		created, ok := optTime(s, line, "dateCreated", u.DateCreated)
		if !ok {
			continue
		}
		expires, ok := optTime(s, line, "meta.validUntil", u.Meta.ValidUntil)
		if !ok {
			continue
		}
		var maxVisits int64
		if v := u.Meta.MaxVisits.String(); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				s.skip(line, "meta.maxVisits is not a whole number: %s", v)
				continue
			}
			maxVisits = n
		}
		code := strings.TrimSpace(u.ShortCode)
		if code == "" {
			code = backHalf(u.ShortURL)
		}
		s.add(Item{
			Line:      line,
			Code:      code,
			URL:       strings.TrimSpace(u.LongURL),
			Title:     strings.TrimSpace(u.Title),
			Tags:      cleanTags(u.Tags),
			CreatedAt: created,
			ExpiresAt: expires,
			MaxClicks: maxVisits,
		})
	}
	return s, nil
}

// parseShlinkCSV reads the CSV that shlink-web-client exports (createdAt,
// domain, shortCode, shortUrl, longUrl, title, tags, visits; tags joined
// by '|', by ',' before 3.x) and the "Long URL", "Short code", "Title",
// "Tags" CSV that Shlink's own CSV importer reads. Older web clients wrote
// no shortCode column; the code is then the path of shortUrl.
func parseShlinkCSV(data []byte, lim Limits) (*sink, error) {
	s := newSink("line", lim)
	err := readCSV(data, s, func(header []string) (rowFunc, bool, error) {
		c := headerColumns(header)
		url := c.find("longurl", "originalurl")
		if url < 0 {
			return nil, false, missingColumn(header, "longUrl (or Long URL)")
		}
		code, short := c.find("shortcode"), c.find("shorturl")
		title, tags := c.find("title"), c.find("tags")
		created := c.find("createdat", "datecreated")
		return func(line int, rec []string) {
			t, ok := optTime(s, line, colName(header, created), field(rec, created))
			if !ok {
				return
			}
			it := Item{
				Line:      line,
				Code:      field(rec, code),
				URL:       field(rec, url),
				Title:     field(rec, title),
				Tags:      splitTags(field(rec, tags)),
				CreatedAt: t,
			}
			if it.Code == "" {
				it.Code = backHalf(field(rec, short))
			}
			s.add(it)
		}, false, nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}
