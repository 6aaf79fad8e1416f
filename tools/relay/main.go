// Command relay is the baseline collab's server is measured against: a bare
// melody relay with collab's fan-out and nothing else. It numbers each
// document's edits, acknowledges each to its author and sends it to every
// other session of the document, one WebSocket frame per message; it does
// not transform, check, apply or store anything. Its CPU per edit is the
// floor of a one-write-per-message design.
//
//	go run ./tools/relay -addr 127.0.0.1:18182
//	collab-bench -url http://127.0.0.1:18182 -raw -docs 100 -clients 10 -rate 2
//
// It speaks the part of docs/PROTOCOL.md that collab-bench's -raw clients
// use: POST /api/docs, and on /api/docs/{id}/ws the messages join → joined
// and op → ack (to the author) and op (to the others), cursor → cursor (to
// the others). /metrics has the
// process collector's CPU and memory.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"strconv"
	"sync"

	"github.com/google/uuid"
	"github.com/olahol/melody"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// room is one document: its sessions and the number of its last edit.
type room struct {
	mu       sync.Mutex // held while an edit is numbered and queued, so every session sees one order
	rev      uint64
	sessions map[*melody.Session]string // session -> client id
}

type relay struct {
	mu    sync.Mutex
	rooms map[string]*room
	m     *melody.Melody
}

func (r *relay) room(id string) *room {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rooms[id]
}

func (r *relay) create(w http.ResponseWriter, _ *http.Request) {
	id := uuid.NewString()
	r.mu.Lock()
	r.rooms[id] = &room{sessions: map[*melody.Session]string{}}
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]string{"id": id})
}

func (r *relay) ws(w http.ResponseWriter, req *http.Request) {
	id := req.PathValue("id")
	if r.room(id) == nil {
		http.Error(w, "no such document", http.StatusNotFound)
		return
	}
	r.m.HandleRequestWithKeys(w, req, map[string]any{"doc": id})
}

// message is what clients send: join, op or cursor.
type message struct {
	Type   string          `json:"type"`
	Client string          `json:"client"`
	ID     string          `json:"id"`
	Op     json.RawMessage `json:"op"`
	Ranges json.RawMessage `json:"ranges"`
}

func (r *relay) message(s *melody.Session, data []byte) {
	var msg message
	if err := json.Unmarshal(data, &msg); err != nil {
		return
	}
	id, _ := s.Get("doc")
	rm := r.room(id.(string))
	switch msg.Type {
	case "join":
		rm.mu.Lock()
		rm.sessions[s] = msg.Client
		rev := rm.rev
		rm.mu.Unlock()
		joined, _ := json.Marshal(map[string]any{"type": "joined", "user": msg.Client, "rev": rev, "text": ""})
		s.Write(joined)
	case "op":
		rm.mu.Lock()
		author, ok := rm.sessions[s]
		if !ok {
			rm.mu.Unlock()
			return
		}
		rm.rev++
		rev := strconv.FormatUint(rm.rev, 10)
		ack := []byte(`{"type":"ack","rev":` + rev + `,"id":` + quote(msg.ID) + `}`)
		op := []byte(`{"type":"op","rev":` + rev + `,"op":` + string(msg.Op) + `,"author":` + quote(author) + `,"id":` + quote(msg.ID) + `}`)
		s.Write(ack)
		for peer := range rm.sessions {
			if peer != s {
				peer.Write(op)
			}
		}
		rm.mu.Unlock()
	case "cursor":
		rm.mu.Lock()
		if author, ok := rm.sessions[s]; ok {
			cursor := []byte(`{"type":"cursor","rev":` + strconv.FormatUint(rm.rev, 10) + `,"user":` + quote(author) + `,"ranges":` + string(msg.Ranges) + `}`)
			for peer := range rm.sessions {
				if peer != s {
					peer.Write(cursor)
				}
			}
		}
		rm.mu.Unlock()
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (r *relay) leave(s *melody.Session) {
	id, _ := s.Get("doc")
	if rm := r.room(id.(string)); rm != nil {
		rm.mu.Lock()
		delete(rm.sessions, s)
		rm.mu.Unlock()
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18182", "listen address")
	flag.Parse()
	log.Printf("relay listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, newHandler()))
}

// newHandler returns the relay's routes.
func newHandler() http.Handler {
	r := &relay{rooms: map[string]*room{}, m: melody.New()}
	r.m.Config.MaxMessageSize = 1 << 20
	r.m.Config.MessageBufferSize = 1024
	r.m.HandleMessage(r.message)
	r.m.HandleDisconnect(r.leave)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/docs", r.create)
	mux.HandleFunc("GET /api/docs/{id}/ws", r.ws)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {})
	mux.Handle("GET /metrics", promhttp.Handler())
	return mux
}
