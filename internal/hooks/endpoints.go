package hooks

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/collab-editor/collab/internal/kv"
)

// Endpoint is a receiver of webhooks: the events of one workspace, or of
// the whole server, that pass its type filter.
type Endpoint struct {
	ID string `json:"id"`
	// Workspace is the internal id of the workspace whose documents'
	// events it receives; "" for every document (server-wide).
	Workspace string `json:"workspace,omitempty"`
	// Handles: its events are rendered for the Token audience (handles,
	// no links), as a workspace endpoint created with a token is;
	// otherwise Edit for a workspace's, Admin for a server-wide one. Set
	// at creation, never changed.
	Handles bool `json:"handles,omitempty"`
	// ByLink: it was created, or last changed, with the workspace's edit
	// link, so a rotation of the workspace's links disables it
	// (DisableByLink): whoever held the old link cannot keep hearing of
	// the workspace's documents through it.
	ByLink      bool     `json:"byLink,omitempty"`
	URL         string   `json:"url"`
	Types       []string `json:"types,omitempty"` // event types; empty for all
	Description string   `json:"description,omitempty"`
	Enabled     bool     `json:"enabled"`
	// DisabledReason says why the service disabled it (an event that kept
	// failing); "" when it was not disabled, or by its owner.
	DisabledReason string    `json:"disabledReason,omitempty"`
	Created        time.Time `json:"created"`
	Updated        time.Time `json:"updated"`
	// Secret signs its deliveries: "whsec_" and the base64 of 24 random
	// bytes, as Standard Webhooks keys are written.
	Secret string `json:"secret"`
}

// Audience is who ep's events are rendered for.
func (ep Endpoint) Audience() Audience {
	switch {
	case ep.Workspace == "":
		return Admin
	case ep.Handles:
		return Token
	}
	return Edit
}

// wants reports whether events of type t go to ep.
func (ep Endpoint) wants(t string) bool { return len(ep.Types) == 0 || slices.Contains(ep.Types, t) }

// Params are an endpoint's settings as its owner writes them; nil fields
// are left as they are (Create: their defaults, all types and enabled).
type Params struct {
	URL         *string
	Types       *[]string
	Description *string
	Enabled     *bool
	// ByLink says who writes them: the workspace's edit link (true), or
	// the API token or a token (see Endpoint.ByLink).
	ByLink bool
}

// state is an endpoint's progress, kept beside it: every event up to
// Cursor is done with (delivered, failed, or not for it); Redeliver lists
// the earlier events its owner asked to have sent again.
type state struct {
	Cursor    uint64   `json:"cursor"`
	Redeliver []uint64 `json:"redeliver,omitempty"`
}

// maxURL bounds an endpoint's URL, in bytes; maxDescription its
// description.
const (
	maxURL         = 2048
	maxDescription = 512
	// MaxRedeliveries caps the redeliveries queued for one endpoint.
	MaxRedeliveries = 100
)

func newSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// checkURL checks an endpoint's URL: absolute http or https, a host, no
// user name or password (they would show in logs), no fragment, and,
// unless AllowPrivate, no host that is a loopback, private or link-local
// address or "localhost". Host names are checked again, as resolved, for
// every connection (see dial.go).
func (s *Service) checkURL(raw string) error {
	if len(raw) > maxURL || !utf8.ValidString(raw) {
		return fmt.Errorf("%w: a URL is at most %d bytes of UTF-8", ErrInvalid, maxURL)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%w: url: %v", ErrInvalid, err)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%w: url %q: want an http or https URL", ErrInvalid, raw)
	case u.Hostname() == "":
		return fmt.Errorf("%w: url %q has no host", ErrInvalid, raw)
	case u.User != nil:
		return fmt.Errorf("%w: url %q: no user name or password in the URL (verify the signature instead)", ErrInvalid, raw)
	case u.Fragment != "":
		return fmt.Errorf("%w: url %q: no fragment", ErrInvalid, raw)
	}
	if s.cfg.AllowPrivate {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("%w: url %q: %w", ErrInvalid, raw, ErrPrivateAddress)
	}
	if a, err := netip.ParseAddr(host); err == nil && !public(a) {
		return fmt.Errorf("%w: url %q: %w", ErrInvalid, raw, ErrPrivateAddress)
	}
	return nil
}

// checkTypes checks a type filter and returns it without repeats.
func checkTypes(types []string) ([]string, error) {
	var out []string
	for _, t := range types {
		if !slices.Contains(Types, t) {
			return nil, fmt.Errorf("%w: unknown event type %q (known: %s)", ErrInvalid, t, strings.Join(Types, ", "))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// apply sets the fields p gives on ep, checked.
func (s *Service) apply(ep *Endpoint, p Params) error {
	if p.URL != nil {
		if err := s.checkURL(*p.URL); err != nil {
			return err
		}
		ep.URL = *p.URL
	}
	if p.Types != nil {
		types, err := checkTypes(*p.Types)
		if err != nil {
			return err
		}
		ep.Types = types
	}
	if p.Description != nil {
		if len(*p.Description) > maxDescription || !utf8.ValidString(*p.Description) {
			return fmt.Errorf("%w: a description is at most %d bytes of UTF-8", ErrInvalid, maxDescription)
		}
		ep.Description = *p.Description
	}
	if p.Enabled != nil {
		ep.Enabled = *p.Enabled
		ep.DisabledReason = ""
	}
	ep.ByLink = p.ByLink && ep.Workspace != ""
	return nil
}

// Create adds an endpoint for a workspace (its internal id; "" for
// server-wide), whose events are rendered for audience a: Edit or Token
// for a workspace's (what its creator may see: an edit link, or a
// token), Admin for a server-wide one. It receives the events appended
// from now on. The secret is in the result, and only there: Get and List
// leave it out. In cluster mode its deliveries start on the node that
// holds the lease, wherever it was created.
func (s *Service) Create(workspace string, a Audience, p Params) (Endpoint, error) {
	switch {
	case p.URL == nil:
		return Endpoint{}, fmt.Errorf("%w: an endpoint needs a url", ErrInvalid)
	case workspace == "" && a != Admin, workspace != "" && a != Edit && a != Token:
		return Endpoint{}, fmt.Errorf("%w: audience %d for an endpoint of scope %q", ErrInvalid, a, workspace)
	}
	now := s.cfg.Now().UTC()
	ep := Endpoint{ID: "hook_" + strings.ReplaceAll(uuid.NewString(), "-", ""), Workspace: workspace, Handles: a == Token,
		Enabled: true, Created: now, Updated: now, Secret: newSecret()}
	if err := s.apply(&ep, p); err != nil {
		return Endpoint{}, err
	}
	head, err := s.Head()
	if err != nil {
		return Endpoint{}, err
	}
	st := state{Cursor: head}
	err = s.docs.Write("the webhook endpoint", func(tx *kv.Tx) error {
		b := tx.Bucket(bucketHooks).Bucket(bucketEndpoints)
		n := 0
		if err := b.ForEach(func(_, v []byte) error {
			var other Endpoint
			if json.Unmarshal(v, &other) == nil && other.Workspace == workspace {
				n++
			}
			return nil
		}); err != nil {
			return err
		}
		if n >= s.cfg.MaxEndpoints {
			return fmt.Errorf("%w: this scope has %d endpoints, the limit", ErrTooMany, n)
		}
		if err := putJSON(b, ep.ID, ep); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketHooks).Bucket(bucketState), ep.ID, st)
	})
	if err != nil {
		return Endpoint{}, err
	}
	s.startWorker(ep, st)
	return ep, nil
}

func putJSON(b *kv.Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), raw)
}

// Info is an endpoint (without its secret) and the delivery under way at
// the head of its queue, if any.
type Info struct {
	Endpoint
	Pending *Delivery
}

// lookup finds endpoint id of a workspace, and its worker. In local mode
// every endpoint has one. In cluster mode the store says which endpoints
// there are (one not found in this node's replica is looked for again
// once it has caught up with the cluster, so that one just made on
// another node is found), and only the node delivering runs workers: w is
// nil on the others (and, for a moment, for an endpoint just made on
// another node).
func (s *Service) lookup(workspace, id string) (ep Endpoint, w *worker, err error) {
	s.mu.Lock()
	w = s.workers[id]
	s.mu.Unlock()
	if !s.clustered {
		if w == nil || w.scope != workspace {
			return Endpoint{}, nil, fmt.Errorf("%w: no endpoint %q here", ErrNotFound, id)
		}
		return w.endpoint(), w, nil
	}
	for synced := false; ; synced = true {
		var ok bool
		err = s.docs.View(func(tx *kv.Tx) error {
			var err error
			ep, ok, err = getEndpoint(tx, id)
			return err
		})
		switch {
		case err != nil:
			return Endpoint{}, nil, err
		case ok && ep.Workspace == workspace:
			return ep, w, nil
		case ok || synced:
			return Endpoint{}, nil, fmt.Errorf("%w: no endpoint %q here", ErrNotFound, id)
		}
		if err := s.docs.Sync(); err != nil {
			return Endpoint{}, nil, err
		}
	}
}

// getEndpoint reads endpoint id from the store.
func getEndpoint(tx *kv.Tx, id string) (ep Endpoint, ok bool, err error) {
	hb := tx.Bucket(bucketHooks)
	if hb == nil {
		return ep, false, nil
	}
	v := hb.Bucket(bucketEndpoints).Get([]byte(id))
	if v == nil {
		return ep, false, nil
	}
	return ep, true, json.Unmarshal(v, &ep)
}

// Get returns endpoint id of a workspace ("" for server-wide).
func (s *Service) Get(workspace, id string) (Info, error) {
	ep, w, err := s.lookup(workspace, id)
	if err != nil {
		return Info{}, err
	}
	return s.infoOf(ep, w)
}

// infoOf is ep's Info: its worker's, in local mode; in cluster mode the
// endpoint as stored (changes made on other nodes reach the worker a
// moment later), with the delivery under way as its worker has it, or as
// last saved when this node does not deliver.
func (s *Service) infoOf(ep Endpoint, w *worker) (Info, error) {
	switch {
	case !s.clustered:
		return w.info(), nil
	case w != nil:
		in := Info{Endpoint: ep, Pending: w.info().Pending}
		in.Secret = ""
		return in, nil
	}
	return s.storedInfo(ep)
}

// List returns the endpoints of a workspace ("" for the server-wide
// ones), oldest first.
func (s *Service) List(workspace string) []Info {
	var out []Info
	if s.clustered {
		var err error
		if out, err = s.storedInfos(workspace); err != nil {
			s.log.Warn("webhooks: listing the endpoints", "err", err)
		}
		s.mu.Lock()
		for i, in := range out {
			if w := s.workers[in.ID]; w != nil {
				out[i].Pending = w.info().Pending
			}
		}
		s.mu.Unlock()
	} else {
		s.mu.Lock()
		var ws []*worker
		for _, w := range s.workers {
			if w.scope == workspace {
				ws = append(ws, w)
			}
		}
		s.mu.Unlock()
		out = make([]Info, len(ws))
		for i, w := range ws {
			out[i] = w.info()
		}
	}
	slices.SortFunc(out, func(a, b Info) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Update changes endpoint id of a workspace. Enabling it again goes on
// with the events after the one that disabled it.
func (s *Service) Update(workspace, id string, p Params) (Info, error) {
	_, w, err := s.lookup(workspace, id)
	if err != nil {
		return Info{}, err
	}
	if w != nil {
		w.emu.Lock() // one change of the endpoint at a time
		defer w.emu.Unlock()
	}
	now := s.cfg.Now().UTC()
	ep, err := s.changeEndpoint(id, func(ep *Endpoint) error {
		if err := s.apply(ep, p); err != nil {
			return err
		}
		ep.Updated = now
		return nil
	})
	if err != nil {
		return Info{}, err
	}
	if w != nil {
		w.setEndpoint(ep)
	}
	return s.infoOf(ep, w)
}

// errUnchanged tells changeEndpoint to leave an endpoint as it is.
var errUnchanged = errors.New("unchanged")

// DisableByLink disables the endpoints of a workspace created or last
// changed with its edit link (Endpoint.ByLink), saying why: call it when
// the workspace's links are rotated. Their owner enables them again with
// the new link, after checking them. It returns how many it disabled.
func (s *Service) DisableByLink(workspace, reason string) (int, error) {
	if workspace == "" {
		return 0, nil
	}
	n := 0
	for _, in := range s.List(workspace) {
		if !in.ByLink || !in.Enabled {
			continue
		}
		_, w, err := s.lookup(workspace, in.ID)
		if err != nil {
			continue // deleted meanwhile
		}
		if w != nil {
			w.emu.Lock()
		}
		ep, err := s.changeEndpoint(in.ID, func(ep *Endpoint) error {
			if !ep.ByLink || !ep.Enabled {
				return errUnchanged
			}
			ep.Enabled, ep.DisabledReason, ep.Updated = false, reason, s.cfg.Now().UTC()
			return nil
		})
		if err == nil {
			n++
			if w != nil {
				w.setEndpoint(ep)
			}
		}
		if w != nil {
			w.emu.Unlock()
		}
		if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, errUnchanged) {
			return n, err
		}
	}
	return n, nil
}

// changeEndpoint changes endpoint id's stored settings with change and
// returns them, in one transaction (in a cluster, ordered with every
// node's changes), so that changes made at once on different nodes are
// all kept.
func (s *Service) changeEndpoint(id string, change func(*Endpoint) error) (ep Endpoint, err error) {
	err = s.docs.Write("the webhook endpoint", func(tx *kv.Tx) error {
		var ok bool
		ep, ok, err = getEndpoint(tx, id)
		switch {
		case err != nil:
			return err
		case !ok:
			return fmt.Errorf("%w: no endpoint %q here", ErrNotFound, id)
		}
		if err := change(&ep); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketHooks).Bucket(bucketEndpoints), id, ep)
	})
	return ep, err
}

// Delete removes endpoint id of a workspace, its progress and its
// delivery log; an attempt in flight is abandoned.
func (s *Service) Delete(workspace, id string) error {
	if _, _, err := s.lookup(workspace, id); err != nil {
		return err
	}
	err := s.docs.Write("the webhook endpoint", func(tx *kv.Tx) error {
		b := tx.Bucket(bucketHooks)
		if err := b.Bucket(bucketEndpoints).Delete([]byte(id)); err != nil {
			return err
		}
		if err := b.Bucket(bucketState).Delete([]byte(id)); err != nil {
			return err
		}
		if err := b.Bucket(bucketDeliveries).DeleteBucket([]byte(id)); err != nil && err != kv.ErrBucketNotFound {
			return err
		}
		return deleteRequests(b, id)
	})
	if err != nil {
		return err
	}
	s.dropWorker(id)
	return nil
}

// dropWorker stops the worker of endpoint id, deleted, if it has one, and
// forgets its unsaved state.
func (s *Service) dropWorker(id string) {
	s.mu.Lock()
	w := s.workers[id]
	delete(s.workers, id)
	s.mu.Unlock()
	if w != nil {
		w.quit()
	}
	s.smu.Lock()
	delete(s.unsaved, id)
	delete(s.unsavedD, id)
	for k := range s.taken {
		if owner, _, ok := parseRequestKey([]byte(k)); ok && owner == id {
			delete(s.taken, k)
		}
	}
	s.smu.Unlock()
}

// load reads every endpoint and its progress.
func (s *Service) load() (eps []Endpoint, states map[string]state, err error) {
	states = map[string]state{}
	err = s.docs.View(func(tx *kv.Tx) error {
		b := tx.Bucket(bucketHooks)
		if b == nil {
			return nil
		}
		if err := b.Bucket(bucketEndpoints).ForEach(func(k, v []byte) error {
			var ep Endpoint
			if err := json.Unmarshal(v, &ep); err != nil {
				return fmt.Errorf("endpoint %s: %w", k, err)
			}
			eps = append(eps, ep)
			return nil
		}); err != nil {
			return err
		}
		return b.Bucket(bucketState).ForEach(func(k, v []byte) error {
			var st state
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("state of endpoint %s: %w", k, err)
			}
			states[string(k)] = st
			return nil
		})
	})
	return eps, states, err
}
