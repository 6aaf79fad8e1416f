package access

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestTokenEqual(t *testing.T) {
	if TokenEqual("", "") || TokenEqual("x", "") {
		t.Error("an unset token must match nothing")
	}
	if !TokenEqual("s3cret", "s3cret") || TokenEqual("s3cre", "s3cret") {
		t.Error("TokenEqual is wrong")
	}
	if Bearer("Bearer abc") != "abc" || Bearer("bearer  abc ") != "abc" || Bearer("Basic abc") != "" {
		t.Error("Bearer parsing")
	}
}

func TestIsJWT(t *testing.T) {
	for s, want := range map[string]bool{
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln": true,
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.":      true, // unsigned: refused by Verify, not here
		"an-api-token":                              false,
		"a.b":                                       false,
		"a.b.c.d":                                   false,
		".b.c":                                      false,
		"a..c":                                      false,
		"a.b+c.d":                                   false,
		"a.b/.c":                                    false,
		"a.b=.c":                                    false,
	} {
		if IsJWT(s) != want {
			t.Errorf("IsJWT(%q) = %v", s, !want)
		}
	}
}

func TestHandles(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	h := NewHandles(key)
	const doc = "3f2b9c1e-7d4a-4f6b-9a8e-1c2d3e4f5a6b"
	d, w := h.Doc(doc), h.Workspace(doc)
	if !strings.HasPrefix(d, "d-") || !strings.HasPrefix(w, "w-") || d == w {
		t.Fatalf("handles %q, %q", d, w)
	}
	// Stable, for this key only; one handle per id.
	if d != h.Doc(doc) || d != NewHandles(key).Doc(doc) || d == h.Doc(doc+"x") || d == NewHandles([]byte("another key, 32 bytes long......")).Doc(doc) {
		t.Error("handles are not one per id and key")
	}
	if id, ok := h.OpenDoc(d); !ok || id != doc {
		t.Errorf("OpenDoc = %q, %v", id, ok)
	}
	if id, ok := h.OpenWorkspace(w); !ok || id != doc {
		t.Errorf("OpenWorkspace = %q, %v", id, ok)
	}
	// A document's handle is no workspace's, and the other way round.
	if _, ok := h.OpenWorkspace(d); ok {
		t.Error("a document handle opened as a workspace's")
	}
	if _, ok := h.OpenWorkspace("w-" + strings.TrimPrefix(d, "d-")); ok {
		t.Error("a document handle with a workspace prefix opened")
	}
	if _, ok := h.OpenDoc(w); ok {
		t.Error("a workspace handle opened as a document's")
	}
	// It reveals nothing: not the id, not in base64 either.
	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(d, "d-"))
	if strings.Contains(d, doc) || strings.Contains(string(raw), doc) || strings.Contains(string(raw), doc[:8]) {
		t.Errorf("the handle %q shows the id", d)
	}
	// Nobody else makes one: every changed byte, other keys, garbage.
	bad := []string{"", "d-", "d-x", d + "A", d[:len(d)-1], "e-" + d[2:], NewHandles([]byte("another key, 32 bytes long......")).Doc(doc), "d-" + strings.Repeat("A", 300)}
	for i := range raw {
		b := []byte(string(raw))
		b[i] ^= 1
		bad = append(bad, "d-"+base64.RawURLEncoding.EncodeToString(b))
	}
	for _, b := range bad {
		if id, ok := h.OpenDoc(b); ok {
			t.Errorf("OpenDoc(%.30q) = %q", b, id)
		}
	}
}

// BenchmarkHandles: a document's JSON carries two handles (its own and its
// workspace's), made afresh for every answer.
func BenchmarkHandles(b *testing.B) {
	h := NewHandles([]byte("0123456789abcdef0123456789abcdef"))
	const id = "3f2b9c1e-7d4a-4f6b-9a8e-1c2d3e4f5a6b"
	d := h.Doc(id)
	b.Run("seal", func(b *testing.B) {
		for b.Loop() {
			h.Doc(id)
		}
	})
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			h.OpenDoc(d)
		}
	})
}
