// The bench's curve chart and tables (bench/chart.ts), pure: fake report rows in, SVG / Markdown
// out. No server. The SVG is checked for well-formed markup (balanced tags, escaped text), one
// polyline per series with one point per row on a log2 x scale, and the caption escaped;
// writeChart writes nothing without CURVES rows; curvesTable has one line per point.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { curvesTable, renderCurvesSvg, writeChart } from '../bench/chart.js';
import { CURVES } from '../bench/curves.js';
import { Reporter, type Row } from '../bench/lib.js';

const POINTS: Record<string, number[]> = {
  lock: [1, 2, 4, 8, 16, 32],
  queue: [1, 2, 4, 8, 16, 32],
  scheduler: [1, 2, 4, 8],
  failover: [2, 4, 8, 16, 32, 64],
};

/** Rows as the bench makes them (Reporter rounds and adds `lib`): a meta row, a W1 row, the curves. */
function fakeRows(): Row[] {
  const r = new Reporter(false);
  r.emit('meta', 'meta', { zk_recipes: '0.1.0', node: 'v20.20.2', cpus: 2, server: 'local', sizes: 'anchors' });
  r.emit('W1', 'lock-uncontended', { n: 2000, ops_per_s: 999 });
  for (const n of POINTS['lock']!)
    r.emit(CURVES, 'lock', { curve: 'lock', n, ops_per_s: 700 + 10 * n + 0.4, violations: 0, round_trips: { per_cycle: { create: 1, total: 5.02 } } });
  for (const n of POINTS['queue']!) r.emit(CURVES, 'queue', { curve: 'queue', n, items_per_s: 3000 / n, duplicates: 0 });
  for (const n of POINTS['scheduler']!) r.emit(CURVES, 'scheduler', { curve: 'scheduler', n, tasks_per_s: 200 + 50 * n, p50_ms: 100 });
  for (const n of POINTS['failover']!) r.emit(CURVES, 'failover', { curve: 'failover', n, p50_ms: 1 + n / 64, p99_ms: 2 + n / 8 });
  return r.rows;
}

/** Checks the markup nests: every opened tag closed in order, no stray `<` or bare `&` in text. */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z]+)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < svg.length) {
    const lt = svg.indexOf('<', i);
    const textPart = svg.slice(i, lt === -1 ? svg.length : lt);
    expect(textPart, `bare & in text near ${i}`).not.toMatch(/&(?!(amp|lt|gt|quot|#39);)/);
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(svg);
    expect(m, `malformed tag at ${lt}: ${svg.slice(lt, lt + 60)}`).not.toBeNull();
    const [whole, close, name, , selfClose] = m!;
    if (close) expect(stack.pop(), `</${name}> closes the wrong tag`).toBe(name);
    else if (!selfClose) stack.push(name!);
    i = lt + whole.length;
  }
  expect(stack).toEqual([]);
}

/** Each polyline's data-curve / data-field and its points. */
function polylines(svg: string): { curve: string; field: string; dashed: boolean; pts: [number, number][] }[] {
  return [...svg.matchAll(/<polyline class="series" data-curve="([^"]+)" data-field="([^"]+)" points="([^"]*)"([^>]*)\/>/g)].map((m) => ({
    curve: m[1]!,
    field: m[2]!,
    dashed: m[4]!.includes('stroke-dasharray'),
    pts: m[3]!
      .split(' ')
      .filter(Boolean)
      .map((p) => p.split(',').map(Number) as [number, number]),
  }));
}

const texts = (svg: string): string[] => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);

describe('bench chart', () => {
  it('draws one polyline per series with a point per row, x on a log2 scale, y growing upwards', () => {
    const svg = renderCurvesSvg(fakeRows());
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    assertWellFormed(svg);
    const lines = polylines(svg);
    expect(lines.map((l) => `${l.curve}/${l.field}`)).toEqual([
      'lock/ops_per_s',
      'queue/items_per_s',
      'scheduler/tasks_per_s',
      'failover/p50_ms',
      'failover/p99_ms',
    ]);
    for (const l of lines) {
      expect(l.pts.length, `${l.curve}/${l.field}`).toBe(POINTS[l.curve]!.length);
      // n doubles from point to point: equal steps on a log2 axis, left to right
      const dx = l.pts.slice(1).map((p, k) => p[0] - l.pts[k]![0]);
      for (const d of dx) expect(d).toBeCloseTo(dx[0]!, 0);
      expect(dx[0]!).toBeGreaterThan(20);
    }
    expect(lines.filter((l) => l.dashed).map((l) => l.field)).toEqual(['p99_ms']);
    // lock rises with n, queue falls: SVG y grows downwards
    const lock = lines[0]!.pts;
    const queue = lines[1]!.pts;
    expect(lock[5]![1]).toBeLessThan(lock[0]![1]);
    expect(queue[5]![1]).toBeGreaterThan(queue[0]![1]);
    // failover p99 is above p50 at every point
    lines[4]!.pts.forEach((p, k) => {
      expect(p[1]).toBeLessThan(lines[3]!.pts[k]![1]);
    });
    const t = texts(svg);
    for (const n of ['1', '2', '4', '8', '16', '32', '64']) expect(t).toContain(n);
    expect(t).toContain('0');
    expect(t.some((s) => s.includes('log2'))).toBe(true);
    expect(t.filter((s) => s === 'p50' || s === 'p99')).toEqual(['p50', 'p99']);
  });

  it('escapes text: a caption with <&> and quotes stays text', () => {
    const svg = renderCurvesSvg(fakeRows(), 'run <1> & "two" \'3\'');
    assertWellFormed(svg);
    expect(svg).toContain('run &lt;1&gt; &amp; &quot;two&quot; &#39;3&#39;');
    expect(svg).not.toContain('<1>');
  });

  it('builds the caption from the meta row when none is given', () => {
    const svg = renderCurvesSvg(fakeRows());
    expect(texts(svg)).toContain('zk-recipes 0.1.0 · node v20.20.2 · CPUs: 2 · server: local · sizes: anchors');
  });

  it('skips points without a number and marks a curve without rows "no data"', () => {
    const rows = fakeRows().filter((r) => r['curve'] !== 'scheduler');
    rows.push({ lib: 'zk-recipes', workload: CURVES, name: 'lock', curve: 'lock', n: 64, ops_per_s: null });
    const svg = renderCurvesSvg(rows);
    assertWellFormed(svg);
    const lines = polylines(svg);
    expect(lines.find((l) => l.curve === 'lock')!.pts).toHaveLength(6);
    expect(lines.some((l) => l.curve === 'scheduler')).toBe(false);
    expect(texts(svg)).toContain('no data');
  });

  it('puts a single point in the middle of its panel', () => {
    const r = new Reporter(false);
    r.emit(CURVES, 'lock', { curve: 'lock', n: 4, ops_per_s: 100 });
    const [line] = polylines(renderCurvesSvg(r.rows));
    expect(line!.pts).toHaveLength(1);
    expect(Number.isFinite(line!.pts[0]![0]) && Number.isFinite(line!.pts[0]![1])).toBe(true);
  });
});

describe('writeChart', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'bench-chart-'));
    dirs.push(d);
    return d;
  };

  it('writes nothing without CURVES rows', () => {
    const d = tmp();
    const file = join(d, 'sub', 'curves.svg');
    expect(writeChart([], file)).toBe(false);
    expect(
      writeChart(
        fakeRows().filter((r) => r['workload'] !== CURVES),
        file,
      ),
    ).toBe(false);
    expect(existsSync(join(d, 'sub'))).toBe(false);
  });

  it('writes the SVG, creating the directory', () => {
    const d = tmp();
    const file = join(d, 'a', 'b', 'curves.svg');
    const rows = fakeRows();
    expect(writeChart(rows, file, 'cap')).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(renderCurvesSvg(rows, 'cap'));
  });
});

describe('curvesTable', () => {
  it('has a table per curve with one line per point', () => {
    const md = curvesTable(fakeRows());
    expect(md).not.toContain('\n\n\n'); // tables are separated by one blank line
    expect(md.split('\n').filter((l) => /^\|-+:/.test(l))).toHaveLength(4);
    const titles = md.split('\n').filter((l) => l.length > 0 && !l.startsWith('|'));
    expect(titles.map((l) => l.split(':')[0])).toEqual(['lock', 'queue', 'scheduler', 'failover']);
    const points = md.split('\n').filter((l) => /^\|\s*\d+ \|/.test(l));
    expect(points).toHaveLength(Object.values(POINTS).reduce((a, p) => a + p.length, 0));
    const lockHead = md.split('\n').find((l) => l.includes('ops_per_s'))!;
    expect(lockHead.split('|').map((c) => c.trim())).toEqual(['', 'n', 'ops_per_s', 'violations', 'requests/op', '']);
    const lock8 = points.find((l) => l.startsWith('|   8 |') && l.includes('780'))!;
    expect(lock8.split('|').map((c) => c.trim())).toEqual(['', '8', '780', '0', '5.02', '']);
    expect(md).not.toContain('999'); // the W1 row is not a curve
  });

  it('is empty without CURVES rows', () => {
    expect(curvesTable([])).toBe('');
    expect(curvesTable(fakeRows().filter((r) => r['workload'] !== CURVES))).toBe('');
  });
});
