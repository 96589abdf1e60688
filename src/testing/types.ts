/**
 * What the test kit hands out: a server, or an ensemble of servers, to run tests against.
 * @module
 */

/** One ZooKeeper server for tests. */
export interface ZooKeeperServer {
  /** `host:port` to pass to `ZkSession.connect`. */
  readonly connectString: string;
  /** Where it came from: `ZK_CONNECT`, a local Java process, or a container. */
  readonly kind: 'external' | 'local' | 'container';
  /** The client port. */
  readonly port: number;
  /** Stops the server, keeping its data (clients see `suspended`). */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data (stops it first if running). */
  restart(): Promise<void>;
  /** Freezes the process (SIGSTOP / docker pause): a silent server, clients time out. */
  pause(): Promise<void>;
  /** Unfreezes a paused server. */
  resume(): Promise<void>;
  /** Stops the server for good and deletes its data. Idempotent. */
  close(): Promise<void>;
  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A ZooKeeper ensemble for failover tests. */
export interface ZooKeeperEnsemble {
  /** All servers' `host:port`, comma-separated. */
  readonly connectString: string;
  /** The servers, index 0..n-1. */
  readonly servers: readonly ZooKeeperServer[];
  /** Kills server `i` with SIGKILL (a crash; its data stays). */
  kill(i: number): Promise<void>;
  /** Starts server `i` again (after `kill`, or restarts it if running). */
  restart(i: number): Promise<void>;
  /** Index of the current quorum leader (asks each server with `srvr`). */
  leaderIndex(): Promise<number>;
  /** Index of the server a session is connected to (asks each server with `cons`), or -1. */
  serverOf(sessionId: string): Promise<number>;
  /** Waits until a quorum serves requests again (every running server reports a mode). */
  waitForQuorum(timeoutMs?: number): Promise<void>;
  /** Stops every server and deletes the data. Idempotent. */
  close(): Promise<void>;
  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}
