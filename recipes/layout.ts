/**
 * The node-name grammar every recipe shares, defined once: the protected-create marker and the
 * server's sequence suffix. Each recipe's own markers and directories live in its file (`lock-`
 * in ./lock.ts, `latch-` in ./leader-latch.ts, ...); the recipe inspector (src/ops/inspect.ts)
 * imports both, so what it reads is exactly what the recipes write.
 *
 * ```
 * _c_<uuid>-lock-0000000007          a protected contender (Curator's `withProtection()`)
 * queue-_c_<uuid>-0000000042         a protected queue item (the marker before the sequence)
 * queue-0000000042                   a plain one (Curator's own put)
 * ```
 * The marker is Curator's `ProtectedUtils` prefix: `_c_`, a lower-case UUID, `-` (40 characters).
 * The sequence is the 10-digit, zero-padded counter the server appends to a sequential create.
 * @module
 */

/** Start of every protected name's marker (Curator's `PROTECTED_PREFIX`). */
export const PROTECTED_PREFIX = '_c_';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** The whole marker of a protected create, `_c_<uuid>-`, anywhere in a name. */
export const PROTECTED_MARKER = new RegExp(`${PROTECTED_PREFIX}${UUID}-`);

const LEADING_MARKER = new RegExp(`^${PROTECTED_PREFIX}${UUID}-`);

/** Digits of the server's sequence suffix (`%010d`). */
export const SEQUENCE_DIGITS = 10;

const SEQUENCE_SUFFIX = new RegExp(`\\d{${SEQUENCE_DIGITS}}$`);

/**
 * The `_c_<uuid>-` marker a name starts with (a contender's protected node), or undefined when
 * it has none: two nodes with the same one were made by the same create call.
 */
export function protectedPrefix(name: string): string | undefined {
  return LEADING_MARKER.exec(name)?.[0];
}

/** The server's 10-digit sequence at the end of a name, or undefined when it has none. */
export function sequenceSuffix(name: string): number | undefined {
  const m = SEQUENCE_SUFFIX.exec(name);
  return m ? Number(m[0]) : undefined;
}
