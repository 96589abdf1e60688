// Java / Curator helpers for the interop tests: find Debian's Curator and ZooKeeper jars, compile
// the Java peers in this directory (cached by content hash), and run them as child processes that
// are always killed. Missing Java or jars fail loudly with what to install: never a skip.
//
//   const peers = await compilePeers();                        // in beforeAll (a few seconds)
//   const p = startPeer(peers, 'CuratorPeer', ['lock', connect, path, '10', '20', log, go]);
//   await p.ready; ...; await p.exited;                        // killPeers() in afterAll
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withoutInheritedFds } from '../../src/index.js';

/** Where Debian puts Java libraries (`apt-get install libcurator-recipes-java`). */
export const JAVA_LIB_DIR = process.env['CURATOR_JAVA_DIR'] ?? '/usr/share/java';

/** Jars a Curator client needs at compile and run time (Curator 5.4, ZooKeeper 3.8; service discovery with Jackson). */
export const CURATOR_JARS = [
  'curator-recipes',
  'curator-framework',
  'curator-client',
  'zookeeper',
  'zookeeper-jute',
  'guava',
  'slf4j-api',
  'curator-x-discovery',
  'jackson-databind',
  'jackson-core',
  'jackson-annotations',
] as const;

const here = dirname(fileURLToPath(import.meta.url));

/** Compiled peers: the runtime classpath for `java -cp`. */
export interface CompiledPeers {
  classpath: string;
}

/**
 * The compile classpath of Curator's jars.
 * @throws Error naming every missing jar and the package to install
 */
export function curatorClasspath(): string {
  const missing = CURATOR_JARS.filter((j) => !existsSync(join(JAVA_LIB_DIR, `${j}.jar`)));
  if (missing.length > 0) {
    throw new Error(
      `interop: Curator/ZooKeeper jars missing in ${JAVA_LIB_DIR}: ${missing.map((j) => `${j}.jar`).join(', ')}. `
        + "Install Debian's libcurator-recipes-java, libcurator-discovery-java and zookeeper packages (apt-get install libcurator-recipes-java libcurator-discovery-java zookeeper), "
        + 'or set CURATOR_JAVA_DIR to a directory holding these jars.',
    );
  }
  return CURATOR_JARS.map((j) => join(JAVA_LIB_DIR, `${j}.jar`)).join(':');
}

function checkJdk(): void {
  for (const tool of ['java', 'javac']) {
    const r = spawnSync(tool, ['-version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      throw new Error(`interop: \`${tool}\` (a JDK, Java 17) is not on PATH: ${r.error?.message ?? r.stderr}. Install openjdk-17-jdk-headless.`);
    }
  }
}

/**
 * Compiles every `*.java` in test/interop (or `sources`) against Curator, into a cache directory
 * keyed by the sources' content, so later runs and parallel test files reuse it.
 * @throws Error when Java or Curator's jars are missing, or javac fails (with its output)
 */
export function compilePeers(sources?: string[]): CompiledPeers {
  checkJdk();
  const cp = curatorClasspath();
  const files = (
    sources
    ?? readdirSync(here)
      .filter((f) => f.endsWith('.java'))
      .map((f) => join(here, f))
  ).sort();
  const hash = createHash('sha256').update(cp);
  for (const f of files) hash.update(f).update(readFileSync(f));
  const out = join(tmpdir(), `zk-recipes-java-${hash.digest('hex').slice(0, 16)}`);
  const simple = join(JAVA_LIB_DIR, 'slf4j-simple.jar'); // optional: Curator's warnings on stderr
  const runtime = [out, cp, ...(existsSync(simple) ? [simple] : [])].join(':');
  if (existsSync(join(out, '.ok'))) return { classpath: runtime };
  const tmp = `${out}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  const r = spawnSync('javac', ['-nowarn', '-Xlint:-options', '--release', '17', '-d', tmp, '-cp', cp, ...files], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`interop: javac failed (${r.status}):\n${r.stdout}${r.stderr}`);
  }
  writeFileSync(join(tmp, '.ok'), '');
  try {
    renameSync(tmp, out);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another process got there first
  }
  if (!existsSync(join(out, '.ok'))) throw new Error(`interop: compiled classes not found in ${out}`);
  return { classpath: runtime };
}

/** A running Java peer. */
export interface Peer {
  child: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  /** Resolves when the peer printed `ready` (rejects if it exits first). */
  ready: Promise<void>;
  /** Resolves when the peer exited 0; rejects with its stderr otherwise. */
  exited: Promise<void>;
  /** Called with each stdout line. */
  onLine(fn: (line: string) => void): void;
}

const live = new Set<ChildProcess>();

/** Starts `java -cp <peers> <mainClass> ...args`; killed by {@link killPeers} or at process exit. */
export function startPeer(peers: CompiledPeers, mainClass: string, args: string[]): Peer {
  // Without this process's descriptors: the binding would leak our sessions' sockets into the JVM.
  const [cmd, ...argv] = withoutInheritedFds([
    'java',
    '-Xmx128m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Xshare:auto',
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
    '-cp',
    peers.classpath,
    mainClass,
    ...args,
  ]);
  const child = spawn(cmd!, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const lines: string[] = [];
  const listeners: ((line: string) => void)[] = [];
  let stderr = '';
  let buf = '';
  let readyResolve!: () => void;
  let readyReject!: (e: unknown) => void;
  const ready = new Promise<void>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  child.stdout!.on('data', (d) => {
    buf += String(d);
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      lines.push(line);
      if (line === 'ready') readyResolve();
      for (const fn of listeners) fn(line);
    }
  });
  child.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      const err = new Error(`interop: java ${mainClass} ${args.join(' ')} exited with ${code ?? signal}:\n${stderr}`);
      readyReject(err);
      if (code === 0) resolve();
      else reject(err);
    });
  });
  ready.catch(() => undefined);
  exited.catch(() => undefined);
  return { child, lines, ready, exited, onLine: (fn) => listeners.push(fn) };
}

/** Kills every peer still running (call in afterAll). */
export function killPeers(): void {
  for (const c of live) c.kill('SIGKILL');
  live.clear();
}

process.once('exit', killPeers);
