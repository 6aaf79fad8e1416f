package docs

import "github.com/collab-editor/collab/internal/kv"

// Settings are a document's options, kept in its metadata (Meta.Settings).
// The zero value is every setting's default, and the safe choice.
type Settings struct {
	// ViewerEvents lets view-only sessions send app events to the
	// document's sessions (they always receive them).
	ViewerEvents bool `json:"viewerEvents,omitempty"`
}

// UpdateSettings changes a document's settings with change, made durable
// before it returns; subscribers get the new metadata (a Meta event).
func (m *Manager) UpdateSettings(id string, change func(*Settings)) (Meta, error) {
	return m.updateMeta(id, "the settings", func(_ *kv.Tx, meta *Meta) error {
		change(&meta.Settings)
		return nil
	})
}
