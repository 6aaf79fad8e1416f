package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
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

// schemaRequired returns the fields the OpenAPI document requires of a
// schema, its allOf parts and the schemas they refer to included.
func schemaRequired(name string) []string {
	var spec struct {
		Components struct {
			Schemas map[string]struct {
				Required []string `json:"required"`
				AllOf    []struct {
					Ref      string   `json:"$ref"`
					Required []string `json:"required"`
				} `json:"allOf"`
			} `json:"schemas"`
		} `json:"components"`
	}
	json.Unmarshal(openAPIJSON, &spec)
	var required func(name string) []string
	required = func(name string) []string {
		sc := spec.Components.Schemas[name]
		out := slices.Clone(sc.Required)
		for _, a := range sc.AllOf {
			if a.Ref != "" {
				out = append(out, required(strings.TrimPrefix(a.Ref, "#/components/schemas/"))...)
			}
			out = append(out, a.Required...)
		}
		return out
	}
	return required(name)
}

// TestOpenAPIResponsesHaveTheirFields checks real responses against the
// required fields of the schemas the document gives them.
func TestOpenAPIResponsesHaveTheirFields(t *testing.T) {
	_, base := testServer(t, Config{APIToken: adminToken})
	doc := createFull(t, base, `{"name":"a.go","text":"package a\n"}`)
	putText(t, base, doc.ID, "package b\n")
	check := func(path, schema string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, f := range schemaRequired(schema) {
			if _, ok := body[f]; !ok {
				t.Errorf("%s lacks %q required by %s", path, f, schema)
			}
		}
	}
	id := "/api/docs/" + doc.ID
	check(id, "DocumentWithText")
	check(id+"/revisions", "RevisionPage")
	check(id+"/revisions/2", "RevisionWithAuthors")
	check(id+"/diff?from=1&to=2", "Diff")
	check(id+"/blame", "Blame")
	check(id+"/presence", "Presence")
	check(id+"/sessions", "SessionPage")
	check(id+"/labels", "LabelPage")
	check(id+"/nope", "Problem")
	check("/api/docs/unknown", "Problem")
	post := func(path, body, schema string) {
		t.Helper()
		_, got := postJSON(t, "POST", base+path, adminToken, body)
		for _, f := range schemaRequired(schema) {
			if _, ok := got[f]; !ok {
				t.Errorf("POST %s lacks %q required by %s", path, f, schema)
			}
		}
	}
	post(id+"/events", `{"name":"x"}`, "Delivered")
	post("/api/admin/events", `{"name":"x"}`, "Announced")
	post(id+"/events", `{"name":""}`, "Problem")
	post(id+"/labels", `{"rev":2,"name":"v1"}`, "Label")
	check(id+"/sessions", "SessionPage")
	var page struct {
		Sessions []map[string]any
	}
	resp, err := http.Get(base + id + "/sessions")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	for _, ss := range page.Sessions {
		for _, f := range schemaRequired("Session") {
			if _, ok := ss[f]; !ok {
				t.Errorf("a session lacks %q required by Session: %v", f, ss)
			}
		}
		for _, l := range ss["labels"].([]any) {
			for _, f := range schemaRequired("Label") {
				if _, ok := l.(map[string]any)[f]; !ok {
					t.Errorf("a session's label lacks %q required by Label: %v", f, l)
				}
			}
		}
	}
}
