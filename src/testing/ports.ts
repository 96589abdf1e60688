/**
 * Loopback ports for the test kit's servers, shared by every strategy.
 * @module
 */
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/** Binds `port` (0: any) on 127.0.0.1 and closes it again; resolves the port, or 0 if it is taken. */
function tryBind(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(0) : reject(err)));
    srv.listen(port, '127.0.0.1', () => {
      const { port: bound } = srv.address() as { port: number };
      srv.close(() => resolve(bound));
    });
  });
}

/** The kernel's range of ports for outgoing connections (Linux), or undefined. */
function ephemeralRange(): [number, number] | undefined {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return lo && hi ? [lo, hi] : undefined;
  } catch {
    return undefined;
  }
}

const handedOut = new Set<number>();

/**
 * Finds a free TCP port on 127.0.0.1 for a server, below the kernel's ephemeral range where it can:
 * a port from that range (what `listen(0)` gives) can be taken by any outgoing connection's local
 * end between the check and the server's bind — or while a killed server waits for its restart —
 * and the server then fails to start (seen as a container stuck before readiness).
 */
export async function freePort(): Promise<number> {
  const lo = ephemeralRange()?.[0] ?? 0;
  if (lo > 12_000) {
    for (let i = 0; i < 100; i++) {
      const candidate = 10_000 + Math.floor(Math.random() * (lo - 10_000));
      if (handedOut.has(candidate)) continue;
      handedOut.add(candidate); // before the await: concurrent calls must not pick it too
      if (await tryBind(candidate)) return candidate;
      handedOut.delete(candidate);
    }
  }
  return tryBind(0);
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.setTimeout(1000, () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}
