package server

import (
	"slices"
	"strings"
	"testing"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/golang-jwt/jwt/v5"
)

// TestDeleteRestoreAndPurge: an owner's deletion takes a file out of its
// workspace (its session closed with 4002, its links, handle and id gone,
// its path free, out of the listing and the export) and into the
// workspace's trash, which the owners list (the edit link by edit links,
// an owner token by handles) and restore from (at its path, or another
// when its path was taken meanwhile: 409 otherwise), whole; editors and
// viewers do neither; the API token purges, a live file or a deleted
// one, for good; the journal tells each step.
func TestDeleteRestoreAndPurge(t *testing.T) { forBackends(t, testDeleteRestoreAndPurge) }

func testDeleteRestoreAndPurge(t *testing.T, bk backend) {
	h := newHostOn(t, bk, Config{})
	a, ah, ws := h.doc("src/a.go", "package a\n", "")
	b, bh, _ := h.doc("b.go", "package b\n", a.WorkspaceLinks.Edit)
	wsEdit, wsView := a.WorkspaceLinks.Edit, a.WorkspaceLinks.View
	owner := h.sign(h.rs, h.claims("workspace", ws, jwt.MapClaims{"role": "owner"}))
	editor := h.sign(h.rs, h.claims("workspace", ws, nil))
	if st, body, _ := call(t, "PUT", h.base+"/api/docs/"+a.Links.Edit, "", "text/plain", "package a\n\nfunc A() {}\n"); st != 200 {
		t.Fatalf("PUT: %d %v", st, body)
	}
	names := func() []string {
		var files struct{ Files []docView }
		getJSON(t, h.base, "/api/workspaces/"+wsEdit+"/files", &files)
		var out []string
		for _, f := range files.Files {
			out = append(out, f.Name)
		}
		return out
	}
	live := dialRaw(t, h.base, a.Links.Edit, "")
	live.send(`{"type":"join"}`)
	live.next("joined")

	// The workspace's edit link deletes a.
	if st, body, _ := call(t, "DELETE", h.base+"/api/workspaces/"+wsEdit+"/files/"+a.Links.Edit, "", "", ""); st != 204 {
		t.Fatalf("deleting: %d %v", st, body)
	}
	if code := live.closeCode(); code != closeDeleted {
		t.Fatalf("the deleted file's session: close %d", code)
	}
	for _, id := range []string{a.Links.Edit, a.Links.View} {
		if st, body, _ := call(t, "GET", h.base+"/api/docs/"+id+"/revisions", "", "", ""); st != 404 || body["code"] != "not_found" {
			t.Errorf("a deleted file's link: %d %v", st, body)
		}
	}
	if st, _, _ := call(t, "GET", h.base+"/api/docs/"+ah, owner, "", ""); st != 404 {
		t.Errorf("a deleted file's handle: %d", st)
	}
	if st, _, _ := call(t, "GET", h.base+"/api/docs/"+a.ID+"/revisions", adminToken, "", ""); st != 404 {
		t.Errorf("a deleted file's id, for the API token: %d", st)
	}
	if got := names(); !slices.Equal(got, []string{"b.go"}) {
		t.Fatalf("the files after the deletion: %v", got)
	}
	if files := readArchive(t, h.base, wsEdit, "zip"); len(files) != 1 || files["b.go"] != "package b\n" {
		t.Fatalf("the export after the deletion: %v", files)
	}
	// Its path is free.
	again := createFull(t, h.base, `{"name":"src/a.go","text":"package again\n","workspace":"`+wsEdit+`"}`)

	// Only owners see and restore the trash.
	for _, tc := range []struct{ name, path, token string }{
		{"view link", "/api/workspaces/" + wsView + "/deleted", ""},
		{"editor", "/api/workspaces/" + ws + "/deleted", editor},
		{"view link restoring", "/api/workspaces/" + wsView + "/deleted/" + a.Links.Edit + "/restore", ""},
		{"editor restoring", "/api/workspaces/" + ws + "/deleted/" + ah + "/restore", editor},
	} {
		method := "GET"
		if strings.HasSuffix(tc.path, "/restore") {
			method = "POST"
		}
		if st, body, _ := call(t, method, h.base+tc.path, tc.token, "", ""); st != 403 || body["code"] != "forbidden" {
			t.Errorf("%s: %d %v", tc.name, st, body)
		}
	}
	var trash struct {
		Files []deletedView
		Next  string
	}
	getJSON(t, h.base, "/api/workspaces/"+wsEdit+"/deleted", &trash)
	if len(trash.Files) != 1 || trash.Files[0].ID != a.Links.Edit || trash.Files[0].Name != "src/a.go" || trash.Files[0].Rev != 2 ||
		trash.Files[0].Deleted == "" || trash.Files[0].DeletedBy != "api" || trash.Files[0].Links == nil || trash.Files[0].Links.Edit != a.Links.Edit {
		t.Fatalf("the trash, to the edit link: %+v", trash)
	}
	// An owner token deletes b, and sees both deleted files by handle,
	// the newest first, a page at a time.
	if st, body, _ := call(t, "DELETE", h.base+"/api/docs/"+bh, owner, "", ""); st != 204 {
		t.Fatalf("the owner token deleting: %d %v", st, body)
	}
	st, page, _ := call(t, "GET", h.base+"/api/workspaces/"+ws+"/deleted?limit=1", owner, "", "")
	files, _ := page["files"].([]any)
	if st != 200 || len(files) != 1 || files[0].(map[string]any)["id"] != bh || files[0].(map[string]any)["links"] != nil || page["next"] == nil {
		t.Fatalf("the trash, to an owner token: %d %v", st, page)
	}
	st, page, _ = call(t, "GET", h.base+"/api/workspaces/"+ws+"/deleted?limit=1&after="+page["next"].(string), owner, "", "")
	files, _ = page["files"].([]any)
	if st != 200 || len(files) != 1 || files[0].(map[string]any)["id"] != ah {
		t.Fatalf("the trash's second page: %d %v", st, page)
	}
	if st, body, _ := call(t, "GET", h.base+"/api/workspaces/"+ws+"/deleted?after=x", owner, "", ""); st != 400 || body["code"] != "invalid" {
		t.Fatalf("a bad cursor: %d %v", st, body)
	}

	// Restoring a where it was: taken. Under another name: whole.
	restore := h.base + "/api/workspaces/" + wsEdit + "/deleted/" + a.Links.Edit + "/restore"
	if st, body, _ := call(t, "POST", restore, "", "", ""); st != 409 || body["code"] != "conflict" {
		t.Fatalf("restoring onto a taken path: %d %v", st, body)
	}
	if st, body, _ := call(t, "POST", restore, "", "application/json", `{"name":"src/a_old.go"}`); st != 200 || body["name"] != "src/a_old.go" || body["id"] != a.Links.Edit {
		t.Fatalf("restoring under another name: %d %v", st, body)
	}
	if text, rev := restText(t, h.base, a.Links.View); text != "package a\n\nfunc A() {}\n" || rev != 2 {
		t.Fatalf("the restored file: %q at %d", text, rev)
	}
	if st, body, _ := call(t, "POST", restore, "", "", ""); st != 404 || body["code"] != "not_found" {
		t.Fatalf("restoring it again: %d %v", st, body)
	}
	// The owner token restores b where it was, by handle.
	if st, body, _ := call(t, "POST", h.base+"/api/workspaces/"+ws+"/deleted/"+bh+"/restore", owner, "", ""); st != 200 || body["name"] != "b.go" || body["id"] != bh {
		t.Fatalf("the owner token restoring: %d %v", st, body)
	}
	if got := names(); !slices.Equal(got, []string{"b.go", "src/a.go", "src/a_old.go"}) {
		t.Fatalf("the files after the restorations: %v", got)
	}

	// Purging is the API token's.
	if st, body, _ := call(t, "DELETE", h.base+"/api/docs/"+bh+"?purge=true", owner, "", ""); st != 401 || body["code"] != "unauthorized" {
		t.Fatalf("an owner purging: %d %v", st, body)
	}
	if st, body, _ := call(t, "DELETE", h.base+"/api/docs/"+b.Links.Edit+"?purge=maybe", adminToken, "", ""); st != 400 {
		t.Fatalf("?purge=maybe: %d %v", st, body)
	}
	if st, body, _ := call(t, "DELETE", h.base+"/api/workspaces/"+ws+"/files/"+bh+"?purge=true", adminToken, "", ""); st != 204 {
		t.Fatalf("purging a live file: %d %v", st, body)
	}
	if st, _, _ := call(t, "DELETE", h.base+"/api/docs/"+again.Links.Edit, "", "", ""); st != 403 {
		t.Fatalf("the document's edit link deleting: %d", st)
	}
	if st, _, _ := call(t, "DELETE", h.base+"/api/docs/"+again.ID, adminToken, "", ""); st != 204 {
		t.Fatalf("the API token deleting: %d", st)
	}
	if st, body, _ := call(t, "DELETE", h.base+"/api/workspaces/"+wsEdit+"/deleted/"+again.ID, adminToken, "", ""); st != 204 {
		t.Fatalf("purging a deleted file: %d %v", st, body)
	}
	getJSON(t, h.base, "/api/workspaces/"+wsEdit+"/deleted", &trash)
	if got := names(); len(trash.Files) != 0 || !slices.Equal(got, []string{"src/a_old.go"}) {
		t.Fatalf("after the purges: files %v, trash %+v", got, trash)
	}
	if _, err := h.srv.docs.Store().Revisions(b.ID, 0, 10); err == nil {
		t.Fatal("a purged file's history is still there")
	}
	entries, err := h.srv.docs.Journal(docs.JournalQuery{Workspace: mustWorkspace(t, h, a.ID)})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range entries {
		if e.Kind != docs.JournalChanged {
			kinds = append(kinds, e.Kind+":"+e.Name)
		}
	}
	want := []string{"created:src/a.go", "created:b.go", "deleted:src/a.go", "created:src/a.go", "deleted:b.go",
		"restored:src/a_old.go", "restored:b.go", "deleted:b.go", "purged:b.go", "deleted:src/a.go", "purged:src/a.go"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("the journal\n got %v\nwant %v", kinds, want)
	}
}

// mustWorkspace is the internal id of document id's workspace.
func mustWorkspace(t *testing.T, h *host, id string) string {
	t.Helper()
	m, err := h.srv.docs.Store().Meta(id)
	if err != nil {
		t.Fatal(err)
	}
	return m.Workspace
}
