package server

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/collab-editor/collab/internal/access"
	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/presence"
	"github.com/collab-editor/collab/internal/wirejson"
)

// inMsg is any message a client sends; Type says which fields count.
// See docs/PROTOCOL.md.
type inMsg struct {
	Type        string           `json:"type"`
	Client      string           `json:"client,omitempty"`      // join
	Author      string           `json:"author,omitempty"`      // join: the author secret
	Name        *string          `json:"name,omitempty"`        // join, profile; event (the event's name)
	Color       *string          `json:"color,omitempty"`       // join, profile
	Data        json.RawMessage  `json:"data,omitempty"`        // join, profile (app data); event (its payload)
	Rev         *uint64          `json:"rev,omitempty"`         // join (resume from), op (base), cursor
	ID          string           `json:"id,omitempty"`          // op; event (asks for an eventAck)
	Op          *ot.Operation    `json:"op,omitempty"`          // op
	Ranges      []presence.Range `json:"ranges,omitempty"`      // cursor
	Text        *string          `json:"text,omitempty"`        // chat
	To          []string         `json:"to,omitempty"`          // event: user ids (absent: everyone)
	ExcludeSelf bool             `json:"excludeSelf,omitempty"` // event: not to the sending session
}

// docView is a document's metadata as a caller sees it: id is the id the
// caller knows it by (its link, or its handle with a token), links are
// shown to link holders only (editors see both), and the handles (which
// grant nothing) to everyone.
type docView struct {
	ID              string     `json:"id"`
	Name            string     `json:"name"`
	Language        string     `json:"language"`
	Workspace       string     `json:"workspace,omitempty"`
	Handle          string     `json:"handle"`          // names the document in tokens
	WorkspaceHandle string     `json:"workspaceHandle"` // names its workspace in tokens
	Created         string     `json:"created"`
	Updated         string     `json:"updated"`
	Rev             uint64     `json:"rev"`
	Mode            docs.Mode  `json:"mode"`
	Role            string     `json:"role"` // view, edit or owner (renames, moves and deletes it)
	Links           *linksView `json:"links,omitempty"`
	Settings        settings   `json:"settings"`
}

// settings are a document's settings on the wire (docs.Settings), every
// one shown.
type settings struct {
	ViewerEvents bool `json:"viewerEvents"` // view-only sessions may send app events
}

type linksView struct {
	Edit string `json:"edit,omitempty"`
	View string `json:"view"`
}

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// viewFor is m as g's caller sees it.
func (s *Server) viewFor(m docs.Meta, g grant) docView {
	v := docView{ID: g.publicID(), Name: m.Name, Language: m.Language, Handle: s.handles.Doc(m.ID), WorkspaceHandle: s.handles.Workspace(m.Workspace),
		Created: m.Created.UTC().Format(timeLayout), Updated: m.Updated.UTC().Format(timeLayout), Rev: m.Rev, Mode: g.mode,
		Role: string(g.mode), Settings: settings{ViewerEvents: m.Settings.ViewerEvents}}
	if g.canManage() {
		v.Role = string(access.RoleOwner)
	}
	switch {
	case g.admin:
		v.Workspace = m.Workspace
		v.Links = &linksView{Edit: m.EditLink, View: m.ViewLink}
	case g.canEdit() && g.link != "":
		v.Links = &linksView{Edit: m.EditLink, View: m.ViewLink}
	case g.link != "":
		v.Links = &linksView{View: m.ViewLink}
	}
	return v
}

// revView is one revision on the wire.
type revView struct {
	Rev    uint64       `json:"rev"`
	Op     ot.Operation `json:"op"`
	Author string       `json:"author"`
	ID     string       `json:"id,omitempty"`
	Time   string       `json:"time,omitempty"`
}

type joinedMsg struct {
	Type     string          `json:"type"`
	User     string          `json:"user"`
	Author   string          `json:"author"` // the session's public author id
	ReadOnly bool            `json:"readOnly"`
	Doc      docView         `json:"doc"`
	Rev      uint64          `json:"rev"`
	Text     *string         `json:"text,omitempty"`
	Resumed  bool            `json:"resumed"`
	Ops      []revView       `json:"ops"` // always present: [] when nothing was missed or Text is sent
	Users    []presence.User `json:"users"`
	Limits   limitsView      `json:"limits"`
}

type limitsView struct {
	MaxMessageBytes  int64   `json:"maxMessageBytes"`
	MaxDocBytes      int     `json:"maxDocBytes"`
	OpsPerSecond     float64 `json:"opsPerSecond"`
	EventsPerSecond  float64 `json:"eventsPerSecond"`
	MaxEventBytes    int     `json:"maxEventBytes"`
	MaxUserDataBytes int     `json:"maxDataBytes"`
}

type errorMsg struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	ID      string `json:"id,omitempty"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("server: encoding a message: " + err.Error()) // only our own types are encoded
	}
	return b
}

// appendOpMsg encodes a broadcast revision once for all receivers:
// {"type":"op","rev":N,"op":[...],"author":"...","id":"..."}, with id the
// op id the receivers may see (see opIDFor); none when empty.
func appendOpMsg(dst []byte, r docs.Revision, id string) []byte {
	op := r.OpJSON()
	dst = slices.Grow(dst, 64+len(op)+len(r.Author)+len(id))
	dst = append(dst, `{"type":"op","rev":`...)
	dst = strconv.AppendUint(dst, r.Rev, 10)
	dst = append(dst, `,"op":`...)
	dst = append(dst, op...)
	dst = append(dst, `,"author":`...)
	dst = strconv.AppendQuote(dst, r.Author) // ids are printable ASCII
	if id != "" {
		dst = append(dst, `,"id":`...)
		dst = strconv.AppendQuote(dst, id)
	}
	return append(dst, '}')
}

// publicOpID is the id everyone may see of revision r's op: its sequence
// number under the public user id of the client that made it
// ("<user>:<seq>"). The op id itself starts with the client id, which a
// session must keep to itself (see Server.userID); ops without a client
// id (REST) show none. users, when not nil, keeps the user ids derived so
// far: a run of revisions has few clients, and a keyed hash for each of a
// page of revisions would cost more than reading them.
func (s *Server) publicOpID(r docs.Revision, users map[string]string) string {
	i := strings.LastIndexByte(r.OpID, ':')
	if i <= 0 || !validID(r.OpID[:i]) || !validSeq(r.OpID[i+1:]) {
		return ""
	}
	client := r.OpID[:i]
	user, ok := users[client]
	if !ok {
		user = s.userID(client)
		if users != nil {
			users[client] = user
		}
	}
	return user + r.OpID[i:]
}

// appendAckMsg: {"type":"ack","rev":N,"id":"..."}.
func appendAckMsg(dst []byte, rev uint64, id string, duplicate bool) []byte {
	dst = slices.Grow(dst, 56+len(id))
	dst = append(dst, `{"type":"ack","rev":`...)
	dst = strconv.AppendUint(dst, rev, 10)
	dst = append(dst, `,"id":`...)
	dst = strconv.AppendQuote(dst, id)
	if duplicate {
		dst = append(dst, `,"duplicate":true`...)
	}
	return append(dst, '}')
}

// decodeInMsg decodes a client message into m. An op message in the
// layout clients send it, {"type":"op","rev":N,"id":"…","op":[…]}, is read
// by hand: it is most of what a session receives, and encoding/json spends
// four times the CPU on it (validating it, then decoding it by reflection,
// then handing the op to ot.Parse anyway). Anything else, and anything in
// that layout the hand reader is not sure of, goes to encoding/json, whose
// answer is the same when both accept a message and whose errors the
// client sees.
func decodeInMsg(data []byte, m *inMsg) error {
	if decodeOpMsg(data, m) {
		return nil
	}
	return json.Unmarshal(data, m)
}

// decodeOpMsg reads an op message in the clients' layout, or reports
// false without touching m.
func decodeOpMsg(data []byte, m *inMsg) bool {
	rest, ok := bytes.CutPrefix(data, []byte(`{"type":"op","rev":`))
	if !ok {
		return false
	}
	rev, rest, ok := wirejson.CutUint(rest)
	if !ok {
		return false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"id":`)); !ok {
		return false
	}
	id, rest, ok := wirejson.CutPlainString(rest)
	if !ok {
		return false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"op":`)); !ok {
		return false
	}
	if rest, ok = bytes.CutSuffix(rest, []byte("}")); !ok {
		return false
	}
	// ot.Parse is strict JSON (and stricter): what it accepts,
	// encoding/json would hand to Operation.UnmarshalJSON, which is
	// ot.Parse.
	op, err := ot.Parse(rest)
	if err != nil {
		return false
	}
	*m = inMsg{Type: "op", Rev: &rev, ID: id, Op: &op}
	return true
}
