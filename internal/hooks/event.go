package hooks

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/collab-editor/collab/internal/docs"
)

// The event types.
const (
	TypeCreated  = "document.created"
	TypeRenamed  = "document.renamed"
	TypeDeleted  = "document.deleted"
	TypeChanged  = "document.changed"
	TypeRestored = "document.restored"
	TypePurged   = "document.purged"
)

// Types lists every event type.
var Types = []string{TypeCreated, TypeRenamed, TypeDeleted, TypeChanged, TypeRestored, TypePurged}

// typeOf is the event type of a journal entry's kind.
func typeOf(kind string) string { return "document." + kind }

// Audience is who an event is shown to: it decides which id names the
// document and which links come with it.
type Audience int

const (
	// View: a holder of a view link (of the document or its workspace):
	// the document is named by its view link, the only link shown.
	View Audience = iota
	// Edit: a holder of an edit link: named by its edit link, both links
	// shown.
	Edit
	// Admin: the API token: named by its internal id, with its workspace's
	// internal id and both links.
	Admin
	// Token: a holder of a token (a JWT of a host's user): named by its
	// handle, with its workspace's handle, and no link: a token's holder
	// never sees a link or an internal id.
	Token
)

// Event is one event as an audience sees it.
type Event struct {
	ID   string // stable and unique: the webhook-id and the SSE id
	Seq  uint64 // its place in the journal
	Type string
	Doc  string // the document's internal id
	Body []byte // the JSON payload
}

// payload is an event's JSON, the same for webhooks and streams.
type payload struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      data      `json:"data"`
}

type data struct {
	Document document `json:"document"`
	// renamed
	OldName string `json:"oldName,omitempty"`
	NewName string `json:"newName,omitempty"`
	// changed: the revisions summarised; the others: the document's
	// revision then (in both).
	FromRev uint64 `json:"fromRev"`
	ToRev   uint64 `json:"toRev"`
	// changed: the authors of the revisions; created: its author.
	Authors []docs.JournalAuthor `json:"authors,omitempty"`
}

type document struct {
	ID string `json:"id"`
	// Handle is the document's handle (Config.Handles), for every
	// audience: it grants nothing, and names the document in tokens.
	Handle    string `json:"handle,omitempty"`
	Name      string `json:"name"`
	Workspace string `json:"workspace,omitempty"`
	Links     *links `json:"links,omitempty"` // none for Token
}

type links struct {
	Edit string `json:"edit,omitempty"`
	View string `json:"view"`
}

// render is entry e as audience a sees it. An edit link is never shown to
// View; no link and no internal id is shown to Token.
func (s *Service) render(e docs.JournalEntry, a Audience) Event {
	p := payload{ID: s.eventID(e.Seq), Type: typeOf(e.Kind), Timestamp: e.Time.UTC(), Data: data{
		Document: document{Name: e.Name},
		FromRev:  e.FromRev, ToRev: e.ToRev, Authors: e.Authors,
	}}
	d := &p.Data.Document
	if h := s.cfg.Handles; h != nil {
		d.Handle = h.Doc(e.Doc)
	}
	switch a {
	case Admin:
		d.ID, d.Workspace, d.Links = e.Doc, e.Workspace, &links{Edit: e.EditLink, View: e.ViewLink}
	case Edit:
		d.ID, d.Links = e.EditLink, &links{Edit: e.EditLink, View: e.ViewLink}
	case Token:
		d.ID = d.Handle
		if h := s.cfg.Handles; h != nil && e.Workspace != "" {
			d.Workspace = h.Workspace(e.Workspace)
		}
	default:
		d.ID, d.Links = e.ViewLink, &links{View: e.ViewLink}
	}
	if e.Kind == docs.JournalRenamed {
		p.Data.OldName, p.Data.NewName = e.OldName, e.Name
	}
	if p.Data.Authors == nil && e.Kind == docs.JournalChanged {
		p.Data.Authors = []docs.JournalAuthor{}
	}
	body, _ := json.Marshal(p) // plain strings, numbers and times
	return Event{ID: p.ID, Seq: e.Seq, Type: p.Type, Doc: e.Doc, Body: body}
}

// eventID is the id of the journal's entry seq: "evt_", the store's
// instance (random, made with it: ids of two servers never meet), "_" and
// seq.
func (s *Service) eventID(seq uint64) string {
	return "evt_" + s.instance + "_" + strconv.FormatUint(seq, 10)
}

// ParseEventID returns the journal seq of an event id of this store.
func (s *Service) ParseEventID(id string) (uint64, error) {
	rest, ok := strings.CutPrefix(id, "evt_")
	inst, num, ok2 := strings.Cut(rest, "_")
	seq, err := strconv.ParseUint(num, 10, 64)
	if !ok || !ok2 || err != nil || seq == 0 {
		return 0, fmt.Errorf("%w: %q is not an event id", ErrInvalid, id)
	}
	if inst != s.instance {
		return 0, fmt.Errorf("%w: %q is an event id of another server's store", ErrInvalid, id)
	}
	return seq, nil
}

// Query selects events.
type Query struct {
	After     uint64 // events after this journal seq
	Workspace string // only this workspace's documents' (internal id)
	Doc       string // only this document's (internal id)
	Audience  Audience
	Limit     int // default 100
}

// Events returns the events q selects, oldest first.
func (s *Service) Events(q Query) ([]Event, error) {
	es, err := s.docs.Journal(docs.JournalQuery{After: q.After, Workspace: q.Workspace, Doc: q.Doc, Limit: q.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]Event, len(es))
	for i, e := range es {
		out[i] = s.render(e, q.Audience)
	}
	return out, nil
}

// Resumable reports whether a stream may resume after seq: ErrExpired
// when entries after it were forgotten, ErrInvalid when seq is in the
// future.
func (s *Service) Resumable(seq uint64) error {
	trimmed, last, err := s.docs.JournalBounds()
	switch {
	case err != nil:
		return err
	case seq < trimmed:
		return fmt.Errorf("%w: events up to %s were forgotten (the journal keeps them for a limited time); start again without Last-Event-ID", ErrExpired, s.eventID(trimmed))
	case seq > last:
		return fmt.Errorf("%w: no event %s yet", ErrInvalid, s.eventID(seq))
	}
	return nil
}

// Head returns the journal's newest seq: a stream that starts now (no
// Last-Event-ID) starts after it.
func (s *Service) Head() (uint64, error) {
	_, last, err := s.docs.JournalBounds()
	return last, err
}

// Changed returns a channel closed once an event newer than those
// readable now is appended: read, then wait on the channel taken before
// reading.
func (s *Service) Changed() <-chan struct{} {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.changed
}

func (s *Service) announce() {
	s.cmu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.cmu.Unlock()
}
