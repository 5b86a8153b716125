package importer

import "strings"

// parseYOURLS reads a CSV of YOURLS links in one of three shapes:
//
//   - the yourls_url table with its column names as header (keyword, url,
//     title, timestamp, ip, clicks; any order, extra columns ignored);
//   - the same table without a header, as phpMyAdmin writes by default,
//     recognised by a second field containing "://";
//   - the source,target,hits file of the YOURLS-Import-Export plugin, whose
//     source is "/keyword/".
//
// timestamp is a MySQL DATETIME and is read as UTC. A title of NULL or \N
// (how MySQL tools write SQL NULL) is empty.
func parseYOURLS(data []byte, lim Limits) (*sink, error) {
	s := newSink("line", lim)
	err := readCSV(data, s, func(first []string) (rowFunc, bool, error) {
		c := headerColumns(first)
		url := c.find("url", "target", "longurl")
		code := c.find("keyword", "source", "shorturl")
		title := c.find("title")
		ts := c.find("timestamp", "date", "created")
		tsName := colName(first, ts)
		firstIsData := false
		if url < 0 {
			if len(first) < 2 || !strings.Contains(first[1], "://") {
				return nil, false, missingColumn(first, "url (or target)")
			}
			code, url, title, ts, tsName, firstIsData = 0, 1, 2, 3, "timestamp", true
		}
		return func(line int, rec []string) {
			t, ok := optTime(s, line, tsName, nullText(field(rec, ts)))
			if !ok {
				return
			}
			s.add(Item{
				Line:      line,
				Code:      yourlsKeyword(field(rec, code)),
				URL:       field(rec, url),
				Title:     nullText(field(rec, title)),
				CreatedAt: t,
			})
		}, firstIsData, nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// yourlsKeyword returns the keyword of "abc", "/abc/" or a full short URL.
func yourlsKeyword(s string) string {
	if strings.Contains(s, "://") {
		return backHalf(s)
	}
	return strings.Trim(s, "/")
}

// nullText maps the SQL NULL markers of MySQL dumps to "".
func nullText(s string) string {
	if s == "NULL" || s == `\N` {
		return ""
	}
	return s
}
