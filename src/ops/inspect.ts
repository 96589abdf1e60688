/**
 * The recipe inspector: looks at a path and tells which recipe lives there, from the znode names
 * and shapes Curator (and zk-recipes) use, and who is doing what: who holds a lock and since
 * when, with which session; who leads; how deep a queue is; which workers a scheduler has.
 *
 * Recognised layouts (first match wins):
 *
 * | kind             | children of `<path>`                                             |
 * |------------------|------------------------------------------------------------------|
 * | `semaphore`      | `leases/` and/or `locks/` only, or `…-lease-<seq>` nodes          |
 * | `scheduler`      | two or more of `workers/`, `tasks/`, `leader/`, `assign/`, `schedules/` |
 * | `rwlock`         | `…__READ__<seq>` / `…__WRIT__<seq>`                               |
 * | `leader-latch`   | `…-latch-<seq>`                                                   |
 * | `lock`           | `…-lock-<seq>` (also Curator's LeaderSelector)                    |
 * | `queue`          | `queue-…` items (claims in `<path>-locks`, poison in `<path>-poison`) |
 * | `double-barrier` | `ready` plus ephemeral participants (before `ready`: a `group`)  |
 * | `group`          | ephemeral, non-sequential children                               |
 * | `tree`           | anything else: a summary of the node and its children             |
 *
 * Contenders are ordered by the sequence suffix after their marker (`-lock-`, `-latch-`, ...),
 * never by the whole name, whose `_c_<uuid>-` prefix is random. Reads only; never writes.
 * @module
 */
import { NoNodeError, InvalidArgumentError } from '../errors.js';
import { joinPath, validatePath } from '../paths.js';
import type { Stat, ZkSession } from '../session.js';
import { WaitScope, checkWaitOptions, type WaitOptions } from '../wait.js';
import { connectedSessions, normalizeSessionId, parseConnectString } from './fourlw.js';
import { formatAge } from './format.js';
import { nextFire, parseCron } from '../../recipes/scheduler/cron.js';

export { formatAge, formatInspection } from './format.js';

/** One child node as the inspector saw it. */
export interface NodeView {
  /** Node name. */
  name: string;
  /** Full path. */
  path: string;
  /** Sequence number after the recipe's marker, if the name has one. */
  sequence: number | undefined;
  /** Owning session (`0x…`) of an ephemeral node; undefined for a persistent node. */
  sessionId: string | undefined;
  /** Whether that session is connected to a server now (from `cons`); undefined if unknown. */
  sessionConnected: boolean | undefined;
  /** Creation time (the server's clock). */
  createdAt: Date;
  /** `now - createdAt`, in ms. */
  ageMs: number;
  /** The data as text (UTF-8), or a hex preview for binary data; cut at 200 characters. */
  data: string;
  /** Bytes of data. */
  dataLength: number;
}

/** A read-write lock contender. */
export interface RwNodeView extends NodeView {
  /** What it holds or wants. */
  mode: 'read' | 'write';
}

/** A scheduler worker. */
export interface WorkerView extends NodeView {
  /** From its JSON data, when present. */
  capacity: number | undefined;
  /** From its JSON data, when present. */
  load: number | undefined;
  /** From its JSON data, when present. */
  draining: boolean | undefined;
  /** Tasks under `assign/<worker>` (undefined when there is no such node). */
  assigned: number | undefined;
}

/** What every {@link Inspection} has, whatever its `kind`. */
export interface InspectionBase {
  /** The inspected path. */
  path: string;
  /** When the inspection ran (local clock). */
  inspectedAt: Date;
  /** Things a person should look at first (stale holder, dead session, orphaned tasks). */
  hints: string[];
}

/** Nothing at the path (or it was deleted while being inspected). */
export interface MissingInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'missing';
}

/** A mutex (`…-lock-<seq>` children): Curator's InterProcessMutex, our {@link Lock}, a LeaderSelector. */
export interface LockInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'lock';
  /** The contender with the lowest sequence, which holds the lock; undefined when there is none. */
  holder: NodeView | undefined;
  /** The other contenders, in the order they will get the lock. */
  waiters: NodeView[];
}

/** A read-write lock (`…__READ__<seq>` / `…__WRIT__<seq>` children). */
export interface RwLockInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'rwlock';
  /** Who holds now: the readers ahead of the first writer, or that writer alone when it is first. */
  holders: RwNodeView[];
  /** Everyone after the holders, in sequence order. */
  waiters: RwNodeView[];
}

/** A leader latch (`…-latch-<seq>` children). */
export interface LeaderLatchInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'leader-latch';
  /** The participant with the lowest sequence, which leads; undefined when there is none. */
  leader: NodeView | undefined;
  /** Every participant, in sequence order (the leader first). */
  participants: NodeView[];
}

/** A counting semaphore (Curator's InterProcessSemaphoreV2 layout: `leases/` and `locks/`). */
export interface SemaphoreInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'semaphore';
  /** Every lease node, in sequence order (held ones, and `pendingLease` if any). */
  leases: NodeView[];
  /** The lease node placed by the head of the acquire line, still waiting for a free slot. */
  pendingLease: NodeView | undefined;
  /** The acquire line under `locks/`: the first places its lease, the others wait for it. */
  waiters: NodeView[];
}

/** A distributed queue (`queue-…` items). */
export interface QueueInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'queue';
  /** Items waiting (`queue-…` children). */
  depth: number;
  /** The next item to be taken (lowest name: sequence order for FIFO, priority/time order otherwise). */
  head: NodeView | undefined;
  /** Items claimed by consumers (`<path>-locks` children); undefined when there is no such node. */
  inFlight: number | undefined;
  /** Items that could not be decoded, moved to `<path>-poison`; undefined when there is no such node. */
  poisoned: number | undefined;
}

/** A group of members (ephemeral, non-sequential children), e.g. {@link GroupMember}. */
export interface GroupInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'group';
  /** The members, by name. */
  members: NodeView[];
}

/** A {@link TaskScheduler} (`workers/`, `tasks/`, `leader/`, `assign/`, `schedules/`). */
export interface SchedulerInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'scheduler';
  /** The dispatcher that leads (lowest sequence under `leader/`); undefined when none does. */
  leader: NodeView | undefined;
  /** The registered workers (`workers/` children). */
  workers: WorkerView[];
  /** The task records under `tasks/`. */
  tasks: {
    /** How many task nodes there are. */
    total: number;
    /** How many are in each state (`pending`, `assigned`, `running`, ...; `unknown` when unreadable). */
    byState: Record<string, number>;
  };
  /** The recurring schedules under `schedules/`. */
  schedules: ScheduleView[];
}

/** A recurring schedule of a scheduler. */
export interface ScheduleView {
  /** The schedule's id (its node name). */
  id: string;
  /** Period length (ms) of an interval schedule. */
  everyMs: number | undefined;
  /** Cron expression (UTC) of a cron schedule. */
  cron: string | undefined;
  /** Task type it fires. */
  type: string | undefined;
  /** When the last fired period was due; undefined before the first (or when unreadable). */
  lastFiredAt: Date | undefined;
  /** When the first period not fired yet is due (in the past: overdue); undefined if never. */
  nextDueAt: Date | undefined;
}

/** A double barrier after it filled (`ready` plus the ephemeral participants). */
export interface DoubleBarrierInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'double-barrier';
  /** Whether the `ready` node exists (always true here: before it, the layout reads as a `group`). */
  ready: boolean;
  /** The participants, oldest first. */
  participants: NodeView[];
}

/** No recipe recognised: a summary of the node and its children. */
export interface TreeInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'tree';
  /** The inspected node itself. */
  node: NodeView;
  /** Its first children by name (at most `maxChildren`). */
  children: NodeView[];
  /** How many children it has in all. */
  totalChildren: number;
}

/** What {@link inspect} found. Discriminated by `kind`. */
export type Inspection =
  | MissingInspection
  | LockInspection
  | RwLockInspection
  | LeaderLatchInspection
  | SemaphoreInspection
  | QueueInspection
  | GroupInspection
  | SchedulerInspection
  | DoubleBarrierInspection
  | TreeInspection;

/** The recipe kinds {@link inspect} recognises. */
export type InspectionKind = Inspection['kind'];

/** Options of {@link inspect}. */
export interface InspectOptions extends WaitOptions {
  /** A holder older than this gets a hint. @default 600000 (10 minutes) */
  staleAfterMs?: number;
  /** Ask the servers (`cons`) which sessions are connected. @default true */
  checkSessions?: boolean;
  /** Most children listed for a `tree`. @default 50 */
  maxChildren?: number;
}

const SEQ = /^(\d{10})$/;
const MARKERS = { rw: ['__READ__', '__WRIT__'], latch: ['-latch-'], lock: ['-lock-'], lease: ['-lease-'] };

/** Sequence after the last occurrence of one of `markers` (or a bare `lock-<seq>` name). */
function sequenceOf(name: string, markers: readonly string[]): number | undefined {
  for (const m of markers) {
    const bare = m.startsWith('-') ? m.slice(1) : m;
    const at = name.lastIndexOf(m);
    const start = at >= 0 ? at + m.length : name.startsWith(bare) ? bare.length : -1;
    if (start < 0) continue;
    const s = SEQ.exec(name.slice(start));
    if (s) return Number(s[1]);
  }
  return undefined;
}

function ordered<T extends NodeView>(nodes: T[], markers: readonly string[]): T[] {
  return nodes
    .map((n) => ({ ...n, sequence: sequenceOf(n.name, markers) }))
    .filter((n) => n.sequence !== undefined)
    .sort((a, b) => a.sequence! - b.sequence!);
}

function preview(data: Buffer): string {
  const text = data.toString('utf8');
  // eslint-disable-next-line no-control-regex
  const printable = !text.includes('\uFFFD') && !/[\u0000-\u0008\u000e-\u001f]/.test(text);
  const s = printable ? text : `0x${data.subarray(0, 64).toString('hex')}`;
  return s.length > 200 ? `${s.slice(0, 199)}…` : s;
}

/** Reads and the shared bits of one inspection. */
class Reader {
  private live: Set<string> | undefined | null = null; // null: not asked yet
  private allAnswered = false;
  constructor(private readonly session: ZkSession, private readonly opts: InspectOptions, readonly now = Date.now()) {}

  async children(path: string): Promise<string[] | undefined> {
    try {
      return await this.session.getChildren(path);
    } catch (err) {
      if (err instanceof NoNodeError) return undefined;
      throw err;
    }
  }

  async node(path: string, name: string): Promise<NodeView | undefined> {
    let r: { data: Buffer; stat: Stat };
    try {
      r = await this.session.get(path);
    } catch (err) {
      if (err instanceof NoNodeError) return undefined; // went away since the listing
      throw err;
    }
    const owner = r.stat.ephemeralOwner;
    const eph = owner !== '0' && owner !== '' && !/^0+$/.test(owner);
    const createdAt = new Date(r.stat.ctime);
    return {
      name, path, sequence: undefined, sessionId: eph ? `0x${normalizeSessionId(owner)}` : undefined, sessionConnected: undefined,
      createdAt, ageMs: Math.max(0, this.now - createdAt.getTime()), data: preview(r.data), dataLength: r.stat.dataLength,
    };
  }

  /** Reads every child of `parent` (in parallel batches), skipping ones that vanished. */
  async nodes(parent: string, names: readonly string[]): Promise<NodeView[]> {
    const out: NodeView[] = [];
    for (let i = 0; i < names.length; i += 64) {
      const batch = await Promise.all(names.slice(i, i + 64).map((n) => this.node(joinPath(parent, n), n)));
      for (const v of batch) if (v) out.push(v);
    }
    await this.markSessions(out);
    return out;
  }

  private async markSessions(nodes: NodeView[]): Promise<void> {
    if (this.opts.checkSessions === false || !nodes.some((n) => n.sessionId)) return;
    if (this.live === null) {
      const addrs = parseConnectString(this.session.connectString, 'inspect');
      const sets = await Promise.all(addrs.map((a) => connectedSessions(a, 2000)));
      this.allAnswered = sets.every((s) => s !== undefined);
      const ids = sets.filter((s): s is Set<string> => s !== undefined);
      this.live = ids.length ? new Set(ids.flatMap((s) => [...s])) : undefined;
    }
    const live = this.live;
    for (const n of nodes) {
      if (!n.sessionId || !live) continue;
      const found = live.has(normalizeSessionId(n.sessionId));
      n.sessionConnected = found ? true : this.allAnswered ? false : undefined;
    }
  }

  get staleAfterMs(): number { return this.opts.staleAfterMs ?? 600_000; }
}

/** Hints about one holder (lock holder, leader, lease). */
function holderHints(role: string, h: NodeView | undefined, waiting: readonly NodeView[], staleAfterMs: number): string[] {
  if (!h) return [];
  const out: string[] = [];
  const blocked = waiting.length ? `; ${waiting.length} waiter${waiting.length === 1 ? ' is' : 's are'} blocked behind it` : '';
  if (!h.sessionId) {
    out.push(`${role} node ${h.name} is PERSISTENT: no session end will ever remove it. If its owner is gone, delete ${h.path} by hand${blocked}.`);
  } else if (h.sessionConnected === false) {
    out.push(`${role}'s session ${h.sessionId} is not connected to any server: its process is dead or cut off. ZooKeeper expires it after its session timeout and the node goes with it${blocked}. If the node stays, the session is still alive elsewhere.`);
  }
  if (h.ageMs > staleAfterMs) {
    out.push(`${role} has held for ${formatAge(h.ageMs)} (since ${h.createdAt.toISOString()}), over ${formatAge(staleAfterMs)}: a hung process keeps its session alive. Check the process named in its data (${JSON.stringify(h.data)})${blocked}.`);
  }
  if (h.sessionId && waiting.some((w) => w.sessionId === h.sessionId)) {
    out.push(`session ${h.sessionId} both holds and waits: a second acquire in the same process of a non-re-entrant recipe waits for itself forever.`);
  }
  return out;
}

const SCHEDULER_DIRS = ['workers', 'tasks', 'leader', 'assign', 'schedules'];

function parseJson(s: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(s);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

async function inspectScheduler(r: Reader, base: InspectionBase): Promise<Inspection> {
  const p = base.path;
  const [workerNames, taskNames, leaderNames] = await Promise.all(['workers', 'tasks', 'leader'].map((d) => r.children(joinPath(p, d))));
  const [workerNodes, leaderNodes] = await Promise.all([r.nodes(joinPath(p, 'workers'), workerNames ?? []), r.nodes(joinPath(p, 'leader'), leaderNames ?? [])]);
  const workers: WorkerView[] = await Promise.all(workerNodes.map(async (w) => {
    const j = parseJson(w.data);
    const assigned = await r.children(joinPath(joinPath(p, 'assign'), w.name));
    return {
      ...w,
      capacity: typeof j?.['capacity'] === 'number' ? j['capacity'] : undefined,
      load: typeof j?.['load'] === 'number' ? j['load'] : undefined,
      draining: typeof j?.['draining'] === 'boolean' ? j['draining'] : undefined,
      assigned: assigned?.length,
    };
  }));
  const taskNodes = await r.nodes(joinPath(p, 'tasks'), taskNames ?? []);
  const byState: Record<string, number> = {};
  const live = new Set(workers.map((w) => w.name));
  const orphans: string[] = [];
  for (const t of taskNodes) {
    const j = parseJson(t.data);
    const state = typeof j?.['state'] === 'string' ? j['state'] : 'unknown';
    byState[state] = (byState[state] ?? 0) + 1;
    const worker = j?.['worker'];
    if ((state === 'assigned' || state === 'running') && typeof worker === 'string' && !live.has(worker)) orphans.push(`${t.name} (${worker})`);
  }
  const leader = ordered(leaderNodes, [...MARKERS.latch, ...MARKERS.lock])[0];
  const scheduleNames = await r.children(joinPath(p, 'schedules'));
  const schedules = (await r.nodes(joinPath(p, 'schedules'), scheduleNames ?? [])).map((n) => scheduleView(n.name, parseJson(n.data))).sort((a, b) => a.id.localeCompare(b.id));
  const hints: string[] = [];
  if (!leader) hints.push('no dispatcher leads: tasks are not being assigned. Start an instance with the dispatcher role.');
  const now = Date.now();
  for (const sc of schedules) {
    // A dispatcher fires due periods at once; seconds late means it is not running them.
    if (leader && sc.nextDueAt && now - sc.nextDueAt.getTime() > 10_000) hints.push(`schedule ${sc.id}: the period due ${formatAge(now - sc.nextDueAt.getTime())} ago has not fired although a dispatcher leads.`);
  }
  const waiting = (byState['pending'] ?? 0) + (byState['failed'] ?? 0);
  if (waiting > 0 && workers.length === 0) hints.push(`${waiting} task(s) wait but no worker is registered under ${joinPath(p, 'workers')}.`);
  if (orphans.length) hints.push(`${orphans.length} task(s) assigned to workers that are not registered (the dispatcher should reclaim them): ${orphans.slice(0, 5).join(', ')}${orphans.length > 5 ? ', …' : ''}.`);
  for (const w of workers) if (w.sessionConnected === false) hints.push(`worker ${w.name}'s session ${w.sessionId} is not connected to any server.`);
  return { ...base, kind: 'scheduler', leader, workers, tasks: { total: taskNodes.length, byState }, schedules, hints };
}

/** A schedule node's record (see recipes/scheduler/schedules.ts), read tolerantly. */
function scheduleView(id: string, j: Record<string, unknown> | undefined): ScheduleView {
  const num = (k: string) => (typeof j?.[k] === 'number' && Number.isFinite(j[k]) ? j[k] : undefined);
  const cron = typeof j?.['cron'] === 'string' ? j['cron'] : undefined;
  const everyMs = cron === undefined ? num('everyMs') : undefined;
  const startAt = num('startAt');
  const lastFired = num('lastFired');
  const view: ScheduleView = { id, everyMs, cron, type: typeof j?.['type'] === 'string' ? j['type'] : undefined, lastFiredAt: undefined, nextDueAt: undefined };
  if (startAt === undefined || lastFired === undefined) return view;
  if (cron !== undefined) {
    let spec;
    try { spec = parseCron(cron); } catch { return view; }
    if (lastFired >= 0) view.lastFiredAt = new Date(lastFired * 1000);
    const next = nextFire(spec, Math.max(startAt - 1, lastFired >= 0 ? lastFired * 1000 : -Infinity));
    view.nextDueAt = next === undefined ? undefined : new Date(next);
  } else if (everyMs !== undefined && everyMs > 0) {
    if (lastFired >= 0) view.lastFiredAt = new Date(startAt + lastFired * everyMs);
    view.nextDueAt = new Date(startAt + (lastFired + 1) * everyMs);
  }
  return view;
}

/**
 * Recognises the recipe at `path` and reports its state. Reads only.
 *
 * Waits for the reads (and, unless `checkSessions: false`, one `cons` per server to tell which
 * holders' sessions are connected). On `suspended` the session's reads wait for the connection
 * and retry; a `lost` session's reads fail with its error. A missing path is not an error: it
 * gives `kind: 'missing'`.
 * @param session - a connected session
 * @param path - the recipe's path (e.g. the lock path, not one of its children)
 * @throws InvalidPathError, InvalidArgumentError for bad input; TimeoutError, AbortedError
 */
export async function inspect(session: ZkSession, path: string, options: InspectOptions = {}): Promise<Inspection> {
  validatePath(path, 'inspect');
  checkWaitOptions(options, 'inspect');
  for (const k of ['staleAfterMs', 'maxChildren'] as const) {
    const v = options[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      throw new InvalidArgumentError(`inspect ${path}: option ${k} must be a number >= 0, got ${String(v)}`, { op: 'inspect', path });
    }
  }
  const scope = new WaitScope(options, 'inspect', path);
  try {
    scope.throwIfAborted();
    const work = run(new Reader(session, options), path, options);
    work.catch(() => undefined); // if the scope fires first, a later failure of the reads is moot
    return await scope.race(work);
  } finally {
    scope.dispose();
  }
}

async function run(r: Reader, path: string, options: InspectOptions): Promise<Inspection> {
  const base: InspectionBase = { path, inspectedAt: new Date(r.now), hints: [] };
  const names = await r.children(path);
  if (names === undefined) {
    return { ...base, kind: 'missing', hints: [`${path} does not exist: nobody holds, leads or waits there (recipes' container nodes are removed when empty).`] };
  }
  const has = (re: RegExp) => names.some((n) => re.test(n));
  if (names.length > 0 && names.every((n) => n === 'leases' || n === 'locks')) {
    const [leases, locks] = await Promise.all(['leases', 'locks'].map(async (d) => r.nodes(joinPath(path, d), (await r.children(joinPath(path, d))) ?? [])));
    return semaphore(base, ordered(leases!, MARKERS.lease), ordered(locks!, MARKERS.lock), r.staleAfterMs);
  }
  if (has(/-lease-\d{10}$/)) return semaphore(base, ordered(await r.nodes(path, names), MARKERS.lease), [], r.staleAfterMs);
  if (names.filter((n) => SCHEDULER_DIRS.includes(n)).length >= 2 && (names.includes('workers') || names.includes('tasks'))) return inspectScheduler(r, base);
  if (has(/__(READ|WRIT)__\d{10}$/)) {
    const all = ordered(await r.nodes(path, names), MARKERS.rw).map((n): RwNodeView => ({ ...n, mode: n.name.includes('__WRIT__') ? 'write' : 'read' }));
    const firstWriter = all.findIndex((n) => n.mode === 'write');
    const holders = firstWriter === 0 ? all.slice(0, 1) : all.slice(0, firstWriter < 0 ? all.length : firstWriter);
    const waiters = all.slice(holders.length);
    const hints = holders.flatMap((h) => holderHints(`${h.mode} holder`, h, waiters, r.staleAfterMs));
    return { ...base, kind: 'rwlock', holders, waiters, hints };
  }
  if (has(/-latch-\d{10}$/)) {
    const participants = ordered(await r.nodes(path, names), MARKERS.latch);
    return { ...base, kind: 'leader-latch', leader: participants[0], participants, hints: holderHints('leader', participants[0], [], Infinity) };
  }
  if (has(/(^|-)lock-\d{10}$/)) {
    const all = ordered(await r.nodes(path, names), MARKERS.lock);
    const [holder, ...waiters] = all;
    return { ...base, kind: 'lock', holder, waiters, hints: holderHints('holder', holder, waiters, r.staleAfterMs) };
  }
  if (has(/^queue-/)) {
    const items = names.filter((n) => n.startsWith('queue-')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const head = items.length ? await r.node(joinPath(path, items[0]!), items[0]!) : undefined;
    const [claims, poison] = path === '/' ? [] : await Promise.all([r.children(`${path}-locks`), r.children(`${path}-poison`)]);
    const hints: string[] = [];
    if (head && head.ageMs > r.staleAfterMs) hints.push(`the head item ${head.name} has waited ${formatAge(head.ageMs)}: are consumers running${claims?.length ? ` (${claims.length} claimed, in flight)` : ''}?`);
    if (poison?.length) hints.push(`${poison.length} item(s) could not be decoded and were moved to ${path}-poison: look at them, fix the producer, then delete or re-queue them.`);
    return { ...base, kind: 'queue', depth: items.length, head, inFlight: claims?.length, poisoned: poison?.length, hints };
  }
  // Classify by (at most) the first 1000 children; a huge flat node is summarised, not read whole.
  const sample = names.length > 1000 ? [...names].sort().slice(0, 1000) : names;
  const nodes = await r.nodes(path, sample);
  const ephemeral = nodes.filter((n) => n.sessionId);
  if (sample.includes('ready') && ephemeral.length > 0 && ephemeral.length === nodes.length - 1) {
    return { ...base, kind: 'double-barrier', ready: true, participants: ephemeral.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime()) };
  }
  if (nodes.length > 0 && ephemeral.length === nodes.length) {
    const members = ephemeral.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const hints = members.filter((m) => m.sessionConnected === false).map((m) => `member ${m.name}'s session ${m.sessionId} is not connected to any server: it leaves when the session expires.`);
    return { ...base, kind: 'group', members, hints };
  }
  const self = await r.node(path, path.slice(path.lastIndexOf('/') + 1) || '/');
  if (!self) return { ...base, kind: 'missing', hints: [`${path} was deleted while being inspected.`] };
  const max = options.maxChildren ?? 50;
  const children = nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).slice(0, max);
  return { ...base, kind: 'tree', node: self, children, totalChildren: names.length };
}

function semaphore(base: InspectionBase, leases: NodeView[], locks: NodeView[], staleAfterMs: number): Inspection {
  // The head of locks/ holds the semaphore's mutex while it waits for a slot: its newest lease
  // node, created after its lock node, is the one still waiting (Curator's InterProcessSemaphoreV2).
  const head = locks[0];
  const pendingLease = head?.sessionId === undefined ? undefined : [...leases].reverse()
    .find((l) => l.sessionId === head.sessionId && l.createdAt.getTime() >= head.createdAt.getTime());
  const hints = leases.filter((l) => l !== pendingLease).flatMap((l) => holderHints('lease holder', l, [], staleAfterMs));
  return { ...base, kind: 'semaphore', leases, pendingLease, waiters: locks, hints };
}
