package access

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"io"
	"strings"
	"sync"
)

// Handles name documents and workspaces where a name must grant nothing
// and reveal nothing: in tokens and in the URLs they are used with. A
// handle is the internal id sealed with AES-256-GCM under the server's
// key, with a nonce derived from the id (HMAC-SHA-256): the same id always
// has the same handle, so a host can keep it; only the server can open
// one, so it reveals no id (and no first edit link); and nobody else can
// make one. A document's handle starts with "d-", a workspace's with "w-",
// and neither opens as the other. Rotating links changes no handle.
type Handles struct {
	doc, workspace handleKind
}

// handleKind seals the ids of one kind of thing.
type handleKind struct {
	prefix string
	aead   cipher.AEAD
	macs   *sync.Pool // of HMAC-SHA-256 under the nonces' key: a handle is made for every answer
}

// maxHandle bounds what Open decodes: ids are at most 128 bytes.
const maxHandle = 256

// NewHandles returns the handles made with key (at least 32 random bytes,
// kept for as long as handles must keep working).
func NewHandles(key []byte) *Handles {
	return &Handles{doc: newHandleKind(key, "d-", "document"), workspace: newHandleKind(key, "w-", "workspace")}
}

func newHandleKind(key []byte, prefix, kind string) handleKind {
	block, err := aes.NewCipher(subkey(key, kind+" handle"))
	if err != nil {
		panic("access: " + err.Error()) // a 32-byte key always makes a cipher
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic("access: " + err.Error())
	}
	nonceKey := subkey(key, kind+" handle nonce")
	return handleKind{prefix: prefix, aead: g, macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, nonceKey) }}}
}

// subkey derives a key for one purpose from the server's key, so that no
// two purposes share a key.
func subkey(key []byte, purpose string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("collab access: " + purpose))
	return h.Sum(nil)
}

// nonceOf appends the nonce of id to dst.
func (k handleKind) nonceOf(dst []byte, id string) []byte {
	h := k.macs.Get().(hash.Hash)
	h.Reset()
	io.WriteString(h, id)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	k.macs.Put(h)
	return append(dst, sum[:k.aead.NonceSize()]...)
}

func (k handleKind) seal(id string) string {
	n := k.aead.NonceSize()
	buf := k.nonceOf(make([]byte, 0, n+len(id)+k.aead.Overhead()), id)
	sealed := k.aead.Seal(buf, buf[:n], []byte(id), []byte(k.prefix))
	out := make([]byte, len(k.prefix)+base64.RawURLEncoding.EncodedLen(len(sealed)))
	copy(out, k.prefix)
	base64.RawURLEncoding.Encode(out[len(k.prefix):], sealed)
	return string(out)
}

func (k handleKind) open(handle string) (string, bool) {
	rest, ok := strings.CutPrefix(handle, k.prefix)
	// The decoder skips CR and LF even when strict: refused here, so that
	// one id has one handle.
	if !ok || len(handle) > maxHandle || strings.ContainsAny(rest, "\r\n") {
		return "", false
	}
	sealed, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	n := k.aead.NonceSize()
	if err != nil || len(sealed) < n+k.aead.Overhead() {
		return "", false
	}
	id, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(k.prefix))
	// Only the nonce of the id makes a handle: one name per id.
	if err != nil || !hmac.Equal(sealed[:n], k.nonceOf(nil, string(id))) {
		return "", false
	}
	return string(id), true
}

// Doc returns the handle of document id.
func (h *Handles) Doc(id string) string { return h.doc.seal(id) }

// Workspace returns the handle of workspace id.
func (h *Handles) Workspace(id string) string { return h.workspace.seal(id) }

// OpenDoc returns the document id of a document's handle; false if handle
// is none.
func (h *Handles) OpenDoc(handle string) (string, bool) { return h.doc.open(handle) }

// OpenWorkspace returns the workspace id of a workspace's handle; false
// if handle is none.
func (h *Handles) OpenWorkspace(handle string) (string, bool) { return h.workspace.open(handle) }
