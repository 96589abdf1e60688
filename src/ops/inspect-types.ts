/**
 * What {@link inspect} reports: one {@link Inspection} per recognised recipe kind, made of the
 * node views below. Every age is labelled for what it is: a node's `ageMs` is how long the node
 * has existed (for a contender: how long it has been in line), and a holder's {@link HoldTime} is
 * how long it has held, as far as ZooKeeper can tell.
 * @module
 */
import type { WaitOptions } from '../wait.js';

/** One node as the inspector saw it. */
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
  /** Creation time (the server's clock): for a contender, when it joined the line. */
  createdAt: Date;
  /** `now - createdAt`, in ms: how long the node has existed (in line since, for a contender). */
  ageMs: number;
  /** zxid of the node's creation (the server's order of events). */
  czxid: number;
  /** The data as text (UTF-8), or a hex preview for binary data; cut at 200 characters. */
  data: string;
  /** Bytes of data. */
  dataLength: number;
}

/**
 * How long a holder (lock holder, reader, leader, lease) has held. ZooKeeper records when a node
 * was created (when it joined the line), not when the node ahead of it was deleted (when it took
 * over), so the hold start is known exactly only when no node left after the holder's was made,
 * and bounded when no node left after some later node was made. Knowing it always would take an
 * extra write on the recipe's hot path, which the recipes (and Curator's) do not make.
 */
export interface HoldTime {
  /**
   * `exact`: no node left the line after this one was created, so it held from its creation.
   * `bounded`: it took over between its creation and `notAfter`. `unknown`: a node left after
   * every node now in line was created (the hand-over among them), and no time of it is kept.
   */
  known: 'exact' | 'bounded' | 'unknown';
  /** Latest moment the hold can have begun (its creation when exact); undefined when unknown. */
  notAfter: Date | undefined;
  /** Held for at least this long (ms): `now - notAfter`; undefined when unknown. */
  minMs: number | undefined;
  /** Held for at most this long (ms): its node's age. */
  maxMs: number;
}

/** A contender that holds now (a lock's holder, a latch's leader, a scheduler's dispatcher). */
export interface HolderView extends NodeView {
  /** How long it has held, as far as can be known. */
  holding: HoldTime;
}

/** A read-write lock contender. */
export interface RwNodeView extends NodeView {
  /** What it holds or wants. */
  mode: 'read' | 'write';
}

/** A read-write lock contender that holds now. */
export interface RwHolderView extends RwNodeView {
  /** How long it has held, as far as can be known. */
  holding: HoldTime;
}

/** A semaphore lease node. */
export interface LeaseView extends NodeView {
  /** How long it has held; undefined for the pending lease (still waiting for a free slot). */
  holding: HoldTime | undefined;
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

/** A mutex (`…lock-<seq>` children): Curator's InterProcessMutex, our {@link Lock}, a LeaderSelector. */
export interface LockInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'lock';
  /** The contender with the lowest sequence, which holds the lock; undefined when there is none. */
  holder: HolderView | undefined;
  /** The other contenders, in the order they will get the lock. */
  waiters: NodeView[];
}

/** A read-write lock (`…__READ__<seq>` / `…__WRIT__<seq>` children). */
export interface RwLockInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'rwlock';
  /** Who holds now: the readers ahead of the first writer, or that writer alone when it is first. */
  holders: RwHolderView[];
  /** Everyone after the holders, in sequence order. */
  waiters: RwNodeView[];
}

/** A leader latch (`…latch-<seq>` children). */
export interface LeaderLatchInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'leader-latch';
  /** The participant with the lowest sequence, which leads; undefined when there is none. */
  leader: HolderView | undefined;
  /** Every participant, in sequence order (the leader first). */
  participants: NodeView[];
}

/** A counting semaphore (Curator's InterProcessSemaphoreV2 layout: `leases/` and `locks/`). */
export interface SemaphoreInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'semaphore';
  /** Every lease node, in sequence order (held ones, and `pendingLease` if any). */
  leases: LeaseView[];
  /** The lease node placed by the head of the acquire line, still waiting for a free slot. */
  pendingLease: LeaseView | undefined;
  /** The acquire line under `locks/`: the first places its lease, the others wait for it. */
  waiters: NodeView[];
}

/** A queue item, with what its name says about when it comes out. */
export interface QueueItemView extends NodeView {
  /** Whether its name carries a protected put's `_c_<uuid>-` marker. */
  protectedPut: boolean;
  /** A priority queue item's priority (lower comes out first). */
  priority: number | undefined;
  /** A delay queue item's due time. */
  dueAt: Date | undefined;
}

/** A distributed queue (`queue-…` items: FIFO, priority or delay, protected or plain names). */
export interface QueueInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'queue';
  /** The queue family, from the item names. */
  flavour: 'fifo' | 'priority' | 'delay';
  /** Items waiting (`queue-…` children). */
  depth: number;
  /** How many of them have protected names (`queue-…_c_<uuid>-<seq>`); the others are plain (Curator's). */
  protectedItems: number;
  /** The next item to be taken: by sequence (the put marker ignored), priority or due time. */
  head: QueueItemView | undefined;
  /** Items claimed by consumers (`<path>-locks` children); undefined when there is no such node. */
  inFlight: number | undefined;
  /** Items that could not be decoded, moved to `<path>-poison`; undefined when there is no such node. */
  poisoned: number | undefined;
  /** The bucketed layout (`bucketSize`): how many buckets hold the items; undefined for the flat layout. */
  buckets?: number;
}

/** A group of members (ephemeral, non-sequential children), e.g. {@link GroupMember}. */
export interface GroupInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'group';
  /** The members, by name. */
  members: NodeView[];
}

/** One instance of a service (Curator's service-discovery JSON in its node). */
export interface ServiceInstanceView extends NodeView {
  /** The instance id (the node's name, without a `DYNAMIC_SEQUENTIAL` node's 10 digits). */
  id: string;
  /** Host name or IP, or null. */
  address: string | null;
  /** Port, or null. */
  port: number | null;
  /** TLS port, or null. */
  sslPort: number | null;
  /** `DYNAMIC`, `DYNAMIC_SEQUENTIAL`, `STATIC` or `PERMANENT`. */
  serviceType: string;
  /** False: providers do not hand it out. */
  enabled: boolean;
  /** `registrationTimeUTC`: when it registered, by the registering process's clock. */
  registeredAt: Date;
  /** Its URI from its `uriSpec`, when it has one. */
  uri: string | undefined;
}

/** A service of a service discovery registry (`<basePath>/<name>`, one node per instance). */
export interface ServiceInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'service';
  /** The service's name (from its instances). */
  name: string;
  /** The instances, by id. */
  instances: ServiceInstanceView[];
}

/** A {@link TaskScheduler} (`workers/`, `tasks/`, `leader/`, `assign/`, `schedules/`). */
export interface SchedulerInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'scheduler';
  /** The dispatcher that leads (lowest sequence under `leader/`); undefined when none does. */
  leader: HolderView | undefined;
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

/** What a walk of a subtree found (what tree caches of the path mirror). */
export interface SubtreeSummary {
  /** Nodes walked, the inspected one included. */
  nodes: number;
  /** Levels below the inspected node (0: it has no children). */
  depth: number;
  /** Bytes of data in all of them. */
  bytes: number;
  /** How many are ephemeral. */
  ephemeral: number;
  /**
   * The node changed last (created or its data set; its `mtime`). A deletion leaves no time
   * behind, so a subtree whose latest change was a deletion shows the change before it.
   */
  newest:
    | {
        /** Its path. */
        path: string;
        /** Its `mtime` (the server's clock). */
        at: Date;
      }
    | undefined;
  /** False when the walk stopped at `maxNodes` (the counts are then lower bounds). */
  complete: boolean;
}

/** No recipe recognised: a summary of the node, its children and its subtree. */
export interface TreeInspection extends InspectionBase {
  /** Discriminant. */
  kind: 'tree';
  /** The inspected node itself. */
  node: NodeView;
  /** Its first children by name (at most `maxChildren`). */
  children: NodeView[];
  /** How many children it has in all. */
  totalChildren: number;
  /** The whole subtree below it, as a tree cache of the path would hold it. */
  subtree: SubtreeSummary;
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
  | ServiceInspection
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
  /** Most nodes a `tree`'s subtree walk reads (one request each). @default 10000 */
  maxNodes?: number;
}
