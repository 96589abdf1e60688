/**
 * A loopback TCP proxy between clients and ZooKeeper server(s), to cut one client off while the
 * rest of the cluster goes on: `partition()` makes the proxy silent (sockets stay open, no byte
 * passes either way, new connections are accepted and then stall), so the client sees a silent
 * server exactly as in a network partition and the server, hearing nothing, expires the session
 * after its timeout. `heal()` lets the held bytes through and forwarding resumes.
 *
 * For testing a client's wire handling there are finer faults: `freeze()` / `thaw()` hold the bytes
 * of the connections open now only (new ones pass), `delay(ms)` adds one-way latency,
 * `dropConnections()` resets every connection, and `corruptNext()` / `corruptEvery()` mangle the
 * next chunk, or a random share of the chunks, in one direction: random bytes, a truncated frame,
 * a bogus 0x7fffffff length prefix, replayed frames, a chunk dripped out 1–3 bytes at a time, or
 * one flipped bit (proxy-faults.ts says what each does and what a client must do about it). For a
 * soak, either call `corruptNext()` on a timer (one fault at a time, at times you choose) or let
 * `corruptEvery()` draw the faults; `corruptions` counts what was done.
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
import { connect, createServer, type Server, type Socket } from 'node:net';
import createDebug from 'debug';
import { parseConnectString, type ServerAddress } from '../ops/fourlw.js';
import { Corrupter, DelayLine, FrameTracker, Outlet, type ProxyCorruption, type ProxyDirection, wholeFrames, writeCorrupted } from './proxy-faults.js';

export { PROXY_CORRUPTIONS, type ProxyCorruption, type ProxyDirection } from './proxy-faults.js';

const log = createDebug('zk-recipes:proxy');

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
   * Mangles the next chunk forwarded in `direction` (on whichever connection forwards first):
   * `'garbage'` with random bytes of the same length, each differing from the original;
   * `'truncate'` with its first half, then ends (FIN) that connection's destination socket and
   * discards what else comes for it; `'oversize'` with a 4-byte big-endian length of 0x7fffffff
   * followed by the chunk; `'duplicate'` sends its whole frames twice (it waits for a chunk that
   * holds one); `'split'` drips it out in pieces of 1–3 bytes, a `setImmediate` apart; `'flip'`
   * flips one random bit. Forwarding then goes on normally. A later call for the same direction
   * replaces one still pending.
   * @throws RangeError for an unknown mode
   */
  corruptNext(direction: ProxyDirection, how: ProxyCorruption): void;
  /**
   * From now on mangles each chunk forwarded in `direction` with `probability`, by a mode drawn
   * from `how` (as `corruptNext` describes them); `random` (default `Math.random`) draws both, and
   * where a split cuts or a flip lands. A pending `corruptNext` goes first. Probability 0 turns it off.
   * @throws RangeError for a probability outside [0, 1], an unknown mode or an empty list
   */
  corruptEvery(direction: ProxyDirection, how: ProxyCorruption | readonly ProxyCorruption[], probability: number, random?: () => number): void;
  /** Chunks mangled so far, per mode (both directions, `corruptNext` and `corruptEvery`). */
  readonly corruptions: Readonly<Record<ProxyCorruption, number>>;
  /** Stops listening and resets every connection. Idempotent. */
  close(): Promise<void>;
  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
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
  /** Per-direction ordered outputs (a dripped chunk holds back what follows it). */
  out: Record<ProxyDirection, Outlet>;
  /** Per-direction framing of the bytes as the source sent them (for `duplicate`). */
  frames: Record<ProxyDirection, FrameTracker>;
  /** The client closed its side (FIN or reset). */
  clientGone: boolean;
  /** The server closed its side. */
  upstreamGone: boolean;
}

function kill(s: Socket | undefined): void {
  if (!s || s.destroyed) return;
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}

/** A fresh link for a client connection: nothing held, no upstream yet. */
function newLink(client: Socket, random: (dir: ProxyDirection) => () => number): Link {
  const link: Link = {
    client,
    upstream: undefined,
    upstreamReady: false,
    frozen: false,
    held: { toServer: [], toClient: [] },
    lanes: { toServer: new DelayLine(), toClient: new DelayLine() },
    out: {
      toServer: new Outlet(
        () => link.upstream,
        () => random('toServer')(),
      ),
      toClient: new Outlet(
        () => link.client,
        () => random('toClient')(),
      ),
    },
    frames: { toServer: new FrameTracker(), toClient: new FrameTracker() },
    clientGone: false,
    upstreamGone: false,
  };
  return link;
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
  readonly corrupter = new Corrupter();

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
    link.out.toServer.cancel();
    link.out.toClient.cancel();
    kill(link.client);
    kill(link.upstream);
  }

  /** Writes a chunk to its destination, mangled if a corruption is due. */
  private send(link: Link, dir: ProxyDirection, chunk: Buffer): void {
    const frames = wholeFrames(link.frames[dir].feed(chunk));
    const to = dir === 'toServer' ? link.upstream : link.client;
    if (!to || to.destroyed || to.writableEnded) return;
    const how = this.corrupter.pick(dir, frames !== undefined);
    if (!how) {
      link.out[dir].write(chunk);
      return;
    }
    log('corrupting a %d-byte chunk %s: %s', chunk.length, dir, how);
    writeCorrupted(link.out[dir], how, chunk, frames, this.corrupter.random(dir));
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
      if (link.clientGone) link.out.toServer.end();
    }
    for (const b of link.held.toClient.splice(0)) this.send(link, 'toClient', b);
    if (link.upstreamGone) link.out.toClient.end();
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
    const link = newLink(client, (dir) => this.corrupter.random(dir));
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
    corruptNext: (direction, how) => core.corrupter.setNext(direction, how),
    corruptEvery: (direction, how, probability, random) => core.corrupter.setEvery(direction, how, probability, random),
    get corruptions() {
      return { ...core.corrupter.counts };
    },
    close: () => core.close(),
    [Symbol.asyncDispose]: () => proxy.close(),
  };
  return proxy;
}
