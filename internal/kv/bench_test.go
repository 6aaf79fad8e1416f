package kv_test

import (
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/collab-editor/collab/internal/kv"
)

// BenchmarkRead reads a nested bucket's keys, by Get and by cursor,
// straight through bbolt and through Wrap: Wrap should cost next to
// nothing.
func BenchmarkRead(b *testing.B) {
	db := open(b, "a.db")
	err := db.Update(func(tx *bolt.Tx) error {
		top, err := tx.CreateBucket([]byte("top"))
		if err != nil {
			return err
		}
		sub, err := top.CreateBucket([]byte("sub"))
		if err != nil {
			return err
		}
		for i := range 100 {
			if err := sub.Put(fmt.Appendf(nil, "k%03d", i), []byte("value")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	key := []byte("k050")
	b.Run("bolt", func(b *testing.B) {
		db.View(func(tx *bolt.Tx) error {
			for b.Loop() {
				sub := tx.Bucket([]byte("top")).Bucket([]byte("sub"))
				sub.Get(key)
				c := sub.Cursor()
				for k, _ := c.Seek(key); k != nil; k, _ = c.Next() {
				}
			}
			return nil
		})
	})
	b.Run("kv", func(b *testing.B) {
		db.View(func(btx *bolt.Tx) error {
			for b.Loop() {
				tx := kv.Wrap(btx)
				sub := tx.Bucket([]byte("top")).Bucket([]byte("sub"))
				sub.Get(key)
				c := sub.Cursor()
				for k, _ := c.Seek(key); k != nil; k, _ = c.Next() {
				}
			}
			return nil
		})
	})
}
