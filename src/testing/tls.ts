/**
 * Throwaway certificates for TLS test servers: a CA, a server certificate for `localhost` /
 * `127.0.0.1` and a client certificate, both signed by the CA, made with `openssl` into a
 * directory. ZooKeeper (3.5.7+) reads PEM key and trust stores itself, so no `keytool` (a JVM
 * start per call) is needed.
 * @module
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The name the server certificate is issued to (pass it as `servername` to `tls.connect`). */
export const TLS_SERVER_NAME = 'localhost';

/** What {@link generateTestCerts} wrote: file paths for the server, PEM contents for clients. */
export interface TestCerts {
  /** The CA certificate file (PEM): the server's trust store. */
  caFile: string;
  /** The server's key store (PEM): its private key followed by its certificate. */
  serverKeyStoreFile: string;
  /** The CA certificate, PEM. */
  ca: Buffer;
  /** The client certificate, PEM. */
  cert: Buffer;
  /** The client's private key, PEM (PKCS#8, unencrypted). */
  key: Buffer;
  /** The server certificate's name, {@link TLS_SERVER_NAME}. */
  serverName: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('zk-recipes/testing: TLS test servers need the `openssl` command');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** A random positive, non-zero serial: certificates under the same CA name must not share one. */
function serial(): string {
  const b = randomBytes(8);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return `0x${b.toString('hex')}`;
}

// P-256 keys: generated in milliseconds (RSA takes far longer), and read by Java, Netty and Node.
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Signs `name`.csr with the CA into `name`.crt with the extensions in `ext`. */
async function sign(dir: string, name: string, ext: string[]): Promise<void> {
  writeFileSync(join(dir, `${name}.ext`), `${ext.join('\n')}\n`);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-set_serial',
      serial(),
      '-days',
      '7',
      '-sha256',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
}

/**
 * Writes a new CA, a server certificate (SAN `DNS:localhost`, `IP:127.0.0.1`) and a client
 * certificate into `dir` (created if missing). Each server gets its own CA, so a test never
 * trusts another test's server by accident.
 * @throws Error when `openssl` is missing or fails
 */
export async function generateTestCerts(dir: string): Promise<TestCerts> {
  mkdirSync(dir, { recursive: true });
  await openssl(
    [
      'req',
      '-x509',
      ...NEW_KEY,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '7',
      '-sha256',
      '-subj',
      '/CN=zk-recipes test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  // The two leaf keys and requests do not depend on each other.
  await Promise.all([
    openssl(['req', '-new', ...NEW_KEY, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${TLS_SERVER_NAME}`], dir),
    openssl(['req', '-new', ...NEW_KEY, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=zk-recipes test client'], dir),
  ]);
  const leaf = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature'];
  await Promise.all([
    sign(dir, 'server', [...leaf, 'extendedKeyUsage=serverAuth', `subjectAltName=DNS:${TLS_SERVER_NAME},IP:127.0.0.1`]),
    // The SAN is not checked by ZooKeeper's client port (it verifies client host names only on
    // quorum connections), but costs nothing and keeps the certificate valid for a stricter server.
    sign(dir, 'client', [...leaf, 'extendedKeyUsage=clientAuth', 'subjectAltName=DNS:localhost,IP:127.0.0.1']),
  ]);
  const read = (f: string) => readFileSync(join(dir, f));
  // ZooKeeper's PEM key store is one file: the private key and the certificate chain.
  const serverKeyStoreFile = join(dir, 'server-keystore.pem');
  writeFileSync(serverKeyStoreFile, Buffer.concat([read('server.key'), read('server.crt')]), { mode: 0o600 });
  return {
    caFile: join(dir, 'ca.crt'),
    serverKeyStoreFile,
    ca: read('ca.crt'),
    cert: read('client.crt'),
    key: read('client.key'),
    serverName: TLS_SERVER_NAME,
  };
}
