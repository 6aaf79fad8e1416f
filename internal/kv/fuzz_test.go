package kv_test

import (
	"reflect"
	"testing"

	"github.com/collab-editor/collab/internal/kv"
)

// FuzzUnmarshal: any input unmarshals to an error or to changes that
// marshal and unmarshal again to themselves, never to a panic.
func FuzzUnmarshal(f *testing.F) {
	seeds := []kv.Changes{
		nil,
		{{Op: kv.OpCreateBucket, Key: []byte("docs")}},
		{
			{Op: kv.OpPut, Path: [][]byte{[]byte("docs"), []byte("d1")}, Key: []byte("k"), Value: []byte("v")},
			{Op: kv.OpDelete, Path: [][]byte{[]byte("docs"), []byte("d1")}, Key: []byte("k")},
			{Op: kv.OpSetSequence, Path: [][]byte{[]byte("docs")}, Seq: 1 << 40},
			{Op: kv.OpFillPercent, Path: [][]byte{[]byte("docs")}, Fill: 0.9},
			{Op: kv.OpDeleteBucket, Path: [][]byte{[]byte("docs")}, Key: []byte("d1")},
		},
	}
	for _, s := range seeds {
		data, err := s.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c kv.Changes
		if err := c.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := c.MarshalBinary()
		if err != nil {
			t.Fatalf("unmarshalled changes do not marshal: %v", err)
		}
		var back kv.Changes
		if err := back.UnmarshalBinary(again); err != nil {
			t.Fatalf("marshalled changes do not unmarshal: %v", err)
		}
		if len(c) != len(back) || len(c) > 0 && !reflect.DeepEqual(c, back) {
			t.Fatalf("round trip changed\n%v\nto\n%v", c, back)
		}
	})
}
