package importer

import (
	"bytes"
	"encoding/json"
	"strings"
)

// kuttLink is one element of "data" in Kutt's response to
// GET /api/v2/links (sanitize.link in server/utils/utils.js).
type kuttLink struct {
	Address     string `json:"address"`
	Target      string `json:"target"`
	Description string `json:"description"`
	// CreatedAt is ISO 8601 ("2024-05-01T10:00:00.000Z"). ExpireIn is
	// passed through from the database unparsed: ISO 8601 on Postgres,
	// "2024-05-01 10:00:00" (UTC) on SQLite.
	CreatedAt string `json:"created_at"`
	ExpireIn  string `json:"expire_in"`
	// Password is true for a protected link (older versions sent the
	// hash); Banned is true (or 1) for a link an admin banned.
	Password json.RawMessage `json:"password"`
	Banned   json.RawMessage `json:"banned"`
}

// parseKuttJSON skips banned links, which must not come back to life, and
// password-protected ones, whose password Kutt does not export and which
// would otherwise become public.
func parseKuttJSON(data []byte, lim Limits) (*sink, error) {
	recs, err := jsonRecords(data, lim, "a Kutt GET /api/v2/links response", "data")
	if err != nil {
		return nil, err
	}
	s := newSink("record", lim)
	for i, raw := range recs {
		line := i + 1
		var l kuttLink
		if reason, ok := decodeRecord(raw, &l); !ok {
			s.skip(line, "%s", reason)
			continue
		}
		if truthy(l.Banned) {
			s.skip(line, "link %q is banned in Kutt", l.Address)
			continue
		}
		if truthy(l.Password) {
			s.skip(line, "link %q is password-protected in Kutt, and Kutt does not export the password", l.Address)
			continue
		}
		created, ok := optTime(s, line, "created_at", l.CreatedAt)
		if !ok {
			continue
		}
		expires, ok := optTime(s, line, "expire_in", l.ExpireIn)
		if !ok {
			continue
		}
		s.add(Item{
			Line:      line,
			Code:      strings.TrimSpace(l.Address),
			URL:       strings.TrimSpace(l.Target),
			Title:     strings.TrimSpace(l.Description),
			CreatedAt: created,
			ExpiresAt: expires,
		})
	}
	return s, nil
}

// truthy reports whether a JSON value is true, a non-zero number or a
// string other than "", "0" and "false".
func truthy(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0, bytes.Equal(raw, []byte("null")), bytes.Equal(raw, []byte("false")):
		return false
	case bytes.Equal(raw, []byte("true")):
		return true
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return true
		}
		return s != "" && s != "0" && s != "false"
	}
	var n float64
	if json.Unmarshal(raw, &n) == nil {
		return n != 0
	}
	return true // an object or array: something is set
}
