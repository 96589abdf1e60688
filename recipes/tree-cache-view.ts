/**
 * The in-memory view of a {@link TreeCache}: path → node, plus a child index for `children()`.
 * Every change goes through `apply` (a read's result) or `remove` (a node known to be gone), which
 * keep the newest incarnation and data by the stat's zxids and report what changed to the sink.
 * @internal
 * @module
 */
import type { Stat } from '../src/session.js';
import { joinPath, nodeName, parentOf } from '../src/paths.js';

/** A cached node: its path, data (undefined for a node kept without data) and stat. */
export interface TreeNode {
  /** The node's full path. */
  readonly path: string;
  /** The node's data as last read; undefined when the filter said `keepWithoutData`. */
  readonly data: Buffer | undefined;
  /**
   * The node's stat as read when its creation or last data change was reported. Its child counters
   * (`numChildren`, `cversion`, `pzxid`) are not kept current, as in Curator's caches: ZooKeeper's
   * recursive watch reports no child-list changes. Use `children()` for the current children.
   */
  readonly stat: Stat;
}

/** Where the view reports its changes. */
export interface ViewSink {
  created(node: TreeNode): void;
  changed(node: TreeNode, previous: TreeNode): void;
  deleted(previous: TreeNode): void;
}

/** Whether `a` is a newer incarnation, or newer data, than `b`: -1 older, 0 same, 1 newer. */
export function compareStat(a: Stat, b: Stat): -1 | 0 | 1 {
  if (a.czxid !== b.czxid) return a.czxid > b.czxid ? 1 : -1;
  if (a.mzxid !== b.mzxid) return a.mzxid > b.mzxid ? 1 : -1;
  return 0;
}

/** @internal */
export class TreeView {
  private readonly nodes = new Map<string, TreeNode>();
  private readonly kids = new Map<string, Set<string>>();

  constructor(
    private readonly root: string,
    private readonly sink: ViewSink,
  ) {}

  /** Number of cached nodes. */
  get size(): number {
    return this.nodes.size;
  }

  get(path: string): TreeNode | undefined {
    return this.nodes.get(path);
  }

  has(path: string): boolean {
    return this.nodes.has(path);
  }

  /** Names of the cached children of `path`; undefined when `path` is not cached. */
  children(path: string): string[] | undefined {
    if (!this.nodes.has(path)) return undefined;
    const set = this.kids.get(path);
    return set ? [...set] : [];
  }

  entries(): IterableIterator<[string, TreeNode]> {
    return this.nodes.entries();
  }

  paths(): IterableIterator<string> {
    return this.nodes.keys();
  }

  /**
   * Takes a read's result. A node not cached is created; a newer incarnation (greater czxid)
   * replaces the old one and what was cached below it from before it (deleted, then created); newer
   * data (greater mzxid) is a change; an older read, or one of the same data, changes nothing (a
   * cached node object is replaced only together with an event about it).
   */
  apply(node: TreeNode): void {
    const prev = this.nodes.get(node.path);
    if (!prev) {
      this.insert(node);
      this.sink.created(node);
      return;
    }
    const order = compareStat(node.stat, prev.stat);
    if (order < 0) return;
    if (node.stat.czxid !== prev.stat.czxid) {
      // A new node of the same name: what hung below the old one is gone with it. Nodes created
      // after the new one (a greater czxid) belong to it and stay.
      this.removeOlderBelow(node.path, node.stat.czxid);
      this.nodes.delete(node.path);
      this.sink.deleted(prev);
      this.nodes.set(node.path, node);
      this.sink.created(node);
      return;
    }
    if (order === 0) return;
    this.nodes.set(node.path, node);
    this.sink.changed(node, prev);
  }

  /** Removes `path` and everything cached below it, deepest first. */
  remove(path: string): void {
    const below = this.kids.get(path);
    if (below) for (const name of [...below]) this.remove(joinPath(path, name));
    const prev = this.nodes.get(path);
    if (!prev) return;
    this.nodes.delete(path);
    this.unlink(path);
    this.sink.deleted(prev);
  }

  private removeOlderBelow(path: string, czxid: number): void {
    const below = this.kids.get(path);
    if (!below) return;
    for (const name of [...below]) {
      const child = joinPath(path, name);
      const n = this.nodes.get(child);
      if (!n || n.stat.czxid < czxid) this.remove(child);
    }
  }

  private insert(node: TreeNode): void {
    this.nodes.set(node.path, node);
    if (node.path === this.root) return;
    const parent = parentOf(node.path);
    let set = this.kids.get(parent);
    if (!set) {
      set = new Set();
      this.kids.set(parent, set);
    }
    set.add(nodeName(node.path));
  }

  private unlink(path: string): void {
    if (path === this.root) return;
    const parent = parentOf(path);
    const set = this.kids.get(parent);
    if (!set) return;
    set.delete(nodeName(path));
    if (set.size === 0) this.kids.delete(parent);
  }
}
