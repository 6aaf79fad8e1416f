// Package apitest holds collab's REST API to its OpenAPI description in
// tests: every request a test sends to a server wrapped by Checker.Handler,
// and every answer, is checked against the document, and a mismatch fails
// the test that made the request. The document cannot drift from the server
// without a test noticing.
//
// A Checker is built once per test binary from the document's bytes
// (server.OpenAPI()), which is the costly part: every schema is compiled
// then. Build it with sync.OnceValues and share it between tests; it is safe
// for concurrent use.
//
// What an exchange must satisfy:
//
//   - The answer's status is one the document lists for the operation, with
//     a documented content type; a JSON body matches its schema (undeclared
//     properties included: a field the server sends must be described), a
//     response the document gives no content has no body, and every header
//     the server sets is declared, with a value matching its schema, except
//     the generic ones every answer may carry (see genericHeaders).
//   - The request matches the operation (parameters, headers, body, the
//     security requirement), and carries no query parameter or header the
//     operation does not declare; or the server refused it with a 4xx answer:
//     tests send malformed requests on purpose, but a request the document
//     forbids that the server accepts is drift.
//   - A request for a path or method the document does not describe got 404
//     or 405 as a problem document.
//
// Only the API is checked: paths under /api/, and the document's other
// paths (health, metrics). Pages, assets and CORS preflight requests pass
// through unchecked. A WebSocket upgrade is checked up to its 101; a
// streamed answer (an archive, an event stream) by status, content type and
// headers, as it is not JSON.
package apitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/router"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/pb33f/libopenapi/orderedmap"
)

// A Checker checks HTTP exchanges against one OpenAPI 3.1 document.
type Checker struct {
	doc     libopenapi.Document
	model   *v3.Document
	v       validator.Validator
	router  router.Router
	problem *base.Schema // components.schemas.Problem, for undocumented routes
	schemas schema_validation.SchemaValidator
}

// genericHeaders are the response headers any answer may carry without the
// document declaring them: those of HTTP itself, the security headers the
// server sets on every answer, CORS and the WebSocket handshake.
var genericHeaders = []string{
	"content-type", "content-length", "content-encoding", "transfer-encoding",
	"connection", "date", "vary", "upgrade",
	"x-content-type-options", "referrer-policy", "content-security-policy", "x-frame-options",
	"access-control-allow-origin", "access-control-allow-credentials",
	"access-control-expose-headers", "access-control-allow-methods",
	"access-control-allow-headers", "access-control-max-age",
	"sec-websocket-accept", "sec-websocket-protocol", "sec-websocket-extensions", "sec-websocket-version",
}

// genericRequestHeaders are the request headers any request may carry
// without the document declaring them. Authorization is declared through
// the security schemes; a browser's and Go's own headers are the rest.
var genericRequestHeaders = []string{
	"content-type", "content-length", "accept", "accept-encoding", "accept-language",
	"authorization", "user-agent", "host", "connection", "origin", "referer",
	"cookie", "cache-control", "pragma", "upgrade", "priority", "dnt",
	"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol",
	"sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest", "sec-fetch-user",
	"sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "x-forwarded-for", "forwarded",
	"access-control-request-method", "access-control-request-headers",
}

// New parses an OpenAPI 3.1 document (YAML or JSON) and compiles its
// schemas. It does not check the document against the OpenAPI schema:
// ValidateDocument does.
func New(spec []byte) (*Checker, error) {
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return nil, fmt.Errorf("apitest: %w", err)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("apitest: %w", err)
	}
	c := &Checker{doc: doc, model: &m.Model, schemas: schema_validation.NewSchemaValidator()}
	c.v = validator.NewValidatorFromV3Model(c.model, config.WithFormatAssertions())
	c.v.SetDocument(doc)
	c.router = router.NewRouter(c.model, router.WithPathOnlyMatching())
	if c.model.Components != nil {
		for name, p := range c.model.Components.Schemas.FromOldest() {
			if name == "Problem" {
				c.problem = p.Schema()
			}
		}
	}
	if c.problem == nil {
		return nil, errors.New("apitest: the document has no Problem schema")
	}
	return c, nil
}

// ValidateDocument checks the document against the OpenAPI 3.1 schema, and
// each schema's examples against the schema.
func (c *Checker) ValidateDocument() error {
	var errs []error
	if ok, verrs := c.v.ValidateDocument(); !ok {
		errs = append(errs, explain("the document is not valid OpenAPI", verrs))
	}
	for name, proxy := range c.model.Components.Schemas.FromOldest() {
		s := proxy.Schema()
		for i, ex := range s.Examples {
			var v any
			if err := ex.Decode(&v); err != nil {
				errs = append(errs, fmt.Errorf("schema %s, example %d: %w", name, i, err))
				continue
			}
			b, err := json.Marshal(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("schema %s, example %d: %w", name, i, err))
				continue
			}
			if ok, verrs := c.schemas.ValidateSchemaBytes(s, b); !ok {
				errs = append(errs, explain(fmt.Sprintf("schema %s, example %d", name, i), verrs))
			}
		}
	}
	return errors.Join(errs...)
}

// Covers reports whether the document speaks for this request: an API path
// (under /api/ or one of the document's own paths) and not a CORS
// preflight.
func (c *Checker) Covers(r *http.Request) bool {
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		return false
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		return true
	}
	for path := range c.model.Paths.PathItems.KeysFromOldest() {
		if path == r.URL.Path {
			return true
		}
	}
	return false
}

// An Exchange is one request and the answer to it, as the server saw them.
type Exchange struct {
	Request     *http.Request // its Body is ignored: see RequestBody
	RequestBody []byte        // what the handler read of the body
	Status      int
	Header      http.Header // the answer's headers when its status was written
	Body        []byte      // the answer's body when BodyKept
	BodyLen     int64       // bytes of body written
	BodyKept    bool        // false for bodies not kept (not JSON, or too large)
	Hijacked    bool        // the connection was taken over (a WebSocket)
}

// Check returns an error naming every way the exchange and the document
// disagree, or nil.
func (c *Checker) Check(ex Exchange) error {
	req := ex.Request.Clone(ex.Request.Context())
	req.Body = http.NoBody
	if len(ex.RequestBody) > 0 {
		req.Body = readCloser{bytes.NewReader(ex.RequestBody)}
		req.ContentLength = int64(len(ex.RequestBody))
	}
	route, err := c.router.FindRoute(req)
	if err != nil {
		return c.checkUndocumented(ex, err)
	}

	var errs []error
	if ex.Status < 400 {
		// A request the server accepted must be one the document allows.
		what := fmt.Sprintf("the server answered %d to a request the document forbids", ex.Status)
		if ok, verrs := c.v.ValidateHttpRequestSyncWithPathItem(req, route.PathItem, route.Path); !ok {
			errs = append(errs, explain(what, verrs))
		}
		for _, u := range undeclaredInRequest(route, ex) {
			errs = append(errs, fmt.Errorf("%s: %s", what, u))
		}
	}

	resp := c.response(req, ex)
	if ok, verrs := c.v.GetResponseBodyValidator().ValidateResponseBodyWithPathItem(req, resp, route.PathItem, route.Path); !ok {
		errs = append(errs, explain(fmt.Sprintf("the answer %d does not match the document", ex.Status), verrs))
	}
	if documented := documentedResponse(route.Operation, ex.Status); documented != nil {
		if orderedmap.Len(documented.Content) == 0 && ex.BodyLen > 0 {
			errs = append(errs, fmt.Errorf("the answer %d has a body (%d bytes of %q) that the document does not describe", ex.Status, ex.BodyLen, ex.Header.Get("Content-Type")))
		}
		if !ex.Hijacked {
			for _, name := range sortedKeys(ex.Header) {
				if !slices.Contains(genericHeaders, strings.ToLower(name)) && !declaredHeader(documented, name) {
					errs = append(errs, fmt.Errorf("the answer %d sets header %s, which the document does not declare for it", ex.Status, name))
				}
			}
		}
		if s := bodySchema(documented.Content, ex.Header.Get("Content-Type")); s != nil && ex.BodyKept {
			var v any
			if json.Unmarshal(ex.Body, &v) == nil {
				for _, p := range undeclared(s, v, "$") {
					errs = append(errs, fmt.Errorf("the answer %d has %s, which its schema does not declare", ex.Status, p))
				}
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s %s (%s %s): %w", ex.Request.Method, shortURI(ex.Request), ex.Request.Method, route.Path, errors.Join(errs...))
}

// documentedResponse returns the response the document gives op for
// status, or nil.
func documentedResponse(op *v3.Operation, status int) *v3.Response {
	if op == nil || op.Responses == nil {
		return nil
	}
	for code, r := range op.Responses.Codes.FromOldest() {
		if code == strconv.Itoa(status) {
			return r
		}
	}
	return nil
}

// declaredHeader reports whether a response declares a header, whatever
// the case of either.
func declaredHeader(r *v3.Response, name string) bool {
	for k := range r.Headers.KeysFromOldest() {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// bodySchema returns the schema of a JSON body of the given content type,
// or nil when the content is not JSON or has no schema.
func bodySchema(content *orderedmap.Map[string, *v3.MediaType], contentType string) *base.Schema {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nil
	}
	for k, m := range content.FromOldest() {
		if k == mt && m.Schema != nil {
			return m.Schema.Schema()
		}
	}
	return nil
}

// undeclaredInRequest names what a request carries that its operation does
// not declare: query parameters and headers (beyond the generic ones). A
// JSON body's undeclared members are left to the schema: JSON Schema lets a
// request carry them unless the schema closes the object
// (additionalProperties: false), as it does where the server refuses them.
func undeclaredInRequest(route *router.Route, ex Exchange) []string {
	declared := map[string]bool{}
	for _, p := range slices.Concat(route.PathItem.Parameters, route.Operation.Parameters) {
		declared[p.In+":"+strings.ToLower(p.Name)] = true
	}
	var out []string
	for _, name := range sortedKeys(ex.Request.URL.Query()) {
		if !declared["query:"+strings.ToLower(name)] {
			out = append(out, fmt.Sprintf("query parameter %q is not declared", name))
		}
	}
	for _, name := range sortedKeys(ex.Request.Header) {
		if !declared["header:"+strings.ToLower(name)] && !slices.Contains(genericRequestHeaders, strings.ToLower(name)) {
			out = append(out, fmt.Sprintf("header %s is not declared", name))
		}
	}
	return out
}

// checkUndocumented checks the answer to a request the document has no
// operation for: the server must refuse it as the API refuses any unknown
// route, 404 or 405 with a problem document.
func (c *Checker) checkUndocumented(ex Exchange, routeErr error) error {
	what := "path"
	if errors.Is(routeErr, router.ErrMethodNotAllowed) {
		what = "method"
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s %s: the document has no such %s, and the server answered %s", ex.Request.Method, shortURI(ex.Request), what, fmt.Sprintf(format, args...))
	}
	if ex.Status != http.StatusNotFound && ex.Status != http.StatusMethodNotAllowed {
		return fail("%d (undocumented routes must answer 404 or 405)", ex.Status)
	}
	if mt, _, _ := mime.ParseMediaType(ex.Header.Get("Content-Type")); mt != "application/problem+json" {
		return fail("%d with content type %q instead of a problem", ex.Status, ex.Header.Get("Content-Type"))
	}
	if !ex.BodyKept {
		return fail("%d with a body too large to be a problem", ex.Status)
	}
	if ok, verrs := c.schemas.ValidateSchemaBytes(c.problem, ex.Body); !ok {
		return fail("%d with a body that is no problem: %v", ex.Status, explain("", verrs))
	}
	return nil
}

// response makes the http.Response the validator reads.
func (c *Checker) response(req *http.Request, ex Exchange) *http.Response {
	resp := &http.Response{
		StatusCode: ex.Status,
		Status:     fmt.Sprintf("%d %s", ex.Status, http.StatusText(ex.Status)),
		Header:     ex.Header.Clone(),
		Request:    req,
		Body:       http.NoBody,
	}
	if ex.Hijacked {
		// The handshake's headers went straight to the connection.
		resp.Header = http.Header{}
	}
	if ex.BodyKept {
		resp.Body = readCloser{bytes.NewReader(ex.Body)}
		resp.ContentLength = int64(len(ex.Body))
	}
	return resp
}

// explain renders the validator's findings, one per line.
func explain(what string, verrs []*verrors.ValidationError) error {
	var b strings.Builder
	b.WriteString(what)
	for _, e := range verrs {
		fmt.Fprintf(&b, "\n\t- %s", e.Message)
		if e.Reason != "" && e.Reason != e.Message {
			fmt.Fprintf(&b, ": %s", e.Reason)
		}
		for _, s := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n\t    %s", s.Reason)
			if s.FieldPath != "" {
				fmt.Fprintf(&b, " (at %s)", s.FieldPath)
			}
		}
	}
	return errors.New(b.String())
}

// shortURI is a request's URI for a message, tokens and all, cut short.
func shortURI(r *http.Request) string {
	u := r.URL.RequestURI()
	if len(u) > 160 {
		u = u[:160] + "..."
	}
	return u
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
