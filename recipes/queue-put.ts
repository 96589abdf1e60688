/**
 * The put path of the queue family: items' creates (protected, sequential), in Curator's flat
 * layout or the bucketed one (./queue-buckets.ts), and the bucketed layout's size.
 * @internal
 * @module
 */
import { NoNodeError, NodeExistsError } from '../src/errors.js';
import { joinPath } from '../src/paths.js';
import type { ZkSession } from '../src/session.js';
import { BucketWriter, listBuckets } from './queue-buckets.js';
import { ITEM_PREFIX } from './queue-view.js';

/** One queue's puts. @internal */
export class QueuePuts {
  private pathReady = false;
  private writer: BucketWriter | undefined;

  /**
   * @param session - the producer's session
   * @param path - the queue's node
   * @param protectedPuts - put markers on (see QueueOptions.protectedPuts)
   * @param bucketSize - the bucketed layout's bucket size; undefined: flat
   */
  constructor(
    private readonly session: ZkSession,
    private readonly path: string,
    private readonly protectedPuts: boolean,
    private readonly bucketSize: number | undefined,
  ) {}

  /** Creates one item per buffer (all at once; bucketed: a slice at a time), names from `prefix`; resolves with the paths in order. */
  async write(datas: readonly Buffer[], prefix: (i: number) => string): Promise<string[]> {
    if (!this.pathReady) {
      await this.ensurePath(); // once, so a batch does not fail on a missing parent and go out twice
      this.pathReady = true;
    }
    if (this.bucketSize) return this.putBucketed(datas, this.bucketSize);
    const create = (i: number) => this.createItem(joinPath(this.path, prefix(i)), datas[i]!);
    const out: string[] = new Array<string>(datas.length);
    let todo = datas.map((_, i) => i);
    for (let round = 0; todo.length > 0; round++) {
      const results = await Promise.allSettled(todo.map(create));
      const missing: number[] = [];
      let failure: unknown;
      results.forEach((r, k) => {
        if (r.status === 'fulfilled') out[todo[k]!] = r.value;
        else if (r.reason instanceof NoNodeError && round < 3) missing.push(todo[k]!);
        else failure ??= r.reason;
      });
      if (failure !== undefined) throw failure;
      if (missing.length > 0) await this.ensurePath();
      todo = missing;
    }
    return out;
  }

  private createItem(path: string, data: Buffer): Promise<string> {
    return this.session.create(path, data, { mode: 'persistent_sequential', protected: this.protectedPuts && 'beforeSequence' });
  }

  /**
   * The bucketed layout's puts: slices of at most a quarter bucket go out at once into the
   * producer's bucket; a put that finds its bucket deleted (NO_NODE) goes again into the newest.
   */
  private async putBucketed(datas: readonly Buffer[], size: number): Promise<string[]> {
    this.writer ??= new BucketWriter(this.session, this.path, size);
    const writer = this.writer;
    const out: string[] = new Array<string>(datas.length);
    const slice = Math.max(1, Math.floor(size / 4));
    let todo = datas.map((_, i) => i);
    for (let retries = 0; todo.length > 0; ) {
      const batch = todo.slice(0, slice);
      const bucket = await writer.bucket();
      const results = await Promise.allSettled(batch.map((i) => this.createItem(joinPath(joinPath(this.path, bucket), ITEM_PREFIX), datas[i]!)));
      const again: number[] = [];
      let failure: unknown;
      results.forEach((r, k) => {
        if (r.status === 'fulfilled') {
          out[batch[k]!] = r.value;
          writer.written(bucket, r.value);
        } else if (r.reason instanceof NoNodeError && retries < 20) again.push(batch[k]!);
        else failure ??= r.reason;
      });
      if (failure !== undefined) throw failure;
      if (again.length > 0) {
        retries++;
        writer.gone(bucket);
      }
      todo = [...again, ...todo.slice(slice)];
    }
    return out;
  }

  /** Every node under the buckets, less the buckets (one count and one listing, pipelined); the native transport lists each bucket. */
  async bucketedSize(): Promise<number> {
    if (this.session.transport === 'native') {
      const buckets = await listBuckets(this.session, this.path);
      const counts = await Promise.all(
        buckets.map((b) =>
          this.session.getChildren(joinPath(this.path, b)).then(
            (c) => c.length,
            () => 0,
          ),
        ),
      );
      return counts.reduce((a, b) => a + b, 0);
    }
    const [buckets, all] = await Promise.all([listBuckets(this.session, this.path), this.session.getAllChildrenNumber(this.path)]);
    return all - buckets.length;
  }

  private async ensurePath(): Promise<void> {
    // Persistent, not a container: item names must never be reused (see the layout above).
    await this.session.create(this.path, undefined, { mode: 'persistent', createParents: true }).catch((err) => {
      if (!(err instanceof NodeExistsError)) throw err;
    });
  }
}
