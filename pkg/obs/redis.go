package obs

import "github.com/prometheus/client_golang/prometheus"

// RedisUp returns a registered gauge named shortener_<binary>_redis_up and
// a setter for it: 1 while Redis answers a PING, 0 otherwise.
func RedisUp(reg prometheus.Registerer, binary string) func(bool) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "shortener_" + binary + "_redis_up",
		Help: "1 while Redis answers a PING within a second, else 0.",
	})
	reg.MustRegister(g)
	return func(up bool) {
		if up {
			g.Set(1)
		} else {
			g.Set(0)
		}
	}
}
