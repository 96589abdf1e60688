/**
 * A spawn helper that works around a file-descriptor leak of the `zookeeper` binding.
 *
 * The binding (7.3.0) builds its C client without close-on-exec on the client's sockets, so any
 * process spawned while a session is open inherits that session's socket. Two things follow:
 * the server does not see the connection close when the session moves or closes (the child
 * still holds it), and the closed socket's epoll registration stays alive with it, so the
 * session's next socket on the same descriptor number receives the old socket's events and the
 * client spins without connecting. Measured in this project: a quorum-loss scenario whose test
 * restarted a server process wedged a client in 1 run of 4; with the restarted server spawned
 * through {@link withoutInheritedFds}, in none of 35 (docs/binding-issues.md).
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { InvalidArgumentError } from './errors.js';

// $1: the first descriptor to close; the rest: the program and its arguments.
// biome-ignore lint/suspicious/noTemplateCurlyInString: a shell script, `${f##*/}` is the shell's
const CLOSE_AND_EXEC = 'k=$1; shift; for f in /dev/fd/*; do n=${f##*/}; if [ "$n" -ge "$k" ]; then eval "exec $n>&-"; fi; done 2>/dev/null; exec "$@"';

/**
 * Returns an argv that runs `argv` after closing every inherited file descriptor from
 * `stdioCount` up (through `/bin/bash`), for `child_process.spawn(result[0], result.slice(1), ...)`.
 *
 * Use it to spawn child processes from a process that has open sessions. `stdioCount` is the
 * length of the `stdio` array given to `spawn` (3 by default: stdin, stdout, stderr; 4 with an
 * `'ipc'` channel at index 3), so the descriptors `spawn` sets up are kept. Where `/bin/bash` or
 * `/dev/fd` is missing (Windows), `argv` is returned unchanged.
 *
 * @example
 * const [cmd, ...args] = withoutInheritedFds([process.execPath, 'worker.js']);
 * spawn(cmd, args, { stdio: 'inherit' });
 */
export function withoutInheritedFds(argv: readonly string[], stdioCount = 3): string[] {
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
    throw new InvalidArgumentError('withoutInheritedFds: argv must be a non-empty array of strings naming a program', { op: 'withoutInheritedFds' });
  }
  if (!Number.isInteger(stdioCount) || stdioCount < 3) {
    throw new InvalidArgumentError(`withoutInheritedFds: stdioCount must be an integer >= 3, got ${String(stdioCount)}`, { op: 'withoutInheritedFds' });
  }
  if (!existsSync('/bin/bash') || !existsSync('/dev/fd')) return [...argv];
  return ['/bin/bash', '-c', CLOSE_AND_EXEC, 'zk-recipes-spawn', String(stdioCount), ...argv];
}
