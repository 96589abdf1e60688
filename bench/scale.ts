/**
 * SCALE rows: the server's own limit, measured in the same run, and many sessions in one process.
 *
 * - `SERVER` (`server-ceiling`): the write ceiling: `serverSessions` sessions, each with
 *   `serverInFlight` persistent-sequential creates in flight at once (data `item-i`, as the
 *   anchors' R3); ops/s = all creates ÷ the batch's wall time; one warm-up batch, then the median
 *   of `serverBatches` (every node is deleted at the end). Then the read ceiling: `exists` of the
 *   same parent, the same way. When the server answers `mntr`, its own view of the measured batches
 *   (Δsum ÷ Δcount of its `updatelatency` / `readlatency` / `fsynctime` summaries) and its
 *   cumulative average latency. The table's "server share" column ({@link shareColumns}, handed to
 *   `Reporter.table`) divides every row's writes and reads per second by these two ceilings. The client runs on the same machine: its
 *   CPU share over the batches is reported, since a busy client caps the figure too.
 * - `SESSIONS` (`sessions`): `sessionsN` sessions (`ZkSession`) in a child process run with
 *   `--expose-gc`, so the memory figure is this alone: the time to connect them all (`sessionsBatch`
 *   at once), the memory per idle session (heap + external and RSS after forced GC, minus the same
 *   before, as RAW's memory row: {@link openIdle}), then one `Lock` cycle each: every session
 *   acquires and releases one lock on one shared path, all at once, holders counted in and out as
 *   W2 does (`max_holders` must be 1).
 *
 * {@link runChild} and {@link openIdle} are shared with RAW's memory row (bench/raw.ts).
 * @module
 */
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fourLetterWord, parseConnectString } from '../src/ops/fourlw.js';
import { ZkSession } from '../src/session.js';
import {
  BENCH_TRANSPORT,
  RoundTrips,
  HolderCheck,
  SESSION_TIMEOUT_MS,
  now,
  pct,
  type Column,
  type JsonValue,
  type Reporter,
  type Row,
  type WorkloadContext,
} from './lib.js';
import { closeInBatches, openIdle, runChild, type IdleMemory } from './raw.js';
import { loadRecipe, type LockCtor } from './recipes.js';
import type { Sizes } from './sizes.js';

/** The workload id (and `only=` name) of the server's ceiling row. */
export const SERVER = 'SERVER';

/** The workload id (and `only=` name) of the many-sessions row. */
export const SESSIONS = 'SESSIONS';

// ---- share of the server (the table's column, the rows' per-op fields) ----------------------------

/**
 * Request kinds (as `round_trips` names them) that are writes: each one transaction through the
 * server's commit path, a `multi` one whatever it holds. Every other kind counts as a read.
 */
export const WRITE_KINDS: ReadonlySet<string> = new Set(['create', 'delete', 'set', 'setData', 'setAcl', 'multi', 'reconfig']);

/** Throughput fields, in order of preference, a row's requests per op are multiplied by. */
const RATE_FIELDS = ['ops_per_s', 'items_per_s', 'tasks_per_s', 'handoffs_per_s', 'cycles_per_s', 'nodes_per_s'];
/** Rows with a rate per phase, each with its own request counts (W4a). */
const PHASES: [label: string, rate: string, key: string][] = [
  ['offer', 'offer_per_s', 'per_offer'],
  ['take', 'take_per_s', 'per_take'],
];

/** One rate of a row (if it has one) and the writes and reads each of its ops sends. */
export interface RatePart {
  /** `''`, or the phase (`offer`, `take`). */
  label: string;
  /** Ops per second, when the row has a throughput figure. */
  rate: number | undefined;
  /** Writes per op. */
  writes: number;
  /** Reads per op. */
  reads: number;
}

function isObj(v: JsonValue | undefined): v is { [k: string]: JsonValue } {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function splitKinds(perOp: { [k: string]: JsonValue }): { writes: number; reads: number } {
  let writes = 0;
  let reads = 0;
  for (const [k, v] of Object.entries(perOp)) {
    if (k === 'total' || typeof v !== 'number') continue;
    if (WRITE_KINDS.has(k)) writes += v;
    else reads += v;
  }
  return { writes, reads };
}

/**
 * A row's rates with the writes and reads per op of its `round_trips`: one part per phase for
 * W4a (`per_offer` with `offer_per_s`, `per_take` with `take_per_s`), else one part, every entry
 * summed (W4b: producer + consumer per item) with the first of {@link RATE_FIELDS} the row has.
 * `[]` for a row without `round_trips`, and for the SERVER row.
 */
export function rateParts(r: Row): RatePart[] {
  const rt = r['round_trips'];
  if (!isObj(rt) || r['workload'] === SERVER) return [];
  const num = (f: string) => (typeof r[f] === 'number' ? (r[f] as number) : undefined);
  const phased = PHASES.filter(([, rate, key]) => num(rate) !== undefined && isObj(rt[key]));
  if (phased.length > 0) return phased.map(([label, rate, key]) => ({ label, rate: num(rate), ...splitKinds(rt[key] as { [k: string]: JsonValue }) }));
  let writes = 0;
  let reads = 0;
  for (const v of Object.values(rt)) {
    if (!isObj(v)) continue;
    const k = splitKinds(v);
    writes += k.writes;
    reads += k.reads;
  }
  const field = RATE_FIELDS.find((f) => num(f) !== undefined);
  return [{ label: '', rate: field ? num(field) : undefined, writes, reads }];
}

/** The SERVER row's write and read ceilings (ops/s), when the run has one. */
function ceilingOf(rows: readonly Row[]): { write: number; read: number } | undefined {
  const r = rows.find((x) => x['workload'] === SERVER);
  const [w, rd] = [r?.['write_ops_per_s'], r?.['read_ops_per_s']];
  return typeof w === 'number' && typeof rd === 'number' && w > 0 && rd > 0 ? { write: w, read: rd } : undefined;
}

/** A share as a percentage: whole numbers from 10%, one decimal below. */
function share(x: number): string {
  const p = x * 100;
  return `${p === 0 || p >= 10 ? Math.round(p) : p.toFixed(1)}%`;
}

/**
 * The "server share" cell of a row: writes per op × ops/s ÷ the write ceiling, reads likewise,
 * e.g. `writes 34% · reads 3%` (per phase for W4a); `''` for a row without a rate.
 */
export function shareCell(r: Row, ceiling: { write: number; read: number }): string {
  return rateParts(r)
    .filter((p): p is RatePart & { rate: number } => p.rate !== undefined)
    .map((p) => `${p.label ? `${p.label}: ` : ''}writes ${share((p.writes * p.rate) / ceiling.write)} · reads ${share((p.reads * p.rate) / ceiling.read)}`)
    .join('; ');
}

/**
 * The fields {@link Reporter} adds to a row with `round_trips`: `writes_per_op` and `reads_per_op`
 * (`offer_writes_per_op`, ... per phase for W4a), from {@link rateParts}.
 */
export function perOpFields(r: Row): Row {
  const out: Row = {};
  for (const p of rateParts(r)) {
    out[p.label ? `${p.label}_writes_per_op` : 'writes_per_op'] = p.writes;
    out[p.label ? `${p.label}_reads_per_op` : 'reads_per_op'] = p.reads;
  }
  return out;
}

/** The "server share" column ({@link shareCell}) when `rows` have a SERVER row, else none. */
export function shareColumns(rows: readonly Row[]): Column[] {
  const ceiling = ceilingOf(rows);
  return ceiling ? [{ head: 'server share', cell: (r) => shareCell(r, ceiling) }] : [];
}

// ---- SERVER -----------------------------------------------------------------------------------

/** `mntr`'s `key value` lines, or undefined when the server does not answer it. */
async function mntr(connect: string): Promise<Map<string, string> | undefined> {
  try {
    const [a] = parseConnectString(connect, 'bench');
    const text = await fourLetterWord(a!.host, a!.port, 'mntr', 2000);
    const m = new Map<string, string>();
    for (const line of text.split('\n')) {
      const [k, v] = line.split('\t');
      if (k && v !== undefined) m.set(k.trim(), v.trim());
    }
    return m.size > 0 ? m : undefined;
  } catch {
    return undefined;
  }
}

function num(m: Map<string, string> | undefined, key: string): number | undefined {
  const v = m?.get(key);
  const n = v === undefined ? NaN : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** Average of a `mntr` summary (`zk_sum_<name>` ÷ `zk_cnt_<name>`) between two snapshots. */
function deltaAvg(a: Map<string, string> | undefined, b: Map<string, string> | undefined, name: string): number | undefined {
  const [s0, c0, s1, c1] = [num(a, `zk_sum_${name}`), num(a, `zk_cnt_${name}`), num(b, `zk_sum_${name}`), num(b, `zk_cnt_${name}`)];
  if (s0 === undefined || c0 === undefined || s1 === undefined || c1 === undefined || c1 <= c0) return undefined;
  return (s1 - s0) / (c1 - c0);
}

/**
 * Runs `serverBatches + 1` batches (the first is warm-up, then `afterWarmup` is awaited) of
 * `serverInFlight` calls of `issue` on every session at once: wall ms of each measured batch, the
 * client's CPU share over them, and every batch's results (per session, batch after batch).
 */
async function batches<T>(
  ctx: WorkloadContext,
  sessions: readonly ZkSession[],
  z: Sizes,
  issue: (s: ZkSession, i: number) => Promise<T>,
  afterWarmup: () => Promise<void>,
): Promise<{ ms: number[]; cpuPct: number; got: T[][] }> {
  const ms: number[] = [];
  const got: T[][] = [];
  let cpu = 0;
  for (let b = 0; b <= z.serverBatches; b++) {
    ctx.signal.throwIfAborted();
    const cpu0 = process.cpuUsage();
    const t0 = now();
    const all = await Promise.all(sessions.map((s) => Promise.all(Array.from({ length: z.serverInFlight }, (_, i) => issue(s, b * z.serverInFlight + i)))));
    if (b > 0) {
      ms.push(now() - t0);
      const d = process.cpuUsage(cpu0);
      cpu += (d.user + d.system) / 1000;
    }
    got.push(...all);
    if (b === 0) await afterWarmup();
  }
  const total = ms.reduce((a, x) => a + x, 0);
  return { ms, cpuPct: total > 0 ? (100 * cpu) / total : NaN, got };
}

/** SERVER: see the module documentation. */
export async function serverCeiling(ctx: WorkloadContext, z: Sizes): Promise<void> {
  const sessions = await ctx.connectMany(z.serverSessions);
  const parent = `${ctx.root}/server`;
  await ctx.admin.create(parent);
  const ops = z.serverSessions * z.serverInFlight;
  // mntr snapshots around the measured batches: m0 → m1 writes, m2 → m3 reads
  let m0: Map<string, string> | undefined;
  let m2: Map<string, string> | undefined;
  const w = await batches(
    ctx,
    sessions,
    z,
    (s, i) => s.create(`${parent}/item-`, `item-${i}`, { mode: 'persistent_sequential' }),
    async () => {
      m0 = await mntr(ctx.connectString);
    },
  );
  const m1 = await mntr(ctx.connectString);
  const r = await batches(
    ctx,
    sessions,
    z,
    (s) => s.exists(parent),
    async () => {
      m2 = await mntr(ctx.connectString);
    },
  );
  const m3 = await mntr(ctx.connectString);
  if (!m3) ctx.report.progress('SERVER: no mntr answer from the server (4lw not allowed?): server-side figures left out');
  // every session deletes the nodes it made, all in flight
  await Promise.all(sessions.map((s, i) => Promise.all(w.got.filter((_, k) => k % sessions.length === i).flatMap((paths) => paths.map((p) => s.delete(p))))));
  await ctx.admin.delete(parent);
  const wMs = pct(w.ms, 50);
  const rMs = pct(r.ms, 50);
  const server: Record<string, number | string | undefined> = {
    server_write_latency_ms: deltaAvg(m0, m1, 'updatelatency'),
    server_read_latency_ms: deltaAvg(m2, m3, 'readlatency'),
    server_write_p99_ms: num(m1, 'zk_p99_updatelatency'),
    server_read_p99_ms: num(m3, 'zk_p99_readlatency'),
    server_fsync_ms: deltaAvg(m0, m1, 'fsynctime'),
    server_fsyncs_per_write: ((num(m1, 'zk_cnt_fsynctime') ?? NaN) - (num(m0, 'zk_cnt_fsynctime') ?? NaN)) / (ops * z.serverBatches),
    server_avg_latency_ms: num(m3, 'zk_avg_latency'),
    server_max_latency_ms: num(m3, 'zk_max_latency'),
    server_version: m3?.get('zk_version')?.split(/[-,\s]/)[0],
    server_state: m3?.get('zk_server_state'),
  };
  ctx.report.emit(SERVER, 'server-ceiling', {
    recipe: 'ZkSession.create / exists, pipelined',
    sessions: z.serverSessions,
    in_flight_per_session: z.serverInFlight,
    batches: z.serverBatches,
    write_ops_per_s: ops / (wMs / 1000),
    read_ops_per_s: ops / (rMs / 1000),
    best_write_ops_per_s: ops / (Math.min(...w.ms) / 1000),
    best_read_ops_per_s: ops / (Math.min(...r.ms) / 1000),
    write_batch_ms: wMs,
    read_batch_ms: rMs,
    client_cpu_pct_writes: w.cpuPct,
    client_cpu_pct_reads: r.cpuPct,
    ...(Object.fromEntries(Object.entries(server).filter(([, v]) => v !== undefined && !Number.isNaN(v))) as Record<string, JsonValue>),
  });
}

// ---- SESSIONS ---------------------------------------------------------------------------------

interface LockRound {
  lock_ms: number;
  cycles_per_s: number;
  max_holders: number;
  violations: number;
  round_trips: { per_cycle: Record<string, number> };
}

/** Every session acquires and releases one Lock on `path`, all at once; holders counted in and out (W2). */
async function lockRound(sessions: readonly ZkSession[], path: string): Promise<LockRound> {
  const Lock = await loadRecipe<LockCtor>('lock.js', 'Lock');
  const rt = new RoundTrips();
  for (const s of sessions) rt.attach(s);
  const locks = sessions.map((s) => new Lock(s, path));
  const check = new HolderCheck();
  const before = rt.snapshot();
  const t0 = now();
  await Promise.all(
    locks.map(async (lock) => {
      const lease = await lock.acquire({ timeoutMs: 120_000 });
      await check.hold();
      await lease.release();
    }),
  );
  const ms = now() - t0;
  return {
    lock_ms: ms,
    cycles_per_s: sessions.length / (ms / 1000),
    max_holders: check.max,
    violations: check.violations,
    round_trips: { per_cycle: rt.since(before, sessions.length) },
  };
}

/** Child mode: opens the sessions, measures them idle, runs the lock round, prints one JSON line. */
async function sessionsChildMain(n: number, batch: number, connect: string, lockPath: string): Promise<void> {
  const { memory, warm, opened } = await openIdle(
    () => ZkSession.connect(connect, { sessionTimeoutMs: SESSION_TIMEOUT_MS, transport: BENCH_TRANSPORT }),
    n,
    batch,
  );
  try {
    const lock = opened.length === n ? await lockRound(opened, lockPath) : undefined;
    const gcExposed = typeof (globalThis as { gc?: unknown }).gc === 'function';
    process.stdout.write(`${JSON.stringify({ ...memory, gc_exposed: gcExposed, ...lock })}\n`);
  } finally {
    await closeInBatches([...warm, ...opened].map((s) => () => s.close()));
  }
}

/** SESSIONS: see the module documentation. */
export async function manySessions(ctx: WorkloadContext, z: Sizes): Promise<void> {
  // the lock's path exists beforehand (persistent), so the cycles are not 1000 first uses of it
  // (each of which would create the missing parents: 3–4 creates per cycle instead of 1)
  const lockPath = `${ctx.root}/sessions/lock`;
  await ctx.admin.create(lockPath, undefined, { createParents: true, parentMode: 'persistent' });
  const args = ['--scale-sessions-child', String(z.sessionsN), String(z.sessionsBatch), ctx.connectString, lockPath];
  const r = await runChild<IdleMemory & { gc_exposed: boolean } & Partial<LockRound>>(
    fileURLToPath(import.meta.url),
    args,
    z.sessionsChildLimitMs,
    ctx.signal,
    'sessions child',
  );
  const note = r.sessions < r.target ? `only ${r.sessions} of ${r.target} sessions opened (${r.failed ?? '?'}): no lock round` : undefined;
  if (note) ctx.report.progress(`SESSIONS: ${note}`);
  const row: Row = {
    recipe: 'ZkSession.connect, Lock',
    sessions: r.sessions,
    target: r.target,
    batch: z.sessionsBatch,
    connect_ms: r.open_ms,
    sessions_per_s: r.sessions / (r.open_ms / 1000),
    heap_ext_bytes_per_session: r.heap_ext_bytes_per_session,
    rss_bytes_per_session: r.rss_bytes_per_session,
    heap_bytes_per_session: r.heap_bytes_per_session,
    external_bytes_per_session: r.external_bytes_per_session,
    gc_exposed: r.gc_exposed,
  };
  if (r.lock_ms !== undefined)
    Object.assign(row, { lock_ms: r.lock_ms, cycles_per_s: r.cycles_per_s, max_holders: r.max_holders, violations: r.violations, round_trips: r.round_trips });
  ctx.report.emit(SESSIONS, 'sessions', note ? { ...row, note } : row);
  if (note) throw new Error(note);
  if (r.max_holders !== 1 || r.violations !== 0)
    throw new Error(`SESSIONS mutual exclusion violated: max holders ${String(r.max_holders)}, violations ${String(r.violations)}`);
}

if (process.argv[2] === '--scale-sessions-child' && process.argv[1] && resolvePath(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [, , , n, batch, connect, lockPath] = process.argv;
  if (!connect || !lockPath) {
    process.stderr.write('usage: scale.ts --scale-sessions-child N BATCH CONNECT LOCK_PATH\n');
    process.exit(2);
  }
  sessionsChildMain(Number(n), Number(batch), connect, lockPath).then(
    () => setTimeout(() => process.exit(0), 50),
    (err: unknown) => {
      process.stderr.write(`sessions child: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
