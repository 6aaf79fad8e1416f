package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// api is the part of the server's REST API and /metrics the tool uses.
// Every request is bounded by its context and by the client's timeout.
type api struct {
	base string
	hc   *http.Client
}

func newAPI(base string) *api {
	return &api{base: base, hc: &http.Client{Timeout: time.Minute}}
}

// do sends one request and decodes a JSON answer into out (unless nil).
func (a *api) do(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(msg))
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// createDoc creates a document and returns its id (its edit link).
func (a *api) createDoc(ctx context.Context, name, text string) (string, error) {
	body, err := json.Marshal(map[string]string{"name": name, "text": text})
	if err != nil {
		return "", err
	}
	var d struct {
		ID string `json:"id"`
	}
	if err := a.do(ctx, http.MethodPost, "/api/docs", body, &d); err != nil {
		return "", err
	}
	if d.ID == "" {
		return "", fmt.Errorf("POST /api/docs: no id in the answer")
	}
	return d.ID, nil
}

// head returns a document's newest revision and its text.
func (a *api) head(ctx context.Context, id string) (uint64, string, error) {
	var d struct {
		Rev  uint64 `json:"rev"`
		Text string `json:"text"`
	}
	err := a.do(ctx, http.MethodGet, "/api/docs/"+id, nil, &d)
	return d.Rev, d.Text, err
}

// revLog is what a document's revision log holds.
type revLog struct {
	Revs uint64         // revisions read: 1..Revs, without gaps
	IDs  map[string]int // how often each op id occurs
}

// maxLogPages bounds the paging through one revision log (1,000 a page).
const maxLogPages = 100_000

// log reads a document's whole revision log, page by page, and checks
// that its revisions are 1, 2, 3, … without gaps.
func (a *api) log(ctx context.Context, id string) (revLog, error) {
	l := revLog{IDs: map[string]int{}}
	for range maxLogPages {
		var page struct {
			Revisions []struct {
				Rev uint64 `json:"rev"`
				ID  string `json:"id"`
			} `json:"revisions"`
			Next *uint64 `json:"next"`
		}
		path := fmt.Sprintf("/api/docs/%s/revisions?after=%d&limit=1000", id, l.Revs)
		if err := a.do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return l, err
		}
		for _, r := range page.Revisions {
			if r.Rev != l.Revs+1 {
				return l, fmt.Errorf("revision log of %s: revision %d follows %d", id, r.Rev, l.Revs)
			}
			l.Revs = r.Rev
			if r.ID != "" {
				l.IDs[r.ID]++
			}
		}
		if page.Next == nil || len(page.Revisions) == 0 {
			return l, nil
		}
	}
	return l, fmt.Errorf("revision log of %s: longer than %d pages", id, maxLogPages)
}

// metrics reads the server's unlabelled Prometheus samples.
func (a *api) metrics(ctx context.Context) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// nodeMetrics is a.metrics of every node of cfg.URLs (a is the first's),
// summed: the servers' counters and CPU time, all processes together.
func nodeMetrics(ctx context.Context, a *api, cfg Config) (metrics, error) {
	sum, err := a.metrics(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range cfg.URLs[1:] {
		m, err := newAPI(u).metrics(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", u, err)
		}
		for k, v := range m {
			sum[k] += v
		}
	}
	return sum, nil
}

// metrics are the unlabelled samples of the Prometheus text format by
// name, and the buckets of unlabelled histograms by name and bound
// (collab_edit_seconds_bucket{le="0.004"}).
type metrics map[string]float64

func parseMetrics(r io.Reader) (metrics, error) {
	m := metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexByte(line, '{'); i >= 0 && !(strings.HasSuffix(line[:i], "_bucket") && strings.HasPrefix(line[i:], `{le="`)) {
			continue // labelled, and not an unlabelled histogram's bucket
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			m[f[0]] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if _, ok := m["process_cpu_seconds_total"]; !ok {
		return nil, fmt.Errorf("GET /metrics: no process_cpu_seconds_total")
	}
	return m, nil
}
