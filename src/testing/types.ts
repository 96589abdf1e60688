/**
 * What the test kit hands out: a server, or an ensemble of servers, to run tests against.
 * @module
 */

/**
 * The network mode of the test kit's containers (see containers.ts). Here, not beside the
 * container code: the test kit's declarations must not reach testcontainers' types (a dev
 * dependency, absent where the package is installed).
 */
export type NetworkMode = 'host' | 'bridge';

/**
 * How to reach a server's TLS client port (`secureClientPort`): the server requires a client
 * certificate, and both certificates are signed by a throwaway CA made for that server.
 */
export interface ZooKeeperTls {
  /** The TLS client port. */
  readonly port: number;
  /** `host:port` of the TLS client port. */
  readonly connectString: string;
  /** The CA certificate (PEM) to trust, e.g. `ca` of `tls.connect`. */
  readonly ca: Buffer;
  /** A client certificate (PEM) the server accepts. */
  readonly cert: Buffer;
  /** The client certificate's private key (PEM, PKCS#8, unencrypted). */
  readonly key: Buffer;
  /** The name the server certificate is issued to (`servername` of `tls.connect`). */
  readonly serverName: string;
}

/**
 * How to reach the TLS client ports of an ensemble: one CA signs every member's server
 * certificate (each valid for `localhost` / `127.0.0.1`), so a client trusting it trusts every
 * member; one client certificate that every member accepts.
 */
export interface ZooKeeperEnsembleTls {
  /** Every member's TLS client port, `host:port`, comma-separated (index order). */
  readonly connectString: string;
  /** The members' TLS client ports, index 0..n-1. */
  readonly ports: readonly number[];
  /** The CA certificate (PEM) to trust. */
  readonly ca: Buffer;
  /** A client certificate (PEM) every member accepts. */
  readonly cert: Buffer;
  /** The client certificate's private key (PEM, PKCS#8, unencrypted). */
  readonly key: Buffer;
  /** The name every member's certificate is issued to (`servername` of `tls.connect`). */
  readonly serverName: string;
}

/** One ZooKeeper server for tests. */
export interface ZooKeeperServer {
  /** `host:port` to pass to `ZkSession.connect`. */
  readonly connectString: string;
  /** Where it came from: `ZK_CONNECT`, a local Java process, or a container. */
  readonly kind: 'external' | 'local' | 'container';
  /** The client port. */
  readonly port: number;
  /** The TLS client port and credentials, when the server was started with TLS. */
  readonly tls?: ZooKeeperTls;
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
  /** The servers, index 0..n-1 (each with its own `tls` when the ensemble has TLS). */
  readonly servers: readonly ZooKeeperServer[];
  /** The TLS client ports and credentials, when the ensemble was started with TLS. */
  readonly tls?: ZooKeeperEnsembleTls;
  /** Kills server `i` with SIGKILL (a crash; its data stays). */
  kill(i: number): Promise<void>;
  /** Starts server `i` again (after `kill`, or restarts it if running). */
  restart(i: number): Promise<void>;
  /** Index of the current quorum leader (asks each server with `srvr`). */
  leaderIndex(): Promise<number>;
  /** Index of the server a session is connected to (asks each server with `cons`, on its TLS port too), or -1. */
  serverOf(sessionId: string): Promise<number>;
  /** Waits until a quorum serves requests again (every running server reports a mode). */
  waitForQuorum(timeoutMs?: number): Promise<void>;
  /** Stops every server and deletes the data. Idempotent. */
  close(): Promise<void>;
  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}
