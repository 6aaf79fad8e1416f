// The mark on transactions that carry other people's edits (or a resync
// from the server): they are not sent back, not undone by our undo, and
// not rewritten by lineendings.js.
import { Annotation } from '@codemirror/state';

export const remoteEdit = Annotation.define();

/** Whether tr carries a remote edit. */
export const isRemote = (tr) => tr.annotation(remoteEdit) === true;
