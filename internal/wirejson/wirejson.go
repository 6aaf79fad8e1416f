// Package wirejson reads the two tokens that the collaboration protocol's
// fixed message layouts carry besides operations: unsigned integers
// (revisions) and strings of plain ASCII (ids, authors). The server and the
// Go client decode their hottest messages by hand with these, and leave
// anything they do not accept to encoding/json; so each accepts only what
// encoding/json reads the same way, and reports false for the rest.
package wirejson

import "strconv"

// CutUint reads a JSON number at the start of b that is a uint64 (digits,
// no leading zero) and returns it and what follows it.
func CutUint(b []byte) (uint64, []byte, bool) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 0 || i > 1 && b[0] == '0' {
		return 0, b, false
	}
	n, err := strconv.ParseUint(string(b[:i]), 10, 64)
	return n, b[i:], err == nil
}

// CutPlainString reads a JSON string at the start of b that holds ASCII
// with no escapes and no control characters, and returns it and what
// follows it.
func CutPlainString(b []byte) (string, []byte, bool) {
	if len(b) == 0 || b[0] != '"' {
		return "", b, false
	}
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return string(b[1:i]), b[i+1:], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return "", b, false
		}
	}
	return "", b, false
}
