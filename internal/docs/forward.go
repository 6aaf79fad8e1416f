package docs

import "errors"

// Edits handed between nodes (Config.Forward). Compare-and-append lets
// the node that writes a document most often keep winning the race for
// it: its own edits follow its own appends at once, while another node
// learns of each through its follower, transforms its edit and tries
// again, and under a steady stream of the first node's edits loses every
// time. After forwardAfter lost races, such an edit goes to the node that
// keeps winning, which submits it as its own (SubmitHere); the revision
// comes back through the follower like any other, with the edit's op id,
// so the client's session hears of it as of its own.

// forward hands e to the node that wrote d's newest revision, if it is
// another and Config.Forward is set. tried reports whether it asked; ok
// whether that node settled the edit, res and err being its result;
// false leaves it to this node (no such node, or it did not settle it:
// out of reach, behind, or losing races itself).
func (d *Document) forward(e Edit) (res Result, tried, ok bool, err error) {
	fwd := d.m.cfg.Forward
	d.mu.Lock()
	node := d.writer
	d.mu.Unlock()
	if fwd == nil || node == "" || node == d.m.cfg.Node || e.OpID == "" {
		return Result{}, false, false, nil // without an op id, a retry could apply it twice
	}
	res, err = fwd(node, d.id, e)
	if err != nil {
		if settled(err) {
			return Result{}, true, true, err
		}
		d.m.cfg.Logger.Debug("an edit handed to another node came back: trying here", "doc", d.id, "node", node, "err", err)
		return Result{}, true, false, nil
	}
	// Answer once this node has the revision too, as a Submit here would.
	if err := d.m.catchUpTo(d, &ConflictError{Doc: d.id, Head: res.Rev}); err != nil {
		return Result{}, true, true, err
	}
	return res, true, true, nil
}

// settled reports whether a forwarded edit's error is the edit's own
// (the same on any node), not the other node's state.
func settled(err error) bool {
	for _, e := range []error{ErrBadOperation, ErrTooLarge, ErrStaleOp, ErrNotFound, ErrInvalid} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// SubmitHere submits e to document doc on this node for another node
// that handed it over (see Config.Forward), and never hands it on: it
// waits, briefly, until this node has e's base revision, then transforms
// and appends it as Submit does.
func (m *Manager) SubmitHere(doc string, e Edit) (Result, error) {
	d, err := m.Open(doc)
	if err != nil {
		return Result{}, err
	}
	defer d.Release()
	if d.durableRev() < e.Base {
		if err := m.catchUpTo(d, &ConflictError{Doc: doc, Head: e.Base}); err != nil {
			return Result{}, err
		}
	}
	return d.submit(e, submitHere)
}
