// The one entry point of every page. The page's HTML names its kind in
// <body data-page>, and each kind's code is a chunk of its own, so the
// start page never loads CodeMirror.
const pages = {
  start: () => import('./start.js'),
  editor: () => import('./editorpage.js'),
  workspace: () => import('./workspace.js'),
  history: () => import('./history.js'),
  embed: () => import('./embed.js'),
};

const { page, doc, workspace } = document.body.dataset;
const load = pages[page];
if (load) {
  load()
    .then((m) => m.main({ doc, workspace }))
    .catch((e) => {
      console.error(e);
      const p = document.createElement('p');
      p.className = 'fatal';
      p.textContent = 'This page failed to load: ' + e.message;
      document.body.prepend(p);
    });
}
