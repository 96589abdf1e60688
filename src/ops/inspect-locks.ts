/**
 * The inspector's contender family: locks (and LeaderSelectors), read-write locks, leader latches
 * and semaphores. Names are parsed and holders chosen by the recipes' own definitions
 * (recipes/contender.ts `parseEntry` and hold predicates, each recipe's marker), so the inspector
 * orders a line exactly as its contenders do: by the sequence after the marker, never by the
 * whole name, whose `_c_<uuid>-` prefix is random.
 * @internal
 * @module
 */
import { joinPath } from '../paths.js';
import { firstN, parseEntry, type ContenderEntry } from '../../recipes/contender.js';
import { LATCH_MARKER } from '../../recipes/leader-latch.js';
import { LOCK_MARKER } from '../../recipes/lock.js';
import { READ_MARKER, WRITE_MARKER, readerHolds } from '../../recipes/read-write-lock.js';
import { LEASE_MARKER, LEASES_DIR, LOCKS_DIR } from '../../recipes/semaphore.js';
import { sequenceSuffix } from '../../recipes/layout.js';
import { formatAge } from './format.js';
import { holdTime, type Listing, type Reader } from './inspect-read.js';
import type { HoldTime, HolderView, Inspection, InspectionBase, LeaseView, NodeView, RwHolderView, RwNodeView } from './inspect-types.js';

/** Markers of each contender recipe, as the recipes define them. */
export const CONTENDER_MARKERS = {
  rw: [READ_MARKER, WRITE_MARKER],
  latch: [LATCH_MARKER],
  lock: [LOCK_MARKER],
  lease: [LEASE_MARKER],
} as const;

/** Whether a child name is a contender of one of `markers` (marker, then the server's sequence). */
export function isContender(name: string, markers: readonly string[]): boolean {
  return parseEntry(name, markers) !== undefined && sequenceSuffix(name) !== undefined;
}

/** The contenders among `nodes`, in line order, with their sequence and entry. */
function ordered<T extends NodeView>(nodes: readonly T[], markers: readonly string[]): Array<T & { entry: ContenderEntry }> {
  const out: Array<T & { entry: ContenderEntry }> = [];
  for (const n of nodes) {
    const entry = parseEntry(n.name, markers);
    if (entry) out.push({ ...n, sequence: entry.seq, entry });
  }
  return out.sort((a, b) => a.entry.seq - b.entry.seq);
}

function strip<T extends { entry: ContenderEntry }>(n: T): Omit<T, 'entry'> {
  const { entry: _entry, ...rest } = n;
  return rest;
}

/** Hints about one holder (lock holder, reader, leader, lease). */
export function holderHints(role: string, h: NodeView & { holding?: HoldTime | undefined }, waiting: readonly NodeView[], staleAfterMs: number): string[] {
  const out: string[] = [];
  const blocked = waiting.length ? `; ${waiting.length} waiter${waiting.length === 1 ? ' is' : 's are'} blocked behind it` : '';
  if (!h.sessionId) {
    out.push(`${role} node ${h.name} is PERSISTENT: no session end will ever remove it. If its owner is gone, delete ${h.path} by hand${blocked}.`);
  } else if (h.sessionConnected === false) {
    out.push(
      `${role}'s session ${h.sessionId} is not connected to any server: its process is dead or cut off. ZooKeeper expires it after its session timeout and the node goes with it${blocked}. If the node stays, the session is still alive elsewhere.`,
    );
  }
  const check = `Check the process named in its data (${JSON.stringify(h.data)})${blocked}.`;
  const min = h.holding?.minMs;
  if (min !== undefined && min > staleAfterMs) {
    const atLeast = h.holding?.known === 'exact' ? '' : 'at least ';
    out.push(
      `${role} has held for ${atLeast}${formatAge(min)} (in line since ${h.createdAt.toISOString()}), over ${formatAge(staleAfterMs)}: a hung process keeps its session alive. ${check}`,
    );
  } else if (h.ageMs > staleAfterMs) {
    const part =
      min !== undefined ? `at least ${formatAge(min)} of it` : 'how much of it is not recorded: it may have waited most of it behind an earlier holder';
    out.push(
      `${role} has been in line for ${formatAge(h.ageMs)} (since ${h.createdAt.toISOString()}), over ${formatAge(staleAfterMs)}, holding for ${part}. ${check}`,
    );
  }
  if (h.sessionId && waiting.some((w) => w.sessionId === h.sessionId)) {
    out.push(`session ${h.sessionId} both holds and waits: a second acquire in the same process of a non-re-entrant recipe waits for itself forever.`);
  }
  return out;
}

/** A mutex: the lowest sequence holds. */
export function lockInspection(r: Reader, base: InspectionBase, listing: Listing, nodes: NodeView[]): Inspection {
  const line = ordered(nodes, CONTENDER_MARKERS.lock).map(strip);
  const [first, ...waiters] = line;
  const holder: HolderView | undefined = first && { ...first, holding: holdTime(listing, nodes, first, r.now) };
  return { ...base, kind: 'lock', holder, waiters, hints: holder ? holderHints('holder', holder, waiters, r.staleAfterMs) : [] };
}

/** A read-write lock: who holds by the recipe's own rules (a reader unless a writer is ahead, a writer when first). */
export function rwLockInspection(r: Reader, base: InspectionBase, listing: Listing, nodes: NodeView[]): Inspection {
  const line = ordered(nodes, CONTENDER_MARKERS.rw);
  const entries = line.map((n) => n.entry);
  const holders: RwHolderView[] = [];
  const waiters: RwNodeView[] = [];
  line.forEach((n, i) => {
    const mode = n.entry.marker === WRITE_MARKER ? 'write' : 'read';
    const holds = (mode === 'read' ? readerHolds : firstN(1))(entries, i).hold;
    const v = { ...strip(n), mode } as const;
    if (holds) holders.push({ ...v, holding: holdTime(listing, nodes, v, r.now) });
    else waiters.push(v);
  });
  const hints = holders.flatMap((h) => holderHints(`${h.mode} holder`, h, waiters, r.staleAfterMs));
  return { ...base, kind: 'rwlock', holders, waiters, hints };
}

/** A leader latch: the lowest sequence leads. */
export function latchInspection(r: Reader, base: InspectionBase, listing: Listing, nodes: NodeView[]): Inspection {
  const participants = ordered(nodes, CONTENDER_MARKERS.latch).map(strip);
  const first = participants[0];
  const leader: HolderView | undefined = first && { ...first, holding: holdTime(listing, nodes, first, r.now) };
  return { ...base, kind: 'leader-latch', leader, participants, hints: leader ? holderHints('leader', leader, [], Infinity) : [] };
}

/** The leader of an election directory (a scheduler's `leader/`), or undefined. */
export function electedLeader(r: Reader, listing: Listing, nodes: NodeView[]): HolderView | undefined {
  const first = ordered(nodes, CONTENDER_MARKERS.latch).map(strip)[0];
  return first && { ...first, holding: holdTime(listing, nodes, first, r.now) };
}

/** Whether a listing is a semaphore's: only `leases/` and `locks/`, or bare lease nodes. */
export function isSemaphore(names: readonly string[]): boolean {
  if (names.length > 0 && names.every((n) => n === LEASES_DIR || n === LOCKS_DIR)) return true;
  return names.some((n) => isContender(n, CONTENDER_MARKERS.lease));
}

/** A semaphore (Curator's InterProcessSemaphoreV2 layout), or its bare lease directory. */
export async function semaphoreInspection(r: Reader, base: InspectionBase, top: Listing): Promise<Inspection> {
  const bare = !top.names.every((n) => n === LEASES_DIR || n === LOCKS_DIR);
  const leasesRead = bare ? { listing: top, nodes: await r.nodes(top.path, top.names) } : await r.listAndRead(joinPath(top.path, LEASES_DIR));
  const locksRead = bare ? undefined : await r.listAndRead(joinPath(top.path, LOCKS_DIR));
  const leases = ordered(leasesRead?.nodes ?? [], CONTENDER_MARKERS.lease).map(strip);
  const locks = ordered(locksRead?.nodes ?? [], CONTENDER_MARKERS.lock).map(strip);
  // The head of locks/ holds the semaphore's mutex while it waits for a slot: its newest lease
  // node, created after its lock node, is the one still waiting (Curator's InterProcessSemaphoreV2).
  const head = locks[0];
  const pending =
    head?.sessionId === undefined
      ? undefined
      : [...leases].reverse().find((l) => l.sessionId === head.sessionId && l.createdAt.getTime() >= head.createdAt.getTime());
  const views: LeaseView[] = leases.map((l) => ({
    ...l,
    holding: l === pending || !leasesRead ? undefined : holdTime(leasesRead.listing, leasesRead.nodes, l, r.now),
  }));
  const pendingLease = views.find((l) => l.name === pending?.name);
  const hints = views.filter((l) => l !== pendingLease).flatMap((l) => holderHints('lease holder', l, [], r.staleAfterMs));
  return { ...base, kind: 'semaphore', leases: views, pendingLease, waiters: locks, hints };
}
