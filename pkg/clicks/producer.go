package clicks

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"

	"github.com/shortener/shortener/pkg/redisx"
)

// PayloadField is the stream entry field holding the encoded event.
const PayloadField = "e"

// Defaults of ProducerConfig.
const (
	DefaultBuffer       = 1 << 16
	DefaultBatch        = 512
	DefaultFlushTimeout = 10 * time.Second
	producerSeqTTL      = 24 * time.Hour
)

// appendScript appends a batch to one partition's stream unless this edge
// already appended a batch with this sequence number: a batch retried after
// an ambiguous failure (a timeout after Redis applied it) is not appended
// twice. KEYS: stream, the edge's sequence key. ARGV: sequence, its TTL in
// seconds, then the encoded events.
var appendScript = redisx.NewScript(`
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) <= last then return 0 end
for i = 3, #ARGV do redis.call('XADD', KEYS[1], '*', 'e', ARGV[i]) end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return #ARGV - 2
`)

// ProducerConfig configures a Producer.
type ProducerConfig struct {
	Client rueidis.Client
	Keys   redisx.Keyspace
	// EdgeID names this edge process in the sequence keys; unique per process.
	EdgeID string
	// Buffer is how many events may wait in memory; past it, events are
	// dropped and counted.
	Buffer int
	// Batch is the most events appended in one round trip.
	Batch int
	// FlushTimeout bounds the final flush when Run's context ends.
	FlushTimeout time.Duration
	Log          *slog.Logger
	Registry     prometheus.Registerer
}

// Producer hands click events from the redirect path to the Redis Streams.
// Record never blocks; Run appends in the background with pipelined,
// retried, idempotent batches. It is safe for concurrent use.
type Producer struct {
	cfg  ProducerConfig
	ch   chan *pending
	free chan *pending // spare buffers: unlike a sync.Pool, not emptied by GC
	seq  []uint64      // per partition, owned by Run
	m    producerMetrics

	closed atomic.Bool
}

type pending struct {
	b []byte
	p int
}

type producerMetrics struct {
	recorded, flushed, droppedFull, droppedShutdown, flushErrors prometheus.Counter
}

// NewProducer returns a Producer and registers its metrics.
func NewProducer(cfg ProducerConfig) (*Producer, error) {
	if cfg.Client == nil || cfg.Log == nil || cfg.EdgeID == "" {
		return nil, errors.New("producer needs a client, a logger and an edge ID")
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultBuffer
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = DefaultFlushTimeout
	}
	p := &Producer{cfg: cfg, ch: make(chan *pending, cfg.Buffer), seq: make([]uint64, cfg.Keys.Partitions)}
	p.free = make(chan *pending, cfg.Buffer+cfg.Batch)
	recorded := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shortener_edge_clicks_buffered_total",
		Help: "Click events accepted into the in-memory buffer.",
	})
	flushed := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shortener_edge_clicks_flushed_total",
		Help: "Click events appended to the Redis Streams.",
	})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shortener_edge_clicks_dropped_total",
		Help: "Click events lost, by reason: buffer_full (Redis slow or down) or shutdown (not flushed before the flush timeout).",
	}, []string{"reason"})
	flushErrors := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shortener_edge_click_flush_errors_total",
		Help: "Failed append round trips (the batch is retried).",
	})
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "shortener_edge_click_buffer_depth",
		Help: "Click events waiting in the in-memory buffer.",
	}, func() float64 { return float64(len(p.ch)) })
	capacity := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "shortener_edge_click_buffer_capacity",
		Help: "Size of the in-memory click buffer.",
	})
	capacity.Set(float64(cfg.Buffer))
	if cfg.Registry != nil {
		for _, c := range []prometheus.Collector{recorded, flushed, dropped, flushErrors, depth, capacity} {
			if err := cfg.Registry.Register(c); err != nil {
				return nil, err
			}
		}
	}
	p.m = producerMetrics{recorded: recorded, flushed: flushed, droppedFull: dropped.WithLabelValues("buffer_full"),
		droppedShutdown: dropped.WithLabelValues("shutdown"), flushErrors: flushErrors}
	return p, nil
}

// Record encodes e (copying every byte it needs: e may point into request
// buffers) and queues it. It never blocks: when the buffer is full, or the
// producer has stopped, the event is dropped, counted, and false returned.
func (p *Producer) Record(e *Event) bool {
	if p.closed.Load() {
		p.m.droppedShutdown.Inc()
		return false
	}
	var pe *pending
	select {
	case pe = <-p.free:
	default:
		pe = &pending{b: make([]byte, 0, 512)}
	}
	pe.b = AppendEncode(pe.b[:0], e)
	pe.p = redisx.PartitionOf(e.Code, p.cfg.Keys.Partitions)
	select {
	case p.ch <- pe:
		p.m.recorded.Inc()
		return true
	default:
		p.put(pe)
		p.m.droppedFull.Inc()
		return false
	}
}

// Depth returns the number of events waiting.
func (p *Producer) Depth() int { return len(p.ch) }

// Run appends queued events until ctx ends, then flushes what is left for
// at most FlushTimeout; events it cannot append by then are counted as
// dropped. Call it once.
func (p *Producer) Run(ctx context.Context) {
	batch := make([]*pending, 0, p.cfg.Batch)
	for {
		select {
		case pe := <-p.ch:
			batch = append(batch[:0], pe)
		case <-ctx.Done():
			p.final(nil, nil)
			return
		}
		batch = p.fill(batch)
		calls := p.prepare(batch)
		if failed := p.send(ctx, calls); len(failed) > 0 { // ctx ended while Redis was failing
			p.final(batch, failed)
			return
		}
		p.release(batch)
	}
}

// fill adds what is already queued, without waiting, up to Batch.
func (p *Producer) fill(batch []*pending) []*pending {
	for len(batch) < p.cfg.Batch {
		select {
		case pe := <-p.ch:
			batch = append(batch, pe)
		default:
			return batch
		}
	}
	return batch
}

func (p *Producer) release(batch []*pending) {
	for _, pe := range batch {
		p.put(pe)
	}
}

func (p *Producer) put(pe *pending) {
	if cap(pe.b) > 4*MaxEncodedLen {
		return
	}
	select {
	case p.free <- pe:
	default:
	}
}

// final stops Record, then within FlushTimeout retries the calls that
// failed (with their sequence numbers, so nothing is appended twice) and
// flushes everything still queued. What does not make it is counted.
func (p *Producer) final(held []*pending, failed []redisx.Call) {
	p.closed.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.FlushTimeout)
	defer cancel()
	if len(failed) > 0 {
		if failed = p.send(ctx, failed); len(failed) > 0 {
			p.lost(countEvents(failed) + len(p.ch))
			return
		}
		p.release(held)
	}
	batch := make([]*pending, 0, p.cfg.Batch)
	for {
		batch = p.fill(batch[:0])
		if len(batch) == 0 {
			return
		}
		if failed := p.send(ctx, p.prepare(batch)); len(failed) > 0 {
			p.lost(countEvents(failed) + len(p.ch))
			return
		}
		p.release(batch)
	}
}

func (p *Producer) lost(n int) {
	p.m.droppedShutdown.Add(float64(n))
	p.cfg.Log.Error("click events not flushed before the flush timeout", "lost", n)
}

// prepare groups a batch by partition into one script call each, with the
// partition's next sequence number.
func (p *Producer) prepare(batch []*pending) []redisx.Call {
	byPart := map[int][]string{}
	for _, pe := range batch {
		byPart[pe.p] = append(byPart[pe.p], rueidis.BinaryString(pe.b))
	}
	calls := make([]redisx.Call, 0, len(byPart))
	for part, events := range byPart {
		p.seq[part]++
		args := make([]string, 0, len(events)+2)
		args = append(args, strconv.FormatUint(p.seq[part], 10), strconv.Itoa(int(producerSeqTTL/time.Second)))
		args = append(args, events...)
		calls = append(calls, redisx.Call{Keys: []string{p.cfg.Keys.Stream(part), p.cfg.Keys.Producer(part, p.cfg.EdgeID)}, Args: args})
	}
	return calls
}

// send runs calls, retrying the failed ones with backoff until all succeed
// or ctx ends; it returns the calls that never succeeded.
func (p *Producer) send(ctx context.Context, calls []redisx.Call) []redisx.Call {
	backoff := 50 * time.Millisecond
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		res := appendScript.ExecMulti(rctx, p.cfg.Client, calls...)
		cancel()
		var failed []redisx.Call
		var firstErr error
		for i, r := range res {
			if err := r.Error(); err != nil {
				failed = append(failed, calls[i])
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			// 0 appended means an earlier, ambiguous attempt already did.
			p.m.flushed.Add(float64(len(calls[i].Args) - 2))
		}
		if len(failed) == 0 {
			return nil
		}
		p.m.flushErrors.Inc()
		p.cfg.Log.Warn("cannot append click events; retrying", "events", countEvents(failed), "retry_in", backoff.String(), "err", firstErr)
		calls = failed
		select {
		case <-ctx.Done():
			return failed
		case <-time.After(backoff):
		}
		if backoff *= 2; backoff > 2*time.Second {
			backoff = 2 * time.Second
		}
	}
}

func countEvents(calls []redisx.Call) int {
	n := 0
	for _, c := range calls {
		n += len(c.Args) - 2
	}
	return n
}
