package ot

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestParseGolden decodes each input line of testdata/decode.golden and
// compares the result with the "=>" line after it. Run with -update to
// rewrite the expectations after a deliberate change.
func TestParseGolden(t *testing.T) {
	path := filepath.Join("testdata", "decode.golden")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if strings.HasPrefix(line, "=> ") {
			continue
		}
		out.WriteString(line + "\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		op, err := Parse([]byte(line))
		if err != nil {
			out.WriteString("=> error: " + err.Error() + "\n")
			continue
		}
		enc, err := op.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON(%s): %v", line, err)
		}
		out.WriteString("=> " + string(enc) + "\n")
	}
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := out.String(); got != string(data) {
		t.Errorf("decode.golden differs (run go test -run TestParseGolden -update and review the diff):\n%s", got)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		in   string
		utf8 bool
	}{
		{in: "[1,\"a\xffb\"]", utf8: true},
		{in: "[\"\xed\xa0\x80\"]", utf8: true}, // an encoded surrogate
		{in: `["\ud800"]`, utf8: true},
		{in: `["\udc00\ud800"]`, utf8: true},
		{in: `["\ud83d\u0041"]`, utf8: true},
		{in: "[\"a\nb\"]"},
		{in: "[\"a\x00\"]"},
		{in: ""},
		{in: "["},
		{in: `[1`},
		{in: `[1,]`},
		{in: `[,1]`},
		{in: `["abc`},
		{in: `["\u12"]`},
		{in: `["\x"]`},
		{in: `[-]`},
		{in: `[--1]`},
		{in: `[+1]`},
		{in: `[9223372036854775807,1]`},
		{in: `[-9223372036854775808]`},
		{in: `[99999999999999999999]`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLong) {
			t.Errorf("Parse(%q) = %v, want a malformed error", tt.in, err)
		}
		if tt.utf8 && !errors.Is(err, ErrInvalidUTF8) {
			t.Errorf("Parse(%q) = %v, want ErrInvalidUTF8", tt.in, err)
		}
	}
}

// TestUnmarshalInsideMessage: an operation embedded in a message is decoded
// by Parse from the raw bytes, so invalid UTF-8 and lone surrogates are
// refused instead of being replaced by U+FFFD as encoding/json would.
func TestUnmarshalInsideMessage(t *testing.T) {
	var msg struct {
		Op Operation `json:"op"`
	}
	if err := json.Unmarshal([]byte(`{"op":[2,"\ud83d\ude00",-1]}`), &msg); err != nil {
		t.Fatal(err)
	}
	if want := new(Operation).Retain(2).Insert("😀").Delete(1); !msg.Op.Equal(*want) {
		t.Fatalf("got %v, want %v", msg.Op, want)
	}
	err := json.Unmarshal([]byte(`{"op":[2,"\udead"]}`), &msg)
	if !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("lone surrogate: %v", err)
	}
	out, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"op":[2,"😀",-1]}` {
		t.Fatalf("Marshal: %s", out)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	rng := newRand(t)
	for i := 0; i < *casesFlag; i++ {
		s := randomText(rng, alphabet, 30)
		op := randomOp(rng, alphabet, s)
		data, err := json.Marshal(op)
		if err != nil {
			t.Fatal(err)
		}
		var back Operation
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("Unmarshal(%s): %v", data, err)
		}
		if !back.Equal(op) {
			t.Fatalf("round trip: %v != %v", back, op)
		}
	}
}

// TestJSONLen: JSONLen is the length of AppendJSON's output, exactly for
// inserts without escapes and at most that otherwise.
func TestJSONLen(t *testing.T) {
	rng := newRand(t)
	for i := 0; i < *casesFlag; i++ {
		s := randomText(rng, alphabet, 30)
		op := randomOp(rng, alphabet, s)
		got, n := op.JSONLen(), len(op.AppendJSON(nil))
		escapes := false
		for _, c := range op.ops {
			escapes = escapes || strings.ContainsFunc(c.Text, func(r rune) bool { return r < 0x20 || r == '"' || r == '\\' })
		}
		if got > n || !escapes && got != n {
			t.Fatalf("JSONLen of %s = %d, want %d", op.AppendJSON(nil), got, n)
		}
	}
	if n := (Operation{}).JSONLen(); n != 2 {
		t.Fatalf("JSONLen of the empty operation = %d, want 2", n)
	}
}
