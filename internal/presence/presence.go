// Package presence keeps who is in a document and where their cursors
// are: names, colours, selections, with positions in code points at the
// document's published revision, and each client's app data (a small JSON
// object an application keeps about it: a role, an avatar, a status). A
// Set is not safe for concurrent use; its owner (the server's room for the
// document) guards it with its own lock.
package presence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/ot"
)

// Limits on what a user may say about themselves.
const (
	MaxName   = 64 // bytes
	MaxRanges = 32
)

// ErrInvalid wraps every refusal of this package.
var ErrInvalid = errors.New("presence: invalid")

// Range is one selection: Anchor is where it started, Head where the
// cursor is. Anchor == Head is a plain cursor.
type Range struct {
	Anchor int `json:"anchor"`
	Head   int `json:"head"`
}

// User is one person in a document: one client (a browser tab, a bot),
// by its public user id.
type User struct {
	ID string `json:"id"`
	// Author is the public author id of the person behind the client:
	// the Author of its revisions, shared by the tabs of one browser (see
	// the server's join). Several users may have one author.
	Author   string  `json:"author,omitempty"`
	Name     string  `json:"name"`
	Color    string  `json:"color"`
	Ranges   []Range `json:"ranges"`
	ReadOnly bool    `json:"readOnly,omitempty"`
	// Data is the client's app data (see ParseData), absent when empty.
	// A Data map is never changed once made: MergeData makes a new one.
	Data     map[string]json.RawMessage `json:"data,omitempty"`
	LastSeen time.Time                  `json:"lastSeen"`
}

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// CheckProfile validates a name and a colour (#rrggbb).
func CheckProfile(name, color string) error {
	if !utf8.ValidString(name) || len(name) > MaxName {
		return fmt.Errorf("%w: name must be valid UTF-8 of at most %d bytes", ErrInvalid, MaxName)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: name has a control character", ErrInvalid)
		}
	}
	if color != "" && !colorRE.MatchString(color) {
		return fmt.Errorf("%w: colour %q is not #rrggbb", ErrInvalid, color)
	}
	return nil
}

// ParseData reads app data, or a change to it: a JSON object whose
// compact encoding takes at most max bytes, its values compacted. Any
// JSON value may be a key's; in a change, null removes the key (see
// MergeData).
func ParseData(raw []byte, max int) (map[string]json.RawMessage, error) {
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%w: data is not UTF-8", ErrInvalid)
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(raw, &data); err != nil || data == nil {
		return nil, fmt.Errorf("%w: data must be a JSON object", ErrInvalid)
	}
	for k, v := range data {
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return nil, fmt.Errorf("%w: data: %v", ErrInvalid, err)
		}
		data[k] = b.Bytes()
	}
	if n := DataSize(data); n > max {
		return nil, fmt.Errorf("%w: data takes %d bytes of JSON, more than %d", ErrInvalid, n, max)
	}
	return data, nil
}

// MergeData returns data changed by change: each key of change replaces
// data's, and a key whose value is null is removed. Neither map is
// changed; the result is nil when empty.
func MergeData(data, change map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(data)+len(change))
	for k, v := range data {
		out[k] = v
	}
	for k, v := range change {
		if string(v) == "null" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// DataSize is the size of data's compact JSON encoding.
func DataSize(data map[string]json.RawMessage) int {
	if len(data) == 0 {
		return 2 // {}
	}
	n := 1 // {
	for k, v := range data {
		kb, _ := json.Marshal(k)
		n += len(kb) + 1 + len(v) + 1 // "k":v, (or the closing brace)
	}
	return n
}

// CheckRanges validates selections against a text of n code points.
func CheckRanges(ranges []Range, n int) error {
	if len(ranges) > MaxRanges {
		return fmt.Errorf("%w: at most %d ranges", ErrInvalid, MaxRanges)
	}
	for _, r := range ranges {
		if r.Anchor < 0 || r.Head < 0 || r.Anchor > n || r.Head > n {
			return fmt.Errorf("%w: range %d..%d outside the text (0..%d)", ErrInvalid, r.Anchor, r.Head, n)
		}
	}
	return nil
}

// Transform moves ranges over op, as ot's TransformIndex moves positions.
func Transform(ranges []Range, op ot.Operation) []Range {
	out := make([]Range, len(ranges))
	for i, r := range ranges {
		out[i] = Range{Anchor: op.TransformIndex(r.Anchor), Head: op.TransformIndex(r.Head)}
	}
	return out
}

type entry struct {
	User
	sessions int
	dirty    bool      // changed since last persisted
	saved    time.Time // when last persisted
}

// Set is the presence of one document.
type Set struct {
	users map[string]*entry
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{users: map[string]*entry{}} }

// Join adds a session of user u; first reports whether u was not present.
func (s *Set) Join(u User, now time.Time) (first bool) {
	e := s.users[u.ID]
	if e == nil {
		e = &entry{User: u}
		if e.Ranges == nil {
			e.Ranges = []Range{} // "ranges": [] on the wire until the first cursor
		}
		s.users[u.ID] = e
		first = true
	} else {
		e.Author, e.Name, e.Color, e.ReadOnly, e.Data = u.Author, u.Name, u.Color, u.ReadOnly, u.Data
	}
	e.sessions++
	e.LastSeen, e.dirty = now, true
	return first
}

// SameProfile reports whether a and b show the same person the same way:
// author, name, colour, mode and app data (not cursors).
func SameProfile(a, b User) bool {
	return a.Author == b.Author && a.Name == b.Name && a.Color == b.Color && a.ReadOnly == b.ReadOnly &&
		maps.EqualFunc(a.Data, b.Data, func(x, y json.RawMessage) bool { return bytes.Equal(x, y) })
}

// Leave removes a session of user id; last reports whether the user is gone.
func (s *Set) Leave(id string) (last bool) {
	e := s.users[id]
	if e == nil {
		return false
	}
	e.sessions--
	if e.sessions > 0 {
		return false
	}
	delete(s.users, id)
	return true
}

// Update sets a user's selections (already at the set's revision).
func (s *Set) Update(id string, ranges []Range, now time.Time) (User, bool) {
	e := s.users[id]
	if e == nil {
		return User{}, false
	}
	e.Ranges, e.LastSeen, e.dirty = ranges, now, true
	return e.User, true
}

// SetProfile sets a user's name, colour and app data.
func (s *Set) SetProfile(id, name, color string, data map[string]json.RawMessage, now time.Time) (User, bool) {
	e := s.users[id]
	if e == nil {
		return User{}, false
	}
	e.Name, e.Color, e.Data, e.LastSeen, e.dirty = name, color, data, now, true
	return e.User, true
}

// Apply moves every cursor over op, a newly published revision.
func (s *Set) Apply(op ot.Operation) {
	for _, e := range s.users {
		if len(e.Ranges) > 0 {
			e.Ranges = Transform(e.Ranges, op)
		}
	}
}

// Get returns one user.
func (s *Set) Get(id string) (User, bool) {
	e := s.users[id]
	if e == nil {
		return User{}, false
	}
	return e.User, true
}

// List returns everyone present, ordered by id.
func (s *Set) List() []User {
	out := make([]User, 0, len(s.users))
	for _, e := range s.users {
		out = append(out, e.User)
	}
	slices.SortFunc(out, func(a, b User) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

// Len is the number of users present.
func (s *Set) Len() int { return len(s.users) }

// Due returns the records to persist: users whose presence changed and
// were last persisted at least every ago (so each user is written at most
// once per every), encoded as JSON, and marks them saved.
func (s *Set) Due(now time.Time, every time.Duration) map[string][]byte {
	var out map[string][]byte
	for id, e := range s.users {
		if !e.dirty || now.Sub(e.saved) < every {
			continue
		}
		v, err := json.Marshal(e.User)
		if err != nil {
			continue
		}
		if out == nil {
			out = map[string][]byte{}
		}
		out[id] = v
		e.dirty, e.saved = false, now
	}
	return out
}
