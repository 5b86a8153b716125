package api

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bodyCases is shared by TestParseCreate and FuzzParseCreate's corpus.
var bodyCases = []struct {
	name, contentType, body string
	status                  int // 0: accepted
}{
	{"minimal", "application/json", `{"url":"https://example.com"}`, 0},
	{"charset", "application/json; charset=utf-8", `{"url":"https://example.com"}`, 0},
	{"every field", "application/json", `{"url":"https://example.com","custom_code":"abc","ttl":60,"max_clicks":5,"dedupe":true}`, 0},
	{"expires_at", "application/json", `{"url":"https://example.com","expires_at":"2099-01-01T00:00:00Z"}`, 0},
	{"nulls", "application/json", `{"url":"https://example.com","ttl":null,"max_clicks":null}`, 0},
	{"text/plain", "text/plain", `{"url":"https://example.com"}`, 415},
	{"form", "application/x-www-form-urlencoded", `url=https://example.com`, 415},
	{"no content type", "", `{"url":"https://example.com"}`, 415},
	{"empty", "application/json", ``, 400},
	{"truncated", "application/json", `{"url":`, 400},
	{"array", "application/json", `["https://example.com"]`, 400},
	{"two objects", "application/json", `{"url":"a"}{"url":"b"}`, 400},
	{"unknown field", "application/json", `{"url":"https://example.com","colour":"red"}`, 400},
	{"no url", "application/json", `{}`, 400},
	{"url not a string", "application/json", `{"url":42}`, 400},
	{"ttl string", "application/json", `{"url":"x","ttl":"60"}`, 400},
	{"ttl fraction", "application/json", `{"url":"x","ttl":1.5}`, 400},
	{"ttl zero", "application/json", `{"url":"x","ttl":0}`, 400},
	{"ttl negative", "application/json", `{"url":"x","ttl":-1}`, 400},
	{"ttl huge", "application/json", `{"url":"x","ttl":99999999999999999999}`, 400},
	{"max_clicks zero", "application/json", `{"url":"x","max_clicks":0}`, 400},
	{"expires_at not a time", "application/json", `{"url":"x","expires_at":"tomorrow"}`, 400},
	{"binary", "application/json", "\x00\xff\xfe{", 400},
	{"deep nesting", "application/json", strings.Repeat("[", 10000), 400},
}

func TestParseCreate(t *testing.T) {
	for _, tc := range bodyCases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := parseCreate([]byte(tc.contentType), []byte(tc.body), "alice")
			if tc.status == 0 {
				require.Nil(t, err, "parseCreate(%q)", tc.body)
				assert.Equal(t, "alice", req.Owner)
				return
			}
			require.NotNil(t, err, "parseCreate(%q) accepted a bad body", tc.body)
			assert.Equal(t, tc.status, err.status)
			assert.NotEmpty(t, err.detail)
		})
	}
	req, err := parseCreate([]byte("application/json"), []byte(`{"url":"u","ttl":60,"max_clicks":5,"custom_code":"c","dedupe":true}`), "")
	require.Nil(t, err)
	assert.Equal(t, time.Minute, req.TTL)
	assert.EqualValues(t, 5, req.MaxClicks)
	assert.Equal(t, "c", req.CustomCode)
	assert.True(t, req.Dedupe)
}

func FuzzParseCreate(f *testing.F) {
	for _, tc := range bodyCases {
		f.Add(tc.contentType, tc.body)
	}
	f.Fuzz(func(t *testing.T, contentType, body string) {
		req, err := parseCreate([]byte(contentType), []byte(body), "owner")
		if err != nil {
			if err.status != 400 && err.status != 415 {
				t.Fatalf("status %d for %q", err.status, body)
			}
			return
		}
		if req.TTL < 0 || req.MaxClicks < 0 {
			t.Fatalf("accepted negative ttl or max_clicks from %q", body)
		}
	})
}
