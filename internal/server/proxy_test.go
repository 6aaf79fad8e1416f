package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	cases := []struct {
		name    string
		trusted []netip.Prefix
		header  string // Config.ProxyHeader
		peer    string
		h       http.Header
		want    string
	}{
		{"no proxies configured: the peer", nil, "", "192.0.2.9:5000", nil, "192.0.2.9"},
		{"no proxies configured: the header is ignored", nil, "", "192.0.2.9:5000", http.Header{"X-Forwarded-For": {"198.51.100.1"}}, "192.0.2.9"},
		{"untrusted peer spoofing X-Forwarded-For", proxies, "", "192.0.2.9:5000", http.Header{"X-Forwarded-For": {"198.51.100.1"}}, "192.0.2.9"},
		{"untrusted peer spoofing Forwarded", proxies, HeaderForwarded, "192.0.2.9:5000", http.Header{"Forwarded": {"for=198.51.100.1"}}, "192.0.2.9"},
		{"trusted peer, one hop", proxies, "", "10.1.2.3:443", http.Header{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1"},
		{"trusted peer, client spoofs a leftmost hop", proxies, "", "10.1.2.3:443", http.Header{"X-Forwarded-For": {"1.2.3.4, 198.51.100.1"}}, "198.51.100.1"},
		{"two trusted proxies", proxies, "", "10.1.2.3:443", http.Header{"X-Forwarded-For": {"1.2.3.4, 198.51.100.1, 10.9.9.9"}}, "198.51.100.1"},
		{"several header lines", proxies, "", "10.1.2.3:443", http.Header{"X-Forwarded-For": {"1.2.3.4", "198.51.100.1", "10.9.9.9"}}, "198.51.100.1"},
		{"trusted peer, no header", proxies, "", "10.1.2.3:443", nil, "10.1.2.3"},
		{"every hop trusted: the leftmost", proxies, "", "10.1.2.3:443", http.Header{"X-Forwarded-For": {"10.7.7.7, 10.8.8.8"}}, "10.7.7.7"},
		{"garbage hop: the last trusted one", proxies, "", "10.1.2.3:443", http.Header{"X-Forwarded-For": {"198.51.100.1, nonsense"}}, "10.1.2.3"},
		{"hop with a port", proxies, "", "10.1.2.3:443", http.Header{"X-Forwarded-For": {"198.51.100.1:1234"}}, "198.51.100.1"},
		{"IPv6 peer and hop", proxies, "", "[fd00::1]:443", http.Header{"X-Forwarded-For": {"2001:db8::7"}}, "2001:db8::7"},
		{"IPv4-mapped peer", proxies, "", "[::ffff:10.1.2.3]:443", http.Header{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1"},
		{"X-Forwarded-For configured, Forwarded sent", proxies, "", "10.1.2.3:443", http.Header{"Forwarded": {"for=1.2.3.4"}}, "10.1.2.3"},
		{"Forwarded configured, X-Forwarded-For sent", proxies, HeaderForwarded, "10.1.2.3:443", http.Header{"X-Forwarded-For": {"1.2.3.4"}}, "10.1.2.3"},
		{"Forwarded", proxies, HeaderForwarded, "10.1.2.3:443", http.Header{"Forwarded": {`for=1.2.3.4, for=198.51.100.1;proto=https;by=10.1.2.3`}}, "198.51.100.1"},
		{"Forwarded, quoted IPv6 with port", proxies, HeaderForwarded, "10.1.2.3:443", http.Header{"Forwarded": {`For="[2001:db8:cafe::17]:4711"`}}, "2001:db8:cafe::17"},
		{"Forwarded, two trusted hops", proxies, HeaderForwarded, "10.1.2.3:443", http.Header{"Forwarded": {`for=198.51.100.1`, `for=10.4.4.4;proto=https`}}, "198.51.100.1"},
		{"Forwarded, obfuscated client", proxies, HeaderForwarded, "10.1.2.3:443", http.Header{"Forwarded": {`for=_hidden`}}, "10.1.2.3"},
		{"Forwarded, a quoted comma", proxies, HeaderForwarded, "10.1.2.3:443", http.Header{"Forwarded": {`for=1.2.3.4;x="a,b", for=198.51.100.1`}}, "198.51.100.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{TrustedProxies: c.trusted, ProxyHeader: c.header}
			cfg.fill()
			s := &Server{cfg: cfg}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = c.peer
			for k, vs := range c.h {
				r.Header[k] = vs
			}
			if got := s.clientAddr(r); got != c.want {
				t.Errorf("clientAddr = %q, want %q", got, c.want)
			}
		})
	}
}

// dialFrom opens a WebSocket with extra headers and returns the HTTP status.
func dialFrom(t *testing.T, base, id string, h http.Header) int {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/docs/"+id+"/ws", h)
	if err != nil {
		if resp == nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	t.Cleanup(func() { c.Close() })
	return resp.StatusCode
}

// TestTrustedProxyLimitsPerClient: behind a trusted proxy (the loopback
// here), each client behind it gets its own connection limit.
func TestTrustedProxyLimitsPerClient(t *testing.T) {
	_, base := testServer(t, Config{MaxConnsPerAddr: 1, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	id := mkdoc(t, base, "x")
	a := http.Header{"X-Forwarded-For": {"198.51.100.1"}}
	if got := dialFrom(t, base, id, a); got != http.StatusSwitchingProtocols {
		t.Fatalf("first client: %d", got)
	}
	if got := dialFrom(t, base, id, a); got != http.StatusTooManyRequests {
		t.Fatalf("first client, second connection: %d, want 429", got)
	}
	if got := dialFrom(t, base, id, http.Header{"X-Forwarded-For": {"198.51.100.2"}}); got != http.StatusSwitchingProtocols {
		t.Fatalf("second client behind the same proxy: %d", got)
	}
	// A client cannot escape its limit by claiming another address in
	// front of the one the proxy appended.
	if got := dialFrom(t, base, id, http.Header{"X-Forwarded-For": {"203.0.113.5, 198.51.100.1"}}); got != http.StatusTooManyRequests {
		t.Fatalf("spoofed leftmost hop: %d, want 429", got)
	}
}

// TestUntrustedForwardedForIsIgnored: without trusted proxies, a client
// that sends X-Forwarded-For or Forwarded does not get a fresh limit.
func TestUntrustedForwardedForIsIgnored(t *testing.T) {
	_, base := testServer(t, Config{MaxConnsPerAddr: 1, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	id := mkdoc(t, base, "x")
	if got := dialFrom(t, base, id, nil); got != http.StatusSwitchingProtocols {
		t.Fatalf("first connection: %d", got)
	}
	for _, h := range []http.Header{{"X-Forwarded-For": {"198.51.100.1"}}, {"Forwarded": {"for=198.51.100.1"}}} {
		if got := dialFrom(t, base, id, h); got != http.StatusTooManyRequests {
			t.Fatalf("spoofed %v: %d, want 429", h, got)
		}
	}
}

func TestCORS(t *testing.T) {
	const app = "https://app.example"
	_, base := testServer(t, Config{CORSOrigins: []string{app}})
	id := mkdoc(t, base, "x")

	pre, _ := http.NewRequest(http.MethodOptions, base+"/api/docs/"+id, nil)
	pre.Header.Set("Origin", app)
	pre.Header.Set("Access-Control-Request-Method", http.MethodPut)
	pre.Header.Set("Access-Control-Request-Headers", "authorization,content-type,idempotency-key,if-match,x-collab-author") // as browsers send it: sorted, lowercase
	resp, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("preflight: %s", resp.Status)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != app {
		t.Errorf("preflight Access-Control-Allow-Origin = %q", got)
	}
	if got := resp.Header.Get("Access-Control-Allow-Methods"); got != http.MethodPut {
		t.Errorf("preflight Access-Control-Allow-Methods = %q", got)
	}
	allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	for _, h := range corsRequestHeaders {
		if !strings.Contains(allowed, strings.ToLower(h)) {
			t.Errorf("preflight does not allow %s: %q", h, allowed)
		}
	}
	if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != "" {
		t.Errorf("credentials allowed: %q", got)
	}

	// A preflight asking for a header outside the list is refused.
	pre.Header.Set("Access-Control-Request-Headers", "x-something-else")
	resp, err = http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("preflight for an unlisted header allowed: %q", got)
	}

	get := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/docs/"+id, nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp = get(app)
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != app {
		t.Errorf("GET Access-Control-Allow-Origin = %q", got)
	}
	exposed := strings.ToLower(resp.Header.Get("Access-Control-Expose-Headers"))
	for _, h := range corsExposedHeaders {
		if !strings.Contains(exposed, strings.ToLower(h)) {
			t.Errorf("%s is not exposed: %q", h, exposed)
		}
	}
	if got := get("https://evil.example").Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("foreign origin allowed: %q", got)
	}

	// The CORS origins may open WebSockets too; others may not.
	if got := dialFrom(t, base, id, http.Header{"Origin": {app}}); got != http.StatusSwitchingProtocols {
		t.Errorf("WebSocket from the CORS origin: %d", got)
	}
	if got := dialFrom(t, base, id, http.Header{"Origin": {"https://evil.example"}}); got != http.StatusForbidden {
		t.Errorf("WebSocket from a foreign origin: %d", got)
	}
}

// TestNoCORSByDefault: with no origins configured, no CORS headers at all.
func TestNoCORSByDefault(t *testing.T) {
	_, base := testServer(t, Config{})
	id := mkdoc(t, base, "x")
	for _, method := range []string{http.MethodOptions, http.MethodGet} {
		req, _ := http.NewRequest(method, base+"/api/docs/"+id, nil)
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Method", http.MethodGet)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for k := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("%s: %s: %q", method, k, resp.Header.Get(k))
			}
		}
	}
}
