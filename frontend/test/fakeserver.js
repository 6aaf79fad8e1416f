// A small in-memory server that follows docs/PROTOCOL.md, and WebSockets
// whose traffic a test moves by hand: shared by the tests of collab.js and
// pending.js.
import assert from 'node:assert/strict';
import { TextOperation } from '../src/ot.js';

export const publicID = (client) => 'u-' + client;
// opIDFor is the id a session of client `to` sees of op id `id`.
export const opIDFor = (id, to) => {
  const [client, seq] = id.split(':');
  return client === to ? id : `${publicID(client)}:${seq}`;
};

export class FakeServer {
  constructor(text, r) {
    this.r = r;
    this.text = text;
    this.revs = [null]; // revs[n] is revision n: {op, id, author}
    this.applied = new Map(); // op id -> {rev, json}
    this.newest = new Map(); // client id -> newest applied sequence
    this.sessions = new Map(); // socket -> {client}
    this.refuseResume = 0; // probability of answering a resume with the whole text
  }

  get head() {
    return this.revs.length - 1;
  }

  /** The revisions after `after` up to upTo as the REST history has them: every op id public. */
  revisions(after, upTo) {
    return this.revs.slice(after + 1, upTo + 1).map((v, i) => {
      const [client, seq] = v.id.split(':');
      return { rev: after + 1 + i, op: v.op.toJSON(), author: v.author, id: `${publicID(client)}:${seq}` };
    });
  }

  receive(sock, data) {
    const m = JSON.parse(data);
    const s = this.sessions.get(sock);
    if (!s) return;
    if (m.type === 'join') {
      s.client = m.client;
      const resume = m.rev !== undefined && m.rev <= this.head && this.r.next() >= this.refuseResume;
      // As the server does, others see a public user id, never the
      // client id, and op ids under it; a client's own ops keep its id.
      const joined = { type: 'joined', user: publicID(m.client), readOnly: false, doc: { id: 'd', name: 'f.txt', language: '' }, rev: this.head, users: [], ops: [] };
      if (resume) {
        joined.resumed = true;
        joined.ops = this.revs.slice(m.rev + 1).map((v, i) => ({ rev: m.rev + 1 + i, op: v.op.toJSON(), author: v.author, id: opIDFor(v.id, m.client) }));
      } else {
        joined.resumed = false;
        joined.text = this.text;
      }
      sock.deliver(joined);
      return;
    }
    if (!s.client) return sock.deliver({ type: 'error', code: 'not_joined' });
    if (m.type === 'ping') return sock.deliver({ type: 'pong' });
    if (m.type !== 'op') return;
    // A resend carries the id of the first send (its operation may have
    // been transformed since, and its rev moved on).
    const seen = this.applied.get(m.id);
    if (seen) return sock.deliver({ type: 'ack', rev: seen.rev, id: m.id, duplicate: true });
    const [client, seqText] = m.id.split(':');
    const seq = Number(seqText);
    assert.equal(client, s.client);
    if (seq <= (this.newest.get(client) || 0)) return sock.deliver({ type: 'error', code: 'stale_op', id: m.id });
    if (m.rev > this.head) return sock.deliver({ type: 'error', code: 'future_revision', id: m.id });
    let op = TextOperation.fromJSON(m.op);
    for (let n = m.rev + 1; n <= this.head; n++) [op] = TextOperation.transform(op, this.revs[n].op);
    this.text = op.apply(this.text);
    this.revs.push({ op, id: m.id, author: publicID(client) });
    this.applied.set(m.id, { rev: this.head });
    this.newest.set(client, seq);
    for (const [other] of this.sessions) {
      if (other === sock) other.deliver({ type: 'ack', rev: this.head, id: m.id });
      else other.deliver({ type: 'op', rev: this.head, op: op.toJSON(), author: publicID(client), id: opIDFor(m.id, this.sessions.get(other).client) });
    }
  }
}

// A WebSocket whose traffic the test moves by hand.
export function network(server) {
  const sockets = [];
  class FakeWS {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.up = []; // client -> server
      this.down = []; // server -> client (messages, framed on delivery)
      this.closeCode = null; // a close event not yet delivered
      sockets.push(this);
    }
    send(data) {
      if (this.readyState !== 1) throw new Error('send on a socket that is not open');
      this.up.push(data);
    }
    close(code = 1005) {
      if (this.readyState >= 2) return;
      this.drop(code);
    }
    drop(code) {
      this.readyState = 3;
      this.up = [];
      this.down = [];
      this.closeCode = code;
      server.sessions.delete(this);
    }
    deliver(m) {
      if (this.readyState === 1) this.down.push(m);
    }
  }
  return { sockets, FakeWS };
}

