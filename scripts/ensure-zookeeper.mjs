#!/usr/bin/env node
// `npm test`'s setup step: make sure the tests can have a real ZooKeeper (and, for the interop
// tests, Apache Curator). Installs Debian's packages when they are missing and we are root with
// apt-get; otherwise explains how to provide a server. It never runs inside the library itself.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const say = (m) => console.log(`[ensure-zookeeper] ${m}`);
const need = [];
const haveLocal = Boolean(process.env.ZOOKEEPER_CLASSPATH || process.env.ZOOKEEPER_HOME) || existsSync('/usr/share/java/zookeeper.jar');
if (process.env.ZK_CONNECT) say(`using the external server ZK_CONNECT=${process.env.ZK_CONNECT}`);
else if (haveLocal) say('local ZooKeeper install found');
else need.push('zookeeper');
// The Curator interop tests need Curator's jars (Debian's libcurator-recipes-java, and
// libcurator-discovery-java for the service-discovery interop).
if (!existsSync('/usr/share/java/curator-recipes.jar')) need.push('libcurator-recipes-java');
if (!existsSync('/usr/share/java/curator-x-discovery.jar')) need.push('libcurator-discovery-java');
const javaOk = spawnSync('javac', ['-version'], { stdio: 'ignore' }).status === 0; // interop tests compile Curator peers
if (!javaOk) need.push('default-jdk-headless');

if (need.length === 0) process.exit(0);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
if (!isRoot || !hasApt) {
  say(`missing: ${need.join(', ')}; not root with apt-get, so not installing.`);
  say('Provide a server with ZK_CONNECT=host:port, a local install (ZOOKEEPER_HOME, or `apt-get install zookeeper`), or a Docker engine.');
  // The test kit fails with the full list of options if no server can be had; interop tests fail too.
  process.exit(0);
}
const t0 = Date.now();
say(`installing Debian packages: ${need.join(' ')} (apt-get, about 30 s)`);
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...need], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
});
say(`installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
