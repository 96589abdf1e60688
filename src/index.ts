/**
 * zk-recipes: ZooKeeper coordination recipes for TypeScript.
 * @packageDocumentation
 */
export * from './errors.js';
export { ZkSession, Acls, Perms } from './session.js';
export type {
  Acl, AuthInfo, ConnectionState, CreateMode, CreateOptions, DeleteOptions, NodeData, RetryOptions,
  SessionEvents, SessionOptions, Stat, WatchEvent, WatchOptions, Watcher,
} from './session.js';
export { validatePath, joinPath, parentOf, nodeName, MAX_DATA_BYTES } from './paths.js';
export type { WaitOptions } from './wait.js';

// <contender-locks>
// <election>
// <barriers-counter-caches-group>
// <queues>
// <scheduler>
// <ops>
