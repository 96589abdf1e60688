/**
 * Throwaway certificates for TLS test servers: a CA, a server certificate for `localhost` /
 * `127.0.0.1` and a client certificate, both signed by the CA, made with `openssl` into a
 * directory; more server certificates from the same CA for the members of an ensemble. ZooKeeper
 * (3.5.7+) reads PEM key and trust stores itself, so no `keytool` (a JVM start per call) is
 * needed. Also a four-letter word over a TLS port (`cons` there lists the TLS connections only).
 * @module
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
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
  /** The server's private key, PEM (for a Node `tls.createServer` standing in for a server). */
  serverKey: Buffer;
  /** The server's certificate, PEM. */
  serverCert: Buffer;
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

const LEAF = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature'];

/** A server certificate signed by a CA: its key store file (key then certificate) and both PEMs. */
export interface ServerCert {
  /** The key store (PEM): the private key followed by the certificate. */
  keyStoreFile: string;
  /** The private key, PEM. */
  key: Buffer;
  /** The certificate, PEM. */
  cert: Buffer;
}

/**
 * Signs one more server certificate (SAN `DNS:localhost`, `IP:127.0.0.1`) named `name` with the CA
 * that {@link generateTestCerts} wrote into `dir`: one per ensemble member, all trusted by one CA.
 * @throws Error when `openssl` is missing or fails
 */
export async function generateServerCert(dir: string, name: string): Promise<ServerCert> {
  await openssl(['req', '-new', ...NEW_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${TLS_SERVER_NAME}`], dir);
  await sign(dir, name, [...LEAF, 'extendedKeyUsage=serverAuth', `subjectAltName=DNS:${TLS_SERVER_NAME},IP:127.0.0.1`]);
  const key = readFileSync(join(dir, `${name}.key`));
  const cert = readFileSync(join(dir, `${name}.crt`));
  // ZooKeeper's PEM key store is one file: the private key and the certificate chain.
  const keyStoreFile = join(dir, `${name}-keystore.pem`);
  writeFileSync(keyStoreFile, Buffer.concat([key, cert]), { mode: 0o600 });
  return { keyStoreFile, key, cert };
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
  // The two leaf certificates do not depend on each other.
  const [server] = await Promise.all([
    generateServerCert(dir, 'server'),
    (async () => {
      await openssl(['req', '-new', ...NEW_KEY, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=zk-recipes test client'], dir);
      // The SAN is not checked by ZooKeeper's client port (it verifies client host names only on
      // quorum connections), but costs nothing and keeps the certificate valid for a stricter server.
      await sign(dir, 'client', [...LEAF, 'extendedKeyUsage=clientAuth', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
    })(),
  ]);
  const read = (f: string) => readFileSync(join(dir, f));
  return {
    caFile: join(dir, 'ca.crt'),
    serverKeyStoreFile: server.keyStoreFile,
    serverKey: server.key,
    serverCert: server.cert,
    ca: read('ca.crt'),
    cert: read('client.crt'),
    key: read('client.key'),
    serverName: TLS_SERVER_NAME,
  };
}

/** What {@link tlsFourLetterWord} needs to reach a TLS client port (a server's `tls` will do). */
export interface TlsEndpoint {
  /** The TLS client port on 127.0.0.1. */
  readonly port: number;
  /** The CA to trust. */
  readonly ca: Buffer;
  /** A client certificate the server accepts. */
  readonly cert: Buffer;
  /** Its private key. */
  readonly key: Buffer;
  /** The server certificate's name. */
  readonly serverName: string;
}

/**
 * Sends a four-letter word to a TLS client port and resolves with the whole reply. ZooKeeper
 * answers for the port it was asked on: `cons` on the TLS port lists the TLS connections, on the
 * plain port the plain ones only.
 * @throws Error when the connection fails or no answer ends within `timeoutMs`
 */
export function tlsFourLetterWord(t: TlsEndpoint, word: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({ host: '127.0.0.1', port: t.port, ca: t.ca, cert: t.cert, key: t.key, servername: t.serverName });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${word} to TLS port ${t.port}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('secureConnect', () => sock.write(word));
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}
