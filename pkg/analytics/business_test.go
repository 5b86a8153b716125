package analytics_test

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/analytics"
	"github.com/shortener/shortener/pkg/clicks"
	"github.com/shortener/shortener/pkg/link"
)

// TestBusinessMetricsCardinalityBounded feeds random agents, countries,
// referers and codes and checks that the label sets stay within their
// fixed bounds.
func TestBusinessMetricsCardinalityBounded(t *testing.T) {
	f := newFixture(t)
	codes := []string{"camp1", "camp2", "other1", "other2"}
	for _, c := range codes {
		f.newLink(t, c)
	}
	reg := prometheus.NewRegistry()
	c := f.consumer(t, "w1", func(cfg *analytics.ConsumerConfig) {
		cfg.Registry = reg
		cfg.CampaignCodes = []string{"camp1", "camp2"}
		cfg.Classifier = f.cls
	})
	rng := rand.New(rand.NewSource(1))
	letters := "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var events []clicks.Event
	for i := 0; i < 600; i++ {
		ua := fmt.Sprintf("Mozilla/5.0 (X%d; rv:%d) RandomBrowser%d/%d.0", rng.Intn(1e6), i, rng.Intn(1e6), rng.Intn(100))
		if i%5 != 0 { // 120 random agents: each costs a full uap-go parse
			ua = uaDesktop
		}
		cc := string([]byte{letters[rng.Intn(26)], letters[rng.Intn(26)]})
		ref := fmt.Sprintf("https://site%d.example/", rng.Intn(1e6))
		events = append(events, click(codes[i%len(codes)], time.Now(), fmt.Sprintf("192.0.2.%d", i%250), ua, ref, cc))
	}
	f.add(t, events...)
	res := f.drain(t, c)
	require.Equal(t, 600, res.Applied)

	mfs, err := reg.Gather()
	require.NoError(t, err)
	series := map[string]map[string]bool{}
	var humans, bots float64
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "shortener_worker_clicks") && mf.GetName() != "shortener_worker_campaign_clicks_total" {
			continue
		}
		vals := map[string]bool{}
		for _, m := range mf.GetMetric() {
			vals[m.GetLabel()[0].GetValue()] = true
			if mf.GetName() == "shortener_worker_clicks_total" {
				if m.GetLabel()[0].GetValue() == "human" {
					humans = m.GetCounter().GetValue()
				} else {
					bots = m.GetCounter().GetValue()
				}
			}
		}
		series[mf.GetName()] = vals
	}
	assert.EqualValues(t, 600, humans+bots, "every applied click is counted once")
	assert.LessOrEqual(t, len(series["shortener_worker_clicks_by_country_total"]), 251, "ISO countries + unknown + other")
	assert.True(t, series["shortener_worker_clicks_by_country_total"]["other"], "made-up countries fold into other")
	assert.LessOrEqual(t, len(series["shortener_worker_clicks_by_device_total"]), 4)
	assert.LessOrEqual(t, len(series["shortener_worker_clicks_by_browser_total"]), 26)
	assert.LessOrEqual(t, len(series["shortener_worker_clicks_by_os_total"]), 16)
	assert.Equal(t, map[string]bool{"other": true}, series["shortener_worker_clicks_by_referer_total"], "unknown referers fold into other")
	assert.Equal(t, map[string]bool{"camp1": true, "camp2": true}, series["shortener_worker_campaign_clicks_total"], "only named campaign codes get a series")
}

func TestTagMetricsOnlyForNamedTags(t *testing.T) {
	f := newFixture(t)
	_, _, err := f.store.Create(context.Background(), link.CreateRequest{URL: "https://example.com/t", CustomCode: "tagged", Owner: "alice",
		Options: link.OptionsRequest{Tags: []string{"spring", "internal"}}})
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	c := f.consumer(t, "w1", func(cfg *analytics.ConsumerConfig) { cfg.Registry = reg; cfg.MetricTags = []string{"spring"} })
	f.add(t, click("tagged", time.Now(), "192.0.2.1", uaDesktop, "", "DE"), click("tagged", time.Now(), "192.0.2.2", uaBot, "", "DE"))
	require.Equal(t, 2, f.drain(t, c).Applied)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "shortener_worker_tag_clicks_total" {
			for _, m := range mf.GetMetric() {
				got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	assert.Equal(t, map[string]float64{"spring": 2}, got, "only the named tag has a series; bots count too")
}
