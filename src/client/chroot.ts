/**
 * The chroot: a connect string's `/app` suffix puts the whole session in a namespace. Callers
 * name paths inside it and the server sees them with the prefix, so every path crosses here both
 * ways; a path from the server outside the namespace (the `/zookeeper/config` watch) has no name
 * on the caller's side.
 * @internal
 * @module
 */

/** Maps paths between the caller's namespace and the server's. */
export class Chroot {
  /** A server path as the caller names it (unchanged when outside the namespace): for reply decoders. */
  readonly strip = (p: string): string => this.fromServer(p) ?? p;

  /** `prefix`: the chroot from the connect string, '' for none. */
  constructor(readonly prefix: string) {}

  /** The server's name of a caller's path. */
  toServer(path: string): string {
    if (!this.prefix) return path;
    return path === '/' ? this.prefix : this.prefix + path;
  }

  /** The caller's name of a server path, or undefined when it lies outside the namespace. */
  fromServer(path: string): string | undefined {
    if (!this.prefix) return path;
    if (path === this.prefix) return '/';
    return path.startsWith(`${this.prefix}/`) ? path.slice(this.prefix.length) : undefined;
  }
}
