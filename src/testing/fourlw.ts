/**
 * Four-letter words for the test kit (the socket helper lives in src/ops/fourlw.ts).
 * @module
 */
import { fourLetterWord } from '../ops/fourlw.js';

export { fourLetterWord };

/** The `Mode:` line of `srvr` (`standalone`, `leader`, `follower`), or undefined if not serving. */
export async function serverMode(host: string, port: number, timeoutMs = 1000): Promise<string | undefined> {
  try {
    const r = await fourLetterWord(host, port, 'srvr', timeoutMs);
    return /Mode:\s*(\w+)/.exec(r)?.[1];
  } catch {
    return undefined;
  }
}
