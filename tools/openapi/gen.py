#!/usr/bin/env python3
"""Writes internal/server/openapi.json, the OpenAPI 3.1 description of the REST API.

The document is data; this script only keeps its repetitive parts (problem responses,
link parameters) consistent. Run it after changing the API, then review the diff:
    python3 tools/openapi/gen.py
"""
import json, os

def ref(name): return {"$ref": f"#/components/schemas/{name}"}
def prob(desc): return {"description": desc, "content": {"application/problem+json": {"schema": ref("Problem")}}}
def js(desc, schema, headers=None):
    r = {"description": desc, "content": {"application/json": {"schema": schema}}}
    if headers: r["headers"] = headers
    return r
def qp(name, desc, schema=None, required=False):
    return {"name": name, "in": "query", "required": required, "description": desc, "schema": schema or {"type": "string"}}

LINK = {"name": "id", "in": "path", "required": True, "description": "The document's edit link or view link (its `id` from `POST /api/docs`); with a token, its `handle` (and nothing else); with the API token, any of them or its internal id.", "schema": {"type": "string"}}
WS = {"name": "ws", "in": "path", "required": True, "description": "The workspace's edit or view link; with a token, its `handle`.", "schema": {"type": "string"}}
DELETED = {"name": "file", "in": "path", "required": True, "description": "A deleted file of the workspace, as its trash lists it: its edit link, its handle with a token, its internal id with the API token.", "schema": {"type": "string"}}
PURGE = {"name": "purge", "in": "query", "required": False, "description": "`true`: remove it and its history for good (the API token only).", "schema": {"type": "boolean"}}
FILE = {"name": "file", "in": "path", "required": True, "description": "A file of the workspace: its edit or view link, or its handle.", "schema": {"type": "string"}}
TOKEN = qp("token", "A token (a JWT, docs/EMBED.md) for this document or its workspace, when it is not in `Authorization: Bearer`: grants its role, under its user name, until it expires.")
REV = qp("rev", "A revision number; the head when absent.", {"type": "integer", "minimum": 0})
AFTER = qp("after", "Return revisions after this one.", {"type": "integer", "minimum": 0})
LIMIT = qp("limit", "Page size (1-1000, default 100).", {"type": "integer", "minimum": 1, "maximum": 1000})
ETAG = {"ETag": {"description": "Entity tag of this revision of the resource.", "schema": {"type": "string"}}}
CACHE = {"Cache-Control": {"description": "`immutable` for past revisions.", "schema": {"type": "string"}}}
E400, E401, E403, E404, E405 = prob("Bad request: a malformed parameter or body."), prob("`unauthorized`: missing or wrong API token; `invalid_token`, `token_expired`, `token_not_yet_valid`: a token that does not verify (with `WWW-Authenticate: Bearer error=\"invalid_token\"`)."), prob("`forbidden`: a view-only link or token, a token for another document or workspace (or a link instead of the handle with one), a rename or delete without an owner, or administrative routes without a configured token."), prob("No such document or link (or it was rotated)."), prob("Method not allowed.")
E507 = prob("`storage_full`: the disk refused the write (full or failing); nothing was changed. Reads are still served; retry later.")
E409, E412, E413, E415, E422 = prob("Conflict."), prob("The document changed since the If-Match revision."), prob("The body or the document would be too large."), prob("Unsupported content type."), prob("The operation does not fit the document.")
REPLAYED = {"Idempotent-Replayed": {"description": "`true` when the answer is the first answer to an earlier request with this Idempotency-Key; nothing was applied now.", "schema": {"type": "string", "enum": ["true"]}}}
NOTMOD = {"description": "Not modified (If-None-Match matched the ETag)."}
ADMIN = [{"apiToken": []}]

def docop(summary, desc, params, responses, body=None, security=None, tags=("documents",)):
    if TOKEN in params and "401" not in responses:
        responses = {**responses, "401": E401}  # a token that does not verify
    o = {"summary": summary, "description": desc, "tags": list(tags), "parameters": params, "responses": responses}
    if body: o["requestBody"] = body
    if security: o["security"] = security
    return o

schemas = {
  "Problem": {"type": "object", "description": "RFC 9457 problem details.", "required": ["type", "title", "status", "code"], "properties": {
    "type": {"type": "string", "format": "uri", "description": "https://collab.dev/problems/<code>"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "detail": {"type": "string"}, "code": {"type": "string", "description": "Stable error code."}}},
  "Links": {"type": "object", "required": ["view"], "properties": {"edit": {"type": "string", "description": "Grants editing; shown to editors only."}, "view": {"type": "string"}}},
  "Operation": {"type": "array", "description": "ot.js TextOperation JSON: positive integers retain, negative integers delete, strings insert; lengths in Unicode code points.",
    "items": {"oneOf": [{"type": "integer", "not": {"const": 0}}, {"type": "string", "minLength": 1}]}, "examples": [[3, "abc", -2, 5]]},
  "Document": {"type": "object", "required": ["id", "name", "language", "handle", "workspaceHandle", "created", "updated", "rev", "mode", "role", "settings"], "properties": {
    "id": {"type": "string", "description": "The id the caller knows the document by (the link used; the handle with a token)."}, "name": {"type": "string", "description": "A path such as src/main.go."},
    "language": {"type": "string"}, "workspace": {"type": "string", "description": "Internal workspace id (administrators only)."},
    "handle": {"type": "string", "description": "Names the document in tokens (`doc` claim) and in URLs used with one: grants nothing, reveals nothing, never changes."},
    "workspaceHandle": {"type": "string", "description": "Names the document's workspace in tokens (`workspace` claim)."},
    "role": {"type": "string", "enum": ["view", "edit", "owner"], "description": "What the caller may do: `owner` also renames, moves and deletes it."},
    "created": {"type": "string", "format": "date-time"}, "updated": {"type": "string", "format": "date-time"},
    "rev": {"type": "integer", "minimum": 0}, "mode": {"type": "string", "enum": ["edit", "view"]}, "links": ref("Links"), "settings": ref("Settings")}},
  "Settings": {"type": "object", "required": ["viewerEvents"], "description": "The document's settings; change them with PATCH.", "properties": {
    "viewerEvents": {"type": "boolean", "description": "View-only sessions may send app events (default false: they only receive them)."}}},
  "DocumentWithText": {"allOf": [ref("Document"), {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}]},
  "CreatedDocument": {"allOf": [ref("DocumentWithText"), {"type": "object", "properties": {"workspaceLinks": {"allOf": [ref("Links")], "description": "The workspace's links; absent when the document was made with a token."}}}]},
  "CreateDocument": {"type": "object", "required": ["name", "text"], "properties": {"name": {"type": "string"}, "text": {"type": "string"},
    "language": {"type": "string", "maxLength": 64, "description": "At most 64 bytes; from the name's extension when absent."}, "workspace": {"type": "string", "description": "A workspace's edit link, or, with an edit or owner token of it, its handle; a new workspace when absent."}}},
  "PutText": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
  "PutResult": {"type": "object", "required": ["doc", "rev", "op"], "properties": {"doc": ref("Document"),
    "rev": {"type": "integer", "description": "The revision the write became (for a replayed answer, the first request's)."}, "op": ref("Operation")}},
  "Patch": {"type": "object", "properties": {"name": {"type": "string"}, "language": {"type": "string", "maxLength": 64, "description": "At most 64 bytes."},
    "settings": {"type": "object", "description": "Settings to change; those left out stay as they are.", "properties": {"viewerEvents": {"type": "boolean"}}, "additionalProperties": False}}, "additionalProperties": False},
  "Revision": {"type": "object", "required": ["rev", "op", "author", "time"], "properties": {"rev": {"type": "integer"}, "op": ref("Operation"),
    "author": ref("AuthorID"), "id": {"type": "string", "description": "The op id as others see it: `<user id>:<seq>` of the client (tab) that made it; absent for REST writes."}, "time": {"type": "string", "format": "date-time"}}},
  "AuthorID": {"type": "string", "description": "Who made a revision: a public author id (`a` and 20 hex digits: a browser's author secret, or an embed token's subject), the user id (`u` and 20 hex digits) of a client that joined without an author secret, or a REST writer's name (`api`, or the `X-Collab-Author` header). Look its name up in the answer's `authors`.",
    "examples": ["a7c2e91f0b3d5a6c4e8f1", "u9d3f0b2a7c6e1d4f5a8b", "api"]},
  "AuthorProfile": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "color": {"type": "string", "description": "`#rrggbb`."}}},
  "Authors": {"type": "object", "description": "The names and colours of the authors the answer mentions, by author id, as the server keeps them now (the newest name an author joined or renamed themselves with, so a rename relabels their past revisions). An author without a kept name (`api`, a client that never sent a name) is absent: show the id.",
    "additionalProperties": ref("AuthorProfile"), "examples": [{"a7c2e91f0b3d5a6c4e8f1": {"name": "Ann", "color": "#e06c75"}}]},
  "RevisionWithAuthors": {"allOf": [ref("Revision"), {"type": "object", "required": ["authors"], "properties": {"authors": ref("Authors")}}]},
  "RevisionPage": {"type": "object", "required": ["revisions", "authors"], "properties": {"revisions": {"type": "array", "items": ref("Revision")}, "authors": ref("Authors"),
    "next": {"type": "integer", "description": "Pass as `after` for the next page; absent on the last page."}}},
  "Diff": {"type": "object", "required": ["from", "to", "op"], "properties": {"from": {"type": "integer"}, "to": {"type": "integer"}, "op": ref("Operation")}},
  "BlameLine": {"type": "object", "required": ["line", "rev", "author"], "properties": {"line": {"type": "integer"}, "rev": {"type": "integer"}, "author": ref("AuthorID")}},
  "Blame": {"type": "object", "required": ["rev", "lines", "authors"], "properties": {"rev": {"type": "integer"}, "lines": {"type": "array", "items": ref("BlameLine")}, "authors": ref("Authors")}},
  "Label": {"type": "object", "required": ["id", "rev", "name", "created"], "properties": {
    "id": {"type": "string", "description": "The label's id (for DELETE)."}, "rev": {"type": "integer", "minimum": 0, "description": "The revision it names."},
    "name": {"type": "string"}, "author": {"allOf": [ref("AuthorID")], "description": "Who made it (absent when unknown)."}, "created": {"type": "string", "format": "date-time"}},
    "examples": [{"id": "q2Xr0dYk9vW1tE3u", "rev": 1207, "name": "v1.2 sent to review", "author": "a7c2e91f0b3d5a6c4e8f1", "created": "2026-11-28T18:03:10.002Z"}]},
  "CreateLabel": {"type": "object", "required": ["rev", "name"], "additionalProperties": False, "properties": {
    "rev": {"type": "integer", "minimum": 0, "description": "A revision the document has (at most its head)."},
    "name": {"type": "string", "minLength": 1, "maxLength": 200, "description": "1-200 bytes of UTF-8 without control characters; need not be unique."}}},
  "LabelPage": {"type": "object", "required": ["labels", "authors"], "properties": {"labels": {"type": "array", "items": ref("Label"), "description": "Every label, in revision order (then in the order they were made)."}, "authors": ref("Authors")}},
  "Session": {"type": "object", "required": ["first", "last", "revisions", "start", "end", "authors", "added", "removed", "labels"], "description": "An edit session: consecutive revisions, each made at most 5 minutes after the one before it (a longer pause starts the next session), by one or several authors typing together. Its diff is one call: `GET /api/docs/{id}/diff?from={first-1}&to={last}&format=unified`.", "properties": {
    "first": {"type": "integer", "minimum": 1, "description": "Its first revision."}, "last": {"type": "integer", "minimum": 1, "description": "Its last revision."},
    "revisions": {"type": "integer", "minimum": 1, "description": "`last - first + 1`."},
    "start": {"type": "string", "format": "date-time", "description": "When its first revision was made."}, "end": {"type": "string", "format": "date-time", "description": "When its last revision was made."},
    "authors": {"type": "array", "items": ref("AuthorID"), "description": "Who made its revisions, in the order of their first revision in it (the first 64)."},
    "added": {"type": "integer", "minimum": 0, "description": "Lines added: the `+` lines of the unified diff from `first - 1` to `last`."},
    "removed": {"type": "integer", "minimum": 0, "description": "Lines removed: its `-` lines."},
    "labels": {"type": "array", "items": ref("Label"), "description": "The labels of revisions `first` to `last`."}},
    "examples": [{"first": 1180, "last": 1212, "revisions": 33, "start": "2026-11-28T17:59:49.524Z", "end": "2026-11-28T18:03:10.002Z", "authors": ["a7c2e91f0b3d5a6c4e8f1", "u9d3f0b2a7c6e1d4f5a8b"], "added": 12, "removed": 3, "labels": []}]},
  "SessionPage": {"type": "object", "required": ["sessions", "authors"], "properties": {"sessions": {"type": "array", "items": ref("Session"), "description": "The newest first."}, "authors": ref("Authors"),
    "next": {"type": "integer", "description": "Pass as `before` for the next (older) page; absent on the last page."}}},
  "Restore": {"type": "object", "required": ["rev"], "properties": {"rev": {"type": "integer", "minimum": 0}}, "additionalProperties": False},
  "Restored": {"type": "object", "required": ["rev", "restored"], "properties": {"rev": {"type": "integer", "description": "The new revision."}, "restored": {"type": "integer"}}},
  "ChatMessage": {"type": "object", "required": ["seq", "user", "name", "text", "time"], "properties": {"seq": {"type": "integer"}, "user": {"type": "string"},
    "name": {"type": "string"}, "text": {"type": "string"}, "time": {"type": "string", "format": "date-time"}}},
  "Range": {"type": "object", "required": ["anchor", "head"], "properties": {"anchor": {"type": "integer"}, "head": {"type": "integer"}}},
  "PresenceUser": {"type": "object", "required": ["id", "name", "color", "ranges"], "properties": {"id": {"type": "string", "description": "The user id of one client (a tab)."},
    "author": {"allOf": [ref("AuthorID")], "description": "Who is behind the client: the author of its revisions; two tabs of one person share it."}, "name": {"type": "string"},
    "color": {"type": "string"}, "ranges": {"type": ["array", "null"], "items": ref("Range")}, "readOnly": {"type": "boolean"},
    "data": ref("AppData"), "lastSeen": {"type": "string", "format": "date-time"}}},
  "AppData": {"type": "object", "description": "A client's app data: a JSON object the application keeps on each client (a role, an avatar URL, a status), at most 1 KiB of JSON (`-max-user-data-bytes`). Absent when empty.", "additionalProperties": True,
    "examples": [{"role": "reviewer", "status": "away"}]},
  "EventRequest": {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {
    "name": {"type": "string", "pattern": "^[A-Za-z0-9_.:/-]{1,64}$", "description": "The event's name."},
    "data": {"description": "Any JSON value, at most 8 KiB of compact JSON (`-max-event-bytes`); `null` when absent."},
    "to": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}, "description": "User ids (as in presence) whose sessions get the event; every session when absent. An id nobody present has gets nothing."}},
    "examples": [{"name": "tests", "data": {"state": "running"}}, {"name": "follow-me", "data": {"line": 12}, "to": ["u9d3f0b2a7c6e1d4f5a8b"]}]},
  "Delivered": {"type": "object", "required": ["delivered"], "properties": {"delivered": {"type": "integer", "minimum": 0, "description": "Sessions the event was queued for (a session far behind skips events and is not counted)."}}},
  "Announced": {"type": "object", "required": ["delivered", "documents"], "properties": {"delivered": {"type": "integer", "minimum": 0, "description": "Sessions the event was queued for."},
    "documents": {"type": "integer", "minimum": 0, "description": "Documents with at least one of them."}}},
  "Presence": {"type": "object", "required": ["rev", "users"], "properties": {"rev": {"type": "integer"}, "users": {"type": "array", "items": ref("PresenceUser")}}},
  "Workspace": {"type": "object", "required": ["id", "links", "handle", "created"], "properties": {"id": {"type": "string", "description": "The workspace's edit link."}, "links": ref("Links"),
    "handle": {"type": "string", "description": "Names the workspace in tokens (`workspace` claim)."}, "created": {"type": "string", "format": "date-time"}}},
  "ImportedWorkspace": {"allOf": [ref("Workspace"), {"type": "object", "required": ["files"], "properties": {"files": {"type": "array", "items": ref("Document"), "description": "The documents made, one per file of the archive; each `id` is its edit link."}}}]},
  "FilePage": {"type": "object", "required": ["files", "handle"], "properties": {"files": {"type": "array", "items": ref("Document")}, "handle": {"type": "string", "description": "The workspace's handle."},
    "next": {"type": "string", "description": "Pass as `after` for the next page."}}},
  "DeletedFile": {"allOf": [ref("Document"), {"type": "object", "required": ["deleted"], "properties": {
    "deleted": {"type": "string", "format": "date-time", "description": "When it was deleted."}, "deletedBy": {"type": "string", "description": "Who deleted it (an author id, as the history shows authors)."}}}],
    "description": "A deleted file, named as the workspace's file list named it (`id`: its edit link, or its handle with a token): these name it to restore it, but grant nothing until it is restored."},
  "DeletedPage": {"type": "object", "required": ["files", "handle"], "properties": {"files": {"type": "array", "items": ref("DeletedFile"), "description": "The most recently deleted first."},
    "handle": {"type": "string", "description": "The workspace's handle."}, "next": {"type": "string", "description": "Pass as `after` for the next page."}}},
  "RestoreFile": {"type": "object", "additionalProperties": False, "properties": {"name": {"type": "string", "description": "Restore it at this path instead of its own (which another file may have taken since)."}}},
  "RenameFile": {"type": "object", "additionalProperties": False, "properties": {"name": {"type": "string", "description": "The new path: a rename, or a move to another folder."}, "language": {"type": "string", "maxLength": 64}}},
  "DocPage": {"type": "object", "required": ["docs"], "properties": {"docs": {"type": "array", "items": ref("Document")}, "next": {"type": "string"}}},
  "Rotated": {"type": "object", "required": ["links"], "properties": {"links": ref("Links")}},
  "EmbedTokenRequest": {"type": "object", "properties": {"role": {"type": "string", "enum": ["view", "edit", "owner"], "description": "Required (or `mode`)."}, "mode": {"type": "string", "enum": ["view", "edit", "owner"], "description": "The older name of `role`."}, "name": {"type": "string"},
    "subject": {"type": "string", "maxLength": 256, "description": "Who the user is on your site (your user id for them): the author of the session's edits, the same for every token with this subject, so that history keeps one person as one author. Absent: the token's `name` is."},
    "data": {"allOf": [ref("AppData")], "description": "App data keys the session shows and cannot change (a key set to null stays absent); the session's own data fills the other keys."},
    "ttlSeconds": {"type": "integer", "minimum": 1, "maximum": 604800}}, "additionalProperties": False},
  "EmbedToken": {"type": "object", "required": ["token", "expires", "handle"], "properties": {"token": {"type": "string", "description": "A JWT (HS256), as a host would mint it (docs/EMBED.md)."}, "expires": {"type": "string", "format": "date-time"},
    "handle": {"type": "string", "description": "The handle of the document or workspace it grants."}, "url": {"type": "string", "description": "For a document: the embed's address, `/embed/{handle}?token=...`."}}},
  "Status": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}, "storage": {"type": "string", "enum": ["ok", "failing"], "description": "Readiness only: `failing` while the disk refuses writes (edits get `storage_full`; reads are served)."}}},
}

text_body = {"required": True, "content": {"application/json": {"schema": ref("PutText")}, "text/plain": {"schema": {"type": "string"}}}}
paths = {
  "/healthz": {"get": {"summary": "Liveness", "tags": ["operations"], "responses": {"200": js("Alive.", ref("Status"))}}},
  "/readyz": {"get": {"summary": "Readiness", "tags": ["operations"], "responses": {"200": js("Ready.", ref("Status")), "503": prob("Shutting down.")}}},
  "/metrics": {"get": {"summary": "Prometheus metrics", "tags": ["operations"], "responses": {"200": {"description": "Prometheus text format.", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
  "/api/openapi.json": {"get": {"summary": "This document", "tags": ["operations"], "responses": {"200": {"description": "OpenAPI 3.1.", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
  "/api/docs": {
    "post": {"summary": "Create a document", "tags": ["documents"], "description": "JSON, or a raw file body (text/plain or application/octet-stream) with `name`, `language` and `workspace` as query parameters. The answer's `id` is the document's edit link.",
      "parameters": [qp("name", "File name, for a raw body."), qp("language", "Language, for a raw body (at most 64 bytes).", {"type": "string", "maxLength": 64}), qp("workspace", "Workspace edit link (or, with a token, handle), for a raw body.")],
      "requestBody": {"required": True, "content": {"application/json": {"schema": ref("CreateDocument")}, "text/plain": {"schema": {"type": "string"}}, "application/octet-stream": {"schema": {"type": "string"}}}},
      "responses": {"201": js("Created.", ref("CreatedDocument"), {"Location": {"description": "The document's URL.", "schema": {"type": "string"}}, **ETAG}), "400": E400, "401": E401, "403": E403, "404": E404, "409": E409, "413": E413, "415": E415, "507": E507}},
    "get": {"summary": "Enumerate every document (administrators)", "tags": ["admin"], "security": ADMIN, "parameters": [qp("after", "Return documents after this internal id."), LIMIT],
      "responses": {"200": js("A page of documents.", ref("DocPage")), "400": E400, "401": E401, "403": E403}}},
  "/api/workspaces": {"post": {"summary": "Create a workspace", "tags": ["workspaces"], "responses": {"201": js("Created; `id` is its edit link.", ref("Workspace"))}}},
  "/api/workspaces/import": {"post": {"summary": "Import an archive as a new workspace", "tags": ["workspaces"],
    "description": "A zip (`application/zip`) or tar.gz (`application/gzip`) becomes a new workspace with one document per regular file, at its path in the archive (directories make nothing). "
      "The whole archive is checked before anything is created, so a refused archive creates nothing: every path is cleaned as a document name; `..`, absolute paths, duplicate paths (`invalid_path`, `duplicate_path`), "
      "symbolic and hard links and devices (`not_regular`), binary or non-UTF-8 files (`not_text`) answer 422 naming the entry; more than 1000 files (`too_many_files`), a file over the document size limit, "
      "more than 64 MiB uncompressed in all, or a body over the request limit (`too_large`) answer 413. Sizes are counted while decompressing, never taken from the archive's headers; "
      "an entry that inflates past its declared size (a zip bomb) answers 400 `invalid_archive`, like a damaged archive.",
    "requestBody": {"required": True, "content": {"application/zip": {"schema": {"type": "string", "contentMediaType": "application/zip"}}, "application/gzip": {"schema": {"type": "string", "contentMediaType": "application/gzip"}}}},
    "responses": {"201": js("Created; `id` is its edit link, as `POST /api/workspaces` answers, with the files made.", ref("ImportedWorkspace"), {"Location": {"description": "The new workspace's file list.", "schema": {"type": "string"}}}),
      "400": E400, "413": E413, "415": E415, "422": prob("An entry is refused (its path, type or content); `detail` names it."), "507": E507}}},
  "/api/workspaces/{ws}/export": {"get": {"summary": "Download a workspace as an archive", "tags": ["workspaces"],
    "description": "Streams a zip or tar.gz of the workspace's files at their paths, the current text of each. An edit or view link may export. A body cut short (no zip central directory, or no gzip trailer) means the export failed halfway.",
    "parameters": [WS, qp("format", "`zip` (the default) or `tar.gz`.", {"type": "string", "enum": ["zip", "tar.gz"], "default": "zip"})],
    "responses": {"200": {"description": "The archive.", "headers": {"Content-Disposition": {"description": "`attachment; filename=workspace.zip` (or `workspace.tar.gz`).", "schema": {"type": "string"}}},
      "content": {"application/zip": {"schema": {"type": "string", "contentMediaType": "application/zip"}}, "application/gzip": {"schema": {"type": "string", "contentMediaType": "application/gzip"}}}},
      "400": E400, "404": E404}}},
  "/api/workspaces/{ws}/files": {"get": {"summary": "List a workspace's files", "tags": ["workspaces"], "description": "By path prefix, paged by name. Each file's `id` is its link of the workspace link's mode, or its handle with a workspace token.",
    "parameters": [WS, qp("prefix", "Only names starting with this."), qp("after", "Names after this one (paging)."), LIMIT, TOKEN], "responses": {"200": js("A page of files.", ref("FilePage")), "400": E400, "401": E401, "403": E403, "404": E404}}},
  "/api/workspaces/{ws}/files/{file}": {
    "patch": {"summary": "Rename or move a file (owners)", "tags": ["workspaces"], "description": "For the workspace's owners: its edit link, an owner token of it, or the API token. Live sessions get a `meta` message.",
      "parameters": [WS, FILE, TOKEN], "requestBody": {"required": True, "content": {"application/json": {"schema": ref("RenameFile")}}},
      "responses": {"200": js("Renamed.", ref("Document")), "400": E400, "401": E401, "403": E403, "404": prob("No such workspace, or no such file in it."), "409": prob("Another file has that name."), "415": E415, "507": E507}},
    "delete": {"summary": "Delete a file (owners)", "tags": ["workspaces"], "description": "For the workspace's owners: its edit link, an owner token of it, or the API token. The file leaves the workspace (its path is free, its links and handle answer 404, live sessions are closed with code 4002) "
      "and goes to the workspace's trash with its whole history (`GET /api/workspaces/{ws}/deleted`), from which the owners restore it. With `?purge=true` (the API token only) it is removed for good, with its history.",
      "parameters": [WS, FILE, TOKEN, PURGE], "responses": {"204": {"description": "Deleted."}, "400": E400, "401": E401, "403": E403, "404": prob("No such workspace, or no such file in it."), "507": E507}}},
  "/api/workspaces/{ws}/deleted": {"get": {"summary": "List a workspace's deleted files (owners)", "tags": ["workspaces"], "description": "For the workspace's owners: its edit link, an owner token of it, or the API token. The most recently deleted first, with when and by whom.",
    "parameters": [WS, qp("after", "The previous page's `next`."), LIMIT, TOKEN], "responses": {"200": js("A page of deleted files.", ref("DeletedPage")), "400": E400, "401": E401, "403": E403, "404": E404}}},
  "/api/workspaces/{ws}/deleted/{file}/restore": {"post": {"summary": "Restore a deleted file (owners)", "tags": ["workspaces"], "description": "For the workspace's owners. The file comes back whole (its history, links and handle), at its own path or at `name`; "
      "the next revisions follow its last. 409 when another file has the path. The body is optional.",
    "parameters": [WS, DELETED, TOKEN], "requestBody": {"required": False, "content": {"application/json": {"schema": ref("RestoreFile")}}},
    "responses": {"200": js("Restored.", ref("Document")), "400": E400, "401": E401, "403": E403, "404": prob("No such workspace, or no such deleted file in it."), "409": prob("Another file has that path: restore it under another `name`."), "415": E415, "507": E507}}},
  "/api/workspaces/{ws}/deleted/{file}": {"delete": {"summary": "Purge a deleted file (administrators)", "tags": ["admin"], "security": ADMIN, "description": "Removes the file and its history for good: the workspace's git history is then made again without it (its commit ids after its creation change).",
    "parameters": [WS, DELETED], "responses": {"204": {"description": "Purged."}, "401": E401, "403": E403, "404": prob("No such workspace, or no such deleted file in it."), "507": E507}}},
  "/api/workspaces/{ws}/embed-tokens": {"post": {"summary": "Mint a workspace token (administrators)", "tags": ["admin"], "security": ADMIN, "description": "A token for every document of the workspace, in one role, as `POST /api/docs/{id}/embed-tokens` mints one for a document.",
    "parameters": [WS], "requestBody": {"required": True, "content": {"application/json": {"schema": ref("EmbedTokenRequest")}}},
    "responses": {"201": js("The token.", ref("EmbedToken")), "400": E400, "401": E401, "403": E403, "404": E404, "415": E415}}},
  "/api/workspaces/{ws}/rotate": {"post": {"summary": "Rotate a workspace's links (administrators)", "tags": ["admin"], "security": ADMIN, "parameters": [WS],
    "responses": {"200": js("The new links; the old ones stop working.", ref("Rotated")), "401": E401, "403": E403, "404": E404}}},
  "/api/docs/{id}": {
    "get": docop("Get a document", "Metadata and text; `?rev=N` for the text at revision N.", [LINK, REV, TOKEN],
      {"200": js("The document.", ref("DocumentWithText"), {**ETAG, **CACHE}), "304": NOTMOD, "400": E400, "403": E403, "404": E404}),
    "put": docop("Replace the text", "Diffs the new text against the current one and submits the minimal operation as an edit, transformed over concurrent edits like any other. `If-Match: \"<rev>\"` makes it conditional. `Idempotency-Key` makes a retry safe: "
      "a retry with the same key, text and If-Match within 24 hours of the write answers 200 with the write's own `rev` and `op` (and `Idempotent-Replayed: true`), however the document moved on since, and before If-Match is checked; "
      "the same key with another text or If-Match answers 422 `idempotency_key_reused`. A retry that arrives while the first request is still being written waits for it and gets its answer (never 409). "
      "Keys are opaque and independent (no order); they are scoped to the document and the caller's credential: the API token, a token's subject (or else its user name), or, for everyone holding the document's edit link, the link holders together. "
      "A keyed PUT whose text is the current text still records a revision (an operation that retains everything), so that its retry is answered too.",
      [LINK, TOKEN, {"name": "If-Match", "in": "header", "schema": {"type": "string"}, "description": "\"<rev>\" or an ETag of this API."},
       {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,255}$"}, "description": "Names this write for 24 hours (for example a UUID): 1-255 of A-Z a-z 0-9 _ -."},
       {"name": "X-Collab-Author", "in": "header", "schema": {"type": "string"}, "description": "Author recorded in the history (default \"api\")."}],
      {"200": js("Applied, or the first answer to this Idempotency-Key's request.", ref("PutResult"), {**ETAG, **REPLAYED}), "400": E400, "403": E403, "404": E404, "412": E412, "413": E413, "415": E415,
       "422": prob("`idempotency_key_reused`: the Idempotency-Key was used for another request (another text or If-Match) in the last 24 hours."), "507": E507}, text_body),
    "patch": docop("Rename, change the language or the settings", "Live sessions get a `meta` message. `settings.viewerEvents` says whether view-only sessions may send app events. Renaming (or moving: the name is a path) takes the edit link or, with a token, an owner token.", [LINK, TOKEN], {"200": js("Updated.", ref("Document")), "400": E400, "403": E403, "404": E404, "409": E409, "507": E507, "415": E415},
      {"required": True, "content": {"application/json": {"schema": ref("Patch")}}}),
    "delete": docop("Delete a document (owners)", "For its owners: an owner token (of the document or its workspace) or the API token; a workspace's edit link deletes its files with `DELETE /api/workspaces/{ws}/files/{file}`. "
      "The document leaves its workspace into the workspace's trash with its history (see `GET /api/workspaces/{ws}/deleted`); its links and handle answer 404; live sessions are closed with code 4002. "
      "With `?purge=true` (the API token only, which may then name a deleted document by its internal id) it is removed for good, with its history.", [LINK, TOKEN, PURGE], {"204": {"description": "Deleted."}, "400": E400, "401": E401, "403": E403, "404": E404, "507": E507}, security=[{"apiToken": []}, {"token": []}])},
  "/api/docs/{id}/raw": {"get": docop("Download the text", "text/plain with the file name in Content-Disposition; `?rev=N` for a past revision.", [LINK, REV, TOKEN],
    {"200": {"description": "The text.", "headers": {**ETAG, **CACHE, "Content-Disposition": {"schema": {"type": "string"}}}, "content": {"text/plain": {"schema": {"type": "string"}}}}, "304": NOTMOD, "404": E404})},
  "/api/docs/{id}/revisions": {"get": docop("List revisions", "Paged; each with its time, author and operation, and the authors' names (`authors`).", [LINK, AFTER, LIMIT, TOKEN], {"200": js("A page.", ref("RevisionPage")), "400": E400, "404": E404})},
  "/api/docs/{id}/revisions/{rev}": {"get": docop("One revision", "With its author's name. The revision never changes, its author's name may: revalidate with the ETag (`Cache-Control: private, no-cache`).", [LINK, {"name": "rev", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}, TOKEN],
    {"200": js("The revision.", ref("RevisionWithAuthors"), {**ETAG, **CACHE}), "304": NOTMOD, "400": E400, "404": E404})},
  "/api/docs/{id}/diff": {"get": docop("Changes between two revisions", "As the operation from `from` to `to` (JSON), or as a unified diff (`format=unified` or `Accept: text/x-diff`) that `patch` applies to the text at `from`: three lines of context (`context`), `\\ No newline at end of file` after a last line without one, empty when the texts are equal. "
    "The unified diff is line-based; the operation is the revisions between composed (within 1,000 revisions), or a line diff of the two texts. What an edit session changed is `from={first-1}&to={last}`.",
    [LINK, qp("from", "Start revision (default 0).", {"type": "integer", "minimum": 0}), qp("to", "End revision (default head).", {"type": "integer", "minimum": 0}),
     qp("format", "`op` or `unified`.", {"type": "string", "enum": ["op", "unified"]}),
     qp("context", "Unified diff only: lines of context around each change (default 3); as many as the texts have lines gives one hunk of the whole text (for a side-by-side view that folds unchanged runs itself).", {"type": "integer", "minimum": 0, "maximum": 10000000}), TOKEN],
    {"200": {"description": "The changes.", "headers": ETAG, "content": {"application/json": {"schema": ref("Diff")}, "text/x-diff": {"schema": {"type": "string"}}}}, "304": NOTMOD, "400": E400, "404": E404})},
  "/api/docs/{id}/blame": {"get": docop("Blame", "For each line, the revision and author that last changed it, and the authors' names. Revalidate with the ETag: names change.", [LINK, REV, TOKEN], {"200": js("Per line.", ref("Blame"), ETAG), "304": NOTMOD, "400": E400, "404": E404})},
  "/api/docs/{id}/sessions": {"get": docop("Edit sessions", "The history grouped into edit sessions (see `Session`), the newest first, with their authors' names, line counts and labels. Paged by `limit` and `before`; as fast at 100,000 revisions as at ten (the grouping is indexed as revisions are made).",
    [LINK, qp("before", "Sessions that start before this revision (the previous page's `next`); all when absent.", {"type": "integer", "minimum": 1}),
     qp("limit", "Page size (1-200, default 50).", {"type": "integer", "minimum": 1, "maximum": 200}), TOKEN],
    {"200": js("A page of sessions.", ref("SessionPage")), "400": E400, "404": E404})},
  "/api/docs/{id}/labels": {
    "get": docop("Labels (named versions)", "Every label of the document, in revision order, with their authors' names.", [LINK, TOKEN], {"200": js("The labels.", ref("LabelPage")), "404": E404}),
    "post": docop("Name a revision", "Labels revision `rev` (\"v1.2 sent to review\"). Needs edit access: the edit link, an edit token or the API token. Its author is the token's, or the `X-Collab-Author` header (the browser editor sends its `joined.author`), or `api`. At most 1000 labels a document (`413`).",
      [LINK, TOKEN, {"name": "X-Collab-Author", "in": "header", "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}, "description": "The label's author (default \"api\")."}],
      {"201": js("The new label.", ref("Label")), "400": E400, "403": E403, "404": prob("No such document, or no such revision."), "413": prob("The document has 1000 labels."), "415": E415, "507": E507},
      {"required": True, "content": {"application/json": {"schema": ref("CreateLabel")}}})},
  "/api/docs/{id}/labels/{label}": {"delete": docop("Remove a label", "Needs edit access.", [LINK, {"name": "label", "in": "path", "required": True, "description": "The label's `id`.", "schema": {"type": "string"}}, TOKEN],
    {"204": {"description": "Removed."}, "403": E403, "404": E404, "507": E507})},
  "/api/docs/{id}/restore": {"post": docop("Restore a revision", "Appends a revision whose text is the text at `rev`; history is never rewritten.", [LINK, TOKEN],
    {"200": js("Restored.", ref("Restored")), "400": E400, "403": E403, "404": E404, "415": E415, "507": E507}, {"required": True, "content": {"application/json": {"schema": ref("Restore")}}})},
  "/api/docs/{id}/chat": {"get": docop("Chat history", "The document's chat, oldest first.", [LINK, qp("after", "Messages after this sequence number.", {"type": "integer", "minimum": 0}), LIMIT, TOKEN],
    {"200": js("Messages.", {"type": "object", "required": ["messages"], "properties": {"messages": {"type": "array", "items": ref("ChatMessage")}}}), "400": E400, "404": E404})},
  "/api/docs/{id}/presence": {"get": docop("Who is here", "Users present now, with names, colours and selections (code points at `rev`).", [LINK, TOKEN], {"200": js("Presence.", ref("Presence")), "404": E404})},
  "/api/docs/{id}/ws": {"get": docop("Open the realtime session (WebSocket)", "Upgrades to the collaboration protocol described in docs/PROTOCOL.md.",
    [LINK, TOKEN, qp("readonly", "`1` for a view-only session.")], {"101": {"description": "Switching protocols to WebSocket."}, "400": E400, "401": E401, "403": E403, "404": E404, "429": prob("Too many connections from this address.")}, tags=("realtime",))},
  "/api/docs/{id}/events": {"post": docop("Send an app event to the document's sessions", "Delivers an app event (docs/PROTOCOL.md, `event`) at once to every session of the document, or to the sessions of the users in `to`. Receivers get it with `from` `\"api\"`, or `\"admin\"` with the API token. Ephemeral: sessions not connected miss it. "
      "Needs edit access: the edit link, an edit token or the API token. Without the API token a document takes `-events-per-second` events (default 20, bursts of twice that); beyond, `429 rate_limited`.",
    [LINK, TOKEN], {"200": js("Delivered (`0` when nobody it was for is connected).", ref("Delivered")), "400": E400, "403": E403, "404": E404, "413": E413, "415": E415,
     "429": prob("`rate_limited`: more events to this document than `-events-per-second`; retry after `Retry-After` seconds.")},
    {"required": True, "content": {"application/json": {"schema": ref("EventRequest")}}}, tags=("realtime",))},
  "/api/admin/events": {"post": {"summary": "Announce an app event to every session (administrators)", "tags": ["admin", "realtime"], "security": ADMIN,
    "description": "Delivers an app event to every session of every document on this server, or to the sessions of the users in `to` wherever they are; receivers get it with `from` `\"admin\"`.",
    "requestBody": {"required": True, "content": {"application/json": {"schema": ref("EventRequest")}}},
    "responses": {"200": js("Delivered.", ref("Announced")), "400": E400, "401": E401, "403": E403, "413": E413, "415": E415}}},
  "/api/admin/backup": {"get": {"summary": "Back up the whole store (administrators)", "tags": ["admin", "operations"], "security": ADMIN,
    "description": "Streams a consistent copy of the whole store while edits go on: the revisions in the revision log are checkpointed first, then a read transaction's snapshot of the bbolt file is written out. It holds every edit acknowledged before the request, and is a complete `collab.db`. To restore: stop the server, put the copy in place as `collab.db`, delete `collab.db.wal`, start (docs/OPERATIONS.md). `collab backup -o FILE` calls this route.",
    "responses": {"200": {"description": "The copy, a bbolt file of `Content-Length` bytes; a shorter body means the copy failed halfway.",
      "headers": {"Content-Disposition": {"description": "`attachment; filename=\"collab-<UTC time>.db\"`.", "schema": {"type": "string"}}, "Content-Length": {"description": "The copy's size in bytes.", "schema": {"type": "integer"}}},
      "content": {"application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}},
      "401": E401, "403": E403, "507": E507}}},
  "/api/docs/{id}/rotate": {"post": docop("Rotate a document's links (administrators)", "New edit and view links; the old ones stop working and their live sessions are closed with 4003.", [LINK],
    {"200": js("The new links.", ref("Rotated")), "401": E401, "403": E403, "404": E404}, security=ADMIN, tags=("admin",))},
  "/api/docs/{id}/embed-tokens": {"post": docop("Mint a token (administrators)", "A short-lived token (a JWT, HS256) for this document, one role and one user: the same token a host mints itself with the shared secret (docs/EMBED.md). It names the document by its handle, never by a link. The answer's `url` (`/embed/{handle}?token=...`) is the iframe's address.", [LINK],
    {"201": js("The token.", ref("EmbedToken")), "400": E400, "401": E401, "403": E403, "404": E404, "415": E415}, {"required": True, "content": {"application/json": {"schema": ref("EmbedTokenRequest")}}}, security=ADMIN, tags=("admin",))},
}

# Webhooks and event streams (docs/WEBHOOKS.md).
schemas.update({
  "HookParams": {"type": "object", "additionalProperties": False, "description": "An endpoint's settings; on PATCH, absent fields stay as they are.", "properties": {
    "url": {"type": "string", "format": "uri", "maxLength": 2048, "description": "http or https, no user name or password. Without `-webhook-allow-private`, only public addresses (checked when saved and at every connection)."},
    "types": {"type": "array", "items": {"type": "string", "enum": ["document.created", "document.renamed", "document.deleted", "document.changed", "document.restored", "document.purged"]}, "description": "The event types it receives; empty or absent for all."},
    "description": {"type": "string", "maxLength": 512}, "enabled": {"type": "boolean", "description": "Default true. Enabling an endpoint the server disabled goes on with the events after the one that failed."}}},
  "Attempt": {"type": "object", "required": ["time", "durationMs"], "properties": {
    "time": {"type": "string", "format": "date-time"}, "status": {"type": "integer", "description": "The answer's HTTP status; absent when none came."},
    "error": {"type": "string", "description": "Why it failed: a status other than 2xx, a timeout, a refused connection, an address that is not public."},
    "durationMs": {"type": "integer"}, "response": {"type": "string", "description": "The first 512 bytes of the answer's body."}}},
  "Delivery": {"type": "object", "required": ["event", "type", "status", "attempts", "log"], "description": "One event's way to one endpoint.", "properties": {
    "event": {"type": "string", "description": "The event id: the `webhook-id` of every attempt."}, "type": {"type": "string"},
    "status": {"type": "string", "enum": ["pending", "delivered", "failed"]}, "attempts": {"type": "integer", "description": "Attempts made."},
    "firstAttempt": {"type": "string", "format": "date-time"}, "nextAttempt": {"type": "string", "format": "date-time", "description": "Pending: when the next attempt is due."},
    "log": {"type": "array", "items": ref("Attempt"), "description": "The newest 20 attempts."}}},
  "Hook": {"type": "object", "required": ["id", "url", "types", "enabled", "created", "updated"], "properties": {
    "id": {"type": "string"}, "url": {"type": "string"}, "types": {"type": "array", "items": {"type": "string"}}, "description": {"type": "string"},
    "enabled": {"type": "boolean"}, "disabledReason": {"type": "string", "description": "Why the server disabled it: an event that failed for `-webhook-give-up`."},
    "created": {"type": "string", "format": "date-time"}, "updated": {"type": "string", "format": "date-time"},
    "pending": ref("Delivery")}},
  "HookCreated": {"allOf": [ref("Hook"), {"type": "object", "required": ["secret"], "properties": {"secret": {"type": "string", "description": "`whsec_` and base64: the Standard Webhooks signing secret. Shown only here."}}}]},
  "HookList": {"type": "object", "required": ["hooks"], "properties": {"hooks": {"type": "array", "items": ref("Hook")}}},
  "DeliveryPage": {"type": "object", "required": ["deliveries"], "properties": {"deliveries": {"type": "array", "items": ref("Delivery")},
    "next": {"type": "string", "description": "The `before` of the next page, when there may be one."}}},
  "DocumentEvent": {"type": "object", "required": ["id", "type", "timestamp", "data"], "description": "The body of a webhook and the `data` of a stream message.", "properties": {
    "id": {"type": "string"}, "type": {"type": "string", "enum": ["document.created", "document.renamed", "document.deleted", "document.changed", "document.restored", "document.purged"]},
    "timestamp": {"type": "string", "format": "date-time"},
    "data": {"type": "object", "required": ["document", "fromRev", "toRev"], "properties": {
      "document": {"type": "object", "required": ["id", "name", "links"], "properties": {
        "id": {"type": "string", "description": "The document as the receiver knows it: its edit link (edit links, workspace endpoints), its view link (view links), its internal id (the API token)."},
        "name": {"type": "string"}, "workspace": {"type": "string", "description": "Internal workspace id (API token only)."}, "links": ref("Links")}},
      "oldName": {"type": "string"}, "newName": {"type": "string"},
      "fromRev": {"type": "integer"}, "toRev": {"type": "integer"},
      "authors": {"type": "array", "items": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}}}}}},
})
HOOK = {"name": "hook", "in": "path", "required": True, "schema": {"type": "string"}}
EVENT = {"name": "event", "in": "path", "required": True, "description": "An event id (`evt_…`).", "schema": {"type": "string"}}
LAST = [{"name": "Last-Event-ID", "in": "header", "required": False, "description": "Resume after this event id: the events after it, none twice.", "schema": {"type": "string"}},
        qp("lastEventId", "The same as the `Last-Event-ID` header, for clients that cannot set it.")]
STREAM = {"200": {"description": "`text/event-stream`: each event as `id: <event id>`, `event: <type>`, `data: <DocumentEvent JSON>`; a comment every `-events-heartbeat`.",
  "content": {"text/event-stream": {"schema": {"type": "string"}}}}, "400": E400, "401": E401, "403": E403, "404": E404,
  "410": prob("`events_expired`: the Last-Event-ID is older than the events kept (`-event-retention`); start again without it.")}
paths["/api/docs/{id}/events"]["get"] = docop("Follow the document's events (Server-Sent Events)", "document.renamed, document.changed (one per `-change-debounce`), document.deleted (which ends the stream) of this document, from now on or after `Last-Event-ID`. With a view link, never an edit link. Not with a token.",
  [LINK] + LAST, STREAM, tags=("realtime",))
paths["/api/workspaces/{ws}/events"] = {"get": {"summary": "Follow the workspace's events (Server-Sent Events)", "tags": ["workspaces", "realtime"], "description": "Every event of the workspace's documents; with its view link, never an edit link. Not with a token.", "parameters": [WS] + LAST, "responses": STREAM}}
paths["/api/admin/events"]["get"] = {"summary": "Follow every document's events (administrators)", "tags": ["admin", "realtime"], "security": ADMIN, "parameters": LAST, "responses": STREAM}
def hookops(prefix, params, who, security=None, tags=("workspaces",)):
    def op(summary, desc, extra, responses, body=None):
        o = {"summary": summary, "description": desc + " " + who, "tags": list(tags), "parameters": params + extra, "responses": responses}
        if body: o["requestBody"] = body
        if security: o["security"] = security
        return o
    body = {"required": True, "content": {"application/json": {"schema": ref("HookParams")}}}
    errs = {"400": E400, "401": E401, "403": E403, "404": E404}
    paths[prefix] = {
      "get": op("List webhook endpoints", "", [], {"200": js("The endpoints.", ref("HookList")), **errs}),
      "post": op("Add a webhook endpoint", "It receives the events from now on, signed with its secret, which only this answer shows.", [], {"201": js("Created.", ref("HookCreated")), **errs, "409": prob("`too_many`: `-webhooks-per-scope` endpoints already."), "415": E415}, body)}
    paths[prefix + "/{hook}"] = {
      "get": op("A webhook endpoint", "With the delivery under way, if any.", [HOOK], {"200": js("The endpoint.", ref("Hook")), **errs}),
      "patch": op("Change a webhook endpoint", "", [HOOK], {"200": js("The endpoint.", ref("Hook")), **errs, "415": E415}, body),
      "delete": op("Remove a webhook endpoint", "With its delivery log.", [HOOK], {"204": {"description": "Removed."}, **errs})}
    paths[prefix + "/{hook}/deliveries"] = {"get": op("Delivery log", "The newest event first: status, attempts (time, status, error, the start of the answer), the next attempt.", [HOOK, qp("before", "An event id: the page before it."), LIMIT], {"200": js("A page.", ref("DeliveryPage")), **errs})}
    paths[prefix + "/{hook}/deliveries/{event}/redeliver"] = {"post": op("Send an event again", "Now, out of turn, with the same webhook-id; for the event under way, its next attempt is brought forward.", [HOOK, EVENT], {"202": js("Queued.", ref("Delivery")), **errs, "409": prob("`too_many`: 100 redeliveries queued already.")})}
hookops("/api/workspaces/{ws}/hooks", [WS], "Needs the workspace's edit link (or the API token); endpoints get the workspace's documents' events with their edit links.")
hookops("/api/admin/hooks", [], "Server-wide endpoints get every document's events with internal ids (administrators).", security=ADMIN, tags=("admin",))

doc = {
  "openapi": "3.1.0",
  "info": {"title": "collab", "version": "1.0.0", "summary": "Collaborative code editing: documents, their full history, and realtime sessions.",
    "description": "Documents are files edited live over WebSockets (docs/PROTOCOL.md). Access is by capability link: the `{id}` of a document route is the caller's edit or view link; or by a token (a JWT minted by a host application for its own users, docs/EMBED.md) in `Authorization: Bearer` or `?token=`, with the document's handle as `{id}`. Administrative routes need `Authorization: Bearer <API token>`. Errors are RFC 9457 problem documents with a stable `code`.",
    "license": {"name": "MIT", "identifier": "MIT"}},
  "servers": [{"url": "/"}],
  "tags": [{"name": n} for n in ["documents", "workspaces", "realtime", "admin", "operations"]],
  "paths": paths,
  "components": {"schemas": schemas, "securitySchemes": {"apiToken": {"type": "http", "scheme": "bearer", "description": "The server's COLLAB_API_TOKEN."},
    "token": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "A token for a document or workspace (docs/EMBED.md); also accepted as `?token=`."}}},
}
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
with open(os.path.join(root, "internal", "server", "openapi.json"), "w") as f:
    json.dump(doc, f, indent=1, ensure_ascii=False)
    f.write("\n")
