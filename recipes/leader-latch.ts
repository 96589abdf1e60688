/**
 * Leader election by latch, wire-compatible with Curator's LeaderLatch: Java and Node
 * participants on the same path share one election.
 *
 * Layout:
 * ```
 * <path>/                                    container (created on demand, reaped when empty)
 *   _c_<uuid>-latch-0000000003               ephemeral-sequential, data = participant id (UTF-8)
 * ```
 * The participant whose node has the lowest sequence (the suffix after `latch-`; the random
 * prefix does not count) leads. Every other one watches only its predecessor (with `get`, so no
 * watch is left on a node already gone) and lists the children again when it goes: a leader's
 * exit wakes exactly one participant, which confirms leadership with one `getChildren2`.
 *
 * Fencing token of a term: the parent's `pzxid` in the listing that confirmed leadership.
 *
 * Ownership (CURATOR-696): we claim only a first node owned by our current session. The session
 * that answered our create is recorded with the node; after a reconnect the first node's
 * `ephemeralOwner` is read from the server before claiming. After a new session the old node is
 * gone and a new one is created; on a reconnect to the same session the node is kept (never
 * deleted and recreated, CURATOR-644). A create interrupted by connection loss is resolved by the
 * session's protected create (CURATOR-45).
 * @module
 */
import createDebug from 'debug';
import { EventEmitter } from 'eventemitter3';
import type { ConnectionState, ZkSession } from '../src/session.js';
import { ClosedError, IllegalStateError, InvalidArgumentError, NoNodeError } from '../src/errors.js';
import { joinPath, nodeName } from '../src/paths.js';
import { WaitScope, checkWaitOptions, deferred, type Deferred, type WaitOptions } from '../src/wait.js';
import { Rerun } from './rerun.js';
import { untilEvent } from './waits.js';
import { orderBySequence, orderWithoutStrays } from './contender.js';
import { checkOptions, checkRecipeArgs } from './options.js';

const log = createDebug('zk-recipes:leader-latch');
/** Curator's LeaderLatch node marker (`_c_<uuid>-latch-<seq>`). */
export const LATCH_MARKER = 'latch-';

/** Options of {@link LeaderLatch}. */
export interface LeaderLatchOptions {
  /** This participant's id, written into its node (what `getLeader()` returns). @default '' */
  id?: string;
  /**
   * When leadership is presumed lost: `'suspended'` (the connection dropped: the session may
   * expire and another participant lead before we hear of it) or `'lost'` (only once the
   * session is gone, as Curator with SessionConnectionStateErrorPolicy). @default 'suspended'
   */
  stateErrorPolicy?: 'suspended' | 'lost';
}

/** One participant, as listed by {@link LeaderLatch.getParticipants}. */
export interface Participant {
  /** The id in its node's data. */
  id: string;
  /** True for the participant with the lowest sequence. */
  isLeader: boolean;
  /** Its node's name (no path). */
  nodeName: string;
}

/** A leadership term. */
export interface LeaderTerm {
  /** Strictly increasing across successive terms on the path: hand it to guarded resources. */
  fencingToken: bigint;
  /** Full path of our node. */
  path: string;
}

/** Typed events of a {@link LeaderLatch}. */
export interface LeaderLatchEvents {
  /** We lead now (the listing with `term.fencingToken` confirmed it). */
  isLeader: [term: LeaderTerm];
  /** We no longer lead (or may not: suspended connection), or the latch was closed while leading. */
  notLeader: [];
}

type State = 'latent' | 'started' | 'closed';

/**
 * Lists the contenders under `path` in sequence order with the ids in their nodes' data (as
 * Curator's `getParticipants`); the first node still present is marked leader.
 * @internal shared with LeaderSelector
 */
export async function listParticipants(session: ZkSession, path: string, marker: string): Promise<Participant[]> {
  let children: string[];
  try {
    children = await session.getChildren(path);
  } catch (err) {
    if (err instanceof NoNodeError) return [];
    throw err;
  }
  const ordered = orderBySequence(children, [marker]);
  const ids = await Promise.all(
    ordered.map((e) =>
      session.get(joinPath(path, e.name)).then(
        (r) => r.data.toString('utf8'),
        (err: unknown) => {
          if (err instanceof NoNodeError) return undefined;
          throw err;
        },
      ),
    ),
  ); // left meanwhile
  const out: Participant[] = [];
  ordered.forEach((e, i) => {
    const id = ids[i];
    if (id !== undefined) out.push({ id, isLeader: out.length === 0, nodeName: e.name });
  });
  return out;
}

/**
 * A leader latch on `path`. Call `start()`; the latch then takes part in the election until
 * `close()`, re-entering by itself after a lost session.
 *
 * Connection states:
 * - `suspended`: a leading latch emits `notLeader` (unless `stateErrorPolicy: 'lost'`); its node
 *   stays, and its watch survives a reconnect.
 * - `reconnected` with the same session: the children are listed again and leadership reclaimed
 *   if our node is still first and owned by our current session; the node is never recreated.
 * - `lost` / a new session: `notLeader`; our node went with the session; the latch creates a new
 *   one once the session is back.
 */
export class LeaderLatch extends EventEmitter<LeaderLatchEvents> {
  /** This participant's id. */
  readonly id: string;
  private readonly policy: 'suspended' | 'lost';
  private state: State = 'latent';
  private leading = false;
  private term: LeaderTerm | undefined;
  private ourPath: string | undefined;
  /** The session that answered our node's create (its ephemeralOwner). */
  private ourOwner: string | undefined;
  private verifyOwner = false;
  /** One check at a time, once more whenever something asked for another during it. */
  private readonly driver = new Rerun(
    () => this.check(),
    (err) => this.checkFailed(err),
  );
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<Deferred<void>>();
  private closing: Promise<void> | undefined;
  private readonly onState = (state: ConnectionState, previous: ConnectionState) => this.handleState(state, previous);

  /**
   * @param session - the session that owns our node
   * @param path - the election's path (absolute, not under /zookeeper)
   * @param options - see {@link LeaderLatchOptions}
   * @throws InvalidPathError, InvalidArgumentError (nothing is written)
   */
  constructor(
    private readonly session: ZkSession,
    readonly path: string,
    options?: LeaderLatchOptions,
  ) {
    super();
    checkRecipeArgs('leader-latch', session, path);
    checkOptions('leader-latch', options, ['id', 'stateErrorPolicy']);
    const id = options?.id ?? '';
    if (typeof id !== 'string') throw new InvalidArgumentError(`leader-latch: option id must be a string (path ${path})`, { op: 'leader-latch', path });
    const policy = options?.stateErrorPolicy ?? 'suspended';
    if (policy !== 'suspended' && policy !== 'lost') {
      throw new InvalidArgumentError(`leader-latch: option stateErrorPolicy must be 'suspended' or 'lost', got ${String(policy)} (path ${path})`, {
        op: 'leader-latch',
        path,
      });
    }
    this.id = id;
    this.policy = policy;
  }

  /**
   * Joins the election: creates our node in the background and returns at once.
   * @throws IllegalStateError on a second call
   */
  start(): void {
    if (this.state !== 'latent') throw new IllegalStateError(`leader-latch: ${this.path} already ${this.state}`, { op: 'leader-latch.start', path: this.path });
    this.state = 'started';
    this.session.on('state', this.onState);
    this.kick();
  }

  /** True while this participant leads (false once the connection is suspended, by default). */
  hasLeadership(): boolean {
    return this.state === 'started' && this.leading;
  }

  /** The current term's fencing token, or undefined when not leading. */
  get fencingToken(): bigint | undefined {
    return this.hasLeadership() ? this.term?.fencingToken : undefined;
  }

  /** Full path of our node, when we have one. */
  get nodePath(): string | undefined {
    return this.ourPath;
  }

  /**
   * Waits until this participant leads (at once if it does).
   * @throws IllegalStateError before `start()`; ClosedError when closed first; TimeoutError; AbortedError
   */
  async await(wait?: WaitOptions): Promise<void> {
    checkWaitOptions(wait, 'leader-latch.await');
    if (this.state !== 'started') {
      throw this.state === 'closed'
        ? new ClosedError(`leader-latch: ${this.path} is closed`, { op: 'leader-latch.await', path: this.path })
        : new IllegalStateError(`leader-latch: ${this.path} not started`, { op: 'leader-latch.await', path: this.path });
    }
    const scope = new WaitScope(wait, 'leader-latch.await', this.path);
    const d = deferred<void>();
    try {
      scope.throwIfAborted();
      if (this.leading) return;
      this.waiters.add(d);
      // A lost session does not end the wait: the latch campaigns again on the new one.
      await untilEvent(this.session, scope, { recipe: 'leader-latch', op: 'leader-latch.await', path: this.path }, d.promise, 'ignore');
    } finally {
      this.waiters.delete(d);
      scope.dispose();
    }
  }

  /**
   * The leader's id (its node's data), or null when nobody takes part. Reads the server, so it
   * can briefly disagree with `hasLeadership()`. Waits for the listing and the participants' reads.
   */
  async getLeader(): Promise<string | null> {
    const all = await this.getParticipants();
    return all.find((p) => p.isLeader)?.id ?? null;
  }

  /** Every participant, in election order (the first present one leads). Reads the server. */
  getParticipants(): Promise<Participant[]> {
    return listParticipants(this.session, this.path, LATCH_MARKER);
  }

  /**
   * Leaves the election: deletes our node (guaranteed: retried through connection loss), emits
   * `notLeader` if leading, and fails pending `await()` calls with CLOSED. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    const wasStarted = this.state === 'started';
    this.state = 'closed';
    clearTimeout(this.retryTimer);
    this.session.off('state', this.onState);
    for (const w of this.waiters) w.reject(new ClosedError(`leader-latch: ${this.path} closed`, { op: 'leader-latch.await', path: this.path }));
    this.waiters.clear();
    this.closing = (async () => {
      if (!wasStarted) return;
      const pending = this.dropNode();
      this.setLeader(undefined);
      await pending;
      await this.driver.stop(); // a create in flight deletes its node itself
    })();
    return this.closing;
  }

  /** Closes the latch at the end of an `await using` scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The one place connection states are handled. */
  private handleState(state: ConnectionState, previous: ConnectionState): void {
    switch (state) {
      case 'suspended':
        if (this.policy === 'suspended') this.setLeader(undefined); // the session may expire unseen
        break;
      case 'lost':
      case 'closed':
        this.setLeader(undefined); // our node is gone (or going) with the session
        break;
      case 'connected':
        // Same session after `suspended`: confirm the first node's owner before claiming (CURATOR-696).
        // New session after `lost`: the check creates a new node.
        if (previous === 'suspended') this.verifyOwner = true;
        this.kick();
        break;
      default:
        break;
    }
  }

  // ---- the driver: one check at a time, repeated while something asked for another ----------

  private kick(): void {
    if (this.state === 'started') this.driver.poke();
  }

  private checkFailed(err: unknown): void {
    log('%s: check failed: %s', this.path, (err as Error).message);
    // Connection trouble ends in `reconnected` (which kicks); anything else: try again soon.
    if (this.state === 'started' && this.session.state === 'connected') {
      this.retryTimer = setTimeout(() => this.kick(), 500);
      this.retryTimer.unref();
    }
  }

  private async check(): Promise<void> {
    if (this.state !== 'started' || this.session.state !== 'connected') return; // `reconnected` kicks us again
    if (!this.ourPath || this.ourOwner !== this.session.sessionId) await this.createNode();
    if (this.state !== 'started' || !this.ourPath) return;
    const ours = this.ourPath;
    const { children, stat } = await this.session.getChildrenWithStat(this.path);
    if (this.state !== 'started' || ours !== this.ourPath) return;
    // A stray of our own create (contender.ts) must not lead in our place: it is dropped and deleted.
    const ordered = orderWithoutStrays(children, [LATCH_MARKER], nodeName(ours), (stray) => {
      this.session.delete(joinPath(this.path, stray), { guaranteed: true }).catch(() => undefined);
    });
    const i = ordered.findIndex((e) => e.name === nodeName(ours));
    if (i < 0) {
      log('%s: our node %s is gone; creating a new one', this.path, ours);
      this.forgetNode();
      this.kick(); // look again right after this check
      return;
    }
    if (i === 0) {
      if (this.verifyOwner) {
        // After a reconnect, confirm with the server that the first node belongs to our session (CURATOR-696).
        const s = await this.session.exists(ours);
        if (this.state !== 'started' || ours !== this.ourPath) return;
        this.verifyOwner = false;
        if (!s || s.ephemeralOwner !== this.session.sessionId) {
          log('%s: first node %s not owned by session 0x%s', this.path, ours, this.session.sessionId);
          this.forgetNode();
          this.kick(); // look again right after this check
          return;
        }
      }
      if (this.ourOwner === this.session.sessionId && this.session.state === 'connected') {
        this.setLeader({ fencingToken: BigInt(stat.pzxid), path: ours });
      }
      return;
    }
    this.setLeader(undefined);
    const predecessor = joinPath(this.path, ordered[i - 1]!.name);
    try {
      // get, not exists: a predecessor already gone leaves no watch behind.
      await this.session.get(predecessor, { watch: () => this.kick() });
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
      this.kick(); // look again right after this check
    }
  }

  private async createNode(): Promise<void> {
    this.forgetNode();
    const created = await this.session.create(joinPath(this.path, LATCH_MARKER), this.id, {
      mode: 'ephemeral_sequential',
      protected: true,
      createParents: true,
    });
    const owner = this.session.sessionId;
    if (this.state !== 'started') {
      await this.session.delete(created, { guaranteed: true }).catch(() => undefined);
      return;
    }
    this.ourPath = created;
    this.ourOwner = owner; // the create answered on this session's handle
    this.verifyOwner = false;
    log('%s: joined as %s', this.path, created);
  }

  /** Forgets our node; deletes it if it may still exist in the current session. */
  private forgetNode(): void {
    void this.dropNode().catch(() => undefined);
  }

  private async dropNode(): Promise<void> {
    const p = this.ourPath;
    const owner = this.ourOwner;
    this.ourPath = undefined;
    this.ourOwner = undefined;
    this.setLeader(undefined);
    if (!p || owner !== this.session.sessionId || this.session.state === 'closed') return; // gone with its session
    try {
      await this.session.delete(p, { guaranteed: true });
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
    }
  }

  private setLeader(term: LeaderTerm | undefined): void {
    if (term && !this.leading) {
      if (this.state !== 'started') return;
      this.leading = true;
      this.term = term;
      log('%s: leading as %s (token %s)', this.path, term.path, term.fencingToken);
      for (const w of this.waiters) w.resolve();
      this.waiters.clear();
      this.emit('isLeader', term);
    } else if (!term && this.leading) {
      this.leading = false;
      this.term = undefined;
      this.emit('notLeader');
    }
  }
}
