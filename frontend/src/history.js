// The history view: a slider over revisions showing the text at the chosen
// revision, what changed between it and the current text, who made the
// revision and when, blame in the gutter, and a restore button. It reads a
// revision at a time (and blame for that revision), never the whole log.
import { EditorState, StateField, StateEffect, RangeSet } from '@codemirror/state';
import { EditorView, Decoration, WidgetType, gutter, GutterMarker, lineNumbers } from '@codemirror/view';
import { api, el } from './ui.js';
import { cpToUtf16 } from './ot.js';

class Inserted extends WidgetType {
  constructor(text) {
    super();
    this.text = text;
  }
  toDOM() {
    return el('span', { class: 'hist-ins', text: this.text });
  }
}

class BlameMarker extends GutterMarker {
  constructor(text, title) {
    super();
    this.text = text;
    this.title = title;
  }
  toDOM() {
    return el('span', { class: 'blame', title: this.title, text: this.text });
  }
}

const setDiff = StateEffect.define();
const diffField = StateField.define({
  create: () => Decoration.none,
  update: (d, tr) => {
    for (const e of tr.effects) if (e.is(setDiff)) return e.value;
    return d.map(tr.changes);
  },
  provide: (f) => EditorView.decorations.from(f),
});
const setBlame = StateEffect.define();
const blameField = StateField.define({
  create: () => RangeSet.empty,
  update: (b, tr) => {
    for (const e of tr.effects) if (e.is(setBlame)) return e.value;
    return b;
  },
});

export async function historyPage(docId) {
  const base = '/api/docs/' + encodeURIComponent(docId);
  const slider = document.getElementById('slider');
  const info = document.getElementById('rev-info');
  const restore = document.getElementById('restore');
  const err = document.getElementById('error');
  document.getElementById('back').href = '/d/' + encodeURIComponent(docId);
  const view = new EditorView({
    parent: document.getElementById('editor'),
    state: EditorState.create({
      extensions: [EditorState.readOnly.of(true), EditorView.editable.of(false), EditorState.lineSeparator.of('\n'),
        gutter({ class: 'cm-blame-gutter', markers: (v) => v.state.field(blameField) }), lineNumbers(), diffField, blameField],
    }),
  });
  window.collabHistory = view;
  let head = (await api('GET', base)).rev;
  slider.min = '0';
  slider.max = String(head);
  slider.value = String(head);
  let shown = -1;
  let timer = null;

  async function show(rev) {
    shown = rev;
    try {
      const [doc, diff, blame, meta] = await Promise.all([
        api('GET', `${base}?rev=${rev}`),
        api('GET', `${base}/diff?from=${rev}&to=${head}`),
        api('GET', `${base}/blame?rev=${rev}`),
        rev > 0 ? api('GET', `${base}/revisions/${rev}`) : Promise.resolve(null),
      ]);
      if (shown !== rev) return;
      const text = doc.text;
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
      // Highlight what the current text changed: deleted ranges in red,
      // inserted text as green widgets at their place.
      const decos = [];
      let cp = 0;
      for (const c of diff.op) {
        if (typeof c === 'string') {
          decos.push(Decoration.widget({ widget: new Inserted(c), side: 1 }).range(cpToUtf16(text, cp)));
        } else if (c > 0) cp += c;
        else {
          const from = cpToUtf16(text, cp);
          cp -= c;
          const to = cpToUtf16(text, cp);
          if (from < to) decos.push(Decoration.mark({ class: 'hist-del' }).range(from, to));
        }
      }
      const marks = [];
      const lines = view.state.doc;
      for (const b of blame.lines) {
        if (b.line > lines.lines) break;
        marks.push(new BlameMarker(`r${b.rev} ${b.author || ''}`.slice(0, 18), `revision ${b.rev} by ${b.author || 'unknown'}`).range(lines.line(b.line).from));
      }
      view.dispatch({ effects: [setDiff.of(Decoration.set(decos, true)), setBlame.of(RangeSet.of(marks, true))] });
      info.textContent = meta
        ? `revision ${rev} of ${head} — by ${meta.author || 'unknown'} at ${new Date(meta.time).toLocaleString()}`
        : `revision 0 of ${head} — the empty document`;
      restore.disabled = rev === head;
    } catch (e) {
      err.textContent = e.message;
    }
  }

  slider.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => show(Number(slider.value)), 80);
  });
  restore.addEventListener('click', async () => {
    try {
      const r = await api('POST', `${base}/restore`, { rev: Number(slider.value) });
      head = r.rev;
      slider.max = String(head);
      slider.value = String(head);
      show(head);
    } catch (e) {
      err.textContent = e.message;
    }
  });
  show(head);
}
