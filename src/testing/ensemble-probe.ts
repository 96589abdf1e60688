/**
 * What every ensemble strategy (local processes, containers) asks its servers, written once:
 * who leads, where a session is connected, and whether a quorum serves. Each takes the client
 * ports of the servers, with `undefined` for a server that is not running.
 * @module
 */
import { fourLetterWord, serverMode } from './fourlw.js';

/** Index of the server whose `srvr` says `leader`, or -1. */
export async function leaderIndexOf(ports: ReadonlyArray<number | undefined>): Promise<number> {
  for (let i = 0; i < ports.length; i++) {
    const port = ports[i];
    if (port !== undefined && (await serverMode('127.0.0.1', port)) === 'leader') return i;
  }
  return -1;
}

/** Index of the server whose `cons` lists the session (hex id), or -1. */
export async function serverIndexOf(ports: ReadonlyArray<number | undefined>, sessionId: string): Promise<number> {
  const want = `sid=0x${sessionId.toLowerCase()}`;
  for (let i = 0; i < ports.length; i++) {
    const port = ports[i];
    if (port === undefined) continue;
    try {
      const cons = await fourLetterWord('127.0.0.1', port, 'cons', 1000);
      if (cons.toLowerCase().includes(want)) return i;
    } catch { /* down */ }
  }
  return -1;
}

/** Waits until every running server is leader or follower and one of them leads. */
export async function waitForQuorumOf(ports: () => ReadonlyArray<number | undefined>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const running = ports().filter((p): p is number => p !== undefined);
    const modes = await Promise.all(running.map((p) => serverMode('127.0.0.1', p)));
    if (modes.every((m) => m === 'leader' || m === 'follower') && modes.includes('leader')) return;
    if (Date.now() > deadline) throw new Error(`ensemble quorum: not ready within ${timeoutMs} ms (modes: ${modes.join(', ')})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
