package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx/redistest"
)

var summaryRE = regexp.MustCompile(`import of .*: (\d+) imported, (\d+) already there, (\d+) skipped`)

func importFile(t *testing.T, srv *redistest.Server, format, file string) (imported, existing, skipped int, out string) {
	t.Helper()
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"import", "--format", format, "--owner", "migrator", "--redis", srv.URL,
		"--key-prefix", srv.Prefix, "--base-url", "https://sho.rt", file}, func(string) string { return "" }, &stdout, io.Discard)
	require.NoError(t, err)
	m := summaryRE.FindStringSubmatch(stdout.String())
	require.NotNil(t, m, "no summary in %q", stdout.String())
	imported, _ = strconv.Atoi(m[1])
	existing, _ = strconv.Atoi(m[2])
	skipped, _ = strconv.Atoi(m[3])
	return imported, existing, skipped, stdout.String()
}

func TestImportEachFormatTwice(t *testing.T) {
	for _, tc := range []struct{ format, file string }{
		{"bitly", "bitly.json"}, {"bitly", "bitly.csv"}, {"yourls", "yourls.csv"}, {"yourls", "yourls_headerless.csv"},
		{"yourls", "yourls_plugin.csv"}, {"kutt", "kutt.json"}, {"shlink", "shlink.json"}, {"shlink", "shlink.csv"}, {"csv", "generic.csv"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			srv := redistest.Start(t)
			file := filepath.Join("..", "pkg", "importer", "testdata", tc.file)
			imported, existing, skipped, out := importFile(t, srv, tc.format, file)
			assert.Positive(t, imported, "summary:\n%s", out)
			assert.Zero(t, existing)
			assert.Positive(t, skipped, "every fixture has bad records; the summary says why:\n%s", out)
			assert.Contains(t, out, "skipped ")
			keys := len(srv.Keys(t, srv.Client(t)))

			// A rerun creates nothing new.
			again, existing2, skipped2, out2 := importFile(t, srv, tc.format, file)
			assert.Zero(t, again, "rerun imported again:\n%s", out2)
			assert.Equal(t, imported, existing2, "a rerun finds every imported link already there")
			assert.Equal(t, skipped, skipped2)
			assert.Equal(t, keys, len(srv.Keys(t, srv.Client(t))), "a rerun adds no key")
		})
	}
}

func TestImportKeepsCodesAndRedirects(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	file := filepath.Join(t.TempDir(), "links.csv")
	require.NoError(t, os.WriteFile(file, []byte("url,code,tags\n"+
		"https://example.com/kept?x=1,kept-code,Spring|mail\n"+
		"https://example.com/new-code,ab,\n"+ // too short here: a new code
		"javascript:alert(1),bad-url,\n"+
		"https://example.com/taken,taken-one,\n"), 0o600))
	createLink(t, e, adminKey, map[string]any{"url": "https://example.com/other", "custom_code": "taken-one"})
	imported, existing, skipped, out := importFile(t, srv, "csv", file)
	assert.Equal(t, 2, imported, out)
	assert.Equal(t, 0, existing)
	assert.Equal(t, 2, skipped, out)
	assert.Contains(t, out, `code "taken-one" is taken by another link`)
	assert.Contains(t, out, "url scheme must be http or https")
	assert.Contains(t, out, "1 links had a code that is not valid here")
	status, h := rawGet(t, e.base, "GET", "/kept-code")
	assert.Equal(t, "HTTP/1.1 302 Found", status)
	assert.Equal(t, "https://example.com/kept?x=1", string(h["location"]))
	l := do(t, "GET", e.base+"/api/v1/links/kept-code", "", "", nil).json(t)
	assert.Equal(t, "migrator", l["owner"])
	assert.Equal(t, []any{"spring", "mail"}, l["tags"])
	imported, existing, _, _ = importFile(t, srv, "csv", file)
	assert.Equal(t, 0, imported)
	assert.Equal(t, 2, existing, "both the kept code and the renamed link are found again")
}
