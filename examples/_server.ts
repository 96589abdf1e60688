// Shared by the examples: a ZooKeeper to talk to. Uses ZK_CONNECT (e.g. `ZK_CONNECT=127.0.0.1:2181`)
// when set, else starts an embedded one from the test kit (a local Java server or a container).
// `await using zk = await zooKeeper('/examples/x')` stops the embedded server at the end of the scope.
import { ZkSession } from '../src/index.js';
import { startZooKeeper } from '../src/testing/index.js';

/** A server to connect to; disposing it stops the embedded server (never an external one). */
export interface ExampleServer extends AsyncDisposable {
  /** `host:port` for `ZkSession.connect`. */
  readonly connectString: string;
}

/**
 * ZK_CONNECT, or an embedded server started for this example. On an external server the
 * example's own subtree `base` is deleted first, so that examples can run again and again.
 */
export async function zooKeeper(base: string): Promise<ExampleServer> {
  const server = await startZooKeeper(); // honours ZK_CONNECT by itself (and never stops it)
  console.log(`ZooKeeper at ${server.connectString} (${server.kind === 'external' ? 'ZK_CONNECT' : `embedded, ${server.kind}`})`);
  if (server.kind === 'external') {
    await using session = await ZkSession.connect(server.connectString);
    await session.delete(base, { recursive: true }); // a missing path is fine
  }
  return { connectString: server.connectString, [Symbol.asyncDispose]: () => server.close() };
}

/** Resolves after `ms` (examples only: the recipes themselves never sleep to wait). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Fails the example (non-zero exit) when `ok` is false. */
export function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`example failed: ${what}`);
  console.log(`  ok: ${what}`);
}

/** A contender node's name without the protected `_c_<uuid>-` prefix, for printing. */
export const shortName = (path: string): string =>
  path
    .split('/')
    .pop()!
    .replace(/^_c_[0-9a-f-]{36}-/, '');
