/**
 * `npm run bench` — the anchors' workloads (W0–W5, see ../shared/anchors/README.md) on
 * zk-recipes' own recipes, W6 (the task scheduler), the server's own limit (SERVER), the herd check
 * (10 000 waiters on one lock), RAW (own client vs the binding), and the SCALE rows: TREE (a
 * 10 000-node TreeCache), SESSIONS (1000 sessions in one process), CURVES (cost by number of
 * participants, drawn to docs/bench-curves.svg), BACKLOG (queue and scheduler throughput with up
 * to a million items pending, on a server of its own). With `--json` (the side-by-side run) the
 * SCALE rows (herd, TREE, SESSIONS, CURVES, BACKLOG) run only when named in `only=` (or `--tiny`).
 *
 *   npm run bench                          readable table on stdout, progress on stderr
 *   npm run bench -- --json                one JSON object per line on stdout (anchors' schema,
 *                                          lib "zk-recipes", a `meta` line first), nothing else
 *   npm run bench -- only=W1,W3            a subset (SERVER W0 W1 W2 W3 W4 W4a W4b W5 W6 herd RAW
 *                                          TREE SESSIONS CURVES BACKLOG)
 *   npm run bench -- --tiny                tiny sizes (the smoke test; figures mean nothing)
 *   npm run bench -- chart=/tmp/c.svg      where the CURVES chart goes (default
 *                                          docs/bench-curves.svg; not written with --tiny unless
 *                                          given)
 *
 * With a SERVER row in the run, the table has a "server share" column: each row's writes and
 * reads per second as a share of the server's write and read ceilings (bench/scale.ts).
 *
 * Uses `ZK_CONNECT` if set, else starts a server through the test kit. Every run works under a
 * fresh root (`/anchors-zk-recipes-<ms>-<rand>`) deleted at the end; sessions time out after
 * 10 s. A workload that fails (or whose recipe is missing) prints an `error` line and the run
 * goes on; the exit code is 0 whenever the bench itself could run (1 only when no server could
 * be started or reached).
 * @module
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ZkSession } from '../src/session.js';
import { startZooKeeper, type ZooKeeperServer } from '../src/testing/index.js';
import { BACKLOG, backlog, backlogTable } from './backlog.js';
import { w5 } from './barrier.js';
import { curvesTable, writeChart } from './chart.js';
import { CURVES, curves } from './curves.js';
import { Reporter, SESSION_TIMEOUT_MS, WorkloadContext, sleep } from './lib.js';
import { herd, w0, w1, w2 } from './locks.js';
import { raw, rawTable } from './raw.js';
import { w3 } from './leader.js';
import { w4a, w4b } from './queue.js';
import { SERVER, SESSIONS, manySessions, perOpFields, serverCeiling, shareColumns } from './scale.js';
import { w6 } from './scheduler.js';
import { FULL, TINY, type Sizes } from './sizes.js';
import { TREE, treeCache } from './tree-cache.js';

type Workload = (ctx: WorkloadContext, z: Sizes) => Promise<void>;

/** Run order, and the `only=` names that select each workload. */
/** `scale`: a SCALE row (our own bar, no peer has it): in `--json` mode only when named in `only=`. */
const WORKLOADS: { id: string; select: string[]; run: Workload; limitMs: number; scale?: true }[] = [
  { id: 'W0', select: ['W0'], run: w0, limitMs: 30_000 },
  { id: 'W1', select: ['W1'], run: w1, limitMs: 45_000 },
  { id: 'W2', select: ['W2'], run: w2, limitMs: 45_000 },
  { id: 'W3', select: ['W3'], run: w3, limitMs: 45_000 },
  { id: 'W4a', select: ['W4', 'W4a'], run: w4a, limitMs: 45_000 },
  { id: 'W4b', select: ['W4', 'W4b'], run: w4b, limitMs: 45_000 },
  { id: 'W5', select: ['W5'], run: w5, limitMs: 45_000 },
  { id: 'W6', select: ['W6'], run: w6, limitMs: 60_000 },
  // After the anchors' workloads: its 8000 pipelined writes would leave the server busy (GC,
  // snapshot) under W0's latencies; the share column is computed once the run is over.
  { id: SERVER, select: ['SERVER', 'server'], run: serverCeiling, limitMs: 60_000 },
  { id: 'herd', select: ['herd', 'HERD'], run: herd, limitMs: 400_000, scale: true },
  { id: 'RAW', select: ['RAW', 'raw'], run: raw, limitMs: 90_000 },
  { id: TREE, select: ['TREE', 'tree'], run: treeCache, limitMs: 120_000, scale: true },
  { id: SESSIONS, select: ['SESSIONS', 'sessions'], run: manySessions, limitMs: 180_000, scale: true },
  { id: CURVES, select: ['CURVES', 'curves'], run: curves, limitMs: 240_000, scale: true },
  { id: BACKLOG, select: ['BACKLOG', 'backlog'], run: backlog, limitMs: 1_200_000, scale: true },
];

interface Args {
  json: boolean;
  only: Set<string> | undefined;
  sizes: Sizes;
  tiny: boolean;
  /** `chart=<path>`: where the CURVES chart goes. */
  chart: string | undefined;
}

const USAGE = `usage: npm run bench -- [--json] [--tiny] [only=${WORKLOADS.map((w) => w.id).join(',')}] [chart=<file.svg>]
  default: every workload, in that order (several minutes); W4 = W4a + W4b
  chart=   where the CURVES chart is written (default docs/bench-curves.svg; with --tiny only when given)
`;

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { json: false, only: undefined, sizes: FULL, tiny: false, chart: undefined };
  for (const a of argv) {
    if (a === '--json') args.json = true;
    else if (a.startsWith('chart=') || a.startsWith('--chart=')) args.chart = resolvePath(a.slice(a.indexOf('=') + 1));
    else if (a === '--tiny') {
      args.sizes = TINY;
      args.tiny = true;
    } else if (a.startsWith('only=') || a.startsWith('--only=')) {
      args.only = new Set(
        a
          .slice(a.indexOf('=') + 1)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      );
    } else if (a === '--help' || a === '-h') {
      process.stderr.write(USAGE);
      process.exit(0);
    } else {
      process.stderr.write(`bench: ignoring unknown argument ${a}\n`);
    }
  }
  return args;
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '';
  } catch {
    return '';
  }
}

function bindingVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../node_modules/zookeeper/package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '';
  } catch {
    return '';
  }
}

/** Runs one workload with a time limit; a failure or an overrun becomes an error line. */
async function runOne(w: (typeof WORKLOADS)[number], connect: string, root: string, admin: ZkSession, report: Reporter, sizes: Sizes): Promise<void> {
  const ctl = new AbortController();
  const ctx = new WorkloadContext(connect, root, admin, report, ctl.signal);
  const started = Date.now();
  report.progress(`${w.id} ...`);
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<'overrun'>((r) => {
    timer = setTimeout(() => r('overrun'), w.limitMs);
  });
  const run = w.run(ctx, sizes).then(() => 'ok' as const);
  run.catch(() => undefined);
  try {
    const res = await Promise.race([run, overrun]);
    if (res === 'overrun') {
      ctl.abort(new Error(`${w.id} ran past its ${w.limitMs} ms limit`));
      throw new Error(`did not finish within ${w.limitMs} ms`);
    }
    report.progress(`${w.id} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    ctl.abort(err);
    report.error(w.id, err);
  } finally {
    clearTimeout(timer);
    await ctx.closeAll();
    // let an overrun workload notice its closed sessions before the next one starts
    await Promise.race([run.catch(() => undefined), sleep(2000)]);
  }
}

/** Writes the CURVES chart (not with --tiny unless `chart=` was given): caption = date and machine. */
function writeCurvesChart(args: Args, report: Reporter, server: ZooKeeperServer | undefined): void {
  if (!report.rows.some((r) => r['workload'] === CURVES) || (args.tiny && !args.chart)) return;
  const file = args.chart ?? fileURLToPath(new URL('../docs/bench-curves.svg', import.meta.url));
  const cpu = cpus();
  const caption = [
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    `${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}`,
    `Node ${process.version}`,
    `server: ${server ? `test kit (${server.kind})` : 'ZK_CONNECT'}`,
    args.tiny ? 'tiny sizes' : 'full sizes',
  ].join(' · ');
  try {
    report.progress(writeChart(report.rows, file, caption) ? `chart written to ${file}` : 'no chart: no CURVES rows');
  } catch (err) {
    report.progress(`chart not written to ${file}: ${String(err)}`);
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const report = new Reporter(args.json, process.stdout, perOpFields);
  // A stray rejection or exception inside a recipe must not end the run: note it and go on.
  process.on('unhandledRejection', (err) => report.progress(`unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
  process.on('uncaughtException', (err) => report.progress(`uncaught exception: ${err.stack ?? err.message}`));

  let server: ZooKeeperServer | undefined;
  let connect = process.env['ZK_CONNECT'];
  if (!connect) {
    report.progress('starting ZooKeeper through the test kit (set ZK_CONNECT to use a running server)');
    try {
      server = await startZooKeeper();
    } catch (err) {
      report.error('bench', err);
      return 1;
    }
    connect = server.connectString;
  }
  let rc = 0;
  const root = `/anchors-zk-recipes-${Date.now()}-${Math.floor(Math.random() * 0xffffffff).toString(16)}`;
  let admin: ZkSession | undefined;
  try {
    admin = await ZkSession.connect(connect, { sessionTimeoutMs: SESSION_TIMEOUT_MS });
    await admin.create(root);
    report.emit('meta', 'meta', {
      zk_recipes: version(),
      zookeeper_npm: bindingVersion(),
      node: process.version,
      connect,
      root,
      cpus: cpus().length,
      sizes: args.tiny ? 'tiny' : 'anchors',
      server: server ? server.kind : 'ZK_CONNECT',
    });
    // The side-by-side run (run.sh: --json, a 600 s limit) takes the anchors' workloads; the
    // SCALE rows (minutes: 10 000 waiters, a million items) run in table mode or when named.
    const sideBySide = args.json && !args.tiny && !args.only;
    const selected = WORKLOADS.filter((w) => (args.only ? w.select.some((s) => args.only!.has(s)) : !(sideBySide && w.scale)));
    if (sideBySide)
      report.progress(
        `--json: SCALE rows (${WORKLOADS.filter((w) => w.scale)
          .map((w) => w.id)
          .join(' ')}) only with only=`,
      );
    const t0 = Date.now();
    for (const w of selected) await runOne(w, connect, root, admin, report, args.sizes);
    report.progress(`all done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (err) {
    report.error('bench', err);
    if (!admin) rc = 1; // could not even connect: the bench did not run
  } finally {
    if (admin) {
      try {
        await admin.delete(root, { recursive: true });
      } catch (err) {
        report.progress(`cleanup of ${root} failed: ${String(err)}`);
      }
      await admin.close();
    }
    await server?.close();
  }
  writeCurvesChart(args, report, server);
  const extra = [rawTable(report.rows), backlogTable(report.rows), curvesTable(report.rows)].filter(Boolean);
  const table = [report.table(shareColumns(report.rows)), ...extra].join('\n');
  (args.json ? process.stderr : process.stdout).write(`\n${table}`);
  return rc;
}

main().then(
  (rc) => {
    setTimeout(() => process.exit(rc), 50);
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    setTimeout(() => process.exit(1), 50);
  },
);
