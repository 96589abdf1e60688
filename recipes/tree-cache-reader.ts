/**
 * The reads behind a {@link TreeCache}: a pipeline of `get` / `getChildren` calls with a bounded
 * number in flight (the client sends them all on one socket and the server answers in order), the
 * rule that decides which answer is current, and the walks (rounds) that load or re-sync the whole
 * tree. The algorithm and why it is correct are at the top of `tree-cache.ts`.
 * @internal
 * @module
 */
import type { ZkSession } from '../src/session.js';
import { ClosedError, NoNodeError, SessionExpiredError, isRetryable } from '../src/errors.js';
import { joinPath } from '../src/paths.js';
import type { TreeNode, TreeView } from './tree-cache-view.js';

/**
 * Requests a tree cache keeps in flight at once while it walks the tree. Measured loading 10 000
 * nodes from a local server (same 2-core machine, so the client's and the server's CPU are the
 * limit): 1 in flight took ~4 s, 4–8 about twice as long as the best, and everything from 32 up
 * (64, 128, 256, 1024, unbounded) the same within noise (~0.4–0.9 s). Over a network the rate is
 * at most `bound / round trip`: 128 keeps the client busy up to ~6 ms of round trip, while a
 * request of the session's other users waits behind at most 128 reads, not the whole tree.
 */
export const TREE_CACHE_MAX_IN_FLIGHT = 128;

/** What the filter said about a node. */
export type TreeCacheSelection = 'keep' | 'keepWithoutData' | 'skip';

/** A read of one node. `walk`: the round whose walk needs its children (0: none). */
interface ReadTask {
  kind: 'read';
  path: string;
  withData: boolean;
  walk: number;
  sent: boolean;
  cancelled: boolean;
}

/** A listing of one node's children for the walk of round `walk`. */
interface ListTask {
  kind: 'list';
  path: string;
  walk: number;
}

type Task = ReadTask | ListTask;

/** A request sent; `settle` handles its answer, once it has come. */
interface Sent {
  t: Task;
  settle: (() => void) | undefined;
}

/** What the cache plugs into the reader. */
export interface ReaderHooks {
  /** The filter's answer for one node (its ancestors are known to be kept). */
  select(path: string): TreeCacheSelection;
  /** A read failed with something other than a connection problem. */
  failed(err: Error): void;
  /** A round ended: `complete` when every read of its walk succeeded (deletions were swept). */
  roundEnded(complete: boolean): void;
}

function depth(path: string): number {
  let n = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) n++;
  return n;
}

/** @internal */
export class TreeReader {
  private queue: Task[] = [];
  private head = 0;
  private sent: Sent[] = [];
  private sentHead = 0;
  private inFlight = 0;
  /** The last read asked for each path: only its answer may change the view. */
  private readonly latest = new Map<string, ReadTask>();
  private round = 0;
  private active = false;
  private outstanding = 0;
  private complete = true;
  private seen = new Set<string>();
  private stopped = false;

  constructor(
    private readonly session: ZkSession,
    private readonly root: string,
    private readonly view: TreeView,
    private readonly hooks: ReaderHooks,
    private readonly maxInFlight = TREE_CACHE_MAX_IN_FLIGHT,
  ) {}

  /** Starts a walk of the whole tree, superseding one under way (whose answers still count). */
  walk(): void {
    if (this.stopped) return;
    this.round++;
    this.active = true;
    this.outstanding = 0;
    this.complete = true;
    this.seen = new Set();
    const sel = this.hooks.select(this.root);
    if (sel !== 'skip') this.read(this.root, sel === 'keep', true);
    if (this.outstanding === 0) this.endRound();
  }

  /** A node was created or changed: read it again. */
  refresh(path: string, withData: boolean): void {
    this.read(path, withData, false);
  }

  /** A node was deleted: no answer to an earlier read of it may bring it back. */
  forget(path: string): void {
    const t = this.latest.get(path);
    if (!t) return;
    this.latest.delete(path);
    if (!t.sent) t.cancelled = true;
  }

  /** Drops every queued read; answers still coming are ignored. */
  stop(): void {
    this.stopped = true;
    this.queue = [];
    this.head = 0;
    this.sent = [];
    this.sentHead = 0;
    this.latest.clear();
    this.seen = new Set();
  }

  private read(path: string, withData: boolean, discover: boolean): void {
    if (this.stopped) return;
    const cur = this.latest.get(path);
    if (cur && !cur.sent) {
      // Not sent yet: it will be read after this request anyway.
      if (discover && cur.walk !== this.round) {
        cur.walk = this.round;
        this.outstanding++;
      }
      return;
    }
    const t: ReadTask = { kind: 'read', path, withData, walk: discover ? this.round : 0, sent: false, cancelled: false };
    this.latest.set(path, t);
    if (discover) this.outstanding++;
    this.enqueue(t);
  }

  private enqueue(t: Task): void {
    this.queue.push(t);
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.inFlight < this.maxInFlight && this.head < this.queue.length) {
      const t = this.queue[this.head++]!;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      } // drained: let the tasks go
      else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      // A deleted node's read, or a listing for a walk since superseded (the new walk lists again).
      if (t.kind === 'read' ? t.cancelled : t.walk !== this.round) {
        this.done(t);
        continue;
      }
      if (t.kind === 'read') t.sent = true;
      this.inFlight++;
      const out: Sent = { t, settle: undefined };
      this.sent.push(out);
      void this.run(t).then((settle) => {
        out.settle = settle;
        this.settleInOrder();
      });
    }
  }

  /**
   * Handles the answers in the order the requests went out (the order the server answers them
   * in): left to themselves, the continuations of calls whose promise chains differ in length
   * (`get`, `exists`, `getChildren`) could run in another order (a child reported before its
   * parent).
   */
  private settleInOrder(): void {
    while (!this.stopped && this.sentHead < this.sent.length) {
      const out = this.sent[this.sentHead]!;
      if (!out.settle) break;
      this.sentHead++;
      this.inFlight--;
      out.settle();
      this.done(out.t);
    }
    if (this.sentHead === this.sent.length) {
      this.sent = [];
      this.sentHead = 0;
    } else if (this.sentHead >= 1024 && this.sentHead * 2 >= this.sent.length) {
      this.sent = this.sent.slice(this.sentHead);
      this.sentHead = 0;
    }
    this.pump();
  }

  /** Sends one request; resolves with what to do with its answer. */
  private async run(t: Task): Promise<() => void> {
    try {
      if (t.kind === 'list') {
        const names = await this.session.getChildren(t.path);
        return () => this.listed(t, names);
      }
      return await this.readNode(t);
    } catch (err) {
      // A listing of a node gone meanwhile: its delete event says the rest.
      if (err instanceof NoNodeError) return t.kind === 'read' ? () => this.answered(t, null, undefined) : () => undefined;
      return () => this.failedTask(t, err as Error);
    }
  }

  /** One read: `get` with data; stat and children in one call for a walk without data; else `exists`. */
  private async readNode(t: ReadTask): Promise<() => void> {
    const path = t.path;
    if (t.withData) {
      const r = await this.session.get(path);
      return () => this.answered(t, { path, data: r.data, stat: r.stat }, undefined);
    }
    if (t.walk !== 0) {
      const r = await this.session.getChildrenWithStat(path);
      return () => this.answered(t, { path, data: undefined, stat: r.stat }, r.children);
    }
    const stat = await this.session.exists(path);
    return () => this.answered(t, stat ? { path, data: undefined, stat } : null, undefined);
  }

  /**
   * An answer. Only the last read asked for a path changes the view: an earlier one may have been
   * answered before a change whose event has already been handled. Any answer showing the node
   * proves it existed during this round (so the sweep keeps it) and feeds the walk.
   */
  private answered(t: ReadTask, node: TreeNode | null, children: string[] | undefined): void {
    if (this.stopped) return;
    const isLatest = this.latest.get(t.path) === t;
    if (isLatest) this.latest.delete(t.path);
    if (node && this.active) this.seen.add(t.path);
    if (isLatest) {
      if (node) this.view.apply(node);
      else this.view.remove(t.path);
    }
    if (!node || t.walk !== this.round || !this.active) return;
    if (children) this.discover(t.path, children);
    else if (t.withData && node.stat.numChildren > 0) {
      this.outstanding++;
      this.enqueue({ kind: 'list', path: t.path, walk: this.round });
    }
  }

  private listed(t: ListTask, names: string[]): void {
    if (this.stopped || t.walk !== this.round || !this.active) return;
    this.discover(t.path, names);
  }

  private discover(parent: string, names: readonly string[]): void {
    for (const name of names) {
      const child = joinPath(parent, name);
      const sel = this.hooks.select(child);
      if (sel !== 'skip') this.read(child, sel === 'keep', true);
    }
  }

  private failedTask(t: Task, err: Error): void {
    if (this.stopped) return;
    if (t.kind === 'read' && this.latest.get(t.path) === t) this.latest.delete(t.path);
    if (this.active && t.walk === this.round) this.complete = false;
    if (isRetryable(err) || err instanceof SessionExpiredError || err instanceof ClosedError) return; // the next `reconnected` walks again
    this.hooks.failed(err);
  }

  private done(t: Task): void {
    if (this.stopped || !this.active || t.walk !== this.round) return;
    if (--this.outstanding === 0) this.endRound();
  }

  /** The walk is over: what it did not see, and no read is pending for, is gone (deepest first). */
  private endRound(): void {
    this.active = false;
    const complete = this.complete;
    if (complete) {
      const gone: string[] = [];
      for (const p of this.view.paths()) if (!this.seen.has(p) && !this.latest.has(p)) gone.push(p);
      gone.sort((a, b) => depth(b) - depth(a));
      for (const p of gone) this.view.remove(p);
    }
    this.seen = new Set();
    this.hooks.roundEnded(complete);
  }
}
