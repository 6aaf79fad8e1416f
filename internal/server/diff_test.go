package server

import (
	"io"
	"strconv"
	"testing"

	"github.com/collab-editor/collab/internal/patchtest"
)

// TestUnifiedDiffPatches asks for unified diffs between revisions of a
// document and applies each with patch to the older text: it must make
// the newer text exactly (a one-line file once got a phantom last line,
// "@@ -1,2 +1,4 @@", which patch refused).
func TestUnifiedDiffPatches(t *testing.T) { forBackends(t, testUnifiedDiffPatches) }

func testUnifiedDiffPatches(t *testing.T, bk backend) {
	patchtest.Tool(t)
	_, base := bk.testServer(t, Config{})
	api := apiClient{t, base}
	texts := []string{"", "x\n", "y\n", "y", "y\nz\n", "", "a\r\nb\r\n", "a\r\nβ\r\n😀"}
	var doc created
	if r := api.call("POST", "/api/docs", map[string]string{"name": "f.txt", "text": texts[0]}, nil, &doc); r.StatusCode != 201 {
		t.Fatalf("create: %s", r.Status)
	}
	// Revision numbers of each text: an empty first text makes no revision.
	revs := []int{0}
	for _, text := range texts[1:] {
		var res struct{ Rev int }
		if r := api.call("PUT", "/api/docs/"+doc.ID, text, nil, &res); r.StatusCode != 200 {
			t.Fatalf("put %q: %s", text, r.Status)
		}
		revs = append(revs, res.Rev)
	}
	for i := range texts {
		for j := range texts {
			path := "/api/docs/" + doc.ID + "/diff?format=unified&from=" + strconv.Itoa(revs[i]) + "&to=" + strconv.Itoa(revs[j])
			r := api.call("GET", path, nil, nil, nil)
			body, _ := io.ReadAll(r.Body)
			if r.StatusCode != 200 {
				t.Fatalf("%s: %s %s", path, r.Status, body)
			}
			if got := patchtest.Apply(t, texts[i], string(body)); got != texts[j] {
				t.Errorf("diff %d→%d applied to %q gives %q, want %q; the diff:\n%s", revs[i], revs[j], texts[i], got, texts[j], body)
			}
		}
	}
}
