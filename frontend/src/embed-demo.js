// The embed demo's host script (a file, since the CSP allows no inline
// script). It does what a host site would: frame the embed, listen to its
// messages, and send it commands.
const $ = (id) => document.getElementById(id);
const frame = $('frame');
const log = $('log');
const params = new URLSearchParams(location.search);
$('doc').value = params.get('doc') || '';

function embed() {
  const id = $('doc').value.trim();
  if (!id) return;
  const q = new URLSearchParams({ name: $('name').value, color: $('color').value, theme: $('dark').checked ? 'dark' : 'light' });
  if ($('readonly').checked) q.set('readonly', '1');
  frame.src = '/embed/' + encodeURIComponent(id) + '?' + q;
}

function send(m) {
  frame.contentWindow.postMessage(m, location.origin);
}

$('setup').addEventListener('submit', (ev) => {
  ev.preventDefault();
  embed();
});
$('create').addEventListener('click', async () => {
  const resp = await fetch('/api/docs', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'demo.js', text: '// Type here, or open this document elsewhere too.\nconsole.log("hello");\n' }),
  });
  const doc = await resp.json();
  $('doc').value = doc.id;
  embed();
});
$('profile').addEventListener('click', () => send({ type: 'setProfile', name: $('name').value, color: $('color').value }));
$('focus').addEventListener('click', () => send({ type: 'focus' }));
$('get').addEventListener('click', () => send({ type: 'getText' }));

// A field of JSON, or its text when it is not JSON.
function json(id) {
  const v = $(id).value.trim();
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}
let events = 0;
$('send-event').addEventListener('click', () => {
  const to = $('event-to').value.split(',').map((s) => s.trim()).filter(Boolean);
  const m = { type: 'sendEvent', name: $('event-name').value.trim(), data: json('event-data'), id: ++events };
  if (to.length) m.to = to;
  if ($('event-exclude').checked) m.excludeSelf = true;
  send(m);
});
$('set-data').addEventListener('click', () => send({ type: 'setData', data: json('data') }));
$('get-data').addEventListener('click', () => send({ type: 'getData' }));

window.addEventListener('message', (ev) => {
  if (ev.source !== frame.contentWindow || !ev.data || ev.data.source !== 'collab') return;
  const line = document.createElement('div');
  line.textContent = new Date().toLocaleTimeString() + '  ' + JSON.stringify(ev.data);
  log.prepend(line);
});

if ($('doc').value) embed();
