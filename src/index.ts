/**
 * zk-recipes: ZooKeeper coordination recipes for TypeScript.
 * @packageDocumentation
 */
export * from './errors.js';
export { ZkSession, Acls, Perms } from './session.js';
export type {
  Acl,
  AuthInfo,
  ConnectionState,
  CreateMode,
  CreateOptions,
  DeleteOptions,
  NodeData,
  PersistentWatch,
  RetryOptions,
  SessionCallOptions,
  SessionEvents,
  SessionOptions,
  Stat,
  TxnOp,
  TxnResult,
  WatchEvent,
  WatchOptions,
  Watcher,
} from './session.js';
export type { TlsOptions } from './client/connection.js';
export type { TransportName } from './transport.js';
export { validatePath, joinPath, parentOf, nodeName, MAX_DATA_BYTES } from './paths.js';
export type { WaitOptions } from './wait.js';
export { withoutInheritedFds } from './fds.js';

// <contender-locks>
export { Lock, type LockOptions } from '../recipes/lock.js';
export { Lease, type LeaseEvents, type LeaseLostReason } from '../recipes/lease.js';
export { ReadWriteLock, type ReadWriteLockOptions } from '../recipes/read-write-lock.js';
export { Semaphore, type SemaphoreOptions, type SemaphoreAcquireOptions, type SemaphoreStats } from '../recipes/semaphore.js';
export type { ContenderStats } from '../recipes/contender.js';
// <election>
export { LeaderLatch } from '../recipes/leader-latch.js';
export type { LeaderLatchEvents, LeaderLatchOptions, LeaderTerm, Participant } from '../recipes/leader-latch.js';
export { LeaderSelector } from '../recipes/leader-selector.js';
export type { LeaderSelectorEvents, LeaderSelectorOptions } from '../recipes/leader-selector.js';
// <barriers-counter-caches-group>
export { Barrier } from '../recipes/barrier.js';
export { DoubleBarrier, READY_NODE, type DoubleBarrierOptions } from '../recipes/double-barrier.js';
export { NodeCache, type CachedNode, type NodeCacheEvents } from '../recipes/node-cache.js';
export { ChildrenCache, type ChildData, type ChildrenCacheOptions, type ChildrenCacheEvents } from '../recipes/children-cache.js';
export {
  TreeCache,
  TREE_CACHE_MAX_IN_FLIGHT,
  type TreeCacheEvents,
  type TreeCacheFilter,
  type TreeCacheOptions,
  type TreeCacheSelection,
  type TreeNode,
} from '../recipes/tree-cache.js';
export { GroupMember, type GroupMemberOptions, type GroupMemberEvents } from '../recipes/group-member.js';
export { SharedCounter, encodeCount, decodeCount, type SharedCounterOptions, type SharedCounterEvents } from '../recipes/shared-counter.js';
export { SharedValue, MISSING_VERSION, type SharedValueOptions, type SharedValueEvents, type VersionedValue } from '../recipes/shared-value.js';
// <queues>
export { DistributedQueue, QueueBase } from '../recipes/queue.js';
export type { DistributedQueueOptions, QueueOptions, QueueEvents } from '../recipes/queue.js';
export { DistributedPriorityQueue } from '../recipes/priority-queue.js';
export { DistributedDelayQueue } from '../recipes/delay-queue.js';
export { QueueConsumer } from '../recipes/queue-consumer.js';
export type { ConsumeOptions, ItemContext, ItemHandler } from '../recipes/queue-consumer.js';
export type { PoisonInfo } from '../recipes/queue-view.js';
export { jsonCodec, stringCodec, bufferCodec, curatorCodec } from '../recipes/codec.js';
export type { Codec } from '../recipes/codec.js';
// <service-discovery>
export { ServiceDiscovery, SERVICE_NODE_MODES, instancePath, servicePath } from '../recipes/service-discovery.js';
export type { ServiceDiscoveryEvents } from '../recipes/service-discovery.js';
export { SERVICE_TYPES, buildUriSpec, parseInstance, serializeInstance, serviceInstance, uriSpec } from '../recipes/service-instance.js';
export type { JsonValue, ServiceInstance, ServiceInstanceInit, ServiceType, UriSpec, UriSpecPart } from '../recipes/service-instance.js';
export { ServiceCache } from '../recipes/service-cache.js';
export type { ServiceCacheEvents } from '../recipes/service-cache.js';
export { RandomStrategy, RoundRobinStrategy, ServiceProvider, StickyStrategy } from '../recipes/service-provider.js';
export type { DownInstancePolicy, ProviderStrategy, ServiceProviderOptions } from '../recipes/service-provider.js';
// <scheduler>
export { TaskScheduler } from '../recipes/scheduler/index.js';
export type {
  ScheduleOptions,
  SchedulerEvents,
  SchedulerRole,
  SubmitOptions,
  TaskContext,
  TaskHandler,
  TaskSchedulerOptions,
  TaskState,
  TaskStatus,
} from '../recipes/scheduler/index.js';
// <ops>
export { ensembleHealth, formatHealth, serverHealth } from './ops/health.js';
export type { EnsembleHealth, HealthOptions, ServerHealth, ServerMode } from './ops/health.js';
export type { ServerAddress } from './ops/fourlw.js';
export { inspect, formatInspection, formatAge } from './ops/inspect.js';
export type { Inspection, InspectionKind, InspectOptions, NodeView, RwNodeView, ScheduleView, WorkerView } from './ops/inspect.js';
export type {
  InspectionBase,
  MissingInspection,
  LockInspection,
  RwLockInspection,
  LeaderLatchInspection,
  SemaphoreInspection,
  QueueInspection,
  GroupInspection,
  SchedulerInspection,
  DoubleBarrierInspection,
  TreeInspection,
  ServiceInspection,
  HoldTime,
  HolderView,
  RwHolderView,
  LeaseView,
  QueueItemView,
  ServiceInstanceView,
  SubtreeSummary,
} from './ops/inspect.js';
