package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/go-chi/chi/v5"
)

// TestOpenAPIDocumentIsValid checks openapi.yaml against the OpenAPI 3.1
// schema, and each schema's examples against the schema; and that the
// JSON the server serves is the same document.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	c, err := apiChecker()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateDocument(); err != nil {
		t.Fatal(err)
	}
	_, base := testServer(t, Config{})
	var fromJSON, fromYAML map[string]any
	for path, into := range map[string]*map[string]any{"/api/openapi.json": &fromJSON, "/api/openapi.yaml": &fromYAML} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		if path == "/api/openapi.yaml" {
			if !bytes.Equal(body, openAPIYAML) {
				t.Fatalf("GET %s is not openapi.yaml", path)
			}
			body = yamlToJSON(body)
		}
		if err := json.Unmarshal(body, into); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	if !reflect.DeepEqual(fromJSON, fromYAML) {
		t.Fatal("/api/openapi.json and /api/openapi.yaml differ")
	}
	if fromJSON["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v, want 3.1.0", fromJSON["openapi"])
	}
}

// TestOpenAPIMatchesRoutes walks every route of the router and checks that
// the OpenAPI document describes exactly those (API and operations routes;
// pages are not part of the API).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var spec struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIJSON, &spec); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if spec.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q, want 3.1.0", spec.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range spec.Paths {
		for method := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	mgr, err := docs.Open(filepath.Join(t.TempDir(), "o.db"), docs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	s := New(Config{}, mgr, NewMetrics(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	routed := map[string]bool{}
	err = chi.Walk(s.routes().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.HasPrefix(route, "/api/") || route == "/healthz" || route == "/readyz" || route == "/metrics" {
			routed[method+" "+strings.TrimSuffix(route, "/")] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for r := range routed {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	for d := range documented {
		if !routed[d] {
			t.Errorf("openapi.yaml describes %s, which the server does not route", d)
		}
	}
	if len(routed) < 20 {
		t.Errorf("only %d routes walked", len(routed))
	}
}

// TestOpenAPIResponsesMatch asks every read route, and a few writes and
// refusals, once: the check of every exchange (checkAPI) holds each answer
// to its schema, so that a route no other test reads is still checked.
func TestOpenAPIResponsesMatch(t *testing.T) {
	_, base := testServer(t, Config{APIToken: adminToken})
	doc := createFull(t, base, `{"name":"a.go","text":"package a\n"}`)
	putText(t, base, doc.ID, "package b\n")
	get := func(path string, want int) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %s, want %d", path, resp.Status, want)
		}
	}
	id := "/api/docs/" + doc.ID
	for _, path := range []string{id, id + "/raw", id + "/revisions", id + "/revisions/2", id + "/diff?from=1&to=2",
		id + "/diff?from=1&to=2&format=unified", id + "/blame", id + "/presence", id + "/sessions", id + "/labels", id + "/chat",
		"/api/workspaces/" + doc.WorkspaceLinks.Edit + "/files", "/api/workspaces/" + doc.WorkspaceLinks.View + "/files", "/healthz", "/readyz"} {
		get(path, http.StatusOK)
	}
	get(id+"/nope", http.StatusNotFound)
	get("/api/docs/unknown", http.StatusNotFound)
	get(id+"/revisions/9", http.StatusNotFound)
	get(id+"?rev=x", http.StatusBadRequest)
	for _, c := range []struct {
		path, body string
		want       int
	}{
		{id + "/events", `{"name":"x"}`, http.StatusOK},
		{"/api/admin/events", `{"name":"x"}`, http.StatusOK},
		{id + "/events", `{"name":""}`, http.StatusBadRequest},
		{id + "/labels", `{"rev":2,"name":"v1"}`, http.StatusCreated},
		{id + "/restore", `{"rev":1}`, http.StatusOK},
		{id + "/embed-tokens", `{"role":"view"}`, http.StatusCreated},
		{"/api/workspaces/" + doc.WorkspaceLinks.Edit + "/embed-tokens", `{"role":"edit"}`, http.StatusCreated},
		{"/api/workspaces", ``, http.StatusCreated},
	} {
		status, _ := postJSON(t, "POST", base+c.path, adminToken, c.body)
		if status != c.want {
			t.Errorf("POST %s %s: %d, want %d", c.path, c.body, status, c.want)
		}
	}
}
