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
 * The sequence is the suffix after the *last* occurrence of a marker: an optional `-` and digits.
 */
export function parseEntry(name: string, markers: readonly string[]): ContenderEntry | undefined {
  for (const marker of markers) {
    const at = name.lastIndexOf(marker);
    if (at < 0) continue;
    const seq = suffixNumber(name, at + marker.length);
    if (seq !== undefined) return { name, marker, seq };
  }
  return undefined;
}

/** `Number(name.slice(from))` when that suffix is `-?\d+`, else undefined (no regex, no slice: every listing parses every name). */
function suffixNumber(name: string, from: number): number | undefined {
  const neg = name.charCodeAt(from) === 45; // '-'
  const start = neg ? from + 1 : from;
  if (start >= name.length) return undefined;
  let v = 0;
  for (let i = start; i < name.length; i++) {
    const d = name.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    v = v * 10 + d;
  }
  if (name.length - start > 15) v = Number(name.slice(start)); // past 2^53 digit by digit would round twice
  return neg ? -v : v;
}

/** Places in a packed sort key: the entry's index below, its sequence above (exact in a double). */
const INDEX_SPAN = 2 ** 21;
const SEQ_LIMIT = 2 ** 31;

/**
 * Orders child names by sequence suffix, dropping names that carry none of the markers. Equal
 * sequences keep the listing's order. Sorted as numbers (sequence and index packed into one
 * double) rather than with a comparator over objects: a woken waiter sorts the whole queue.
 */
export function orderBySequence(children: readonly string[], markers: readonly string[]): ContenderEntry[] {
  const entries: ContenderEntry[] = [];
  for (const c of children) {
    const e = parseEntry(c, markers);
    if (e) entries.push(e);
  }
  if (entries.length >= INDEX_SPAN || !entries.every((e) => Number.isInteger(e.seq) && Math.abs(e.seq) < SEQ_LIMIT)) {
    return entries.sort((x, y) => x.seq - y.seq); // foreign digits beyond a server sequence: the plain (stable) sort
  }
  const keys = new Float64Array(entries.length);
  for (let i = 0; i < entries.length; i++) keys[i] = entries[i]!.seq * INDEX_SPAN + i;
  keys.sort();
  const out = new Array<ContenderEntry>(entries.length);
  for (let i = 0; i < keys.length; i++) {
    const r = keys[i]! % INDEX_SPAN; // the index; negative for a negative sequence
    out[i] = entries[r < 0 ? r + INDEX_SPAN : r]!;
  }
  return out;
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
