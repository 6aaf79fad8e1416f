package client

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestFastDecodeAgreesWithJSON: the hand decoder gives what encoding/json
// gives, and declines anything outside the server's layout.
func TestFastDecodeAgreesWithJSON(t *testing.T) {
	frame := `[{"type":"op","rev":12,"op":[3,"a\"]b\\",-1,"😀"],"author":"u1","id":"u1:7"},` +
		`{"type":"ack","rev":13,"id":"me:4"},{"type":"ack","rev":9,"id":"me:2","duplicate":true},` +
		`{"type":"op","rev":14,"op":["x"],"author":"api"},{"type":"cursor","rev":14,"user":"u1","ranges":[{"anchor":1,"head":2}]}]`
	parts := splitFrame([]byte(frame))
	if len(parts) != 5 {
		t.Fatalf("split into %d parts: %q", len(parts), parts)
	}
	fast := 0
	for _, p := range parts {
		var want, got serverMsg
		if err := json.Unmarshal(p, &want); err != nil {
			t.Fatal(err)
		}
		if !fastDecode(p, &got) {
			continue
		}
		fast++
		if !reflect.DeepEqual(normalize(got), normalize(want)) {
			t.Errorf("%s:\nfast %+v\njson %+v", p, got, want)
		}
	}
	if fast != 4 {
		t.Errorf("fast path took %d messages, want 4", fast)
	}
	for _, m := range []string{`{"type":"op","rev":1,"op":[1],"author":"a\u0041"}`, `{"type":"ack","rev":1,"id":"x","extra":1}`, `{"type":"op","rev":-1}`} {
		var got serverMsg
		if fastDecode([]byte(m), &got) {
			t.Errorf("fast path accepted %s", m)
		}
	}
	if got := splitFrame([]byte(`{"type":"leave","user":"x"}`)); len(got) != 1 {
		t.Errorf("single message split into %d", len(got))
	}
}

func normalize(m serverMsg) serverMsg {
	m.User = nil
	if m.Op != nil {
		op := *m.Op
		s := op.String()
		m.Op = nil
		m.Message = []byte(s)
	}
	return m
}
