package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/collab-editor/collab/client"
)

// benchDoc is one document under load.
type benchDoc struct {
	id      string
	track   *docTrack
	clients []session
	workers []*worker
}

// tally counts error codes the server sent, by code.
type tally struct {
	mu sync.Mutex
	n  map[string]int
}

func (t *tally) add(code string) {
	t.mu.Lock()
	t.n[code]++
	t.mu.Unlock()
}

// dialParallel is how many clients connect at once during setup.
const dialParallel = 16

// load runs the editing workload: it creates the documents, connects the
// clients, lets them edit through the warmup and the measurement, waits
// until every edit is acknowledged, and checks convergence. Every phase
// has a deadline; the whole run ends within setupTimeout + warmup +
// duration + 2×drain.
func load(ctx context.Context, cfg Config, a *api) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout+cfg.Warmup+cfg.Duration+2*cfg.Drain)
	defer cancel()

	setup, setupCancel := context.WithTimeout(ctx, setupTimeout)
	defer setupCancel()
	text := codeText(rand.New(rand.NewPCG(cfg.Seed, 0)), cfg.DocSize)
	clk := newClock()
	docs := make([]*benchDoc, cfg.Docs)
	for d := range docs {
		id, err := a.createDoc(setup, fmt.Sprintf("bench/file%d.go", d), text)
		if err != nil {
			return nil, fmt.Errorf("creating document %d: %w", d, err)
		}
		docs[d] = &benchDoc{id: id, track: newDocTrack(clk, cfg.Clients), clients: make([]session, cfg.Clients)}
	}
	errs := &tally{n: map[string]int{}}
	defer closeAll(docs)
	if err := dialAll(setup, cfg, docs, text, errs); err != nil {
		return nil, err
	}
	setupCancel()

	// Edit: warmup, then the measurement. Without a warmup the measurement
	// starts before the first edit.
	var m0 metrics
	begin := func() error {
		var err error
		if m0, err = nodeMetrics(ctx, a, cfg); err != nil {
			return fmt.Errorf("reading the server's metrics: %w", err)
		}
		clk.start.Store(int64(clk.now()))
		return nil
	}
	if cfg.Warmup == 0 {
		if err := begin(); err != nil {
			return nil, err
		}
	}
	editEnd := time.Now().Add(cfg.Warmup + cfg.Duration)
	waitCtx, waitCancel := context.WithDeadline(ctx, editEnd.Add(cfg.Drain))
	defer waitCancel()
	stop := make(chan struct{})
	var editing, cursoring sync.WaitGroup
	for d, doc := range docs {
		for k, cl := range doc.clients {
			w := &worker{cl: cl, cfg: &cfg, clk: clk,
				gen: editGen{rng: rand.New(rand.NewPCG(cfg.Seed, uint64(d)<<20|uint64(k)<<1)), mix: cfg.Mix}}
			doc.workers = append(doc.workers, w)
			editing.Go(func() { w.run(waitCtx, stop) })
			if cfg.CursorRate > 0 {
				rng := rand.New(rand.NewPCG(cfg.Seed, uint64(d)<<20|uint64(k)<<1|1))
				cursoring.Go(func() { w.cursorLoop(rng, stop) })
			}
		}
	}
	stopEditing := sync.OnceFunc(func() {
		clk.end.Store(int64(clk.now()))
		close(stop)
		editing.Wait()
		cursoring.Wait()
	})
	defer stopEditing()
	if cfg.Warmup > 0 {
		if err := sleep(ctx, cfg.Warmup); err != nil {
			return nil, err
		}
		if err := begin(); err != nil {
			return nil, err
		}
	}
	allDone := make(chan struct{})
	go func() { editing.Wait(); close(allDone) }()
	t := time.NewTimer(time.Until(editEnd))
	select {
	case <-t.C:
	case <-allDone: // every client made its -edits
	case <-ctx.Done():
	}
	t.Stop()
	stopEditing()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	// Drain: every edit acknowledged, then read the server's counters.
	res := newResult(cfg)
	drain, drainCancel := context.WithTimeout(ctx, cfg.Drain)
	defer drainCancel()
	drainErr := waitAllSynced(drain, docs)
	m1, err := nodeMetrics(ctx, a, cfg)
	if err != nil {
		return nil, fmt.Errorf("reading the server's metrics: %w", err)
	}
	res.server(m0, m1)

	// Convergence. -raw clients apply nothing: all there is to check is
	// that every edit was acknowledged.
	err = drainErr
	if !cfg.Raw {
		check, checkCancel := context.WithTimeout(ctx, cfg.Drain)
		defer checkCancel()
		err = errors.Join(err, converge(check, a, docs))
	}
	if err != nil {
		res.ConvergenceError = err.Error()
	} else {
		res.Converged = !cfg.Raw
	}
	res.collect(clk, docs, errs)
	return res, nil
}

// dialAll connects every client of every document, dialParallel at a time.
// text is the documents' initial text.
func dialAll(ctx context.Context, cfg Config, docs []*benchDoc, text string, errs *tally) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type job struct{ d, k int }
	jobs := make(chan job)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range min(dialParallel, cfg.Docs*cfg.Clients) {
		wg.Go(func() {
			for j := range jobs {
				tr := docs[j.d].track
				ccfg := client.Config{
					URL: cfg.URLs[(j.d+j.k)%len(cfg.URLs)], Doc: docs[j.d].id, Name: fmt.Sprintf("bench %d.%d", j.d, j.k),
					MaxBackoff: time.Second,
					OnAck:      tr.ack,
					OnRemote:   tr.remote,
					OnError:    func(code, _ string) { errs.add(code) },
				}
				var cl session
				var err error
				if cfg.Raw {
					cl, err = dialRaw(ctx, ccfg, text)
				} else {
					cl, err = client.Dial(ctx, ccfg)
				}
				mu.Lock()
				if err == nil {
					docs[j.d].clients[j.k] = cl
				} else if first == nil {
					first = fmt.Errorf("connecting client %d of document %d: %w", j.k, j.d, err)
					cancel()
				}
				mu.Unlock()
			}
		})
	}
feed:
	for d := range docs {
		for k := range cfg.Clients {
			select {
			case jobs <- job{d, k}:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

func closeAll(docs []*benchDoc) {
	var wg sync.WaitGroup
	for _, doc := range docs {
		wg.Go(func() {
			for _, cl := range doc.clients {
				if cl != nil {
					cl.Close()
				}
			}
		})
	}
	wg.Wait()
}

// waitAllSynced waits until every client's edits are acknowledged.
func waitAllSynced(ctx context.Context, docs []*benchDoc) error {
	for d, doc := range docs {
		for k, cl := range doc.clients {
			if err := cl.WaitSynced(ctx); err != nil {
				return fmt.Errorf("document %d client %d: edits not acknowledged: %w", d, k, err)
			}
		}
	}
	return nil
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// worker is one client's editing and cursor loops. The editing loop owns
// edits and err, the cursor loop cursorsSent and cursorsSkipped; read them
// after both ended.
type worker struct {
	cl  session
	cfg *Config
	clk *clock
	gen editGen

	edits int // edits made during the measurement
	err   error

	cursorsSent, cursorsSkipped int // cursor updates sent, and not sent (an edit was in flight)
}

// run edits until stop, until -edits measured edits, or until the client
// fails. ctx bounds the closed loop's waits for acks.
func (w *worker) run(ctx context.Context, stop <-chan struct{}) {
	if w.cfg.Rate == 0 {
		w.closedLoop(ctx, stop)
	} else {
		w.openLoop(stop)
	}
}

// closedLoop makes the next edit as soon as the previous one is
// acknowledged.
func (w *worker) closedLoop(ctx context.Context, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		more := w.edit()
		if w.err != nil {
			return
		}
		if err := w.cl.WaitSynced(ctx); err != nil {
			w.err = err
			return
		}
		if !more {
			return
		}
	}
}

// openLoop edits on a schedule of -rate per second, each edit's time
// jittered by up to a quarter of the interval either way, whatever the
// acks do: edits made while one is in flight are buffered and composed by
// the client, as in an editor.
func (w *worker) openLoop(stop <-chan struct{}) {
	interval := time.Duration(float64(time.Second) / w.cfg.Rate)
	first := time.Now().Add(time.Duration(w.gen.rng.Int64N(int64(interval) + 1)))
	t := time.NewTimer(time.Until(first))
	defer t.Stop()
	for i := int64(1); ; i++ {
		select {
		case <-t.C:
		case <-stop:
			return
		}
		if !w.edit() {
			return
		}
		jitter := time.Duration((w.gen.rng.Float64() - 0.5) * float64(interval) / 2)
		t.Reset(time.Until(first.Add(time.Duration(i)*interval + jitter)))
	}
}

// edit makes one edit, unless -edits were made; it reports whether more
// are due. A client that failed sets err.
func (w *worker) edit() bool {
	if w.cfg.Edits > 0 && w.edits >= w.cfg.Edits {
		return false
	}
	at := w.clk.now()
	if err := w.cl.EditFunc(func(n int) (client.Op, error) { return w.gen.next(n), nil }); err != nil {
		w.err = err
		return false
	}
	if w.clk.measured(at) {
		w.edits++
	}
	return w.cfg.Edits == 0 || w.edits < w.cfg.Edits
}

// cursorMargin keeps a random cursor this far from the end of the text:
// the length is read before the cursor is set, and remote deletes may
// shorten the text in between.
const cursorMargin = 64

// cursorLoop moves the client's cursor -cursor-rate times a second (jittered)
// until stop. The client sends it only when no edit is in flight.
func (w *worker) cursorLoop(rng *rand.Rand, stop <-chan struct{}) {
	interval := time.Duration(float64(time.Second) / w.cfg.CursorRate)
	t := time.NewTimer(time.Duration(rng.Int64N(int64(interval) + 1)))
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-stop:
			return
		}
		n := w.cl.Len()
		p := rng.IntN(max(n-cursorMargin, 0) + 1)
		head := p + rng.IntN(min(n-p, 10)+1)
		if w.cl.SetCursor([]client.Range{{Anchor: p, Head: head}}) {
			w.cursorsSent++
		} else {
			w.cursorsSkipped++
		}
		t.Reset(interval/2 + time.Duration(rng.Int64N(int64(interval)+1)))
	}
}
