package presence

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/ot"
)

func TestJoinLeaveCounts(t *testing.T) {
	s := NewSet()
	now := time.Unix(0, 0)
	if !s.Join(User{ID: "a", Name: "Ann"}, now) {
		t.Fatal("first join is not first")
	}
	if s.Join(User{ID: "a", Name: "Ann B"}, now) {
		t.Fatal("second session of a user counted as a new user")
	}
	if u, _ := s.Get("a"); u.Name != "Ann B" {
		t.Fatalf("a later join updates the profile: %+v", u)
	}
	s.Join(User{ID: "a", Author: "a1", Name: "Ann B"}, now)
	if u, _ := s.Get("a"); u.Author != "a1" || s.Len() != 1 {
		t.Fatalf("a later join with an author: %+v", u)
	}
	if b, _ := json.Marshal(s.List()); !strings.Contains(string(b), `"author":"a1"`) {
		t.Fatalf("the author id is not on the wire: %s", b)
	}
	s.Leave("a")
	if s.Leave("a") {
		t.Fatal("leaving one of two sessions removed the user")
	}
	if !s.Leave("a") || s.Len() != 0 {
		t.Fatal("the last session's leave must remove the user")
	}
	if s.Leave("nobody") {
		t.Fatal("an unknown user left")
	}
}

func TestCursorsMoveWithEdits(t *testing.T) {
	s := NewSet()
	s.Join(User{ID: "a"}, time.Time{})
	s.Update("a", []Range{{Anchor: 2, Head: 5}, {Anchor: 7, Head: 7}}, time.Time{})
	// "0123456789": insert "xx" at 0, delete 3..6 (of the original).
	op := *new(ot.Operation).Insert("xx").Retain(3).Delete(3).Retain(4)
	s.Apply(op)
	u, _ := s.Get("a")
	want := []Range{{Anchor: 4, Head: 5}, {Anchor: 6, Head: 6}}
	for i := range want {
		if u.Ranges[i] != want[i] {
			t.Fatalf("ranges %+v, want %+v", u.Ranges, want)
		}
	}
}

func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		name, color string
		ok          bool
	}{
		{"Ann", "#a0b1c2", true}, {"", "", true}, {"<b>x</b>", "#000000", true},
		{"a\nb", "", false}, {"x", "red", false}, {"x", "#12345", false}, {string(make([]byte, 65)), "", false}, {"\xff", "", false},
	} {
		if err := CheckProfile(tc.name, tc.color); (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("CheckProfile(%q, %q) = %v", tc.name, tc.color, err)
		}
	}
	if CheckRanges([]Range{{0, 3}}, 3) != nil || CheckRanges([]Range{{0, 4}}, 3) == nil || CheckRanges([]Range{{-1, 0}}, 3) == nil {
		t.Error("CheckRanges bounds")
	}
	if CheckRanges(make([]Range, MaxRanges+1), 3) == nil {
		t.Error("too many ranges accepted")
	}
}

func TestDueThrottlesWrites(t *testing.T) {
	s := NewSet()
	t0 := time.Unix(100, 0)
	s.Join(User{ID: "a", Name: "Ann"}, t0)
	if due := s.Due(t0, 5*time.Second); len(due) != 1 {
		t.Fatalf("a new user is due: %v", due)
	}
	s.Update("a", []Range{{1, 1}}, t0.Add(time.Second))
	if due := s.Due(t0.Add(time.Second), 5*time.Second); len(due) != 0 {
		t.Fatalf("written again within the interval: %v", due)
	}
	if due := s.Due(t0.Add(6*time.Second), 5*time.Second); len(due) != 1 {
		t.Fatal("a change is written once the interval passed")
	} else {
		var u User
		json.Unmarshal(due["a"], &u)
		if u.Name != "Ann" || len(u.Ranges) != 1 {
			t.Fatalf("record %s", due["a"])
		}
	}
	if due := s.Due(t0.Add(20*time.Second), 5*time.Second); len(due) != 0 {
		t.Fatal("an unchanged user is written again")
	}
}

func TestAppData(t *testing.T) {
	d, err := ParseData([]byte(`{"role": "teacher", "status": {"away": true,  "since": 3}}`), 100)
	if err != nil {
		t.Fatal(err)
	}
	if string(d["status"]) != `{"away":true,"since":3}` {
		t.Fatalf("values are not compacted: %s", d["status"])
	}
	enc, _ := json.Marshal(d)
	if DataSize(d) != len(enc) || DataSize(nil) != 2 {
		t.Fatalf("DataSize %d, encoded %d: %s", DataSize(d), len(enc), enc)
	}
	for _, bad := range []string{`null`, `[1]`, `"x"`, `3`, `{"a":`, "{\"a\":\"\xff\"}", `{"a":"` + strings.Repeat("x", 100) + `"}`} {
		if _, err := ParseData([]byte(bad), 100); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseData(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	change, _ := ParseData([]byte(`{"status": null, "avatar": "/a.png"}`), 100)
	m := MergeData(d, change)
	if len(m) != 2 || string(m["role"]) != `"teacher"` || string(m["avatar"]) != `"/a.png"` {
		t.Fatalf("merged: %v", m)
	}
	if len(d) != 2 || d["status"] == nil {
		t.Fatal("MergeData changed its argument")
	}
	gone, _ := ParseData([]byte(`{"role": null, "avatar": null}`), 100)
	if MergeData(m, gone) != nil {
		t.Fatal("removing every key does not leave nil")
	}

	s := NewSet()
	s.Join(User{ID: "a", Data: d}, time.Time{})
	if u, _ := s.SetProfile("a", "Ann", "#000000", m, time.Time{}); string(u.Data["avatar"]) != `"/a.png"` {
		t.Fatalf("SetProfile: %+v", u)
	}
	u, _ := s.Get("a")
	if b, _ := json.Marshal(u); !strings.Contains(string(b), `"data":{"avatar":"/a.png","role":"teacher"}`) {
		t.Fatalf("on the wire: %s", b)
	}
	s.Join(User{ID: "b"}, time.Time{})
	if b, _ := json.Marshal(s.List()[1]); strings.Contains(string(b), `"data"`) {
		t.Fatalf("a user without data shows data: %s", b)
	}
}
