package server

import (
	"encoding/json"
	"reflect"
	"testing"
)

var opMsgs = []string{
	`{"type":"op","rev":12,"id":"c1:7","op":[5,"x",-2,3]}`,
	`{"type":"op","rev":0,"id":"a:1","op":[]}`,
	`{"type":"op","rev":18446744073709551615,"id":"a:1","op":["é\n\"q\""]}`,
	`{"type":"op","rev":18446744073709551616,"id":"a:1","op":[1]}`,
	`{"type":"op","rev":01,"id":"a:1","op":[1]}`,
	`{"type":"op","rev":1.0,"id":"a:1","op":[1]}`,
	`{"type":"op","rev":-1,"id":"a:1","op":[1]}`,
	`{"type":"op","rev":1,"id":"a\u003a1","op":[1]}`,
	`{"type":"op","rev":1,"id":"a:1","op":[ 1 , "a" ] }`,
	`{"type":"op","rev":1,"id":"a:1","op":[1],"rev":2}`,
	`{"type":"op","rev":1,"id":"a:1","op":[1]}x`,
	`{"type":"op","rev":1,"id":"a:1","op":[1]} `,
	`{"type":"op","rev":1,"id":"a:1","op":[01]}`,
	`{"type":"op","rev":1,"id":"a:1","op":["\ud800"]}`,
	"{\"type\":\"op\",\"rev\":1,\"id\":\"a:1\",\"op\":[\"\xff\"]}",
	`{"type":"op","rev":1,"id":"a:1","op":[1]}}`,
	`{"type":"op","rev":1,"id":"a:1","op":{"x":1}}`,
	`{"type":"cursor","rev":1,"ranges":[{"anchor":1,"head":2}]}`,
}

// TestDecodeOpMsg: the hand reader takes the clients' layout, and
// decodeInMsg answers exactly as encoding/json does on every message.
func TestDecodeOpMsg(t *testing.T) {
	var m inMsg
	if !decodeOpMsg([]byte(opMsgs[0]), &m) || *m.Rev != 12 || m.ID != "c1:7" || m.Op.String() != `[5,"x",-2,3]` {
		t.Fatalf("the clients' layout was not read by hand: %+v", m)
	}
	for _, s := range opMsgs {
		sameAsJSON(t, []byte(s))
	}
}

// FuzzDecodeOpMsg: whatever the message, decodeInMsg accepts it exactly
// when encoding/json does, with the same result.
func FuzzDecodeOpMsg(f *testing.F) {
	for _, s := range opMsgs {
		f.Add([]byte(s))
	}
	f.Fuzz(sameAsJSON)
}

func sameAsJSON(t *testing.T, data []byte) {
	var fast, slow inMsg
	errFast := decodeInMsg(data, &fast)
	errSlow := json.Unmarshal(data, &slow)
	if (errFast == nil) != (errSlow == nil) {
		t.Fatalf("%q: decodeInMsg says %v, encoding/json %v", data, errFast, errSlow)
	}
	if errSlow == nil && !reflect.DeepEqual(view(fast), view(slow)) {
		t.Fatalf("%q: decodeInMsg reads %+v, encoding/json %+v", data, view(fast), view(slow))
	}
}

// view makes an inMsg comparable: pointers become values, the op its JSON.
func view(m inMsg) map[string]any {
	v := map[string]any{"type": m.Type, "client": m.Client, "id": m.ID, "ranges": m.Ranges}
	for k, p := range map[string]*string{"name": m.Name, "color": m.Color, "text": m.Text} {
		if p != nil {
			v[k] = *p
		}
	}
	if m.Rev != nil {
		v["rev"] = *m.Rev
	}
	if m.Op != nil {
		v["op"] = m.Op.String()
	}
	return v
}

func BenchmarkDecodeOpMsg(b *testing.B) {
	data := []byte(`{"type":"op","rev":1234,"id":"0f8fad5bd9cb469fa16570867728950e:42","op":[731,"ab",1317]}`)
	for _, c := range []struct {
		name   string
		decode func([]byte, *inMsg) error
	}{
		{"hand", decodeInMsg},
		{"encoding-json", func(d []byte, m *inMsg) error { return json.Unmarshal(d, m) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var m inMsg
				if err := c.decode(data, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
