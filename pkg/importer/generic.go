package importer

import (
	"strconv"
	"time"
)

// parseGeneric reads the generic CSV: a header row naming url (required),
// code, tags, expires_at, max_clicks and title in any order, matched
// without regard to case, spaces, '_' or '-'. Other columns are ignored.
// tags are separated by '|', ';' or ',' (quoted); expires_at is RFC 3339;
// max_clicks is a whole number, 0 or empty for none.
func parseGeneric(data []byte, lim Limits) (*sink, error) {
	s := newSink("line", lim)
	err := readCSV(data, s, func(header []string) (rowFunc, bool, error) {
		c := headerColumns(header)
		url := c.find("url")
		if url < 0 {
			return nil, false, missingColumn(header, "url")
		}
		code, title, tags := c.find("code"), c.find("title"), c.find("tags")
		expires, maxClicks := c.find("expiresat"), c.find("maxclicks")
		return func(line int, rec []string) {
			it := Item{
				Line:  line,
				Code:  field(rec, code),
				URL:   field(rec, url),
				Title: field(rec, title),
				Tags:  splitTags(field(rec, tags)),
			}
			if v := field(rec, expires); v != "" {
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					s.skip(line, "expires_at is not an RFC 3339 time such as 2026-12-31T23:59:59Z: %q", v)
					return
				}
				it.ExpiresAt = t.UTC()
			}
			if v := field(rec, maxClicks); v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 0 {
					s.skip(line, "max_clicks is not a whole number: %q", v)
					return
				}
				it.MaxClicks = n
			}
			s.add(it)
		}, false, nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}
