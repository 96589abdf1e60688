/**
 * A guard against the second fault of the `zookeeper` binding 7.3.0 (docs/binding-issues.md):
 * when a request's send fails, the C client closes its socket inside the request call and the
 * binding's libuv poll handle stays registered on the closed descriptor number until the
 * binding next polls (up to a third of the session timeout). Any socket of the process that gets
 * that number meanwhile is broken: another session's poll handle cannot be created (the process
 * aborts on a libuv assertion), and a Node socket's events go to the stale handle (the socket
 * hangs; seen as HTTP requests to the Docker engine that never completed).
 *
 * The session notices the fault right after the call (the C client's state is "not connected",
 * 999, which nothing else leaves it in while the handle lives) and holds every free descriptor
 * number up to a little above the highest in use — the closed one among them — with `/dev/null`
 * placeholders, until the C client has connected a new socket (the binding then drops the stale
 * handle) or the handle is gone. New sockets meanwhile get higher numbers.
 * @internal
 * @module
 */
import { closeSync, existsSync, openSync, readdirSync } from 'node:fs';

const FD_DIR = existsSync('/proc/self/fd') ? '/proc/self/fd' : existsSync('/dev/fd') ? '/dev/fd' : undefined;

/** The C client's state after it closed its socket inside a request call. */
export const NOT_CONNECTED = 999;

/**
 * Opens placeholders on every free descriptor number up to `above` past the highest in use.
 * @returns the descriptors to close later (empty where descriptors cannot be listed)
 */
export function holdFreeFds(above = 16): number[] {
  if (!FD_DIR) return [];
  let max = -1;
  try {
    for (const name of readdirSync(FD_DIR)) max = Math.max(max, Number(name) || 0);
  } catch {
    return [];
  }
  const held: number[] = [];
  while (held.length < 4096) {
    let fd: number;
    try {
      fd = openSync('/dev/null', 'r');
    } catch {
      break;
    }
    if (fd > max + above) {
      closeSync(fd);
      break;
    }
    held.push(fd);
  }
  return held;
}

/** Closes placeholders from {@link holdFreeFds}. */
export function releaseFds(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
  }
}
