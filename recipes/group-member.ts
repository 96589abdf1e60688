/**
 * Group membership: each member keeps an ephemeral node under the group and sees the others
 * through a {@link ChildrenCache} (Curator's `GroupMember`).
 *
 * Layout (Curator's):
 * ```
 * <path>/        container (created on demand, reaped when empty)
 *   <id>         ephemeral, one per member; data = the member's payload
 * ```
 * A second member with an id already taken by another live session gets a `NodeExistsError`
 * naming the id; its node is never overwritten. After a new session (`reconnected` with
 * `newSession: true`, e.g. after expiry) the member re-creates its node by itself; if the node
 * still belongs to one of our own earlier sessions (the server has not expired it yet) it waits
 * for that node to go first.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { NodeData, ZkSession } from '../src/session.js';
import { ClosedError, IllegalStateError, InvalidArgumentError, NoNodeError, NodeExistsError, SessionExpiredError, isRetryable } from '../src/errors.js';
import { joinPath, validatePath } from '../src/paths.js';
import { WaitScope, checkWaitOptions, deferred, type WaitOptions } from '../src/wait.js';
import { ChildrenCache } from './children-cache.js';
import { checkRecipeArgs } from './options.js';

/** Options of {@link GroupMember}. */
export interface GroupMemberOptions {
  /** This member's id: its node name under the group. */
  id: string;
  /** This member's payload. @default empty */
  data?: NodeData;
}

/** Typed events of a {@link GroupMember}. */
export interface GroupMemberEvents {
  /** A member appeared (also this one, once its node is seen). */
  join: [id: string, data: Buffer];
  /** A member went away (left, closed its session, or its session expired). */
  leave: [id: string];
  /** The membership or a member's data changed: the whole current view. */
  change: [members: ReadonlyMap<string, Buffer>];
  /** Re-joining after a new session failed, or the membership view failed to refresh. */
  error: [err: Error];
}

/**
 * One member of the group at `path`. `join()` adds it and loads the membership; `members()` is
 * the current view (including this member); `leave()` removes it.
 *
 * Connection states: on `suspended` the node may still be there (it stays as long as the session lives) and the view
 * may be stale. On `lost` the node is gone for everyone; when the session comes back with a new
 * ZooKeeper session the member re-creates it and the view is re-read (`error` if that fails).
 */
export class GroupMember extends EventEmitter<GroupMemberEvents> {
  /** The group's path. */
  readonly path: string;
  /** This member's id. */
  readonly id: string;
  private readonly nodePath: string;
  private payload: NodeData;
  private readonly cache: ChildrenCache;
  private phase: 'latent' | 'joining' | 'joined' | 'left' = 'latent';
  private readonly ourSessions = new Set<string>();
  /**
   * A new session (ours expired): re-create our node. Listened to from the start of `join()`, so a
   * session that expires while joining is covered too; a re-create that fails on a connection loss
   * is tried again (a member must not silently stay out), one that meets another expiry waits for
   * the next new session.
   */
  private readonly onReconnected = (info: { sessionId: string; newSession: boolean }) => {
    if (!info.newSession || !this.inGroup()) return;
    void this.rejoin(info.sessionId);
  };

  /** Joining or joined: our node should exist. */
  private inGroup(): boolean {
    return this.phase === 'joined' || this.phase === 'joining';
  }

  private async rejoin(sessionId: string): Promise<void> {
    for (let delayMs = 100; this.inGroup(); delayMs = Math.min(delayMs * 2, 5000)) {
      if (this.session.sessionId !== sessionId) return; // yet another session: its own event re-creates
      try {
        await this.createNode();
        return;
      } catch (err) {
        if (err instanceof ClosedError || err instanceof SessionExpiredError || !this.inGroup()) return;
        if (!isRetryable(err)) {
          this.emit('error', err as Error);
          return;
        }
      }
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }

  /**
   * @param session - the session to use
   * @param path - the group's parent node
   * @param options - `id` (required) and `data`
   * @throws InvalidPathError, InvalidArgumentError naming the bad option (nothing is written)
   */
  constructor(
    private readonly session: ZkSession,
    path: string,
    options: GroupMemberOptions,
  ) {
    super();
    checkRecipeArgs('group-member', session, path);
    if (!options || typeof options !== 'object')
      throw new InvalidArgumentError(`group-member ${path}: options { id } are required`, { op: 'group-member', path });
    const { id, data = '' } = options;
    if (typeof id !== 'string' || id.length === 0 || id.includes('/')) {
      throw new InvalidArgumentError(`group-member ${path}: option id must be a non-empty node name, got ${JSON.stringify(id)}`, { op: 'group-member', path });
    }
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw new InvalidArgumentError(`group-member ${path}: option data must be a Buffer, Uint8Array or string`, { op: 'group-member', path });
    }
    this.path = path;
    this.id = id;
    this.payload = data;
    this.nodePath = joinPath(path, id);
    validatePath(this.nodePath, 'group-member');
    this.cache = new ChildrenCache(session, path, { withData: true });
    this.cache.on('childAdded', (c) => this.emit('join', c.name, c.data ?? Buffer.alloc(0)));
    this.cache.on('childRemoved', (c) => this.emit('leave', c.name));
    this.cache.on('change', () => this.emit('change', this.members()));
    this.cache.on('error', (err) => this.emit('error', err));
  }

  /** True between a successful `join()` and `leave()`. */
  get isJoined(): boolean {
    return this.phase === 'joined';
  }

  /** The current membership: id → data, as last seen (includes this member once joined). */
  members(): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    for (const [name, child] of this.cache.children) out.set(name, child.data ?? Buffer.alloc(0));
    return out;
  }

  /**
   * Joins: creates this member's node and loads the membership.
   * @param wait - `signal`/`timeoutMs` bound the wait; on either the node is removed again
   * @throws NodeExistsError when another session's member already has this id
   * @throws IllegalStateError on a second `join()` (also after `leave()`)
   */
  async join(wait?: WaitOptions): Promise<void> {
    checkWaitOptions(wait, 'group-member.join');
    if (this.phase !== 'latent')
      throw new IllegalStateError(`group-member.join ${this.path}: member ${this.id} already ${this.phase}`, { op: 'group-member.join', path: this.path });
    this.phase = 'joining';
    const scope = new WaitScope(wait, 'group-member.join', this.path);
    this.session.on('reconnected', this.onReconnected);
    const created = this.createNode();
    try {
      await scope.race(created);
      await scope.race(this.cache.start());
      this.phase = 'joined';
    } catch (err) {
      this.phase = 'left';
      this.session.off('reconnected', this.onReconnected);
      await this.cache.close();
      // Let an abandoned create finish first, so the delete cannot overtake it.
      const ours = await created.then(
        () => true,
        () => false,
      );
      if (ours) {
        try {
          await this.session.delete(this.nodePath, { guaranteed: true });
        } catch (cleanup) {
          if (!(cleanup instanceof NoNodeError) && !(cleanup instanceof ClosedError) && err instanceof Error && err.cause === undefined) {
            Object.defineProperty(err, 'cause', { value: cleanup });
          }
        }
      }
      throw err;
    } finally {
      scope.dispose();
    }
  }

  /**
   * Replaces this member's data (seen by the others as a `change`).
   * @throws IllegalStateError when not joined
   */
  async setData(data: NodeData): Promise<void> {
    if (this.phase !== 'joined')
      throw new IllegalStateError(`group-member.setData ${this.path}: member ${this.id} is not joined`, { op: 'group-member.setData', path: this.path });
    await this.session.set(this.nodePath, data);
    this.payload = data;
  }

  /**
   * Leaves: stops watching and deletes this member's node (guaranteed: waits for the first attempt;
   * after a connection loss the delete goes on in the background). Idempotent.
   */
  async leave(): Promise<void> {
    if (this.phase === 'left' || this.phase === 'latent') {
      this.phase = 'left';
      return;
    }
    this.phase = 'left';
    this.session.off('reconnected', this.onReconnected);
    await this.cache.close();
    try {
      await this.session.delete(this.nodePath, { guaranteed: true });
    } catch (err) {
      if (!(err instanceof NoNodeError) && !(err instanceof ClosedError)) throw err;
    }
  }

  /** `await using member = ...` leaves at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.leave();
  }

  /**
   * Creates our ephemeral node. An existing node is ours if this session owns it; if one of our
   * earlier sessions owns it, wait for the server to remove it; otherwise the id is taken.
   */
  private async createNode(): Promise<void> {
    for (;;) {
      this.ourSessions.add(this.session.sessionId);
      try {
        await this.session.create(this.nodePath, this.payload, { mode: 'ephemeral', createParents: true });
        return;
      } catch (err) {
        if (!(err instanceof NodeExistsError)) throw err;
        const gone = deferred<void>();
        const stat = await this.session.exists(this.nodePath, { watch: () => gone.resolve() });
        if (!stat) continue;
        if (stat.ephemeralOwner === this.session.sessionId) return;
        if (!this.ourSessions.has(stat.ephemeralOwner)) {
          throw new NodeExistsError(`group-member.join ${this.path}: id ${this.id} is already a member (node owned by session 0x${stat.ephemeralOwner})`, {
            op: 'group-member.join',
            path: this.nodePath,
            cause: err,
          });
        }
        await gone.promise; // our old session's node: the server removes it when that session expires
      }
    }
  }
}
