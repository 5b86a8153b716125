package importer

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// rowFunc handles one data record that starts on line.
type rowFunc func(line int, rec []string)

// headerFunc inspects the first record. It returns the handler for the
// records that follow and whether the first record is itself data (a
// header-less export).
type headerFunc func(first []string) (fn rowFunc, firstIsData bool, err error)

// readCSV reads data as CSV, hands the first record to onHeader and every
// later record to the handler it returns. Blank records are ignored. A
// record with broken quoting, or with more non-empty fields than the first
// record, becomes a Skip in s and reading goes on; short records are
// padded with empty fields by the handlers.
func readCSV(data []byte, s *sink, onHeader headerFunc) error {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = sniffComma(data)
	cr.FieldsPerRecord = -1 // short and long rows are handled per field

	first, err := cr.Read()
	if err != nil {
		return fmt.Errorf("%w: the first line is not CSV: %v", ErrInput, err)
	}
	fn, firstIsData, err := onHeader(first)
	if err != nil {
		return err
	}
	if firstIsData {
		if err := s.record(); err != nil {
			return err
		}
		line, _ := cr.FieldPos(0)
		fn(line, first)
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err := s.record(); err != nil {
			return err
		}
		if pe, ok := errors.AsType[*csv.ParseError](err); ok {
			if errors.Is(pe.Err, csv.ErrQuote) && cr.InputOffset() == int64(len(data)) && pe.Line > pe.StartLine {
				s.skip(pe.StartLine, "a quoted field opened here is never closed, so lines %d to %d could not be read", pe.StartLine, pe.Line)
			} else {
				s.skip(pe.StartLine, "broken CSV quoting: %v (line %d, column %d)", pe.Err, pe.Line, pe.Column)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInput, err)
		}
		if blank(rec) {
			continue
		}
		line, _ := cr.FieldPos(0)
		if len(rec) > len(first) && !blank(rec[len(first):]) {
			// Most likely an unquoted separator inside a URL or title:
			// reading on would silently cut the value short.
			s.skip(line, "%d fields where the first line has %d; quote values that contain %q", len(rec), len(first), cr.Comma)
			continue
		}
		fn(line, rec)
	}
}

// sniffComma returns ',' unless the first line has no comma and has
// semicolons or tabs, as spreadsheet programs write in some locales.
func sniffComma(data []byte) rune {
	line := bytes.TrimLeft(data, " \t\r\n")
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	switch {
	case bytes.IndexByte(line, ',') >= 0:
		return ','
	case bytes.IndexByte(line, ';') >= 0:
		return ';'
	case bytes.IndexByte(line, '\t') >= 0:
		return '\t'
	}
	return ','
}

// blank reports whether every field is white space, as in ",,,".
func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// columns maps the normalised header names of one CSV file to positions.
type columns map[string]int

// headerColumns indexes header by normalised name; the first of repeated
// names wins.
func headerColumns(header []string) columns {
	c := columns{}
	for i, h := range header {
		n := normHeader(h)
		if _, ok := c[n]; !ok && n != "" {
			c[n] = i
		}
	}
	return c
}

// normHeader lower-cases h and drops spaces, '_', '-' and '.', so that
// "Long URL", "long_url" and "longUrl" are the same column.
func normHeader(h string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '_', '-', '.', '\t':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(h)))
}

// find returns the position of the first of names present, or -1.
func (c columns) find(names ...string) int {
	for _, n := range names {
		if i, ok := c[n]; ok {
			return i
		}
	}
	return -1
}

// field returns the trimmed field i of rec, or "" if i is -1 or the row is
// short.
func field(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// colName is the header name of column i as written in the file.
func colName(header []string, i int) string {
	if i < 0 || i >= len(header) {
		return ""
	}
	return strings.TrimSpace(header[i])
}

// missingColumn is the error for a header without a required column.
func missingColumn(header []string, want string) error {
	const max = 200
	found := strings.Join(header, ", ")
	if len(found) > max {
		found = found[:max]
		for !utf8.ValidString(found) {
			found = found[:len(found)-1]
		}
		found += "…"
	}
	return fmt.Errorf("%w: the header row has no %s column (it has: %s)", ErrInput, want, found)
}
