package importer

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse feeds every input to every format: Parse must not panic, must
// fail only with one of its sentinels, and must never return an Item
// without a URL or a record without a place in the file.
func FuzzParse(f *testing.F) {
	for _, tc := range fixtureCases {
		f.Add(readFixture(f, tc.file))
	}
	for _, tc := range parseCases {
		f.Add([]byte(tc.input))
	}
	lim := Limits{MaxBytes: 1 << 20, MaxRecords: 10_000}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range Formats {
			items, skips, err := ParseWithLimits(format, bytes.NewReader(data), lim)
			if err != nil {
				if !errors.Is(err, ErrInput) && !errors.Is(err, ErrTooLarge) {
					t.Fatalf("Parse(%q) error = %v, want ErrInput or ErrTooLarge", format, err)
				}
				if items != nil || skips != nil {
					t.Fatalf("Parse(%q) returned results with error %v", format, err)
				}
				continue
			}
			for _, it := range items {
				if it.URL == "" {
					t.Fatalf("Parse(%q) item %+v has no URL", format, it)
				}
				if it.Line < 1 {
					t.Fatalf("Parse(%q) item %+v has line %d", format, it, it.Line)
				}
			}
			for _, s := range skips {
				if s.Line < 1 || s.Reason == "" {
					t.Fatalf("Parse(%q) skip %+v lacks a line or a reason", format, s)
				}
			}
		}
	})
}
