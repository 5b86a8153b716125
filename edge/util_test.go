package main

import (
	"net/http"
	"os"
	"testing"
)

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

func doHeader(t *testing.T, method, url, key, value string) answer {
	t.Helper()
	return doWith(t, method, url, nil, func(r *http.Request) { r.Header.Set(key, value) })
}
