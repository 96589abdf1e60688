/**
 * The order of a contender path's children: parsing names into marker and sequence, the sort by
 * sequence (the random protected prefix must not affect the order), the strays of our own create,
 * and the hold rule Curator's driver uses. Pure functions; ./contender.ts re-exports them.
 * @module
 */
import { protectedPrefix } from './layout.js';

/** A contender's node as seen in a listing. */
export interface ContenderEntry {
  /** Node name (no path). */
  name: string;
  /** The marker it carries (`lock-`, `__READ__`, ...). */
  marker: string;
  /** Sequence number parsed from the suffix after the marker. */
  seq: number;
}

/** What the predicate decides for our node. */
export type HoldDecision = { hold: true } | { hold: false; watch: string };

/** Decides, from the ordered contenders and our index, whether we hold or whom to watch. */
export type HoldPredicate = (ordered: readonly ContenderEntry[], ourIndex: number) => HoldDecision;

/** The first `n` contenders hold; the others watch the one `n` places ahead (Curator's driver). */
export function firstN(n: number): HoldPredicate {
  return (ordered, i) => (i < n ? { hold: true } : { hold: false, watch: ordered[i - n]!.name });
}

/**
 * Parses a child name into its marker and sequence, or undefined for a foreign node.
 * The sequence is the suffix after the *last* occurrence of a marker.
 */
export function parseEntry(name: string, markers: readonly string[]): ContenderEntry | undefined {
  for (const marker of markers) {
    const at = name.lastIndexOf(marker);
    if (at < 0) continue;
    const suffix = name.slice(at + marker.length);
    if (suffix.length === 0 || !/^-?\d+$/.test(suffix)) continue;
    return { name, marker, seq: Number(suffix) };
  }
  return undefined;
}

/** Orders child names by sequence suffix, dropping names that carry none of the markers. */
export function orderBySequence(children: readonly string[], markers: readonly string[]): ContenderEntry[] {
  const out: ContenderEntry[] = [];
  for (const c of children) {
    const e = parseEntry(c, markers);
    if (e) out.push(e);
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/**
 * Orders the children and takes out our own strays: other nodes with the protected prefix of
 * `ourName` (see the module docs). `onStray` gets each one's name, to delete it.
 */
export function orderWithoutStrays(
  children: readonly string[],
  markers: readonly string[],
  ourName: string,
  onStray: (name: string) => void,
): ContenderEntry[] {
  const ordered = orderBySequence(children, markers);
  const prefix = protectedPrefix(ourName);
  if (!prefix) return ordered;
  return ordered.filter((e) => {
    if (e.name === ourName || !e.name.startsWith(prefix)) return true;
    onStray(e.name);
    return false;
  });
}
