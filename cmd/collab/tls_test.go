package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// to dir and returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "collab test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

// TestTLS serves HTTPS and WSS from the real entry point with -tls-cert and
// -tls-key, and edits a document over wss.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	base, stop := startRun(t, filepath.Join(dir, "c.db"), "", "-tls-cert", certFile, "-tls-key", keyFile)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("listening on %q, want https://", base)
	}
	tlsConf := &tls.Config{RootCAs: pool}
	checker, err := apiChecker()
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: checker.Transport(t, &http.Transport{TLSClientConfig: tlsConf})}
	defer hc.CloseIdleConnections()

	body, _ := json.Marshal(map[string]string{"name": "main.go", "text": "package main\n"})
	resp, err := hc.Post(base+"/api/docs", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ ID string }
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&doc) != nil {
		t.Fatalf("create over https: %s", resp.Status)
	}
	resp.Body.Close()

	// A client that does not trust the certificate is refused, and plain
	// HTTP on the TLS port is not served.
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("an untrusted certificate was accepted")
	}
	if resp, err := http.Get("http://" + strings.TrimPrefix(base, "https://") + "/healthz"); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP served on the TLS port")
		}
	}

	d := websocket.Dialer{TLSClientConfig: tlsConf, HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial("wss://"+strings.TrimPrefix(base, "https://")+"/api/docs/"+doc.ID+"/ws", nil)
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	next := func(typ string) map[string]any {
		t.Helper()
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("waiting for %s: %v", typ, err)
			}
			var ms []map[string]any
			if json.Unmarshal(b, &ms) != nil {
				ms = []map[string]any{nil}
				if err := json.Unmarshal(b, &ms[0]); err != nil {
					t.Fatalf("%s: %v", b, err)
				}
			}
			for _, m := range ms {
				if m["type"] == typ {
					return m
				}
				if m["type"] == "error" {
					t.Fatalf("waiting for %s: %v", typ, m)
				}
			}
		}
	}
	if err := c.WriteJSON(map[string]any{"type": "join", "client": "tls"}); err != nil {
		t.Fatal(err)
	}
	joined := next("joined")
	if joined["text"] != "package main\n" {
		t.Fatalf("joined over wss: %v", joined)
	}
	if err := c.WriteJSON(map[string]any{"type": "op", "rev": joined["rev"], "id": "tls:1", "op": []any{13, "// hi\n"}}); err != nil {
		t.Fatal(err)
	}
	next("ack")
	c.Close()

	resp, err = hc.Get(base + "/api/docs/" + doc.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Text string }
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if got.Text != "package main\n// hi\n" {
		t.Errorf("text after the edit over wss: %q", got.Text)
	}
	hc.CloseIdleConnections()
	stop()
}

func TestProxyCORSAndTLSFlags(t *testing.T) {
	noEnv := func(string) string { return "" }
	o, err := parseFlags([]string{"-trusted-proxies", "10.0.0.0/8, 192.0.2.7,fd00::/8", "-cors-origins", "https://a.example, https://b.example", "-proxy-header", "Forwarded"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("fd00::/8")}
	if len(o.server.TrustedProxies) != len(want) {
		t.Fatalf("trusted proxies %v, want %v", o.server.TrustedProxies, want)
	}
	for i := range want {
		if o.server.TrustedProxies[i] != want[i] {
			t.Errorf("trusted proxies %v, want %v", o.server.TrustedProxies, want)
		}
	}
	if strings.Join(o.server.CORSOrigins, " ") != "https://a.example https://b.example" || o.server.ProxyHeader != "Forwarded" {
		t.Errorf("cors origins %q, proxy header %q", o.server.CORSOrigins, o.server.ProxyHeader)
	}
	o, err = parseFlags(nil, func(k string) string {
		return map[string]string{"COLLAB_TRUSTED_PROXIES": "127.0.0.1/8", "COLLAB_CORS_ORIGINS": "*"}[k]
	}, io.Discard)
	if err != nil || len(o.server.TrustedProxies) != 1 || o.server.TrustedProxies[0].String() != "127.0.0.0/8" || o.server.CORSOrigins[0] != "*" {
		t.Errorf("from the environment: %v %+v", err, o)
	}
	for _, args := range [][]string{
		{"-trusted-proxies", "not-a-cidr"},
		{"-proxy-header", "X-Real-IP"},
		{"-tls-cert", "cert.pem"},
		{"-tls-key", "key.pem"},
	} {
		if _, err := parseFlags(args, noEnv, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-data", filepath.Join(t.TempDir(), "c.db"), "-tls-cert", "missing.pem", "-tls-key", "missing.pem"}, noEnv, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "-tls-cert") {
		t.Errorf("a missing certificate: %v", err)
	}
}
