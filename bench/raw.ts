/**
 * RAW: single operations on the project's own TypeScript client (`src/client/client.ts`,
 * `ZkClient`) and on the bare `zookeeper` binding (its native handle's callback API, as
 * `src/native.ts` drives it), measured in the same run against the same server:
 *
 * - `exists-rtt`: sequential `exists('/')` after 5000 warm-up calls (the client's p99 needs a few
 *   thousand to reach optimised code), p50/p99 µs and process CPU per call (blocks alternate);
 * - `pipelined-create`: N persistent-sequential creates issued at once, then awaited (as the
 *   anchors' R3), total ms, ops/s and process CPU per create: one warm-up batch (reported as
 *   `cold_*`), then the median of 3; deleted after each;
 * - `get-children`: `getChildren2` of a node with 5000 children, p50 ms;
 * - `get-data-1mb`: `getData` of a 1 MB node (1 MiB if the server takes it, else 1,000,000
 *   bytes), p50 ms;
 * - `connect`: from the handle made to its session connected, p50 ms (each closed again);
 * - `memory-per-session`: 1000 idle sessions in a child process per transport (so that the two
 *   do not disturb each other): (heap + external) and RSS after forced GC, minus the same
 *   before, divided by the sessions opened.
 *
 * `rawTable()` prints them side by side: ratio = binding ÷ client for times and bytes,
 * client ÷ binding for throughput; > 1 means the client is better.
 *
 * Run as a child (`node --expose-gc --import tsx bench/raw.ts --raw-mem-child client|binding N
 * BATCH CONNECT`) it opens the sessions and prints one JSON line.
 * @module
 */
import { spawn } from 'node:child_process';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ZkClient } from '../src/client/client.js';
import { loadBinding, Z, type BindingHandle, type NativeHandle } from '../src/binding.js';
import { SESSION_TIMEOUT_MS, now, pct, sleep, within, type Row, type WorkloadContext } from './lib.js';
import { TINY, type Sizes } from './sizes.js';

/** The workload id (and `only=` name). */
export const RAW = 'RAW';

interface RawSizes {
  existsWarmup: number;
  existsN: number;
  existsBlocks: number;
  createN: number;
  createRounds: number;
  children: number;
  childrenWarmup: number;
  childrenN: number;
  dataWarmup: number;
  dataN: number;
  connectWarmup: number;
  connectN: number;
  memSessions: number;
  memBatch: number;
  memChildLimitMs: number;
}

const FULL_RAW: RawSizes = {
  existsWarmup: 5000,
  existsN: 2000,
  existsBlocks: 4,
  createN: 2000,
  createRounds: 3,
  children: 5000,
  childrenWarmup: 2,
  childrenN: 20,
  dataWarmup: 2,
  dataN: 20,
  connectWarmup: 2,
  connectN: 20,
  memSessions: 1000,
  memBatch: 50,
  memChildLimitMs: 45_000,
};

const TINY_RAW: RawSizes = {
  existsWarmup: 5,
  existsN: 20,
  existsBlocks: 2,
  createN: 20,
  createRounds: 1,
  children: 50,
  childrenWarmup: 1,
  childrenN: 3,
  dataWarmup: 1,
  dataN: 3,
  connectWarmup: 1,
  connectN: 3,
  memSessions: 20,
  memBatch: 10,
  memChildLimitMs: 30_000,
};

const OPEN_ACL = [{ perms: 31, scheme: 'world', id: 'anyone' }] as const;
const MIB = 1024 * 1024;

type Transport = 'client' | 'binding';
const TRANSPORTS: readonly Transport[] = ['client', 'binding'];

/** The operations measured, the same on both sides. */
interface RawConn {
  exists(path: string): Promise<unknown>;
  create(path: string, data: Buffer, flags: number): Promise<string>;
  getChildren(path: string): Promise<string[]>;
  getData(path: string): Promise<Buffer>;
  delete(path: string): Promise<void>;
  close(): Promise<void>;
}

// ---- the two transports -------------------------------------------------------------------

/** Connects a `ZkClient`; resolves once it is connected. */
async function openClient(connect: string, timeoutMs = 20_000): Promise<ZkClient> {
  const c = new ZkClient(connect, { sessionTimeoutMs: SESSION_TIMEOUT_MS });
  const up = new Promise<void>((resolve, reject) => {
    c.once('connected', () => resolve());
    c.once('expired', () => reject(new Error('client: session expired while connecting')));
    c.once('authFailed', () => reject(new Error('client: auth failed while connecting')));
  });
  c.start();
  try {
    await within(up, timeoutMs, `client connect to ${connect}`);
  } catch (err) {
    await c.close().catch(() => undefined);
    throw err;
  }
  return c;
}

function clientConn(c: ZkClient): RawConn {
  return {
    exists: (p) => c.exists(p),
    create: (p, d, flags) => c.create(p, d, { acl: OPEN_ACL, flags }).then((r) => r.path),
    getChildren: (p) => c.getChildren(p).then((r) => r.children),
    getData: (p) => c.getData(p).then((r) => r.data),
    delete: (p) => c.delete(p),
    close: () => c.close(),
  };
}

/** Makes a binding handle (not started). Same config as `src/native.ts`, C client logging errors only. */
function newBinding(connect: string): BindingHandle {
  const Binding = loadBinding();
  return new Binding({
    connect,
    timeout: SESSION_TIMEOUT_MS,
    debug_level: 1, // ZOO_LOG_LEVEL_ERROR, as the anchors' raw_bench.js
    host_order_deterministic: false,
    // 10 wake-ups in a row without a complete response close the handle as expired (binding
    // default): a 1 MB reply takes more than that. src/native.ts raises it the same way.
    response_counter_limit: 2 ** 30,
  });
}

/** Connects a binding handle; resolves once it is connected. */
async function openBinding(connect: string, timeoutMs = 20_000): Promise<BindingHandle> {
  const h = newBinding(connect);
  const up = new Promise<void>((resolve, reject) => {
    h.on('connect', () => resolve());
    h.on('close', (_self: unknown, rc: unknown) => reject(new Error(`binding: handle closed while connecting (rc ${String(rc)})`)));
  });
  h.init({});
  try {
    await within(up, timeoutMs, `binding connect to ${connect}`);
  } catch (err) {
    closeBinding(h);
    throw err;
  }
  return h;
}

/** Closes a binding handle (the C client's `zookeeper_close` waits for the closeSession reply). */
function closeBinding(h: BindingHandle): void {
  h.removeAllListeners();
  try {
    h.close();
  } catch {
    /* already closed */
  }
}

type Cb = (rc: number, err: string, a?: unknown, b?: unknown) => void;

function bindingCall<T>(_n: NativeHandle, op: string, path: string, invoke: (cb: Cb) => number, map: (a: unknown, b: unknown) => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const rc = invoke((code, err, a, b) => {
      if (code === 0) resolve(map(a, b));
      else reject(new Error(`binding ${op} ${path}: rc ${code} ${err}`));
    });
    if (typeof rc === 'number' && rc !== 0) reject(new Error(`binding ${op} ${path}: immediate rc ${rc}`));
  });
}

function bindingConn(h: BindingHandle): RawConn {
  const n = h.native;
  return {
    exists: (p) =>
      bindingCall(
        n,
        'exists',
        p,
        (cb) => n.a_exists(p, false, cb),
        (s) => s,
      ),
    create: (p, d, flags) =>
      bindingCall(
        n,
        'create',
        p,
        (cb) => n.a_create(p, d, flags, cb),
        (path) => path as string,
      ),
    getChildren: (p) =>
      bindingCall(
        n,
        'getChildren',
        p,
        (cb) => n.a_get_children2(p, false, cb),
        (c) => c as string[],
      ),
    getData: (p) =>
      bindingCall(
        n,
        'get',
        p,
        (cb) => n.a_get(p, false, cb),
        (_s, d) => (d as Buffer | null) ?? Buffer.alloc(0),
      ),
    delete: (p) =>
      bindingCall(
        n,
        'delete',
        p,
        (cb) => n.a_delete_(p, -1, cb),
        () => undefined,
      ),
    close: () => {
      closeBinding(h);
      return Promise.resolve();
    },
  };
}

async function open(t: Transport, connect: string): Promise<RawConn> {
  return t === 'client' ? clientConn(await openClient(connect)) : bindingConn(await openBinding(connect));
}

// ---- measurements -------------------------------------------------------------------------

/** Runs `fn` for each transport in turn, `rounds` times, alternating which goes first. */
async function alternate(rounds: number, fn: (t: Transport, round: number) => Promise<void>): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? TRANSPORTS : [...TRANSPORTS].reverse();
    for (const t of order) await fn(t, r);
  }
}

function perTransport<T>(make: () => T): Record<Transport, T> {
  return { client: make(), binding: make() };
}

/** CPU time (user + system, all threads of this process) since `from`, in µs. */
function cpuUs(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return d.user + d.system;
}

/** Creates `n` children under `parent`, all in flight; returns their paths. */
function createMany(c: RawConn, parent: string, n: number, offset = 0): Promise<string[]> {
  const ps = new Array<Promise<string>>(n);
  for (let i = 0; i < n; i++) ps[i] = c.create(`${parent}/item-`, Buffer.from(`item-${offset + i}`), Z.PERSISTENT_SEQUENTIAL);
  return Promise.all(ps);
}

/** Deletes `paths`, up to `window` in flight. */
async function deleteMany(c: RawConn, paths: readonly string[], window = 1000): Promise<void> {
  for (let i = 0; i < paths.length; i += window) await Promise.all(paths.slice(i, i + window).map((p) => c.delete(p)));
}

/**
 * Tries to write a 1 MiB node on a throwaway client: a server with the default `jute.maxbuffer`
 * (1 MiB − 1) drops the connection on that request. Returns the size used and why.
 */
async function bigNodeSize(connect: string, path: string): Promise<{ bytes: number; note: string }> {
  const c = await openClient(connect);
  try {
    await within(c.create(path, Buffer.alloc(MIB, 0x61), { acl: OPEN_ACL, flags: 0 }), 10_000, 'create of 1 MiB');
    return { bytes: MIB, note: '1 MiB written' };
  } catch (err) {
    return { bytes: 1_000_000, note: `1 MiB rejected (${err instanceof Error ? err.message : String(err)}): 1,000,000 bytes used` };
  } finally {
    await c.close().catch(() => undefined);
  }
}

/** What {@link openIdle} measured (bytes per session = the delta ÷ the sessions opened). */
export interface IdleMemory {
  /** Sessions asked for. */
  target: number;
  /** Sessions opened (fewer when one failed: see `failed`). */
  sessions: number;
  heap_ext_bytes_per_session: number;
  rss_bytes_per_session: number;
  heap_bytes_per_session: number;
  external_bytes_per_session: number;
  heap_ext_delta: number;
  rss_delta: number;
  /** Wall time to open them all, `batch` at a time. */
  open_ms: number;
  /** Why opening stopped early. */
  failed?: string;
}

type MemResult = IdleMemory & { transport: Transport };

/**
 * Runs `script` in a child Node process (`--expose-gc --import tsx`, cwd the package root) with
 * `args`, and resolves with the first JSON line it prints on stdout. The child is killed after
 * `limitMs`, or when `signal` aborts; `what` names it in errors (with its last stderr lines).
 * RAW's memory children and SESSIONS' child (bench/scale.ts) run through it.
 */
export function runChild<T>(script: string, args: readonly string[], limitMs: number, signal: AbortSignal, what: string): Promise<T> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script, ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const kill = () => {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    };
    const timer = setTimeout(kill, limitMs);
    signal.addEventListener('abort', kill, { once: true });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', kill);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        resolve(JSON.parse(line) as T);
        return;
      }
      reject(new Error(`${what} exited ${sig ?? String(code)} without a result; stderr: ${err.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

/** Runs the memory child for one transport. */
function memChild(t: Transport, n: number, batch: number, connect: string, limitMs: number, signal: AbortSignal): Promise<MemResult> {
  const args = ['--raw-mem-child', t, String(n), String(batch), connect];
  return runChild<MemResult>(fileURLToPath(import.meta.url), args, limitMs, signal, `memory child (${t})`);
}

/** RAW: see the module documentation. */
export async function raw(ctx: WorkloadContext, z: Sizes): Promise<void> {
  const s = z === TINY || z.w0N < 100 ? TINY_RAW : FULL_RAW;
  const cs = ctx.connectString;
  const base = `${ctx.root}/raw`;
  const emit = (measure: string, t: Transport, fields: Row) => ctx.report.emit(RAW, `${measure}/${t}`, { measure, transport: t, ...fields });
  const conns = new Map<Transport, RawConn>();
  try {
    for (const t of TRANSPORTS) conns.set(t, await open(t, cs));
    const c = (t: Transport) => conns.get(t)!;
    const setup = c('client');
    await setup.create(base, Buffer.alloc(0), 0);

    // exists round trip
    ctx.signal.throwIfAborted();
    for (const t of TRANSPORTS) for (let i = 0; i < s.existsWarmup; i++) await c(t).exists('/');
    const lat = perTransport<number[]>(() => []);
    const existsCpu = perTransport(() => ({ us: 0 }));
    const per = Math.ceil(s.existsN / s.existsBlocks);
    await alternate(s.existsBlocks, async (t) => {
      const conn = c(t);
      const into = lat[t];
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < per && into.length < s.existsN; i++) {
        const t0 = now();
        await conn.exists('/');
        into.push(now() - t0);
      }
      existsCpu[t].us += cpuUs(cpu0);
    });
    for (const t of TRANSPORTS) {
      const l = lat[t];
      emit('exists-rtt', t, {
        n: l.length,
        warmup: s.existsWarmup,
        p50_us: pct(l, 50) * 1000,
        p99_us: pct(l, 99) * 1000,
        p50_ms: pct(l, 50),
        p99_ms: pct(l, 99),
        cpu_us_per_op: existsCpu[t].us / l.length,
      });
    }

    // pipelined creates (the anchors' R3: persistent-sequential, data "item-i"). A whole batch
    // of warm-up each (the client's encode/decode paths are cold JavaScript until then; the
    // cold batch is reported as `cold_ops_per_s`), then `createRounds` batches, alternating
    // which transport goes first; the median round is reported.
    ctx.signal.throwIfAborted();
    const batchMs = perTransport<number[]>(() => []);
    const batchCpu = perTransport<number[]>(() => []);
    await alternate(1 + s.createRounds, async (t, round) => {
      const conn = c(t);
      const parent = `${base}/creates-${t}`;
      if (round === 0) await conn.create(parent, Buffer.alloc(0), 0);
      const cpu0 = process.cpuUsage();
      const t0 = now();
      const paths = await createMany(conn, parent, s.createN, round * s.createN);
      batchMs[t].push(now() - t0);
      batchCpu[t].push(cpuUs(cpu0) / s.createN);
      if (new Set(paths).size !== s.createN) throw new Error(`${t}: ${new Set(paths).size} distinct paths for ${s.createN} creates`);
      await deleteMany(conn, paths);
      if (round === s.createRounds) await conn.delete(parent);
    });
    for (const t of TRANSPORTS) {
      const [cold, ...rounds] = batchMs[t];
      const el = pct(rounds, 50);
      emit('pipelined-create', t, {
        n: s.createN,
        rounds: rounds.length,
        total_ms: el,
        ops_per_s: s.createN / (el / 1000),
        best_ops_per_s: s.createN / (Math.min(...rounds) / 1000),
        cold_ops_per_s: s.createN / (cold! / 1000),
        cpu_us_per_op: pct(batchCpu[t].slice(1), 50),
        cold_cpu_us_per_op: batchCpu[t][0]!,
      });
    }

    // getChildren of a node with `children` children
    ctx.signal.throwIfAborted();
    const wide = `${base}/wide`;
    await setup.create(wide, Buffer.alloc(0), 0);
    const kids: string[] = [];
    for (let i = 0; i < s.children; i += 1000) kids.push(...(await createMany(setup, wide, Math.min(1000, s.children - i), i)));
    const listMs = perTransport<number[]>(() => []);
    for (const t of TRANSPORTS) for (let i = 0; i < s.childrenWarmup; i++) await c(t).getChildren(wide);
    await alternate(s.childrenN, async (t) => {
      const t0 = now();
      const got = await c(t).getChildren(wide);
      listMs[t].push(now() - t0);
      if (got.length !== s.children) throw new Error(`${t}: listed ${got.length} children of ${s.children}`);
    });
    for (const t of TRANSPORTS) {
      emit('get-children', t, { children: s.children, n: s.childrenN, p50_ms: pct(listMs[t], 50), p99_ms: pct(listMs[t], 99) });
    }
    await deleteMany(setup, kids);
    await setup.delete(wide);

    // getData of a 1 MB node
    ctx.signal.throwIfAborted();
    const big = `${base}/big`;
    const size = await bigNodeSize(cs, big);
    if (size.bytes !== MIB) {
      ctx.report.progress(`RAW: ${size.note}`);
      await setup.create(big, Buffer.alloc(size.bytes, 0x62), 0);
    }
    const getMs = perTransport<number[]>(() => []);
    for (const t of TRANSPORTS) for (let i = 0; i < s.dataWarmup; i++) await c(t).getData(big);
    await alternate(s.dataN, async (t) => {
      const t0 = now();
      const d = await c(t).getData(big);
      getMs[t].push(now() - t0);
      if (d.length !== size.bytes) throw new Error(`${t}: read ${d.length} bytes of ${size.bytes}`);
    });
    for (const t of TRANSPORTS) {
      emit('get-data-1mb', t, { bytes: size.bytes, n: s.dataN, p50_ms: pct(getMs[t], 50), p99_ms: pct(getMs[t], 99), note: size.note });
    }
    await setup.delete(big);

    // connect (+ close, not timed)
    ctx.signal.throwIfAborted();
    const connMs = perTransport<number[]>(() => []);
    await alternate(s.connectWarmup + s.connectN, async (t, round) => {
      const t0 = now();
      const conn = await open(t, cs);
      const el = now() - t0;
      await conn.close();
      if (round >= s.connectWarmup) connMs[t].push(el);
    });
    for (const t of TRANSPORTS) {
      emit('connect', t, { n: s.connectN, warmup: s.connectWarmup, p50_ms: pct(connMs[t], 50), p99_ms: pct(connMs[t], 99) });
    }

    await setup.delete(base);
  } finally {
    // close this process's binding handles before spawning: the C client's sockets lack
    // close-on-exec (docs/binding-issues.md) and would be inherited by the children
    await Promise.all([...conns.values()].map((x) => x.close().catch(() => undefined)));
    conns.clear();
  }

  // memory per idle session, one child process per transport
  for (const t of TRANSPORTS) {
    ctx.signal.throwIfAborted();
    const m = await memChild(t, s.memSessions, s.memBatch, cs, s.memChildLimitMs, ctx.signal);
    const note = m.sessions < m.target ? `only ${m.sessions} of ${m.target} sessions opened: ${m.failed ?? '?'}` : undefined;
    if (note) ctx.report.progress(`RAW memory (${t}): ${note}`);
    emit('memory-per-session', t, {
      sessions: m.sessions,
      target: m.target,
      heap_ext_bytes_per_session: m.heap_ext_bytes_per_session,
      rss_bytes_per_session: m.rss_bytes_per_session,
      heap_bytes_per_session: m.heap_bytes_per_session,
      external_bytes_per_session: m.external_bytes_per_session,
      open_ms: m.open_ms,
      ...(note ? { note } : {}),
    });
  }
}

// ---- the side-by-side table ---------------------------------------------------------------

/** Table rows: measure, field, label, better when (`lower`: ratio binding÷client; `higher`: client÷binding). */
const TABLE: [measure: string, field: string, label: (r: Row) => string, better: 'lower' | 'higher', digits: number][] = [
  ['exists-rtt', 'p50_us', (r) => `exists round trip p50 (µs, n=${String(r['n'])})`, 'lower', 0],
  ['exists-rtt', 'p99_us', () => 'exists round trip p99 (µs)', 'lower', 0],
  ['pipelined-create', 'total_ms', (r) => `${String(r['n'])} pipelined creates (ms total, median of ${String(r['rounds'])})`, 'lower', 1],
  ['pipelined-create', 'ops_per_s', () => 'pipelined creates (ops/s)', 'higher', 0],
  ['exists-rtt', 'cpu_us_per_op', () => 'process CPU per sequential exists (µs)', 'lower', 1],
  ['pipelined-create', 'cpu_us_per_op', () => 'process CPU per pipelined create (µs)', 'lower', 1],
  ['pipelined-create', 'cold_ops_per_s', () => 'first (cold) batch of creates (ops/s)', 'higher', 0],
  ['get-children', 'p50_ms', (r) => `getChildren, ${String(r['children'])} children, p50 (ms, n=${String(r['n'])})`, 'lower', 2],
  ['get-data-1mb', 'p50_ms', (r) => `getData ${Number(r['bytes']).toLocaleString('en-US')} B p50 (ms, n=${String(r['n'])})`, 'lower', 2],
  ['connect', 'p50_ms', (r) => `connect p50 (ms, n=${String(r['n'])})`, 'lower', 2],
  ['memory-per-session', 'heap_ext_bytes_per_session', (r) => `heap+external per idle session (KB, ${String(r['sessions'])} sessions)`, 'lower', 1],
  ['memory-per-session', 'rss_bytes_per_session', () => 'RSS per idle session (KB)', 'lower', 1],
];

/** The RAW rows side by side (row | client | binding | ratio), or '' when there are none. */
export function rawTable(rows: readonly Row[]): string {
  const raws = rows.filter((r) => r['workload'] === RAW);
  if (raws.length === 0) return '';
  const find = (m: string, t: Transport) => raws.find((r) => r['measure'] === m && r['transport'] === t);
  const fmt = (v: unknown, field: string, digits: number) => {
    if (typeof v !== 'number') return '—';
    const x = field.endsWith('_bytes_per_session') ? v / 1024 : v;
    return x.toFixed(digits);
  };
  const body: string[][] = [];
  const notes: string[] = [];
  for (const [m, f, label, better, digits] of TABLE) {
    const c = find(m, 'client');
    const b = find(m, 'binding');
    if (!c && !b) continue;
    const cv = c?.[f];
    const bv = b?.[f];
    const [num, den] = better === 'lower' ? [bv, cv] : [cv, bv];
    const ratio = typeof num === 'number' && typeof den === 'number' && Number.isFinite(num) && den > 0 ? (num / den).toFixed(2) : '—';
    const bn = b?.['note'];
    const cn = c?.['note'];
    const bFlag = m === 'memory-per-session' && typeof bn === 'string' ? ' *' : '';
    const cFlag = m === 'memory-per-session' && typeof cn === 'string' ? ' *' : '';
    body.push([label((c ?? b)!), fmt(cv, f, digits) + cFlag, fmt(bv, f, digits) + bFlag, ratio]);
    if (f === 'heap_ext_bytes_per_session') {
      if (typeof cn === 'string') notes.push(`* client: ${cn}`);
      if (typeof bn === 'string') notes.push(`* binding: ${bn}`);
    }
  }
  const head = ['row', 'client', 'binding', 'ratio'];
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join(' | ') + ' |';
  const out = [
    'Raw operations: own client vs the binding (ratio: binding÷client for times and bytes, client÷binding for ops/s; >1 = client better)',
    line(head),
    '|' + widths.map((w, i) => '-'.repeat(w + 1) + (i === 0 ? '-' : ':')).join('|') + '|',
    ...body.map(line),
    ...notes,
  ];
  return out.join('\n') + '\n';
}

// ---- the memory child ---------------------------------------------------------------------

function gcNow(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

function mem(): { heapExt: number; heap: number; external: number; rss: number } {
  const m = process.memoryUsage();
  return { heapExt: m.heapUsed + m.external, heap: m.heapUsed, external: m.external, rss: m.rss };
}

/**
 * Opens 10 warm-up handles, forces GC, takes a memory snapshot, opens `n` more (`batch` at once),
 * idles 1 s, forces GC and takes another. Returns the figures and the handles (warm-ups apart), for
 * the caller to use and close. Run it in a child with `--expose-gc` ({@link runChild}).
 */
export async function openIdle<T>(openOne: () => Promise<T>, n: number, batch: number): Promise<{ memory: IdleMemory; warm: T[]; opened: T[] }> {
  const warm: T[] = [];
  const opened: T[] = [];
  for (let i = 0; i < 10; i++) warm.push(await openOne());
  await sleep(300);
  gcNow();
  const before = mem();
  const t0 = now();
  let failed: string | undefined;
  while (opened.length < n) {
    const res = await Promise.allSettled(Array.from({ length: Math.min(batch, n - opened.length) }, () => openOne()));
    for (const r of res) if (r.status === 'fulfilled') opened.push(r.value);
    const bad = res.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (bad) {
      failed = bad.reason instanceof Error ? bad.reason.message : String(bad.reason);
      break;
    }
  }
  const openMs = now() - t0;
  await sleep(1000); // idle: pings only
  gcNow();
  const after = mem();
  const k = opened.length;
  const per = (d: number) => (k > 0 ? d / k : NaN);
  const memory: IdleMemory = {
    target: n,
    sessions: k,
    heap_ext_bytes_per_session: per(after.heapExt - before.heapExt),
    rss_bytes_per_session: per(after.rss - before.rss),
    heap_bytes_per_session: per(after.heap - before.heap),
    external_bytes_per_session: per(after.external - before.external),
    heap_ext_delta: after.heapExt - before.heapExt,
    rss_delta: after.rss - before.rss,
    open_ms: openMs,
    ...(failed ? { failed } : {}),
  };
  return { memory, warm, opened };
}

/** Closes every handle, 100 at a time (the binding's close waits for each closeSession reply). */
export async function closeInBatches(closers: ReadonlyArray<() => Promise<unknown>>): Promise<void> {
  for (let i = 0; i < closers.length; i += 100) await Promise.all(closers.slice(i, i + 100).map((c) => c().catch(() => undefined)));
}

/** Child mode: opens `n` idle sessions (after 10 warm-up ones) and prints the memory they take. */
async function memChildMain(t: Transport, n: number, batch: number, connect: string): Promise<void> {
  const { memory, warm, opened } = await openIdle(() => open(t, connect), n, batch);
  process.stdout.write(JSON.stringify({ transport: t, ...memory } satisfies MemResult) + '\n');
  await closeInBatches([...warm, ...opened].map((c) => () => c.close()));
}

if (process.argv[2] === '--raw-mem-child' && process.argv[1] && resolvePath(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [, , , t, n, batch, connect] = process.argv;
  if ((t !== 'client' && t !== 'binding') || !connect) {
    process.stderr.write('usage: raw.ts --raw-mem-child client|binding N BATCH CONNECT\n');
    process.exit(2);
  }
  memChildMain(t, Number(n), Number(batch), connect).then(
    () => setTimeout(() => process.exit(0), 50),
    (err: unknown) => {
      process.stderr.write(`raw memory child: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
