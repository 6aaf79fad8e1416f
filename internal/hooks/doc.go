// Package hooks tells other systems what happens to collab's documents:
// webhooks signed as Standard Webhooks signs them, delivered from a
// durable outbox with retries, and the same events for Server-Sent Events
// streams. It knows nothing of collab's routes: the server decodes
// requests, checks credentials, and calls a Service.
//
// # Events
//
// An event is an entry of the documents' journal (docs.JournalEntry),
// shown to an Audience: document.created, document.renamed (old and new
// name), document.deleted (into its workspace's trash),
// document.restored (out of it), document.purged (gone for good, its
// history too), and document.changed, which summarises a
// document's revisions over Debounce (one per document per second by
// default, however busy it is) with their range (fromRev, toRev) and their
// authors (public author ids, and names where known). Its id,
// "evt_<store>_<seq>", is the webhook-id of every delivery of it and the
// id of its stream message: stable across retries and restarts, and
// unique (the store part is random, made with the store).
//
// The audience decides how the document is named and what links come
// with it: a view audience (a document's or workspace's view link) sees
// the view link only, never an edit link; an edit audience (an edit link,
// and the workspace endpoints made with one or with the API token) sees
// both; a token audience (a token's holder, and the workspace endpoints
// made with an owner token) sees the document's and the workspace's
// handles (Config.Handles) and no link and no internal id; the
// administrator (API token, server-wide endpoints) sees internal ids too.
// Every audience gets the document's handle, which grants nothing. Links
// are those of the document when the event happened.
//
// # Durability without slowing edits
//
// Nothing here runs on the edit path. Creations, renames and deletions
// are journaled by package docs in the transaction that makes them (an
// acknowledged change always has its event). Edits are already durable
// in the revision log when they are acknowledged; the Service hears of
// them afterwards (docs.Watcher), and Debounce later asks docs to
// summarise every document due, in one commit, against each document's
// durable cursor ("journaled up to revision N"). After a crash,
// docs.Manager.Unjournaled names the documents whose summary was due, and
// New makes them due at once: a restart loses no event.
//
// # Endpoints and delivery
//
// An Endpoint belongs to a workspace (created with its edit link, the API
// token or an owner token, which fixes its Audience: Edit, or Token for a
// token) or to the server (API token, Admin); it has a URL, an event type
// filter, a secret ("whsec_" + base64, made by the service and shown
// once, at creation), and can be disabled. An endpoint made or last
// changed with the workspace's edit link (ByLink) is disabled when the
// workspace's links are rotated (DisableByLink), until its owner enables
// it again. Each endpoint has a worker goroutine and a durable
// cursor into the journal: events are delivered in order, one at a time,
// at least once. An attempt is a POST of the event's JSON with the
// headers webhook-id, webhook-timestamp and webhook-signature
// ("v1,<base64 HMAC-SHA256 of id.timestamp.body>", made with the Standard
// Webhooks library), bounded by Timeout; a 2xx delivers it, anything else
// (another status, a timeout, a refused connection, a redirect) is retried
// after RetryBase doubled per attempt up to RetryMax, half of it random
// (jitter). An event still failing GiveUpAfter after its first attempt is
// marked failed and the endpoint is disabled with a reason; enabling it
// again goes on with the next event, and Redeliver sends any event again.
// A slow receiver holds up its own endpoint only: no lock is held across
// an attempt, and no attempt is made on a goroutine of the edit path.
//
// Progress (each endpoint's cursor) and the delivery log (each event's
// attempts: time, status, error, the start of the answer, the next
// attempt) are kept in memory and saved every SaveEvery in one commit
// (in parts, should a cluster's log not take it whole: its largest
// message bounds a change set), and on Close; after a crash, the events
// since the last save are sent again (receivers dedupe by webhook-id),
// and an event under retry carries on where the log says.
//
// # Addresses
//
// Unless AllowPrivate, deliveries go only to public addresses: a URL
// whose host is a loopback, private, link-local or otherwise special
// address, or "localhost", is refused when the endpoint is saved, and
// every connection is checked once its name is resolved, so a name that
// resolves to such an address (or starts to, DNS rebinding) is refused
// too. Redirects are not followed, no proxy from the environment is used,
// and at most 64 KiB of an answer is read (its first 512 bytes are kept).
//
// # Streams
//
// Events returns the journal's entries after a seq for a document, a
// workspace or everything, rendered for an audience; Changed is closed at
// the next new entry, so a stream reads, then waits, and never holds a
// lock while it writes. Resumable says whether a stream can resume after
// an id: the journal forgets entries after docs.Config.JournalKeep (72
// hours by default) or beyond JournalMax, and an id older than what it
// keeps is ErrExpired.
//
// # Clusters
//
// Over a docs.Manager in cluster mode, every node runs a Service, and
// one delivers: the holder of the lease "webhooks" (docs.Manager.Lease,
// renewed every LeaseTTL/3), which also summarises every node's edits.
// The others serve the API and the streams from their replica of the
// store; what they change there (endpoints, redeliveries asked for)
// reaches the holder through the Log. When the holder stops, another
// node takes over at its next renewal (at once after a Close, which
// gives up the lease; LeaseTTL after a crash) and carries on from the
// saved progress. See cluster.go.
//
// # Storage
//
// The service keeps its buckets in the documents' bbolt file (through
// docs.Manager.Write and View): see the bucket layout in hooks.go.
package hooks
