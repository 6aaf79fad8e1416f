package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/rs/cors"
)

// Proxy headers that Config.ProxyHeader may name.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded" // RFC 7239
)

// clientAddr is the address of the client that made r: the one the
// per-address connection limits count and the logs show.
//
// It is the immediate peer (r.RemoteAddr) unless that peer is in one of
// Config.TrustedProxies. Then the proxy header (Config.ProxyHeader) is
// read from its right end, the hop the trusted peer appended, leftwards:
// the first hop that is not itself a trusted proxy is the client. The
// header is never read when the peer is untrusted, and only the one
// header named in the config is read, so a client cannot choose its own
// address by sending the other one. A hop that is not an address
// ("unknown", an obfuscated Forwarded node, garbage) stops the walk at the
// last trusted hop: such clients share that proxy's limits, as they would
// without the header.
func (s *Server) clientAddr(r *http.Request) string {
	peer, ok := parseHop(r.RemoteAddr)
	if !ok {
		return hostOf(r.RemoteAddr)
	}
	if !s.trusted(peer) {
		return peer.String()
	}
	hops := forwardedHops(r.Header, s.cfg.ProxyHeader)
	last := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		last = a
		if !s.trusted(a) {
			break
		}
	}
	return last.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// parseHop reads an address as proxies write it: 192.0.2.1,
// 192.0.2.1:4711, 2001:db8::1, [2001:db8::1] or [2001:db8::1]:4711.
// IPv4-mapped IPv6 addresses are read as IPv4.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// forwardedHops lists the hops of every instance of the proxy header, in
// order, leftmost (the original client, as claimed) first. For Forwarded,
// a hop is the for= parameter of each element ("" when it has none).
func forwardedHops(h http.Header, name string) []string {
	var hops []string
	for _, v := range h.Values(name) {
		for _, elem := range splitOutsideQuotes(v, ',') {
			if name != HeaderForwarded {
				hops = append(hops, strings.TrimSpace(elem))
				continue
			}
			hop := ""
			for _, pair := range splitOutsideQuotes(elem, ';') {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
					hop = strings.Trim(strings.TrimSpace(v), `"`)
				}
			}
			hops = append(hops, hop)
		}
	}
	return hops
}

// splitOutsideQuotes splits s at sep where sep is not inside a quoted
// string (RFC 7230 quoted-string, as Forwarded uses for IPv6 addresses).
func splitOutsideQuotes(s string, sep byte) []string {
	var parts []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quoted:
			i++
		case s[i] == '"':
			quoted = !quoted
		case s[i] == sep && !quoted:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// Headers a browser app may send to, and read from, the REST API.
var (
	corsRequestHeaders = []string{"Authorization", "Content-Type", "If-Match", "Idempotency-Key", "X-Collab-Author"}
	corsExposedHeaders = []string{"ETag", "Location", "Idempotent-Replayed", "Retry-After"}
)

// cors answers CORS preflights and adds the CORS headers to the REST API's
// answers for the origins in Config.CORSOrigins ("*" for any). With none
// configured, it adds nothing and a browser keeps other origins out. No
// credentials (cookies) are allowed: collab's links and tokens travel in
// the URL or the Authorization header.
func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.cfg.CORSOrigins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins:   s.cfg.CORSOrigins,
		AllowedMethods:   []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
		AllowedHeaders:   corsRequestHeaders,
		ExposedHeaders:   corsExposedHeaders,
		AllowCredentials: false,
		MaxAge:           600,
	}).Handler(next)
}
