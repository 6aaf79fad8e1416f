package docs

import (
	"encoding/json"
	"time"

	"github.com/collab-editor/collab/internal/kv"
)

// A lease lets one node of a cluster do what only one should (deliver
// the webhooks, say): a record of who holds it and until when, kept in
// the links bucket beside the settings and written like any other
// metadata, so that the Log's compare-and-set orders every node's
// attempts to take it. Its times are the nodes' clocks (Config.Now),
// which must agree to well within a lease's ttl.
type lease struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

func leaseKey(name string) []byte { return settingKey("lease:" + name) }

// Clustered reports whether m is in cluster mode (Config.Log set).
func (m *Manager) Clustered() bool { return m.cl != nil }

// Lease takes lease name for holder until ttl from now, or renews it,
// if it is free, expired, or holder's already; it reports whether holder
// holds it. A node that finds it held by another, unexpired, writes
// nothing, and does not ask the Log: its replica may be a moment behind,
// so a lease just released or renewed elsewhere is seen at a later call
// (a node that finds it free writes, and the compare-and-set settles who
// gets it). Holding it is safe only until ttl after the call began: renew
// it well before (every ttl/3, say), and stop what it guards when a
// renewal fails or says no. In local mode there is no one to share with:
// it returns true and writes nothing.
func (m *Manager) Lease(name, holder string, ttl time.Duration) (held bool, err error) {
	if m.cl == nil {
		return true, nil
	}
	err = m.commit.do("the lease", func(tx *kv.Tx) error {
		held = false // fn runs again when another node wrote first
		b := tx.Bucket(bucketLinks)
		now := m.cfg.Now()
		if l, ok := readLease(b, name); ok && l.Holder != holder && now.Before(l.Expires) {
			return nil
		}
		v, err := json.Marshal(lease{Holder: holder, Expires: now.Add(ttl).UTC()})
		if err != nil {
			return err
		}
		held = true
		return b.Put(leaseKey(name), v)
	})
	return held && err == nil, err
}

// ReleaseLease gives up lease name if holder holds it, so that another
// node may take it at once rather than after it expires. In local mode it
// does nothing.
func (m *Manager) ReleaseLease(name, holder string) error {
	if m.cl == nil {
		return nil
	}
	return m.commit.do("the lease", func(tx *kv.Tx) error {
		b := tx.Bucket(bucketLinks)
		if l, ok := readLease(b, name); !ok || l.Holder != holder {
			return nil
		}
		return b.Delete(leaseKey(name))
	})
}

// readLease reads lease name; ok is false if there is none (or it does
// not decode, which frees it too).
func readLease(b *kv.Bucket, name string) (l lease, ok bool) {
	v := b.Get(leaseKey(name))
	if v == nil || json.Unmarshal(v, &l) != nil {
		return lease{}, false
	}
	return l, true
}
