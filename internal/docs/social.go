package docs

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/collab-editor/collab/internal/kv"
)

// ChatMessage is one message of a document's chat.
type ChatMessage struct {
	Seq    uint64    `json:"seq"`
	User   string    `json:"user"`
	Name   string    `json:"name"`
	Text   string    `json:"text"`
	Time   time.Time `json:"time"`
	Client string    `json:"-"`
}

// AppendChat stores a chat message and returns it numbered. The chat keeps
// the newest maxKeep messages.
func (m *Manager) AppendChat(id string, msg ChatMessage, maxKeep int) (ChatMessage, error) {
	msg.Time = m.cfg.Now().UTC()
	err := m.commit.do("the chat message", func(tx *kv.Tx) error {
		b, err := docBucket(tx, id)
		if err != nil {
			return err
		}
		chat := b.Bucket(subChat)
		seq, err := chat.NextSequence()
		if err != nil {
			return err
		}
		msg.Seq = seq
		v, err := json.Marshal(msg)
		if err != nil {
			return err
		}
		if err := chat.Put(revKey(seq), v); err != nil {
			return err
		}
		if seq > uint64(maxKeep) {
			return chat.Delete(revKey(seq - uint64(maxKeep)))
		}
		return nil
	})
	return msg, err
}

// Chat returns up to limit chat messages after sequence number after.
func (m *Manager) Chat(id string, after uint64, limit int) (out []ChatMessage, err error) {
	err = m.store.view("", func(vw *view) error {
		b, err := docBucket(vw.tx, id)
		if err != nil {
			return err
		}
		c := b.Bucket(subChat).Cursor()
		for k, v := c.Seek(revKey(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			var msg ChatMessage
			if err := json.Unmarshal(v, &msg); err != nil {
				return fmt.Errorf("docs: corrupt chat message %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, msg)
		}
		return nil
	})
	return out, err
}

// PutPresence stores the presence records of some users of a document
// (user id -> JSON, owned by the presence package), in one group commit.
func (m *Manager) PutPresence(id string, records map[string][]byte) error {
	return m.commit.doLocal("the presence", func(tx *kv.Tx) error {
		b, err := docBucket(tx, id)
		if err != nil {
			return err
		}
		pres := b.Bucket(subPres)
		for user, v := range records {
			if err := pres.Put([]byte(user), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// Presence returns the stored presence records of a document.
func (m *Manager) Presence(id string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := m.store.view("", func(vw *view) error {
		b, err := docBucket(vw.tx, id)
		if err != nil {
			return err
		}
		return b.Bucket(subPres).ForEach(func(k, v []byte) error {
			out[string(k)] = append([]byte(nil), v...)
			return nil
		})
	})
	return out, err
}
