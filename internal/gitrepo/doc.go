// Package gitrepo serves collab's workspaces as git repositories over
// git's smart HTTP protocol, for a stock git client: clone and fetch a
// workspace's history, push commits into a live session. No git binary is
// needed: the objects, the packs and the protocol's lines are go-git's
// (github.com/go-git/go-git/v5), the negotiation and the rules are here.
//
// # The history as commits
//
// The events of all of a workspace's documents, live and deleted (their
// revisions, and the changes of their paths: renames and moves,
// deletions, restorations, which docs keeps with their times), are merged
// in time order into one serial history and cut into edit sessions as
// docs cuts one document's (a pause longer than docs.SessionGap starts
// the next). Each session is one commit, on the one branch, main:
//
//   - its tree is every document with a path and text, at the path it
//     had at the session's end, as of the session's last event (an empty
//     document is no file; a deleted one is in no commit after its
//     deletion, and back in those after its restoration);
//   - its author is the session's first author, by the name the author
//     had at the session's end (docs keeps every name an author took,
//     with its time) and the e-mail "<author id>@collab"; the others
//     follow as Co-authored-by trailers;
//   - its committer is "collab <collab@collab>", and both dates are the
//     session's end (UTC);
//   - its subject names the files edited, renamed, deleted and restored;
//     a line counts the session's events with their first and last
//     times; a Collab-Revisions trailer per file edited gives its
//     revisions in the session ("src/main.go@12..40"), as the REST
//     history numbers them, and Collab-Renamed ("old -> new"),
//     Collab-Deleted and Collab-Restored trailers its changes of path.
//
// Nothing in a commit comes from the clock or chance, nor from anything
// that happens after its session: the same history makes the same commit
// ids on every call and on every node, and renaming a file, deleting or
// restoring one, or an author taking a new name changes only the commits
// made after it (their own session's). Sessions that a later event has
// closed never change; their commits are kept in memory per workspace,
// and a request extends them with the sessions closed since, so a fetch
// after one new session costs that session. What all workspaces keep is
// bounded in bytes (Config.CacheBytes, 256 MiB by default, an estimate of
// their objects' memory): beyond it the least recently used workspaces
// are dropped, and made again from the store by their next request. The last session is open: its
// commit is made for each request from the events up to the head, so a
// clone has everything typed up to that moment, and a fetch replaces it
// (a forced update of origin/main) while the session grows.
//
// What rewrites the history: a purge (the administrator's; a file's
// history removed for good), after which the commits are made again from
// the start and a fetch sees a forced update. An upgrade from a server
// that did not keep names does not: the changes of names made before it
// were not kept, so a document or an author is shown, up to its first
// change after the upgrade, by the name it had then, and every commit
// keeps its id (TestCommitIDsStayTheSame pins them).
//
// # Push
//
// A push updates main to a line of commits (no merges) on top of a commit
// of collab's: a closed session's, or an open session's commit that a
// clone or fetch gave. The last 32 per workspace are kept in memory; an
// older one (or any, after a restart) is made again: its parent is a
// closed session's commit, and it is the commit of the events of the
// session after it up to its end, which its message gives to the
// millisecond; each such prefix of the session is built, and the one with
// its hash is it. receive-pack advertises main as the last closed
// session's commit, which every such commit descends from, so git sends
// the push without asking for a fetch first while people keep typing.
//
// Everything is checked before anything is applied: the ancestry, every
// tree (regular files only, at most Config.MaxFiles), every file the push
// writes (UTF-8, no NUL byte, within the document size limit), the paths,
// the pack's size (Config.MaxPushBytes), and who may do what. A refused
// push changes nothing, and says why on the git client's terminal
// ("remote: collab: ...", and the reason of the refused ref).
//
// The pushed commits are followed file by file: a file keeps its identity
// through a commit that changes its text, and through one that removes
// it from one path and adds it at another: the same content, or, as git
// tells renames, mostly the same (of the files a commit removes and adds
// that no exact move explains, a pair whose texts share at least half
// their lines; for commits that move a few files at a time). Per document,
// the push makes one change: from its text in the commit built on to its
// text at the push's tip, as one edit submitted to the live document
// (docs.Document.Submit) with the document's revision in that commit as
// its base, so the server transforms it over whatever was typed since,
// and connected editors receive it like any other edit. A file the push
// adds is a new document (or, if a document has its path now, made
// meanwhile, an edit of it); a moved file's document is renamed, keeping
// its history and links; a removed file's document is deleted: to its
// workspace's trash, from which the owners restore it. Renames and
// deletions are the workspace's owners' (its edit link, an owner token):
// a push of either with an edit token is refused. The edits' author is
// the token's user, or else an author id derived from the commit
// author's e-mail (of the newest commit that changed the file), shown by
// the commit author's name.
//
// Each change carries the id "git-<tip>" (an edit's op id, a change of
// path's id). A commit pushed again (git sends it again until a fetch
// brings collab's own) is recognised: each document's change then starts
// from the newest of the push's commits that an earlier push applied to
// it, placed at the revision that commit became: the revisions between
// the base and there are walked, the push's own changes told apart from
// everyone else's, and the new change transformed over everyone else's.
// So nothing is applied twice, and a commit on top of one applied
// applies only what it adds. After a push, collab's history holds the
// pushed change inside an edit session of its own making, not the pushed
// commits: git pull --rebase brings the client onto it.
//
// # Credentials
//
// The server resolves a request's credential into an Access (see
// internal/server/git.go): a workspace's view link clones and fetches;
// its edit link pushes too; a workspace token (the basic-auth password
// at /git/{workspace handle}) does what its role says.
package gitrepo
