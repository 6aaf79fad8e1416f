// The demo host page's script: embeds a document and logs what the embed
// posts. (Served from /assets so the page needs no inline script.)
const frame = document.getElementById('frame');
const log = document.getElementById('log');
const params = new URLSearchParams(location.search);
document.getElementById('doc').value = params.get('doc') || '';
const load = () => {
  const id = document.getElementById('doc').value.trim();
  if (id) frame.src = '/embed/' + encodeURIComponent(id) + '?name=Demo&theme=light';
};
document.getElementById('load').onclick = load;
document.getElementById('rename').onclick = () => frame.contentWindow.postMessage({ type: 'setProfile', name: 'Host user', color: '#c678dd' }, '*');
document.getElementById('focus').onclick = () => frame.contentWindow.postMessage({ type: 'focus' }, '*');
document.getElementById('get').onclick = () => frame.contentWindow.postMessage({ type: 'getText' }, '*');
window.addEventListener('message', (ev) => {
  if (ev.data && ev.data.source === 'collab') log.textContent = JSON.stringify(ev.data) + '\n' + log.textContent;
});
if (params.get('doc')) load();
