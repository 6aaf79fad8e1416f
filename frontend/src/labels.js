// Where the names on the others' cursors go, so that no two cover each
// other: a pure function of the carets' lines and columns.
//
// A name sits on the line above its caret (row 0 above), or below it on
// the first line. When that place is taken by another name that shows, it
// tries below, then two lines up, two down, and so on: each place covers
// one line of text ("band") over a run of columns, and two names never
// share columns of a band. Names that do not show (their owner has been
// still for a while: they appear on hover only) take their first place
// without reserving it.

/** How long a name shows after its owner moves or types (ms). */
export const LABEL_SHOWN = 3000;

/** The columns a name of n characters covers (its font is smaller than the text's). */
export const labelWidth = (name) => Math.ceil(Math.min([...name].length, 20) * 0.8) + 2;

/**
 * items: [{line (1-based), col, width, shown}]; returns for each (in the
 * same order) {side: 'above' | 'below', row (0: next to the line)}.
 */
export function placeLabels(items) {
  const taken = new Map(); // band (a line number) -> [[from, to)] columns
  const out = new Array(items.length);
  const order = items.map((_, i) => i).sort((a, b) => items[a].line - items[b].line || items[a].col - items[b].col);
  for (const i of order) {
    const it = items[i];
    // As many places below as there are names: one is always free.
    const offsets = [];
    for (let k = 1; k <= Math.max(2, items.length); k++) offsets.push(...[-k, k].filter((o) => it.line + o >= 1));
    let chosen = offsets[0];
    if (it.shown) {
      const from = it.col;
      const to = it.col + it.width;
      const free = (o) => !(taken.get(it.line + o) || []).some(([f, t]) => f < to && from < t);
      chosen = offsets.find(free) ?? offsets[0];
      const band = it.line + chosen;
      if (!taken.has(band)) taken.set(band, []);
      taken.get(band).push([from, to]);
    }
    out[i] = chosen < 0 ? { side: 'above', row: -chosen - 1 } : { side: 'below', row: chosen - 1 };
  }
  return out;
}
