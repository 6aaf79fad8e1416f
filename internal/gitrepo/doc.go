// Package gitrepo serves collab's workspaces as git repositories over
// git's smart HTTP protocol, for a stock git client: clone and fetch a
// workspace's history, push commits into a live session. No git binary is
// needed: the objects, the packs and the protocol's lines are go-git's
// (github.com/go-git/go-git/v5), the negotiation and the rules are here.
//
// # The history as commits
//
// The revisions of all of a workspace's documents are merged in time
// order into one serial history and cut into edit sessions as docs cuts
// one document's (a pause longer than docs.SessionGap starts the next).
// Each session is one commit, on the one branch, main:
//
//   - its tree is every document with text, at its path, as of the
//     session's last revision (an empty document is no file);
//   - its author is the session's first author, by the name the
//     workspace keeps for them and the e-mail "<author id>@collab";
//     the others follow as Co-authored-by trailers;
//   - its committer is "collab <collab@collab>", and both dates are the
//     session's end (UTC);
//   - its message names the files, and a Collab-Revisions trailer per
//     file gives the revisions of it the session holds
//     ("src/main.go@12..40"), as the REST history numbers them.
//
// Nothing in a commit comes from the clock or chance, so the same history
// makes the same commit ids on every call and on every node. Sessions that
// a later revision has closed never change; their commits are kept in
// memory per workspace (Config.Cached workspaces, the least recently used
// dropped), and a request extends them with the sessions closed since, so
// a fetch after one new session costs that session. The last session is
// open: its commit is made for each request from the revisions up to the
// head, so a clone has everything typed up to that moment, and a fetch
// replaces it (a forced update of origin/main) while the session grows.
//
// What rewrites the history: renaming a document (its path changes in
// every commit), an author changing their name, deleting a document (an
// owner's act, which takes its history with it). The commits are
// then made again from the start and a fetch sees a forced update.
//
// # Push
//
// A push updates main to a line of commits (no merges) on top of a commit
// of collab's: a closed session's, or one of the open session's commits
// made recently (the last 32 per workspace), which is what a clone or a
// fetch gave. receive-pack advertises main as the last closed session's
// commit, which every such commit descends from, so git sends the push
// without asking for a fetch first while people keep typing.
//
// Everything is checked before anything is applied: the ancestry, every
// tree (regular files only, at most Config.MaxFiles), every changed file
// (UTF-8, no NUL byte, within the document size limit), the pack's size
// (Config.MaxPushBytes). A refused push changes nothing, and says why on
// the git client's terminal ("remote: collab: ...", and the reason of the
// refused ref).
//
// Each pushed commit's change to each file, diffed against its parent's
// tree, is submitted to the live document (docs.Document.Submit) with the
// revision the parent corresponds to as its base: the server transforms it
// over whatever was typed since, and connected editors receive it like any
// other edit. A new path creates a document; a deleted file is emptied (a
// revision, so its history stays and a restore brings it back; the tree
// leaves empty documents out). The edits' author is an author id derived
// from the commit author's e-mail, shown by the commit author's name.
// Each edit carries the op id "git-<commit>": a commit pushed again
// applies nothing twice. After a push, collab's history holds the pushed
// change inside an edit session of its own making, not the pushed commit:
// git pull --rebase brings the client onto it.
package gitrepo
