package access

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify reads arbitrary tokens and handles: nothing panics, and a
// token is taken only whole (its role and scope checked).
func FuzzVerify(f *testing.F) {
	tk, err := New(Config{Secret: []byte(testSecret), Now: func() time.Time { return testNow }})
	if err != nil {
		f.Fatal(err)
	}
	h := NewHandles([]byte(testSecret))
	valid, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsAt(jwt.MapClaims{"iss": nil, "aud": nil})).SignedString([]byte(testSecret))
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claimsAt(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for _, s := range []string{valid, none, "", ".", "..", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.", h.Doc("x"), h.Workspace("y"), "d-AAAA", "w-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := tk.Verify(context.Background(), s); err == nil {
			if !c.Role.valid() || (c.Doc == "") == (c.Workspace == "") || c.Expires.IsZero() {
				t.Fatalf("took %q: %+v", s, c)
			}
		}
		if id, ok := h.OpenDoc(s); ok && h.Doc(id) != s {
			t.Fatalf("%q opened as %q, whose handle is %q", s, id, h.Doc(id))
		}
		if id, ok := h.OpenWorkspace(s); ok && h.Workspace(id) != s {
			t.Fatalf("%q opened as %q, whose handle is %q", s, id, h.Workspace(id))
		}
	})
}
