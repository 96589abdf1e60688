/**
 * A loopback TCP proxy between clients and ZooKeeper server(s), to cut one client off while the
 * rest of the cluster goes on: `partition()` makes the proxy silent (sockets stay open, no byte
 * passes either way, new connections are accepted and then stall), so the client sees a silent
 * server exactly as in a network partition and the server, hearing nothing, expires the session
 * after its timeout. `heal()` lets the held bytes through and forwarding resumes.
 *
 * For testing a client's wire handling there are finer faults: `freeze()` / `thaw()` hold the bytes
 * of the connections open now only (new ones pass), `delay(ms)` adds one-way latency,
 * `corruptNext()` mangles the next chunk in one direction (random bytes, a truncated frame, or a
 * bogus 0x7fffffff length prefix) and `dropConnections()` resets every connection.
 *
 * ```ts
 * const proxy = await startProxy(server.connectString);
 * const session = await ZkSession.connect(proxy.connectString, { sessionTimeoutMs: 3000 });
 * proxy.partition();   // session → suspended, later lost
 * proxy.heal();        // session → reconnected
 * await proxy.close();
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import createDebug from 'debug';
import { parseConnectString, type ServerAddress } from '../ops/fourlw.js';

const log = createDebug('zk-recipes:proxy');

/** A direction of forwarding: server to client, or client to server. */
export type ProxyDirection = 'toClient' | 'toServer';

/**
 * How `corruptNext()` mangles a chunk: `'garbage'` replaces every byte (same length),
 * `'truncate'` forwards the first half then ends the destination socket, `'oversize'` prefixes a
 * 4-byte big-endian length of 0x7fffffff.
 */
export type ProxyCorruption = 'garbage' | 'truncate' | 'oversize';

/** A running proxy. */
export interface ZkProxy {
  /** `127.0.0.1:<port>`: give this to the client(s) to cut off. */
  readonly connectString: string;
  /** The proxy's port. */
  readonly port: number;
  /** Whether the proxy is partitioned now. */
  readonly partitioned: boolean;
  /** Number of client connections currently open through the proxy. */
  readonly connections: number;
  /** Stops forwarding in both directions and stalls new connections; sockets stay open. Idempotent. */
  partition(): void;
  /** Resumes forwarding: held bytes go through, stalled connections reach the server. Idempotent. */
  heal(): void;
  /**
   * Stops forwarding in both directions on the connections open now; their sockets stay open and
   * their bytes are held. Unlike `partition()`, connections made later pass normally. Idempotent.
   */
  freeze(): void;
  /**
   * Resumes forwarding on frozen connections: their held bytes go through in order (unless the
   * proxy is partitioned, in which case they wait for `heal()` too). Idempotent.
   */
  thaw(): void;
  /** Resets every current connection (both sides), as a crashed router would. New ones are accepted. */
  dropConnections(): void;
  /**
   * Adds `ms` of one-way latency to every chunk forwarded from now on, in both directions; the
   * order of bytes (and of closes) is kept. `0` turns it off.
   * @throws RangeError when `ms` is negative or not finite
   */
  delay(ms: number): void;
  /**
   * Replaces the next chunk forwarded in `direction` (on whichever connection forwards first):
   * `'garbage'` with random bytes of the same length, each differing from the original;
   * `'truncate'` with its first half, then ends (FIN) that connection's destination socket and
   * discards what else comes for it; `'oversize'` with a 4-byte big-endian length of 0x7fffffff
   * followed by the chunk. Forwarding then goes on normally. A later call for the same direction
   * replaces one still pending.
   */
  corruptNext(direction: ProxyDirection, how: ProxyCorruption): void;
  /** Stops listening and resets every connection. Idempotent. */
  close(): Promise<void>;
  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Runs tasks in the order given, each no sooner than the delay given with it. */
class DelayLine {
  private readonly queue: Array<{ due: number; run: () => void }> = [];
  private timer: NodeJS.Timeout | undefined;

  push(delayMs: number, run: () => void): void {
    if (delayMs <= 0 && this.queue.length === 0) {
      run();
      return;
    }
    this.queue.push({ due: performance.now() + delayMs, run });
    if (!this.timer) this.pump();
  }

  cancel(): void {
    this.queue.length = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly pump = (): void => {
    this.timer = undefined;
    // Timers may fire a little early: check the clock, and wait again if need be.
    while (this.queue.length > 0 && this.queue[0]!.due <= performance.now()) this.queue.shift()!.run();
    const head = this.queue[0];
    if (head && !this.timer) this.timer = setTimeout(this.pump, Math.max(1, Math.ceil(head.due - performance.now())));
  };
}

/** One client connection: the client socket, its upstream (once asked for) and what is held. */
interface Link {
  client: Socket;
  upstream: Socket | undefined;
  /** The upstream connection is established. */
  upstreamReady: boolean;
  /** Frozen by `freeze()`: bytes are held until `thaw()`. */
  frozen: boolean;
  /** Bytes held per direction while partitioned or frozen (toServer also before upstream connects). */
  held: Record<ProxyDirection, Buffer[]>;
  /** Per-direction delay lines: chunks and closes pass through them before forwarding. */
  lanes: Record<ProxyDirection, DelayLine>;
  /** The client closed its side (FIN or reset). */
  clientGone: boolean;
  /** The server closed its side. */
  upstreamGone: boolean;
}

const OVERSIZE = Buffer.from([0x7f, 0xff, 0xff, 0xff]);

function kill(s: Socket | undefined): void {
  if (!s || s.destroyed) return;
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}

function end(s: Socket | undefined): void {
  if (s && !s.destroyed && !s.writableEnded) s.end();
}

/** Random bytes of the same length, each one different from the original's. */
function garble(chunk: Buffer): Buffer {
  const noise = randomBytes(chunk.length);
  return Buffer.from(chunk.map((b, i) => b ^ (1 + (noise[i]! % 255))));
}

/** A fresh link for a client connection: nothing held, no upstream yet. */
function newLink(client: Socket): Link {
  return {
    client,
    upstream: undefined,
    upstreamReady: false,
    frozen: false,
    held: { toServer: [], toClient: [] },
    lanes: { toServer: new DelayLine(), toClient: new DelayLine() },
    clientGone: false,
    upstreamGone: false,
  };
}

/**
 * The proxy itself: the links, the fault switches and the forwarding between the two sockets of
 * each link. `startProxy` hands out a {@link ZkProxy} view of it.
 */
class ProxyCore {
  readonly links = new Set<Link>();
  readonly server: Server;
  partitioned = false;
  closed = false;
  private next = 0;
  private delayMs = 0;
  private readonly corruptions: Partial<Record<ProxyDirection, ProxyCorruption>> = {};

  constructor(private readonly targets: readonly ServerAddress[]) {
    this.server = createServer({ allowHalfOpen: true }, (client) => this.accept(client));
    this.server.on('error', (err) => log('server error %s', err.message));
  }

  /** Listens on a free 127.0.0.1 port; resolves with it. */
  async listen(): Promise<number> {
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as { port: number }).port;
    log('proxy 127.0.0.1:%d -> %o', port, this.targets);
    return port;
  }

  // ---- the faults ---------------------------------------------------------------------------------

  partition(): void {
    if (this.partitioned || this.closed) return;
    this.partitioned = true;
    log('partitioned (%d links)', this.links.size);
  }

  heal(): void {
    if (!this.partitioned || this.closed) return;
    this.partitioned = false;
    log('healed (%d links)', this.links.size);
    for (const link of [...this.links]) {
      // A connection that stalled and was given up never reached the server: forget it.
      if (!link.upstream && link.clientGone) this.drop(link);
      else if (!link.upstream) this.connectUpstream(link);
      else this.flush(link);
    }
  }

  freeze(): void {
    if (this.closed) return;
    for (const link of this.links) link.frozen = true;
    log('froze %d links', this.links.size);
  }

  thaw(): void {
    for (const link of [...this.links]) {
      if (!link.frozen) continue;
      link.frozen = false;
      this.flush(link);
    }
  }

  dropConnections(): void {
    for (const link of [...this.links]) this.drop(link);
  }

  delay(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`proxy: delay must be a finite number >= 0, got ${ms}`);
    this.delayMs = ms;
  }

  corruptNext(direction: ProxyDirection, how: ProxyCorruption): void {
    this.corruptions[direction] = how;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of [...this.links]) this.drop(link);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- forwarding ---------------------------------------------------------------------------------

  private isHeld(link: Link): boolean {
    return this.closed || this.partitioned || link.frozen;
  }

  private drop(link: Link): void {
    this.links.delete(link);
    link.lanes.toServer.cancel();
    link.lanes.toClient.cancel();
    kill(link.client);
    kill(link.upstream);
  }

  /** Writes a chunk to its destination, applying a pending corruption. */
  private send(link: Link, dir: ProxyDirection, chunk: Buffer): void {
    const to = dir === 'toServer' ? link.upstream : link.client;
    if (!to || to.destroyed || to.writableEnded) return;
    const how = this.corruptions[dir];
    if (!how) {
      to.write(chunk);
      return;
    }
    delete this.corruptions[dir];
    log('corrupting a %d-byte chunk %s: %s', chunk.length, dir, how);
    if (how === 'truncate') to.end(chunk.subarray(0, chunk.length >> 1));
    else to.write(how === 'garbage' ? garble(chunk) : Buffer.concat([OVERSIZE, chunk]));
  }

  /** Forwards a chunk now, or holds it. */
  private forward(link: Link, dir: ProxyDirection, chunk: Buffer): void {
    if (this.isHeld(link) || (dir === 'toServer' && !link.upstreamReady)) link.held[dir].push(chunk);
    else this.send(link, dir, chunk);
  }

  /** Passes held bytes and closes on, unless held. */
  private flush(link: Link): void {
    if (this.isHeld(link)) return;
    if (link.upstream && link.upstreamReady) {
      for (const b of link.held.toServer.splice(0)) this.send(link, 'toServer', b);
      if (link.clientGone) end(link.upstream);
    }
    for (const b of link.held.toClient.splice(0)) this.send(link, 'toClient', b);
    if (link.upstreamGone) end(link.client);
    if (link.clientGone && link.upstreamGone) this.links.delete(link);
  }

  /** A new client connection: a link, its bytes and its close through the delay line, then its upstream. */
  private accept(client: Socket): void {
    client.on('error', () => undefined);
    if (this.closed) {
      kill(client);
      return;
    }
    client.setNoDelay(true);
    const link = newLink(client);
    this.links.add(link);
    client.on('data', (d: Buffer) => link.lanes.toServer.push(this.delayMs, () => this.forward(link, 'toServer', d)));
    const gone = () => {
      if (link.clientGone) return;
      link.clientGone = true;
      if (!link.upstream && !this.partitioned) {
        this.drop(link);
        return;
      }
      this.flush(link);
    };
    const delayedGone = () => link.lanes.toServer.push(this.delayMs, gone);
    client.on('end', delayedGone);
    client.on('close', delayedGone);
    this.connectUpstream(link);
  }

  /** Connects `link` to the next target; one that refuses is skipped, until each was tried once. */
  private connectUpstream(link: Link, attempt = 0): void {
    if (this.closed || this.partitioned || link.upstream) return;
    const t = this.targets[this.next++ % this.targets.length]!;
    const up = connect({ host: t.host, port: t.port, allowHalfOpen: true });
    link.upstream = up;
    up.setNoDelay(true);
    up.on('connect', () => {
      link.upstreamReady = true;
      log('link to %s:%d up', t.host, t.port);
      this.flush(link);
    });
    up.on('data', (d: Buffer) => link.lanes.toClient.push(this.delayMs, () => this.forward(link, 'toClient', d)));
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (!link.upstreamReady && attempt + 1 < this.targets.length) {
        up.removeAllListeners('close');
        link.upstream = undefined;
        this.connectUpstream(link, attempt + 1);
        return;
      }
      log('upstream error %s', err.message);
    });
    const upstreamGone = () => {
      if (link.upstreamGone) return;
      link.upstreamGone = true;
      this.flush(link);
    };
    const delayedGone = () => link.lanes.toClient.push(this.delayMs, upstreamGone);
    up.on('end', delayedGone);
    up.on('close', delayedGone);
  }
}

/**
 * Starts a proxy on a free 127.0.0.1 port forwarding to the target server(s); each new client
 * connection goes to the next target in turn (skipping ones that refuse).
 * @param target - a connect string (`host:port[,host:port...]`) or a list of addresses
 */
export async function startProxy(target: string | readonly ServerAddress[]): Promise<ZkProxy> {
  const targets = typeof target === 'string' ? parseConnectString(target, 'proxy') : [...target];
  if (targets.length === 0) throw new Error('proxy: no target server');
  const core = new ProxyCore(targets);
  const port = await core.listen();
  const proxy: ZkProxy = {
    connectString: `127.0.0.1:${port}`,
    port,
    get partitioned() {
      return core.partitioned;
    },
    get connections() {
      return core.links.size;
    },
    partition: () => core.partition(),
    heal: () => core.heal(),
    freeze: () => core.freeze(),
    thaw: () => core.thaw(),
    dropConnections: () => core.dropConnections(),
    delay: (ms) => core.delay(ms),
    corruptNext: (direction, how) => core.corruptNext(direction, how),
    close: () => core.close(),
    [Symbol.asyncDispose]: () => proxy.close(),
  };
  return proxy;
}
