package apitest

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// keepBytes caps the JSON bodies kept for checking: a larger one is
// checked by status, content type and headers only.
const keepBytes = 64 << 20

// Handler wraps next so that every API exchange it serves is checked
// (Check), and a mismatch fails t, naming the request. Put it right around
// the server's handler, inside any test middleware that answers requests
// itself.
func (c *Checker) Handler(t testing.TB, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !c.Covers(r) {
			next.ServeHTTP(w, r)
			return
		}
		orig := r.Clone(r.Context())
		body := &teeBody{rc: r.Body}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = body
		}
		check := func(ex Exchange) {
			ex.Request = orig
			ex.RequestBody = body.bytes()
			if err := c.Check(ex); err != nil {
				t.Errorf("apitest: %v", err)
			}
		}
		// A WebSocket is checked when it is taken over, before its 101
		// reaches the client: its handler runs for as long as the
		// connection lives, past the server's Close, maybe past the test.
		rec := &recorder{w: w, onHijack: check}
		next.ServeHTTP(rec, r)
		if rec.hijacked {
			return
		}
		if !rec.wrote && r.Context().Err() != nil {
			return // the client left before any answer
		}
		check(rec.exchange())
	})
}

// teeBody keeps what the handler reads of a request body.
type teeBody struct {
	rc  io.ReadCloser
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.mu.Lock()
	if b.buf.Len() < keepBytes {
		b.buf.Write(p[:n])
	}
	b.mu.Unlock()
	return n, err
}

func (b *teeBody) Close() error { return b.rc.Close() }

func (b *teeBody) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// recorder passes an answer through to the client and keeps what the
// checker needs of it. A handler's streaming (Flush) and the WebSocket
// upgrade (Hijack) go through to the real writer.
type recorder struct {
	w        http.ResponseWriter
	wrote    bool // the status was written
	status   int
	header   http.Header
	keep     bool // the body is JSON and kept
	body     bytes.Buffer
	n        int64
	hijacked bool
	onHijack func(Exchange)
}

func (rec *recorder) Header() http.Header { return rec.w.Header() }

func (rec *recorder) WriteHeader(status int) {
	if rec.wrote {
		rec.w.WriteHeader(status) // net/http logs the superfluous call
		return
	}
	if status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		rec.w.WriteHeader(status) // an informational answer; the real one follows
		return
	}
	rec.wrote = true
	rec.status = status
	rec.header = rec.w.Header().Clone()
	mt, _, _ := mime.ParseMediaType(rec.header.Get("Content-Type"))
	rec.keep = mt == "application/json" || strings.HasSuffix(mt, "+json")
	rec.w.WriteHeader(status)
}

func (rec *recorder) Write(p []byte) (int, error) {
	if !rec.wrote {
		if rec.w.Header().Get("Content-Type") == "" {
			rec.w.Header().Set("Content-Type", http.DetectContentType(p))
		}
		rec.WriteHeader(http.StatusOK)
	}
	n, err := rec.w.Write(p)
	rec.n += int64(n)
	if rec.keep {
		if rec.body.Len()+n > keepBytes {
			rec.keep = false
			rec.body = bytes.Buffer{}
		} else {
			rec.body.Write(p[:n])
		}
	}
	return n, err
}

func (rec *recorder) Flush() {
	if !rec.wrote {
		rec.WriteHeader(http.StatusOK)
	}
	http.NewResponseController(rec.w).Flush()
}

func (rec *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(rec.w).Hijack()
	if err == nil && !rec.wrote {
		// The WebSocket handshake writes its 101 to the connection itself.
		rec.wrote, rec.hijacked, rec.status = true, true, http.StatusSwitchingProtocols
		rec.header = http.Header{}
		rec.onHijack(rec.exchange())
	}
	return conn, rw, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.w }

func (rec *recorder) exchange() Exchange {
	if !rec.wrote {
		// The handler returned without writing: net/http answers 200.
		rec.status, rec.header, rec.keep = http.StatusOK, rec.w.Header().Clone(), true
	}
	return Exchange{
		Status:   rec.status,
		Header:   rec.header,
		Body:     rec.body.Bytes(),
		BodyLen:  rec.n,
		BodyKept: rec.keep,
		Hijacked: rec.hijacked,
	}
}

// Transport returns a RoundTripper that sends requests through next
// (http.DefaultTransport when nil) and checks every API exchange, failing t
// on a mismatch: for servers a test cannot wrap with Handler, such as the
// real entry point listening on a port. It reads a JSON answer whole to
// check it (the caller reads it from memory); other answers stream through,
// checked by status, content type and headers.
func (c *Checker) Transport(t testing.TB, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		if !c.Covers(r) {
			return next.RoundTrip(r)
		}
		var reqBody []byte
		if r.Body != nil && r.Body != http.NoBody {
			b, err := io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil {
				return nil, err
			}
			reqBody = b
			r = r.Clone(r.Context())
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		resp, err := next.RoundTrip(r)
		if err != nil {
			return resp, err
		}
		ex := Exchange{Request: r, RequestBody: reqBody, Status: resp.StatusCode, Header: resp.Header.Clone(), BodyLen: max(resp.ContentLength, 0)}
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" || strings.HasSuffix(mt, "+json") {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return nil, err
			}
			resp.Body = io.NopCloser(bytes.NewReader(b))
			ex.Body, ex.BodyLen, ex.BodyKept = b, int64(len(b)), true
		}
		// The transport's own headers are not the server's.
		ex.Header.Del("Date")
		if err := c.Check(ex); err != nil {
			t.Errorf("apitest: %v", err)
		}
		return resp, nil
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
