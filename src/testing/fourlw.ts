/**
 * ZooKeeper's four-letter words over a plain TCP socket (`srvr`, `mntr`, `cons`, `ruok`).
 * @module
 */
import { connect } from 'node:net';

/**
 * Sends a four-letter word and returns the whole reply ('' when the server closes at once, e.g.
 * when the word is not whitelisted).
 * @throws Error when nothing answers within `timeoutMs`
 */
export function fourLetterWord(host: string, port: number, word: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`${word} to ${host}:${port}: no answer within ${timeoutMs} ms`)); }, timeoutMs);
    sock.on('connect', () => sock.end(word));
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString('utf8')); });
  });
}

/** The `Mode:` line of `srvr` (`standalone`, `leader`, `follower`), or undefined if not serving. */
export async function serverMode(host: string, port: number, timeoutMs = 1000): Promise<string | undefined> {
  try {
    const r = await fourLetterWord(host, port, 'srvr', timeoutMs);
    return /Mode:\s*(\w+)/.exec(r)?.[1];
  } catch {
    return undefined;
  }
}
