package chart

import (
	"bytes"
	"image/png"
	"testing"
)

func TestRenderPNG(t *testing.T) {
	c := Chart{
		Title:  "Redirects: requests/s",
		Series: []Series{{"uniform", Palette[0]}, {"zipf", Palette[1]}},
		Panels: []Panel{
			{Title: "req/s", Groups: []Group{{"ceiling", []float64{130000, 128000}}, {"edge\nno cache", []float64{30000, 31000}}},
				Lines: []Line{{43000, "10× node"}}},
			{Title: "p99 ms", Groups: []Group{{"ceiling", []float64{4.5, 4.1}}}},
			{Title: "empty"},
		},
	}
	var buf bytes.Buffer
	if err := c.WritePNG(&buf, 1200, 500); err != nil {
		t.Fatalf("WritePNG: %v", err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 500 {
		t.Fatalf("size %v, want 1200x500", b)
	}
}

func TestNiceStep(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{{0.7, 1}, {1.2, 2}, {3, 5}, {26000, 50000}, {0, 0}} {
		if got := niceStep(tc.in); got != tc.want {
			t.Errorf("niceStep(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestGlyphsAreFiveWide(t *testing.T) {
	for r, g := range glyphs {
		for i, row := range g {
			if len(row) != 5 {
				t.Errorf("glyph %q row %d is %d wide", r, i, len(row))
			}
		}
	}
}
