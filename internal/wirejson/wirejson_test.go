package wirejson

import (
	"encoding/json"
	"testing"
)

// TestAgreesWithEncodingJSON: whatever CutUint and CutPlainString accept,
// encoding/json reads as the same value.
func TestAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range []string{"0", "7,", "18446744073709551615}", "18446744073709551616", "01", "-1", "1.5", "", "x"} {
		n, rest, ok := CutUint([]byte(s))
		var want uint64
		err := json.Unmarshal([]byte(s[:len(s)-len(rest)]), &want)
		if ok && (err != nil || n != want) {
			t.Errorf("CutUint(%q) = %d; encoding/json: %d, %v", s, n, want, err)
		}
	}
	for _, s := range []string{`"a:1"`, `"a:1",`, `""`, `"a\"b"`, `"a\u0041"`, "\"\x01\"", "\"é\"", `"open`, `x`} {
		v, rest, ok := CutPlainString([]byte(s))
		var want string
		err := json.Unmarshal([]byte(s[:len(s)-len(rest)]), &want)
		if ok && (err != nil || v != want) {
			t.Errorf("CutPlainString(%q) = %q; encoding/json: %q, %v", s, v, want, err)
		}
		if !ok && s == `"a:1"` {
			t.Errorf("CutPlainString(%q) refused a plain id", s)
		}
	}
	if _, _, ok := CutUint([]byte("01")); ok {
		t.Error("CutUint took a leading zero, which encoding/json refuses")
	}
}
