package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/collab-editor/collab/client"
)

// maxReported caps the documents a failed convergence check describes.
const maxReported = 5

// converge checks every document once editing stopped: every client is
// synced and at the server's head revision with the server's text, the
// revision log runs 1..head without a gap, and every acknowledged op id is
// in the log exactly once (and no op id more than once).
//
// The clients are real ones (client.Client): -raw runs have nothing to check.
func converge(ctx context.Context, a *api, docs []*benchDoc) error {
	var errs []error
	for d, doc := range docs {
		if err := checkDoc(ctx, a, doc); err != nil {
			errs = append(errs, fmt.Errorf("document %d (%s): %w", d, doc.id, err))
			if len(errs) == maxReported || ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

func checkDoc(ctx context.Context, a *api, doc *benchDoc) error {
	for k, cl := range doc.clients {
		if err := cl.WaitSynced(ctx); err != nil {
			return fmt.Errorf("client %d has edits not acknowledged: %w", k, err)
		}
	}
	head, text, err := a.head(ctx, doc.id)
	if err != nil {
		return err
	}
	for k, s := range doc.clients {
		cl := s.(*client.Client)
		if err := cl.WaitRev(ctx, head); err != nil {
			return fmt.Errorf("client %d did not reach the head revision %d: %w", k, head, err)
		}
		if rev := cl.Rev(); rev != head {
			return fmt.Errorf("client %d is at revision %d, the server at %d", k, rev, head)
		}
		if got := cl.Text(); got != text {
			return fmt.Errorf("client %d: %s", k, textDiff(got, text))
		}
	}
	log, err := a.log(ctx, doc.id)
	if err != nil {
		return err
	}
	if log.Revs != head {
		return fmt.Errorf("the revision log ends at %d, the head is %d", log.Revs, head)
	}
	doc.track.mu.Lock()
	acked := slices.Clone(doc.track.acked)
	doc.track.mu.Unlock()
	return checkIDs(acked, log.IDs)
}

// checkIDs checks that every acknowledged op id occurs in the log exactly
// once, and that no op id occurs twice.
func checkIDs(acked []string, inLog map[string]int) error {
	for _, id := range acked {
		if n := inLog[id]; n != 1 {
			return fmt.Errorf("acknowledged op %s is in the revision log %d times", id, n)
		}
	}
	var dups []string
	for id, n := range inLog {
		if n > 1 {
			dups = append(dups, id)
		}
	}
	if len(dups) > 0 {
		sort.Strings(dups)
		return fmt.Errorf("op %s is in the revision log %d times", dups[0], inLog[dups[0]])
	}
	return nil
}

// textDiff describes where a client's text departs from the server's.
func textDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("text differs from the server's at byte %d (client %d bytes, server %d)", i, len(got), len(want))
}
