// An independent client of collab's realtime protocol, written from
// docs/PROTOCOL.md on ot.js's own client state machine (ot.Client:
// Synchronized / AwaitingConfirm / AwaitingWithBuffer), for
// TestOtJSClientsConverge. Every message in either direction is delayed by
// a random time (order kept), like a slow, jittery network.
//
//   node otjs-client.mjs OT_DIR WS_URL NAME EDITS SEED MAX_DELAY_MS
//
// (Node 20 and 21 need --experimental-websocket.)
//
// It makes EDITS random edits (Basic Multilingual Plane only: ot.js counts
// UTF-16 units, the protocol code points, and the two agree there), waits
// for its last ack and prints {"done": true}. It then reads a revision on
// stdin, waits until it has it, prints {"rev", "text", "acked"} and exits.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const [otDir, url, name, editsArg, seedArg, maxDelayArg] = process.argv.slice(2);
const ot = createRequire(otDir + '/package.json')('ot');
const edits = Number(editsArg);
const maxDelay = Number(maxDelayArg);

let seed = Number(seedArg) >>> 0;
function random() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(random() * n);

const fail = (why) => {
  process.stderr.write(`${name}: ${why}\n`);
  process.exit(1);
};

// delayed() makes a queue: its function runs f after a random delay, in
// the order given (one timer at a time: timers of different lengths that
// end in one millisecond may fire in either order).
function delayed() {
  const queue = [];
  let last = 0;
  const pump = () => {
    while (queue.length > 0 && queue[0].at <= Date.now()) queue.shift().f();
    if (queue.length > 0) setTimeout(pump, queue[0].at - Date.now());
  };
  return (f) => {
    last = Math.max(last, Date.now() + int(maxDelay + 1));
    queue.push({ at: last, f });
    if (queue.length === 1) setTimeout(pump, last - Date.now());
  };
}
const later = { up: delayed(), down: delayed() };

const ws = new WebSocket(url);
const send = (m) => later.up(() => ws.send(JSON.stringify(m)));

let text = null;
let client = null;
let seq = 0;
let user = ''; // the public user id the server gave
let inflight = ''; // the id of the operation awaiting its ack
const acked = [];
let made = 0;
let target = Infinity;

function randomEdit() {
  const op = new ot.TextOperation();
  const n = text.length;
  if (n > 0 && int(4) === 0) {
    const p = int(n);
    const k = 1 + int(Math.min(3, n - p));
    op.retain(p).delete(k).retain(n - p - k);
  } else {
    const words = ['a', 'bc', ' ', 'x\n', '日本', 'é', '\r\n', 'func'];
    const p = int(n + 1);
    op.retain(p).insert(words[int(words.length)]).retain(n - p);
  }
  text = op.apply(text);
  client.applyClient(op);
  made++;
}

function tick() {
  if (made < edits) {
    randomEdit();
    setTimeout(tick, int(10));
  } else {
    settle();
  }
}

function settle() {
  if (!(client.state instanceof ot.Client.Synchronized)) return setTimeout(settle, 5);
  process.stdout.write(JSON.stringify({ done: true }) + '\n');
  finish();
}

function finish() {
  if (client && client.revision >= target && client.state instanceof ot.Client.Synchronized) {
    process.stdout.write(JSON.stringify({ rev: client.revision, text, acked }) + '\n');
    ws.close(1000);
    process.exit(0);
  }
}

function handle(m) {
  switch (m.type) {
    case 'joined':
      if (m.resumed) fail('resumed without asking');
      user = m.user;
      text = m.text;
      client = new ot.Client(m.rev);
      client.sendOperation = (rev, op) => {
        inflight = `${name}:${++seq}`;
        send({ type: 'op', rev, id: inflight, op: op.toJSON() });
      };
      client.applyOperation = (op) => {
        text = op.apply(text);
      };
      tick();
      break;
    case 'ack':
      if (m.id !== inflight) fail(`ack of ${m.id}, awaiting ${inflight}`);
      if (m.rev !== client.revision + 1) fail(`ack at ${m.rev} after revision ${client.revision}`);
      acked.push(user + m.id.slice(name.length)); // as the history shows it
      inflight = '';
      client.serverAck();
      finish();
      break;
    case 'op':
      if (m.rev !== client.revision + 1) fail(`op at ${m.rev} after revision ${client.revision}`);
      client.applyServer(ot.TextOperation.fromJSON(m.op));
      finish();
      break;
    case 'error':
      fail(`error ${m.code}: ${m.message}`);
  }
}

ws.onopen = () => send({ type: 'join', client: name, name });
ws.onmessage = (ev) => later.down(() => {
  const data = JSON.parse(ev.data);
  for (const m of Array.isArray(data) ? data : [data]) handle(m);
});
ws.onclose = (ev) => {
  if (ev.code !== 1000 && ev.code !== 1005) fail(`closed: ${ev.code} ${ev.reason}`);
};
ws.onerror = () => fail('WebSocket error');

createInterface({ input: process.stdin }).on('line', (line) => {
  target = Number(line);
  finish();
});
