package importer

import (
	"slices"
	"strings"
)

// bitlyLink is one element of "links" in the Bitly v4 response to
// GET /v4/groups/{group_guid}/bitlinks (the BitlinkBody schema).
type bitlyLink struct {
	ID             string   `json:"id"`   // "bit.ly/3abc"
	Link           string   `json:"link"` // "https://bit.ly/3abc"
	LongURL        string   `json:"long_url"`
	Title          string   `json:"title"`
	CreatedAt      string   `json:"created_at"` // "2020-01-01T00:00:00+0000"
	Tags           []string `json:"tags"`
	CustomBitlinks []string `json:"custom_bitlinks"` // "https://bit.ly/spring-sale"
}

func parseBitlyJSON(data []byte, lim Limits) (*sink, error) {
	recs, err := jsonRecords(data, lim, "a Bitly GET /v4/groups/{guid}/bitlinks response", "links")
	if err != nil {
		return nil, err
	}
	s := newSink("record", lim)
	for i, raw := range recs {
		line := i + 1
		var l bitlyLink
		if reason, ok := decodeRecord(raw, &l); !ok {
			s.skip(line, "%s", reason)
			continue
		}
		created, ok := optTime(s, line, "created_at", l.CreatedAt)
		if !ok {
			continue
		}
		code := backHalf(l.ID)
		if code == "" {
			code = backHalf(l.Link)
		}
		addBitly(s, Item{
			Line:      line,
			Code:      code,
			URL:       strings.TrimSpace(l.LongURL),
			Title:     strings.TrimSpace(l.Title),
			Tags:      cleanTags(l.Tags),
			CreatedAt: created,
		}, l.CustomBitlinks)
	}
	return s, nil
}

// addBitly adds the bitlink and, as Dub's importer does, one more Item per
// custom back-half pointing at the same destination, so that every
// published alias keeps working.
func addBitly(s *sink, it Item, custom []string) {
	s.add(it)
	if it.URL == "" {
		return
	}
	seen := []string{it.Code}
	for _, c := range custom {
		code := backHalf(c)
		if code == "" || slices.Contains(seen, code) {
			continue
		}
		seen = append(seen, code)
		alias := it
		alias.Code = code
		alias.Tags = append([]string(nil), it.Tags...)
		s.add(alias)
	}
}

// parseBitlyCSV reads the CSV that Bitly's web app exports. Its column
// names have changed over the years and are not documented, so the usual
// spellings are accepted; only the destination column is required.
func parseBitlyCSV(data []byte, lim Limits) (*sink, error) {
	s := newSink("line", lim)
	err := readCSV(data, s, func(header []string) (rowFunc, bool, error) {
		c := headerColumns(header)
		url := c.find("longurl", "destinationurl", "originalurl", "destination")
		if url < 0 {
			return nil, false, missingColumn(header, "long_url (or Long URL, Destination URL)")
		}
		id := c.find("id", "bitlinkid")
		link := c.find("link", "bitlink", "shortlink", "shorturl")
		custom := c.find("customlink", "customlinks", "custombitlink", "custombitlinks", "custombackhalf")
		title := c.find("title")
		tags := c.find("tags", "tag")
		created := c.find("createdat", "created", "datecreated", "createddate", "creationdate")
		return func(line int, rec []string) {
			t, ok := optTime(s, line, colName(header, created), field(rec, created))
			if !ok {
				return
			}
			code := backHalf(field(rec, id))
			if code == "" {
				code = backHalf(field(rec, link))
			}
			addBitly(s, Item{
				Line:      line,
				Code:      code,
				URL:       field(rec, url),
				Title:     field(rec, title),
				Tags:      splitTags(field(rec, tags)),
				CreatedAt: t,
			}, strings.FieldsFunc(field(rec, custom), func(r rune) bool {
				return r == ',' || r == '|' || r == ';' || r == ' '
			}))
		}, false, nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}
