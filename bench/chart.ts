/**
 * The CURVES rows (`bench/curves.ts`) as a chart and as tables. Pure functions of the report
 * rows, hand-written SVG, no dependencies (nothing here loads the library, so a saved run can be
 * drawn without a server):
 * - `renderCurvesSvg(rows)`: one 900×600 SVG with four panels (Lock cycles/s, queue items/s,
 *   scheduler tasks/s, leader failover p50 ms with p99 dashed); x = participants on a log2 scale,
 *   ticked at the measured values; y from 0; the run's caption at the bottom.
 * - `writeChart(rows, file)`: writes that SVG (creating the directory) when there are CURVES rows.
 * - `curvesTable(rows)`: a Markdown table per curve, one line per point.
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { JsonValue, Row } from './lib.js';

/** The workload id of the rows drawn here: `CURVES` of bench/curves.ts (not imported, so the chart loads no recipe code). */
const WORKLOAD = 'CURVES';

interface Series {
  field: string;
  label: string;
  dashed?: boolean;
}

interface CurveSpec {
  curve: string;
  title: string;
  x: string;
  y: string;
  series: Series[];
}

/** The four panels, in reading order. */
const SPECS: readonly CurveSpec[] = [
  {
    curve: 'lock',
    title: 'Lock: acquire + release cycles/s',
    x: 'contenders on one lock',
    y: 'cycles/s',
    series: [{ field: 'ops_per_s', label: 'cycles/s' }],
  },
  { curve: 'queue', title: 'DistributedQueue: items/s draining a backlog', x: 'consumers', y: 'items/s', series: [{ field: 'items_per_s', label: 'items/s' }] },
  { curve: 'scheduler', title: 'TaskScheduler: no-op tasks/s', x: 'workers', y: 'tasks/s', series: [{ field: 'tasks_per_s', label: 'tasks/s' }] },
  {
    curve: 'failover',
    title: 'LeaderLatch: close() → next leader',
    x: 'participants',
    y: 'ms',
    series: [
      { field: 'p50_ms', label: 'p50' },
      { field: 'p99_ms', label: 'p99', dashed: true },
    ],
  },
];

const WIDTH = 900;
const HEIGHT = 600;
const COLORS = ['#1f5fa8', '#c2452d'];
/** Panel frame: room for the tick labels and the axis titles. */
const PAD = { left: 68, right: 18, top: 34, bottom: 46 };
const TOP = 44;
const BOTTOM = 30;

/** Escapes text for SVG/XML content and attribute values. */
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Coordinates rounded to 0.1 px. */
const px = (v: number): string => String(Math.round(v * 10) / 10);

function num(v: JsonValue | undefined): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** The rows of one curve with a usable `n` (positive), ordered by `n`. */
function curveRows(rows: readonly Row[], curve: string): Row[] {
  return rows
    .filter((r) => r['workload'] === WORKLOAD && r['curve'] === curve && (num(r['n']) ?? 0) > 0)
    .sort((a, b) => (a['n'] as number) - (b['n'] as number));
}

/** A table cell's number: integers plain, 3 significant digits below 100. */
function fmt(v: number): string {
  if (Number.isInteger(v) || Math.abs(v) >= 100) return String(Math.round(v));
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** A tick label: 3 significant digits, no trailing zeros, 1.5k / 20k from 1000 up. */
function fmtTick(v: number): string {
  if (Math.abs(v) < 1000) return String(Number(v.toPrecision(3)));
  return `${Number((v / 1000).toFixed(Math.abs(v) >= 10_000 ? 0 : 2))}k`;
}

/** 0 and 4–6 round ticks up to at least `max` (steps 1, 2, 2.5, 5 × 10^k). */
function yTicks(max: number): number[] {
  const top = max > 0 ? max : 1;
  const raw = top / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = 0; v < top + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

interface Frame {
  x0: number;
  y0: number;
  w: number;
  h: number;
}

/** x position of `n` on a log2 scale through the measured values. */
function xScale(f: Frame, ns: readonly number[]): (n: number) => number {
  const lo = Math.log2(Math.min(...ns));
  const hi = Math.log2(Math.max(...ns));
  if (hi === lo) return () => f.x0 + f.w / 2;
  const inset = 12;
  return (n) => f.x0 + inset + ((Math.log2(n) - lo) / (hi - lo)) * (f.w - 2 * inset);
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${px(x)}" y="${px(y)}"${attrs ? ` ${attrs}` : ''}>${esc(s)}</text>`;
}

/** Frame, ticks, grid lines and axis titles of one panel. */
function axes(spec: CurveSpec, f: Frame, ns: readonly number[], ticks: readonly number[], x: (n: number) => number, y: (v: number) => number): string[] {
  const box = `x="${px(f.x0)}" y="${px(f.y0)}" width="${px(f.w)}" height="${px(f.h)}"`;
  const out = [`<rect ${box} fill="#fff"/>`];
  for (const t of ticks) {
    out.push(`<line x1="${px(f.x0)}" y1="${px(y(t))}" x2="${px(f.x0 + f.w)}" y2="${px(y(t))}" stroke="#e4e4e4"/>`);
    out.push(text(f.x0 - 6, y(t) + 4, fmtTick(t), 'text-anchor="end" class="tick"'));
  }
  for (const n of ns) {
    out.push(`<line x1="${px(x(n))}" y1="${px(f.y0 + f.h)}" x2="${px(x(n))}" y2="${px(f.y0 + f.h + 4)}" stroke="#888"/>`);
    out.push(text(x(n), f.y0 + f.h + 17, String(n), 'text-anchor="middle" class="tick"'));
  }
  out.push(`<rect ${box} fill="none" stroke="#888"/>`);
  out.push(text(f.x0 + f.w / 2, f.y0 + f.h + 36, `${spec.x} (log2 scale)`, 'text-anchor="middle" class="axis"'));
  const cy = f.y0 + f.h / 2;
  out.push(text(f.x0 - 50, cy, spec.y, `text-anchor="middle" class="axis" transform="rotate(-90 ${px(f.x0 - 50)} ${px(cy)})"`));
  out.push(text(f.x0 + f.w / 2, f.y0 - 12, spec.title, 'text-anchor="middle" class="title"'));
  return out;
}

/** One series: a polyline through its points, a marker (with a tooltip) on each, a legend entry when the panel has several. */
function seriesSvg(spec: CurveSpec, k: number, rows: readonly Row[], f: Frame, x: (n: number) => number, y: (v: number) => number): string[] {
  const s = spec.series[k]!;
  const color = COLORS[k % COLORS.length]!;
  const pts = rows.flatMap((r) => {
    const v = num(r[s.field]);
    return v === undefined ? [] : [{ n: r['n'] as number, v }];
  });
  const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
  const line = pts.map((p) => `${px(x(p.n))},${px(y(p.v))}`).join(' ');
  const out = [
    `<polyline class="series" data-curve="${esc(spec.curve)}" data-field="${esc(s.field)}" points="${line}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`,
  ];
  for (const p of pts) {
    out.push(`<circle cx="${px(x(p.n))}" cy="${px(y(p.v))}" r="3" fill="${color}"><title>${esc(`n=${p.n}: ${fmt(p.v)} ${s.label}`)}</title></circle>`);
  }
  if (spec.series.length > 1) {
    const ly = f.y0 + 14 + k * 16;
    const lx = f.x0 + 12;
    out.push(`<rect x="${px(lx - 4)}" y="${px(ly - 8)}" width="60" height="16" fill="#fff" fill-opacity="0.85"/>`);
    out.push(`<line x1="${px(lx)}" y1="${px(ly)}" x2="${px(lx + 24)}" y2="${px(ly)}" stroke="${color}" stroke-width="2"${dash}/>`);
    out.push(text(lx + 30, ly + 4, s.label, 'class="tick"'));
  }
  return out;
}

/** One panel: axes and every series, or "no data". */
function panel(spec: CurveSpec, rows: readonly Row[], f: Frame): string[] {
  const values = rows.flatMap((r) => spec.series.map((s) => num(r[s.field])).filter((v): v is number => v !== undefined));
  const ns = [...new Set(rows.map((r) => r['n'] as number))];
  if (ns.length === 0 || values.length === 0) {
    return [
      ...axes(
        spec,
        f,
        [],
        [0],
        () => f.x0,
        () => f.y0 + f.h,
      ),
      text(f.x0 + f.w / 2, f.y0 + f.h / 2, 'no data', 'text-anchor="middle" class="axis"'),
    ];
  }
  const ticks = yTicks(Math.max(...values));
  const yMax = ticks[ticks.length - 1]!;
  const x = xScale(f, ns);
  const y = (v: number) => f.y0 + f.h - (Math.max(0, v) / yMax) * f.h;
  const out = axes(spec, f, ns, ticks, x, y);
  spec.series.forEach((_, k) => {
    out.push(...seriesSvg(spec, k, rows, f, x, y));
  });
  return out;
}

/** "zk-recipes 0.1.0 · node v20 · 2 CPUs · …" from the run's `meta` row, if there is one. */
function captionFromRows(rows: readonly Row[]): string {
  const meta = rows.find((r) => r['workload'] === 'meta');
  if (!meta) return '';
  const parts: [string, string][] = [
    ['date', ''],
    ['zk_recipes', 'zk-recipes '],
    ['node', 'node '],
    ['cpus', 'CPUs: '],
    ['server', 'server: '],
    ['sizes', 'sizes: '],
  ];
  return parts.flatMap(([k, label]) => (meta[k] === undefined || meta[k] === '' ? [] : [`${label}${String(meta[k])}`])).join(' · ');
}

function frameOf(i: number): Frame {
  const cw = WIDTH / 2;
  const ch = (HEIGHT - TOP - BOTTOM) / 2;
  const cx = (i % 2) * cw;
  const cy = TOP + Math.floor(i / 2) * ch;
  return { x0: cx + PAD.left, y0: cy + PAD.top, w: cw - PAD.left - PAD.right, h: ch - PAD.top - PAD.bottom };
}

/**
 * The CURVES rows as one SVG document (900×600): four panels, x = participants (log2 scale,
 * ticked at the measured values), y from 0; p99 dashed in the failover panel. Other rows are
 * ignored; a curve without rows gets a "no data" panel.
 * @param rows - all report rows (`Reporter.rows`)
 * @param caption - the line at the bottom (date, machine); default: built from the `meta` row
 */
export function renderCurvesSvg(rows: readonly Row[], caption?: string): string {
  const cap = caption ?? captionFromRows(rows);
  const body = SPECS.flatMap((spec, i) => panel(spec, curveRows(rows, spec.curve), frameOf(i)));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif">`,
    '<style>.title{font-size:14px;font-weight:bold}.axis{font-size:12px;fill:#333}.tick{font-size:11px;fill:#444}.caption{font-size:11px;fill:#555}</style>',
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fafafa"/>`,
    text(WIDTH / 2, 26, 'zk-recipes bench: cost by number of participants', 'text-anchor="middle" font-size="17" font-weight="bold"'),
    ...body,
    cap ? text(WIDTH / 2, HEIGHT - 10, cap, 'text-anchor="middle" class="caption"') : '',
    '</svg>',
    '',
  ].join('\n');
}

/**
 * Writes `renderCurvesSvg(rows, caption)` to `file` (creating its directory) when `rows` hold
 * any CURVES row.
 * @returns whether the file was written
 */
export function writeChart(rows: readonly Row[], file: string, caption?: string): boolean {
  if (!rows.some((r) => r['workload'] === WORKLOAD)) return false;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, renderCurvesSvg(rows, caption));
  return true;
}

/** A table cell: numbers formatted, `round_trips` as the requests per operation, pipes escaped. */
function cell(v: JsonValue | undefined): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return fmt(v);
  if (typeof v === 'object' && !Array.isArray(v)) {
    const first = Object.values(v)[0];
    const total = first && typeof first === 'object' && !Array.isArray(first) ? num(first['total']) : undefined;
    return total === undefined ? '' : fmt(total);
  }
  return String(v).replace(/\|/g, '\\|');
}

const NOT_EXTRA = new Set(['lib', 'workload', 'name', 'curve', 'n']);

/** One curve's Markdown table: a heading line, then `n | figure(s) | the other fields`, one line per point. */
function table(curve: string, rows: readonly Row[]): string {
  const spec = SPECS.find((s) => s.curve === curve);
  const main = spec ? spec.series.map((s) => s.field) : [];
  const extra = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) => !NOT_EXTRA.has(k) && !main.includes(k));
  const cols = ['n', ...main, ...extra];
  const head = cols.map((c) => (c === 'round_trips' ? 'requests/op' : c));
  const body = rows.map((r) => cols.map((c) => cell(r[c])));
  const widths = head.map((h, i) => Math.max(h.length, 3, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  const title = spec ? `${curve}: ${spec.y} by ${spec.x}` : curve;
  return [title, '', line(head), `|${widths.map((w) => `${'-'.repeat(w + 1)}:`).join('|')}|`, ...body.map(line)].join('\n');
}

/**
 * The CURVES rows as Markdown: per curve (lock, queue, scheduler, failover, then any other) a
 * heading line and a table `n | figure | other fields`, one line per point; '' without CURVES rows.
 */
export function curvesTable(rows: readonly Row[]): string {
  const names = [...new Set([...SPECS.map((s) => s.curve), ...rows.filter((r) => r['workload'] === WORKLOAD).map((r) => String(r['curve']))])];
  const tables = names.flatMap((c) => {
    const rs = curveRows(rows, c);
    return rs.length === 0 ? [] : [table(c, rs)];
  });
  return tables.length === 0 ? '' : `${tables.join('\n\n')}\n`;
}
