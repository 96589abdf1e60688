/**
 * A loopback TCP proxy between clients and ZooKeeper server(s), to cut one client off while the
 * rest of the cluster goes on: `partition()` makes the proxy silent (sockets stay open, no byte
 * passes either way, new connections are accepted and then stall), so the client sees a silent
 * server exactly as in a network partition and the server, hearing nothing, expires the session
 * after its timeout. `heal()` lets the held bytes through and forwarding resumes.
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
  /** Resets every current connection (both sides), as a crashed router would. New ones are accepted. */
  dropConnections(): void;
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
  /** Bytes from the client held while partitioned (or before upstream connects). */
  toServer: Buffer[];
  /** Bytes from the server held while partitioned. */
  toClient: Buffer[];
  /** The client closed its side (FIN or reset). */
  clientGone: boolean;
  /** The server closed its side. */
  upstreamGone: boolean;
}

function kill(s: Socket | undefined): void {
  if (!s || s.destroyed) return;
  try { s.resetAndDestroy(); } catch { s.destroy(); }
}

/**
 * Starts a proxy on a free 127.0.0.1 port forwarding to the target server(s); each new client
 * connection goes to the next target in turn (skipping ones that refuse).
 * @param target - a connect string (`host:port[,host:port...]`) or a list of addresses
 */
export async function startProxy(target: string | readonly ServerAddress[]): Promise<ZkProxy> {
  const targets = typeof target === 'string' ? parseConnectString(target, 'proxy') : [...target];
  if (targets.length === 0) throw new Error('proxy: no target server');
  const links = new Set<Link>();
  let partitioned = false;
  let closed = false;
  let next = 0;

  const drop = (link: Link): void => {
    links.delete(link);
    kill(link.client);
    kill(link.upstream);
  };

  /** Passes held bytes and closes on, unless partitioned. */
  const flush = (link: Link): void => {
    if (partitioned || closed) return;
    const { client, upstream } = link;
    if (upstream && link.upstreamReady && !upstream.destroyed) {
      for (const b of link.toServer.splice(0)) upstream.write(b);
      if (link.clientGone) upstream.end();
    }
    if (!client.destroyed) {
      for (const b of link.toClient.splice(0)) client.write(b);
      if (link.upstreamGone) client.end();
    }
    if (link.clientGone && link.upstreamGone) links.delete(link);
  };

  const connectUpstream = (link: Link, attempt = 0): void => {
    if (closed || partitioned || link.upstream) return;
    const t = targets[next++ % targets.length]!;
    const up = connect({ host: t.host, port: t.port, allowHalfOpen: true });
    link.upstream = up;
    up.setNoDelay(true);
    up.on('connect', () => {
      link.upstreamReady = true;
      log('link to %s:%d up', t.host, t.port);
      flush(link);
    });
    up.on('data', (d: Buffer) => {
      if (partitioned || link.client.destroyed) link.toClient.push(d);
      else link.client.write(d);
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (!link.upstreamReady && attempt + 1 < targets.length) {
        up.removeAllListeners('close');
        link.upstream = undefined;
        connectUpstream(link, attempt + 1);
        return;
      }
      log('upstream error %s', err.message);
    });
    const upstreamGone = () => {
      if (link.upstreamGone) return;
      link.upstreamGone = true;
      flush(link);
    };
    up.on('end', upstreamGone);
    up.on('close', upstreamGone);
  };

  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    if (closed) { kill(client); return; }
    client.setNoDelay(true);
    const link: Link = { client, upstream: undefined, upstreamReady: false, toServer: [], toClient: [], clientGone: false, upstreamGone: false };
    links.add(link);
    client.on('data', (d: Buffer) => {
      const up = link.upstream;
      if (partitioned || !up || !link.upstreamReady) link.toServer.push(d);
      else up.write(d);
    });
    client.on('error', () => undefined);
    const gone = () => {
      if (link.clientGone) return;
      link.clientGone = true;
      if (!link.upstream && !partitioned) { drop(link); return; }
      flush(link);
    };
    client.on('end', gone);
    client.on('close', gone);
    connectUpstream(link);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as { port: number }).port;
  log('proxy 127.0.0.1:%d -> %o', port, targets);

  const proxy: ZkProxy = {
    connectString: `127.0.0.1:${port}`,
    port,
    get partitioned() { return partitioned; },
    get connections() { return links.size; },
    partition() {
      if (partitioned || closed) return;
      partitioned = true;
      log('partitioned (%d links)', links.size);
    },
    heal() {
      if (!partitioned || closed) return;
      partitioned = false;
      log('healed (%d links)', links.size);
      for (const link of [...links]) {
        // A connection that stalled and was given up never reached the server: forget it.
        if (!link.upstream && link.clientGone) drop(link);
        else if (!link.upstream) connectUpstream(link);
        else flush(link);
      }
    },
    dropConnections() {
      for (const link of [...links]) drop(link);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const link of [...links]) drop(link);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    [Symbol.asyncDispose]() { return proxy.close(); },
  };
  return proxy;
}
