/**
 * A double barrier: `members` participants enter together and leave together (Curator's
 * `DistributedDoubleBarrier`, ZooKeeper's double-barrier recipe).
 *
 * Layout (Curator's, so Java and Node participants share one barrier):
 * ```
 * <path>/            container (created on demand, reaped when empty)
 *   <id>             ephemeral, one per participant (Curator uses a random UUID as the id)
 *   ready            persistent; created by the participant that sees `members` entered
 * ```
 * Enter, in one round trip: watch `ready` (exists), create our node, list the children — three
 * pipelined requests the server answers in order. `ready` present, or at least `members`
 * participant nodes → create `ready` (if needed) and pass. Otherwise wait for the watch: a
 * `created` event on `ready` is the server saying the barrier is full and passes at once; any
 * other wake-up (another event, a reconnection) loops and checks again, so nothing but the
 * server's state lets a participant through (Curator GH-1290).
 *
 * Leave, in one round trip: list the children, delete `ready`, delete our node. `ready` goes
 * before our node so that, once every participant node is gone, no stale `ready` can let the next
 * round's first participant through. The listing names the participants of this round; each is
 * watched for deletion (exists, pipelined) and its czxid checked against the listing's fence, so
 * a fast participant that has already re-entered for the next round under the same id is not
 * mistaken for one still in this round (which would deadlock a reused barrier). A `deleted` event
 * is final; any other wake-up checks the remaining nodes again.
 *
 * The fence: the listing is taken while our node still exists, so no node of the next round can
 * exist yet (the next round starts only once every node of this one, ours included, is gone); and
 * every node of this round was created before we passed `enter`. So the listing's parent `pzxid`
 * is at least every czxid of this round and below every czxid of the next. A listing retried
 * after a connection loss may come after our node went, and is then no fence (a participant that
 * saw ours go may be back already): it shows no node of ours, and the fence `enter` saw serves
 * instead (a full listing's pzxid, or `ready`'s czxid). Known gap: a participant that passed
 * `enter` on the `created` event has no such fence, and if its leave's listing is cut by a
 * connection loss after its delete went through, it may wait on a node of the next round.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { ZkSession } from '../src/session.js';
import { ClosedError, IllegalStateError, InvalidArgumentError, NoNodeError, NodeExistsError } from '../src/errors.js';
import { joinPath, validatePath } from '../src/paths.js';
import { checkWaitOptions, type Deferred, type WaitOptions } from '../src/wait.js';
import { WakeLoop, ignoreNoNode, settleAll, transient } from './double-barrier-wait.js';
import { checkRecipeArgs } from './options.js';

/** Name of the node that opens the barrier (Curator's `READY_NODE`). */
export const READY_NODE = 'ready';

/** Options of {@link DoubleBarrier}. */
export interface DoubleBarrierOptions {
  /** Participants needed to pass `enter` (a threshold: more may enter). An integer ≥ 1. */
  members: number;
  /** This participant's node name. @default a random UUID (as Curator) */
  id?: string;
}

/**
 * One participant of a double barrier at `path`.
 *
 * Connection states: on `suspended` a waiting `enter`/`leave` keeps waiting (a request that fails
 * for connection loss or session expiry is not an error: the next `reconnected` checks again); on
 * `reconnected` it checks the server again. After `lost` our ephemeral node is gone: a pending
 * `enter` re-creates it in the new session (waiting, if need be, for the server to remove the old
 * session's node) and checks again; a pending `leave` just checks again. A closed session ends any
 * wait with `ClosedError`. Like Curator's, a barrier whose participants lose their sessions
 * between `enter` and `leave` does not know it: their nodes are simply gone.
 */
export class DoubleBarrier {
  /** The barrier's parent path. */
  readonly path: string;
  /** This participant's node name. */
  readonly id: string;
  /** Participants needed to pass `enter`. */
  readonly members: number;
  private readonly ourPath: string;
  private readonly readyPath: string;
  private entered = false;
  private busy = false;
  private readonly ourSessions = new Set<string>();
  private parentSeen = false;
  /** A zxid at or after every node of the round we passed `enter` for, below every node of the next (0: unknown). */
  private enterFence = 0;

  /**
   * @param session - the session to use
   * @param path - the barrier's parent node
   * @param options - `members` (required) and `id`
   * @throws InvalidPathError, InvalidArgumentError naming the bad option (nothing is written)
   */
  constructor(
    private readonly session: ZkSession,
    path: string,
    options: DoubleBarrierOptions,
  ) {
    checkRecipeArgs('double-barrier', session, path);
    if (!options || typeof options !== 'object')
      throw new InvalidArgumentError(`double-barrier ${path}: options { members } are required`, { op: 'double-barrier', path });
    const { members, id = randomUUID() } = options;
    if (typeof members !== 'number' || !Number.isInteger(members) || members < 1) {
      throw new InvalidArgumentError(`double-barrier ${path}: option members must be an integer >= 1, got ${String(members)}`, { op: 'double-barrier', path });
    }
    if (typeof id !== 'string' || id.length === 0 || id.includes('/') || id === READY_NODE) {
      throw new InvalidArgumentError(`double-barrier ${path}: option id must be a non-empty node name other than "${READY_NODE}", got ${JSON.stringify(id)}`, {
        op: 'double-barrier',
        path,
      });
    }
    this.path = path;
    this.id = id;
    this.members = members;
    this.ourPath = joinPath(path, id);
    this.readyPath = joinPath(path, READY_NODE);
    validatePath(this.ourPath, 'double-barrier');
  }

  /** True between a successful `enter` and the start of `leave`. */
  get isEntered(): boolean {
    return this.entered;
  }

  /**
   * Enters the barrier and waits until `members` participants have entered.
   * @param wait - `signal` cancels (AbortedError), `timeoutMs` gives up (TimeoutError); either way
   * our node is removed before the error is thrown
   * @throws NodeExistsError when another session's participant already uses this id
   * @throws IllegalStateError when already entered or another enter/leave is running
   */
  async enter(wait?: WaitOptions): Promise<void> {
    checkWaitOptions(wait, 'double-barrier.enter');
    this.begin('enter');
    if (this.entered) {
      this.busy = false;
      throw new IllegalStateError(`double-barrier.enter ${this.path}: already entered`, { op: 'double-barrier.enter', path: this.path });
    }
    const ours: OurNode = { created: undefined, needCreate: true };
    const loop = new WakeLoop(this.session, wait, 'double-barrier.enter', this.path, (info) => {
      if (info.newSession) ours.needCreate = true;
    });
    try {
      for (;;) {
        loop.scope.throwIfAborted();
        const w = loop.next();
        let readyCreated = false;
        const watch = (e: { type: string }) => {
          if (e.type === 'created') readyCreated = true;
          w.resolve();
        };
        try {
          if (await this.checkEnter(loop, w, watch, ours)) break;
        } catch (err) {
          if (!transient(err)) throw err;
          ours.needCreate = true; // the session may be new: check our node again on the next wake-up
        }
        await loop.scope.race(w.promise);
        if (readyCreated) {
          this.enterFence = 0; // passed on the event: the fence comes from leave's listing
          break; // the server told us: someone saw the barrier full
        }
      }
      this.entered = true;
    } catch (err) {
      await this.removeOurs(ours.created, err);
      throw err;
    } finally {
      loop.dispose();
      this.busy = false;
    }
  }

  /**
   * Leaves the barrier and waits until every participant has left.
   * @param wait - `signal` cancels (AbortedError), `timeoutMs` gives up (TimeoutError); our node is
   * already gone by then
   * @throws IllegalStateError when not entered or another enter/leave is running
   */
  async leave(wait?: WaitOptions): Promise<void> {
    checkWaitOptions(wait, 'double-barrier.leave');
    this.begin('leave');
    if (!this.entered) {
      this.busy = false;
      throw new IllegalStateError(`double-barrier.leave ${this.path}: not entered`, { op: 'double-barrier.leave', path: this.path });
    }
    this.entered = false;
    const loop = new WakeLoop(this.session, wait, 'double-barrier.leave', this.path);
    try {
      const leaving: Leaving = { round: undefined, dropped: false };
      for (;;) {
        loop.scope.throwIfAborted();
        const w = loop.next();
        try {
          // Interrupted before both came back: the next wake-up repeats what is missing.
          if (!leaving.dropped) await this.dropOurs(loop, leaving);
          if (leaving.round && (await this.othersGone(loop, w, leaving.round))) return;
        } catch (err) {
          if (!transient(err)) throw err;
        }
        await loop.scope.race(w.promise);
      }
    } finally {
      loop.dispose();
      this.busy = false;
    }
  }

  /**
   * One check of `enter`: watch `ready`, create our node (if needed), list the children, in one
   * round trip. True when the barrier is passed: `ready` exists, or at least `members` nodes are
   * in (then `ready` is created).
   */
  private async checkEnter(loop: WakeLoop, w: Deferred<void>, watch: (e: { type: string }) => void, ours: OurNode): Promise<boolean> {
    // Pipelined: the server answers one session's requests in order. A new handle does not
    // know whether the barrier's container exists: it asks for it first, in the same trip.
    const pParent = this.parentSeen ? undefined : this.ensureParent();
    const pReady = this.session.exists(this.readyPath, { watch });
    let pCreate: Promise<boolean> | undefined;
    if (ours.needCreate) {
      pCreate = this.createOurs(w);
      ours.created = pCreate;
    }
    const pChildren = this.listChildren();
    ours.needCreate = false;
    const [ready, made, listed] = await loop.scope.race(settleAll(pReady, pCreate, pChildren, pParent));
    this.parentSeen = listed !== null;
    if (made === false) ours.needCreate = true; // our old session's node is still there: wait for it to go
    // The fence for `leave`: `ready` is created only once the round is full, and a full listing
    // holds the whole round; neither can see the next round (it needs our node gone).
    this.enterFence = ready?.czxid ?? 0;
    if (ready || listed?.children.includes(READY_NODE)) return true;
    let children = listed;
    if (!ours.needCreate && (children === null || !children.children.includes(this.id))) children = await loop.scope.race(this.listChildren());
    if (children?.children.includes(READY_NODE)) return true;
    if (ours.needCreate || !children || children.children.length < this.members) return false;
    this.enterFence = children.pzxid;
    try {
      await this.session.create(this.readyPath);
    } catch (err) {
      if (!(err instanceof NodeExistsError)) throw err;
    }
    return true;
  }

  /** The barrier's children and its pzxid; null when the barrier's node does not exist. */
  private listChildren(): Promise<{ children: string[]; pzxid: number } | null> {
    return this.session.getChildrenWithStat(this.path).then(
      ({ children, stat }) => ({ children, pzxid: stat.pzxid }),
      (err: unknown) => {
        if (err instanceof NoNodeError) return null;
        throw err;
      },
    );
  }

  /** Creates the barrier's container; it existing, or its parent missing (our create makes parents), is fine. */
  private ensureParent(): Promise<unknown> {
    return this.session.create(this.path, '', { mode: 'container' }).catch((err: unknown) => {
      if (!(err instanceof NodeExistsError) && !(err instanceof NoNodeError)) throw err;
    });
  }

  /**
   * The first round trip of `leave`: the listing (this round's participants and its fence, taken
   * while our node is there), then `ready` and our node go. Each part done is recorded in
   * `leaving`, so a retry repeats only what a connection loss cut.
   */
  private async dropOurs(loop: WakeLoop, leaving: Leaving): Promise<void> {
    const listed = leaving.round
      ? undefined
      : this.listChildren().then((got) => {
          const children = got?.children ?? [];
          // Retried after our delete went through (a connection loss), the listing is no fence:
          // then the one `enter` saw serves, when it saw one.
          const fence = children.includes(this.id) || !this.enterFence ? (got?.pzxid ?? 0) : this.enterFence;
          leaving.round = { fence, still: new Set(children.filter((c) => c !== READY_NODE && c !== this.id)) };
        });
    const dropReady = ignoreNoNode(this.session.delete(this.readyPath));
    const dropOurs = ignoreNoNode(this.session.delete(this.ourPath));
    await loop.scope.race(settleAll(listed, dropReady, dropOurs));
    leaving.dropped = true;
  }

  /**
   * Watches each participant still in `round` for deletion (pipelined); drops those gone or
   * re-entered for the next round (czxid above the fence). True when none is left.
   */
  private async othersGone(loop: WakeLoop, w: Deferred<void>, round: LeaveRound): Promise<boolean> {
    const { still, fence } = round;
    const names = [...still];
    const stats = await loop.scope.race(
      Promise.all(
        names.map((name) =>
          this.session.exists(joinPath(this.path, name), {
            watch: (e) => {
              if (e.type === 'deleted') still.delete(name);
              w.resolve();
            },
          }),
        ),
      ),
    );
    names.forEach((name, i) => {
      const stat = stats[i];
      if (!stat || stat.czxid > fence) still.delete(name);
    });
    return still.size === 0;
  }

  private begin(op: string): void {
    if (this.busy)
      throw new IllegalStateError(`double-barrier.${op} ${this.path}: another enter or leave is running`, { op: `double-barrier.${op}`, path: this.path });
    this.busy = true;
  }

  /**
   * Creates our ephemeral node; an existing one is fine if this session owns it. If one of our
   * earlier sessions still owns it (the server has not expired that session yet), resolves false
   * with a deletion watch armed that wakes `w`.
   */
  private async createOurs(w: Deferred<void>): Promise<boolean> {
    this.ourSessions.add(this.session.sessionId);
    try {
      await this.session.create(this.ourPath, '', { mode: 'ephemeral', createParents: true });
      return true;
    } catch (err) {
      if (!(err instanceof NodeExistsError)) throw err;
      const stat = await this.session.exists(this.ourPath, { watch: () => w.resolve() });
      if (!stat || stat.ephemeralOwner === this.session.sessionId) return stat !== null;
      if (this.ourSessions.has(stat.ephemeralOwner)) return false;
      throw new NodeExistsError(
        `double-barrier.enter ${this.path}: participant id ${this.id} is already in the barrier (node owned by session 0x${stat.ephemeralOwner})`,
        { op: 'double-barrier.enter', path: this.ourPath, cause: err },
      );
    }
  }

  /** After a failed enter: let our create settle, then remove our node (guaranteed). */
  private async removeOurs(created: Promise<unknown> | undefined, err: unknown): Promise<void> {
    if (!created) return;
    await created.catch(() => undefined);
    if (err instanceof NodeExistsError || err instanceof ClosedError) return; // not ours / nothing to do
    try {
      await this.session.delete(this.ourPath, { guaranteed: true });
    } catch (e) {
      if (!(e instanceof NoNodeError) && !(e instanceof ClosedError) && err instanceof Error && err.cause === undefined) {
        Object.defineProperty(err, 'cause', { value: e });
      }
    }
  }
}

/** Our participant node across the checks of one `enter`. */
interface OurNode {
  /** The latest create of our node (awaited before removing it after a failed enter). */
  created: Promise<unknown> | undefined;
  /** Create it on the next check (the first, after a new session, or while an old one's is there). */
  needCreate: boolean;
}

/** What one `leave` has done so far. */
interface Leaving {
  /** This round's participants, from the listing taken while our node was there. */
  round: LeaveRound | undefined;
  /** `ready` and our node are deleted. */
  dropped: boolean;
}

/** The participants `leave` waits for: those of the first listing, not yet gone. */
interface LeaveRound {
  /** Names still in this round. */
  still: Set<string>;
  /** The listing's parent pzxid: a node with a larger czxid is the next round's. */
  fence: number;
}
