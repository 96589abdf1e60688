/**
 * The bench's plumbing: nearest-rank percentiles, the JSON-lines / table reporter, round-trip
 * counting on sessions (wrapped here, in the bench, never in the library), and the per-workload
 * context that opens sessions and closes them whatever happens.
 * @module
 */
import { performance } from 'node:perf_hooks';
import { ZkSession } from '../src/session.js';

/** The transport the workloads run on: `ZK_BENCH_TRANSPORT=native` measures the binding under the same recipes. */
export const BENCH_TRANSPORT: 'client' | 'native' = process.env['ZK_BENCH_TRANSPORT'] === 'native' ? 'native' : 'client';

/** The library name in every JSON line (the anchors' `lib` field). */
export const LIB = 'zk-recipes';

/** Session timeout of every bench session (as the anchors: 10 s). */
export const SESSION_TIMEOUT_MS = 10_000;

/** Milliseconds since an arbitrary origin, sub-microsecond resolution. */
export const now = (): number => performance.now();

/** Nearest-rank percentile of `samples` (ms), the anchors' rule: `ceil(p/100 * n) - 1`. */
export function pct(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const s = Float64Array.from(samples).sort();
  const idx = Math.max(0, Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1));
  return s[idx]!;
}

/** A value of a JSON line. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

/** One JSON line: `lib`, `workload`, `name`, then the workload's fields. */
export type Row = Record<string, JsonValue>;

/** Rounds non-integer numbers to 3 decimals (as the anchors' benches), recursively. */
function round(v: JsonValue): JsonValue {
  if (typeof v === 'number') return Number.isInteger(v) ? v : Number.isFinite(v) ? Math.round(v * 1000) / 1000 : null;
  if (Array.isArray(v)) return v.map(round);
  if (v && typeof v === 'object') {
    const o: Record<string, JsonValue> = {};
    for (const [k, x] of Object.entries(v)) o[k] = round(x);
    return o;
  }
  return v;
}

/** An extra column of {@link Reporter.table}: its heading and each row's cell. */
export interface Column {
  /** The heading. */
  head: string;
  /** A row's cell (`''` for none). */
  cell(r: Row): string;
}

/**
 * Where results go. JSON mode: one object per line on stdout and nothing else there. Table
 * mode: the table on stdout at the end. Progress always goes to stderr.
 */
export class Reporter {
  readonly rows: Row[] = [];

  /**
   * @param json - JSON-lines mode
   * @param out - where JSON lines go
   * @param derive - fields to add to every row, computed from it (e.g. writes and reads per op)
   */
  constructor(
    private readonly json: boolean,
    private readonly out: NodeJS.WritableStream = process.stdout,
    private readonly derive?: (row: Row) => Row,
  ) {}

  /** Prints a progress line on stderr. */
  progress(msg: string): void {
    process.stderr.write(`[bench ${(now() / 1000).toFixed(1)}s] ${msg}\n`);
  }

  /** Records a result line, plus the fields `derive` adds to it (and prints it at once in JSON mode). */
  emit(workload: string, name: string, fields: Row): void {
    const row = round({ lib: LIB, workload, name, ...fields, ...this.derive?.({ workload, name, ...fields }) }) as Row;
    this.rows.push(row);
    if (this.json) this.out.write(JSON.stringify(row) + '\n');
  }

  /** Records a failed workload: an `error` line naming it (the run goes on). */
  error(workload: string, err: unknown): void {
    const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    this.emit('error', 'error', { failed: workload, error: `${workload}: ${msg}` });
    this.progress(`${workload} FAILED: ${msg}`);
    if (err instanceof Error && err.stack && process.env['BENCH_DEBUG']) process.stderr.write(err.stack + '\n');
  }

  /** The readable table of every row so far, with `extra` columns after the standard ones. */
  table(extra: readonly Column[] = []): string {
    const lines: string[] = [];
    const head = ['workload', 'name', 'result', 'round trips / op', ...extra.map((c) => c.head)];
    const body: string[][] = [];
    for (const r of this.rows) {
      if (r['workload'] === 'meta') continue;
      const w = String(r['workload'] === 'error' ? `${String(r['failed'])} ✗` : r['workload']);
      body.push([w, String(r['name']), summary(r), rtSummary(r), ...extra.map((c) => c.cell(r))]);
    }
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
    const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
    lines.push(line(head), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
    for (const b of body) lines.push(line(b));
    return lines.join('\n') + '\n';
  }
}

const SHOWN: [field: string, label: string, unit: string][] = [
  ['ops_per_s', '', '/s'],
  ['offer_per_s', 'offer ', '/s'],
  ['take_per_s', 'take ', '/s'],
  ['items_per_s', '', ' items/s'],
  ['tasks_per_s', '', ' tasks/s'],
  ['nodes_per_s', '', ' nodes/s'],
  ['handoffs_per_s', '', ' handoffs/s'],
  ['write_ops_per_s', 'writes ', '/s'],
  ['read_ops_per_s', 'reads ', '/s'],
  ['server_write_latency_ms', 'server write ', ' ms'],
  ['server_read_latency_ms', 'server read ', ' ms'],
  ['sessions_per_s', 'connect ', ' sessions/s'],
  ['heap_ext_bytes_per_session', 'heap+ext/session ', ' B'],
  ['rss_bytes_per_session', 'RSS/session ', ' B'],
  ['cycles_per_s', 'lock ', ' cycles/s'],
  ['max_holders', 'max holders ', ''],
  ['cold_ms', 'cold ', ' ms'],
  ['bytes_per_node', '', ' B/node'],
  ['p50_ms', 'p50 ', ' ms'],
  ['p99_ms', 'p99 ', ' ms'],
  ['wait_p50_ms', 'wait p50 ', ' ms'],
  ['wait_p99_ms', 'wait p99 ', ' ms'],
  ['violations', 'violations ', ''],
  ['duplicates', 'duplicates ', ''],
  ['failover_ms', 'failover ', ' ms'],
  ['wakeups_per_release', 'wakeups/release ', ''],
  ['bytes_per_waiter', 'heap/waiter ', ' B'],
  ['error', '', ''],
];

function fmtNum(v: number): string {
  if (Number.isInteger(v) || Math.abs(v) >= 100) return String(Math.round(v));
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function summary(r: Row): string {
  const parts: string[] = [];
  for (const [f, label, unit] of SHOWN) {
    const v = r[f];
    if (v === undefined || v === null) continue;
    parts.push(`${label}${typeof v === 'number' ? fmtNum(v) : String(v)}${unit}`);
  }
  return parts.join(', ');
}

function rtSummary(r: Row): string {
  const rt = r['round_trips'];
  if (!rt || typeof rt !== 'object' || Array.isArray(rt)) return '';
  return Object.entries(rt)
    .map(([k, v]) =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? `${k}: ${Object.entries(v)
            .map(([op, n]) => `${op} ${String(n)}`)
            .join(' + ')}`
        : `${k} ${String(v)}`,
    )
    .join('; ');
}

// ---- round trips ------------------------------------------------------------------------------

/** Counts requests sent to the server, per operation, for the sessions attached to it. */
export class RoundTrips {
  private readonly counts = new Map<string, number>();
  private readonly answered = new Map<string, number>();

  /**
   * Counts every request `session` sends. Wraps the session's private request method (`call`,
   * one invocation per request sent, retries included) on this instance only; if that is not
   * there, wraps the public operations instead (then internal requests are not seen).
   */
  attach(session: ZkSession, opts: { countAnswers?: boolean } = {}): void {
    const counts = this.counts;
    const answered = this.answered;
    const s = session as unknown as Record<string, unknown>;
    const call = s['call'];
    if (typeof call === 'function') {
      const f = call as (...a: unknown[]) => Promise<unknown>;
      s['call'] = opts.countAnswers
        ? function (this: unknown, op: string, ...rest: unknown[]) {
            counts.set(op, (counts.get(op) ?? 0) + 1);
            const p = f.call(this, op, ...rest);
            const done = () => {
              answered.set(op, (answered.get(op) ?? 0) + 1);
            };
            p.then(done, done);
            return p;
          }
        : function (this: unknown, op: string, ...rest: unknown[]) {
            counts.set(op, (counts.get(op) ?? 0) + 1);
            return f.call(this, op, ...rest);
          };
      return;
    }
    for (const op of ['create', 'get', 'set', 'exists', 'getChildren', 'getChildrenWithStat', 'delete', 'sync']) {
      const f = s[op];
      if (typeof f !== 'function') continue;
      s[op] = function (this: unknown, ...args: unknown[]) {
        counts.set(op, (counts.get(op) ?? 0) + 1);
        const p = (f as (...a: unknown[]) => Promise<unknown>).apply(this, args);
        if (opts.countAnswers) {
          const done = () => {
            answered.set(op, (answered.get(op) ?? 0) + 1);
          };
          p.then(done, done);
        }
        return p;
      };
    }
  }

  /** Requests sent and not answered yet, and all answered so far (sessions attached with `countAnswers`). */
  inFlight(): { pending: number; answered: number } {
    let sent = 0;
    let answered = 0;
    for (const n of this.counts.values()) sent += n;
    for (const n of this.answered.values()) answered += n;
    return { pending: sent - answered, answered };
  }

  /** A copy of the counts so far. */
  snapshot(): Map<string, number> {
    return new Map(this.counts);
  }

  /** Requests per operation since `before`, divided by `per` (e.g. per cycle), plus `total`. */
  since(before: Map<string, number>, per: number): Record<string, number> {
    const out: Record<string, number> = {};
    let total = 0;
    for (const [op, n] of [...this.counts].sort(([a], [b]) => a.localeCompare(b))) {
      const d = n - (before.get(op) ?? 0);
      if (d === 0) continue;
      out[op] = d / per;
      total += d;
    }
    out['total'] = total / per;
    return out;
  }
}

// ---- per-workload context ---------------------------------------------------------------------

/** Everything a workload needs: the server, its own part of the tree, sessions it must not leak. */
export class WorkloadContext {
  private readonly sessions = new Set<ZkSession>();
  /** Aborts when the workload ran past its time limit: stop waiting, the sessions are closing. */
  readonly signal: AbortSignal;

  /**
   * @param connectString - the server
   * @param root - this run's fresh root; the workload writes only below it
   * @param admin - a session for setup checks (not for measured work)
   * @param report - the reporter
   * @param signal - aborts when the workload ran out of time
   */
  constructor(
    readonly connectString: string,
    readonly root: string,
    readonly admin: ZkSession,
    readonly report: Reporter,
    signal: AbortSignal,
  ) {
    this.signal = signal;
  }

  /** Opens a session (10 s timeout) that is closed when the workload ends. */
  async connect(opts: { reconnectAfterLost?: boolean } = {}): Promise<ZkSession> {
    this.signal.throwIfAborted();
    const s = await ZkSession.connect(this.connectString, { sessionTimeoutMs: SESSION_TIMEOUT_MS, transport: BENCH_TRANSPORT, ...opts });
    this.sessions.add(s);
    s.on('suspended', () => this.report.progress('WARNING a bench session was suspended: samples are not valid'));
    s.on('lost', () => this.report.progress('WARNING a bench session was lost'));
    if (this.signal.aborted) await s.close();
    return s;
  }

  /** Opens `n` sessions at once. */
  connectMany(n: number, opts: { reconnectAfterLost?: boolean } = {}): Promise<ZkSession[]> {
    return Promise.all(Array.from({ length: n }, () => this.connect(opts)));
  }

  /** Waits until `path` has exactly `n` children (setup checks, outside the timed parts). */
  async waitChildren(path: string, n: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.signal.throwIfAborted();
      let have = 0;
      try {
        have = (await this.admin.getChildren(path)).length;
      } catch {
        have = 0;
      }
      if (have === n) return;
      if (Date.now() > deadline) throw new Error(`expected ${n} children of ${path}, have ${have}`);
      await sleep(2);
    }
  }

  /** Closes every session this workload opened. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.sessions].map((s) => s.close().catch(() => undefined)));
    this.sessions.clear();
  }
}

/** Sleeps `ms` (setup and settle times only, never inside a measured step). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Yields to the event loop once (lets other holders' callbacks run). */
export function yieldOnce(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/**
 * Mutual exclusion as a lock workload checks it: each holder counts itself in, yields to the event
 * loop (another holder's callbacks run), checks it is still alone, counts itself out.
 */
export class HolderCheck {
  private holders = 0;
  /** The most holders seen at once (must be 1). */
  max = 0;
  /** Holds that saw another holder. */
  violations = 0;

  /** One hold, between an acquire and its release. */
  async hold(): Promise<void> {
    const h = ++this.holders;
    if (h > this.max) this.max = h;
    if (h !== 1) this.violations++;
    await yieldOnce();
    if (this.holders !== 1) this.violations++;
    this.holders--;
  }
}

/** Rejects after `ms` with `what` named, or resolves with `p`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        t = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(t);
  }
}
