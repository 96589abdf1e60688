/**
 * The inspector's views of paths whose children carry no recipe marker: a double barrier (the
 * `ready` node of recipes/double-barrier.ts plus ephemeral participants), a group (only
 * ephemeral children), and anything else as a tree: the node, its first children, and a walk of
 * its whole subtree. Tree caches write nothing of their own, so for a path they watch, the
 * subtree summary (how many nodes, how deep, how many bytes, the latest change) is what there is
 * to see: what each cache of the path holds in memory.
 * @internal
 * @module
 */
import { joinPath } from '../paths.js';
import type { Stat } from '../session.js';
import { READY_NODE } from '../../recipes/double-barrier.js';
import { byName, type Listing, type Reader } from './inspect-read.js';
import type { Inspection, InspectionBase, NodeView, SubtreeSummary } from './inspect-types.js';

/** A double barrier or a group, from the (sampled) children; undefined when neither. */
export function barrierOrGroup(base: InspectionBase, names: readonly string[], nodes: NodeView[]): Inspection | undefined {
  const ephemeral = nodes.filter((n) => n.sessionId);
  if (names.includes(READY_NODE) && ephemeral.length > 0 && ephemeral.length === nodes.length - 1) {
    return { ...base, kind: 'double-barrier', ready: true, participants: ephemeral.sort((a, b) => a.czxid - b.czxid) };
  }
  if (nodes.length > 0 && ephemeral.length === nodes.length) {
    const members = ephemeral.sort(byName);
    const hints = members
      .filter((m) => m.sessionConnected === false)
      .map((m) => `member ${m.name}'s session ${m.sessionId} is not connected to any server: it leaves when the session expires.`);
    return { ...base, kind: 'group', members, hints };
  }
  return undefined;
}

const isEphemeral = (s: Stat) => s.ephemeralOwner !== '' && !/^0+$/.test(s.ephemeralOwner);

/** Counts one node into the summary. */
function add(sum: SubtreeSummary, path: string, stat: Stat): void {
  sum.nodes++;
  sum.bytes += stat.dataLength;
  if (isEphemeral(stat)) sum.ephemeral++;
  if (!sum.newest || stat.mtime.getTime() > sum.newest.at.getTime()) sum.newest = { path, at: new Date(stat.mtime) };
}

/**
 * Walks the subtree below `top` level by level (one `getChildren2` per node, 64 at a time),
 * reading at most `maxNodes` nodes in all. Nodes deleted during the walk are skipped.
 */
export async function summarizeSubtree(r: Reader, top: Listing, maxNodes: number): Promise<SubtreeSummary> {
  const sum: SubtreeSummary = { nodes: 0, depth: 0, bytes: 0, ephemeral: 0, newest: undefined, complete: true };
  add(sum, top.path, top.stat);
  let level: Listing[] = [top];
  for (let depth = 1; level.length > 0; depth++) {
    const paths = level.flatMap((l) => l.names.map((n) => joinPath(l.path, n)));
    const next: Listing[] = [];
    for (let i = 0; i < paths.length; i += 64) {
      const room = maxNodes - sum.nodes;
      if (room <= 0) {
        sum.complete = false;
        return sum;
      }
      const batch = await Promise.all(paths.slice(i, i + Math.min(64, room)).map((p) => r.list(p)));
      for (const l of batch) {
        if (!l) continue;
        add(sum, l.path, l.stat);
        sum.depth = depth;
        if (l.names.length) next.push(l);
      }
    }
    level = next;
  }
  return sum;
}

/** The `tree` kind: the node, its first children by name, the subtree summary. */
export async function treeInspection(
  r: Reader,
  base: InspectionBase,
  top: Listing,
  sampled: NodeView[],
  opts: { maxChildren?: number | undefined; maxNodes?: number | undefined },
): Promise<Inspection> {
  const path = base.path;
  const self = await r.node(path, path.slice(path.lastIndexOf('/') + 1) || '/');
  if (!self) return { ...base, kind: 'missing', hints: [`${path} was deleted while being inspected.`] };
  const children = sampled.sort(byName).slice(0, opts.maxChildren ?? 50);
  const subtree = await summarizeSubtree(r, top, opts.maxNodes ?? 10_000);
  return { ...base, kind: 'tree', node: self, children, totalChildren: top.names.length, subtree };
}
