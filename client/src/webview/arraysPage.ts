/**
 * The array page: what an `.npz` / `.npy` file holds — each array's name, dtype, shape and min / max / mean, the
 * label balance of label-like arrays (bars), and a preview of its first entries. Read-only.
 */
import type { ArraysSummary } from '../../../shared/protocol';
import type { ToPage } from './messages';
import { el, root } from './page';

const num = (x: number | undefined) => (x === undefined ? '—' : Number.isInteger(x) ? String(x) : Number(x.toPrecision(4)).toString());

export function drawArrays(msg: Extract<ToPage, { type: 'arrays' }>): void {
  const a: ArraysSummary = msg.arrays;
  root.replaceChildren(el('h1', msg.title));
  const size = a.bytes < 1024 * 1024 ? `${(a.bytes / 1024).toFixed(1)} KB` : `${(a.bytes / 1024 / 1024).toFixed(1)} MB`;
  root.append(
    el('p', `${a.kind === 'npz' ? `NumPy archive, ${a.arrays.length} array${a.arrays.length === 1 ? '' : 's'}` : 'NumPy array'}, ${size}. Read-only.`, 'muted'),
  );
  if (a.error) {
    root.append(el('p', `Could not read the file: ${a.error}`, 'error'));
    return;
  }
  const table = el('table', undefined, 'arrays');
  const head = el('tr');
  for (const h of ['array', 'dtype', 'shape', 'min', 'max', 'mean', 'labels']) head.append(el('th', h));
  table.append(head);
  for (const x of a.arrays) {
    const row = el('tr');
    row.dataset.array = x.name;
    const labels = x.labels ? x.labels.map((l) => `${num(l.value)}: ${l.count}`).join(', ') : x.error ? '' : '—';
    for (const c of [x.name, x.dtype, `[${x.shape.join(', ')}]`, num(x.min), num(x.max), num(x.mean), labels]) row.append(el('td', c));
    if (x.error) row.append(el('td', x.error, 'error'));
    table.append(row);
  }
  root.append(table);
  for (const x of a.arrays) {
    if (x.error) continue;
    const sec = el('section', undefined, 'array');
    sec.id = `array-${x.name}`;
    sec.append(el('h2', `${x.name}  ${x.dtype} [${x.shape.join(', ')}]`));
    const facts = [`${x.count} values`, `min ${num(x.min)}`, `max ${num(x.max)}`, `mean ${num(x.mean)}`];
    if (x.nonFinite) facts.push(`${x.nonFinite} NaN or infinite`);
    sec.append(el('p', facts.join(' · '), 'muted'));
    if (x.labels) {
      const bars = el('div', undefined, 'heads labels');
      const total = x.labels.reduce((n, l) => n + l.count, 0);
      for (const l of x.labels) {
        const r = el('div', undefined, 'head');
        r.append(el('span', `label ${num(l.value)}`, 'label'));
        const bar = el('span', undefined, 'bar');
        const fill = el('span', undefined, 'fill');
        fill.style.width = `${Math.round((100 * l.count) / total)}%`;
        bar.append(fill);
        r.append(bar, el('span', `${l.count} (${((100 * l.count) / total).toFixed(1)}%)`, 'value'));
        bars.append(r);
      }
      sec.append(bars);
    }
    if (x.preview.length) {
      const p = el('table', undefined, 'preview');
      x.preview.forEach((r, i) => {
        const tr = el('tr');
        tr.append(el('th', x.shape.length ? `[${i}]` : ''));
        for (const v of r) tr.append(el('td', num(v)));
        p.append(tr);
      });
      const perRow = x.shape.slice(1).reduce((m, n) => m * n, 1);
      const more = [
        x.shape.length && x.shape[0] > x.preview.length ? `${x.shape[0] - x.preview.length} more rows` : '',
        x.shape.length > 1 && perRow > (x.preview[0]?.length ?? 0) ? `first ${x.preview[0].length} of ${perRow} values per row (flattened)` : '',
      ]
        .filter(Boolean)
        .join('; ');
      sec.append(p);
      if (more) sec.append(el('p', `Preview: ${more}.`, 'muted'));
    }
    root.append(sec);
  }
}
