package client

import (
	"bytes"

	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/wirejson"
)

// The server encodes the two messages every edit produces, "op" and
// "ack", in one fixed layout (see internal/server/messages.go). Decoding
// them by hand instead of with encoding/json's reflection halves the
// client's CPU per edit, which matters for the load generator sharing a
// machine with the server. Anything that does not match the layout exactly
// falls back to encoding/json.

// splitFrame returns the messages of a frame: the frame itself, or the
// elements of a top-level array.
func splitFrame(data []byte) [][]byte {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '[' {
		return [][]byte{data}
	}
	var out [][]byte
	depth, start, inStr, esc := 0, -1, false, false
	for i := 1; i < len(data); i++ {
		c := data[i]
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			if depth == 0 {
				start = i
			}
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return out // the closing bracket of the frame
			}
			depth--
			if depth == 0 && start >= 0 {
				out = append(out, data[start:i+1])
				start = -1
			}
		}
	}
	return out
}

// fastDecode decodes an op or ack message in the server's layout.
func fastDecode(m []byte, out *serverMsg) bool {
	switch {
	case bytes.HasPrefix(m, []byte(`{"type":"ack","rev":`)):
		rest := m[len(`{"type":"ack","rev":`):]
		rev, rest, ok := wirejson.CutUint(rest)
		if !ok || !bytes.HasPrefix(rest, []byte(`,"id":`)) {
			return false
		}
		id, rest, ok := wirejson.CutPlainString(rest[len(`,"id":`):])
		if !ok {
			return false
		}
		switch string(rest) {
		case "}":
		case `,"duplicate":true}`:
			out.Duplicate = true
		default:
			return false
		}
		out.Type, out.Rev, out.ID = "ack", rev, id
		return true
	case bytes.HasPrefix(m, []byte(`{"type":"op","rev":`)):
		rest := m[len(`{"type":"op","rev":`):]
		rev, rest, ok := wirejson.CutUint(rest)
		if !ok || !bytes.HasPrefix(rest, []byte(`,"op":`)) {
			return false
		}
		rest = rest[len(`,"op":`):]
		end := bytes.Index(rest, []byte(`],"author":`))
		if end < 0 {
			return false
		}
		op, err := ot.Parse(rest[:end+1])
		if err != nil {
			return false
		}
		author, rest, ok := wirejson.CutPlainString(rest[end+len(`],"author":`):])
		if !ok {
			return false
		}
		id := ""
		if bytes.HasPrefix(rest, []byte(`,"id":`)) {
			if id, rest, ok = wirejson.CutPlainString(rest[len(`,"id":`):]); !ok {
				return false
			}
		}
		if string(rest) != "}" {
			return false
		}
		out.Type, out.Rev, out.Op, out.Author, out.ID = "op", rev, &op, author, id
		return true
	}
	return false
}
