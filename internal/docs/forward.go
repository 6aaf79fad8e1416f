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
// another and Config.Forward is set. settled reports whether that node
// settled the edit, res and err being its result; false leaves it to this
// node (no such node, or the answer wraps ErrNotHandedOver).
func (d *Document) forward(e Edit) (res Result, settled bool, err error) {
	fwd := d.m.cfg.Forward
	d.mu.Lock()
	node := d.writer
	d.mu.Unlock()
	if fwd == nil || node == "" || node == d.m.cfg.Node || e.OpID == "" {
		return Result{}, false, nil // without an op id, a retry could apply it twice
	}
	res, err = fwd(node, d.id, e)
	switch {
	case errors.Is(err, ErrNotHandedOver):
		d.m.cfg.Logger.Debug("an edit handed to another node came back: trying here", "doc", d.id, "node", node, "err", err)
		return Result{}, false, nil
	case err != nil:
		return Result{}, true, err
	}
	// Answer once this node has the revision too, as a Submit here would.
	return res, true, d.m.awaitRev(d, res.Rev, 0)
}

// SubmitHere submits e to document doc on this node for another node
// that handed it over (see Config.Forward), and never hands it on: it
// waits, briefly, until this node has e's base revision, then transforms
// and appends it as Submit does. Unlike Open it asks the Log nothing up
// front: were this node behind, the append would find out.
func (m *Manager) SubmitHere(doc string, e Edit) (Result, error) {
	d, err := m.openMissed(doc)
	if err != nil {
		return Result{}, err
	}
	defer d.Release()
	if err := m.awaitRev(d, e.Base, 0); err != nil {
		return Result{}, err
	}
	return d.submit(e, submitHere)
}
