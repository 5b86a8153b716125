package flagenv

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantRedis  string
		wantAnon   bool
		wantErrStr string
	}{
		{name: "defaults", wantRedis: "redis://127.0.0.1:6379", wantAnon: true},
		{name: "env sets", env: map[string]string{"SHORTENER_REDIS": "redis://r:1", "SHORTENER_ALLOW_ANONYMOUS": "false"}, wantRedis: "redis://r:1", wantAnon: false},
		{name: "flag wins", args: []string{"--redis", "redis://flag:2"}, env: map[string]string{"SHORTENER_REDIS": "redis://env:1"}, wantRedis: "redis://flag:2", wantAnon: true},
		{name: "bad env value", env: map[string]string{"SHORTENER_ALLOW_ANONYMOUS": "maybe"}, wantErrStr: `invalid value "maybe" for SHORTENER_ALLOW_ANONYMOUS`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			redis := fs.String("redis", "redis://127.0.0.1:6379", "")
			anon := fs.Bool("allow-anonymous", true, "")
			err := Parse(fs, tc.args, func(k string) string { return tc.env[k] })
			if tc.wantErrStr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErrStr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantRedis, *redis)
			assert.Equal(t, tc.wantAnon, *anon)
		})
	}
}

func TestEnvName(t *testing.T) {
	assert.Equal(t, "SHORTENER_OPS_LISTEN", EnvName("ops-listen"))
	assert.Equal(t, "SHORTENER_REDIS", EnvName("redis"))
}
