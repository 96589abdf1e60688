/**
 * Real server-side session expiry: open a second client with the same session id and password,
 * wait for it to connect, close it. The server ends the session, so its ephemeral nodes really
 * vanish and the session sees `SESSION_EXPIRED`, exactly as in production.
 *
 * A race makes a single try unreliable: when the twin connects, the server moves the session to
 * it and drops the original connection; if the original reconnects before the twin's close
 * arrives, the session moves back and the twin's close is refused (session moved). So the dance
 * is repeated until the session reports `lost`.
 * @module
 */
import { ZkClient } from '../client/client.js';
import type { TlsOptions } from '../client/connection.js';
import { kCredentials, type ZkSession } from '../session.js';

/** One round: connect a twin and close it. True when the twin connected (its close can end the session), false when the session was gone already. */
async function twinClose(
  connectString: string,
  timeoutMs: number,
  clientId: string,
  password: Buffer,
  sessionTimeoutMs: number,
  tls: TlsOptions | undefined,
): Promise<boolean> {
  // Over the session's own TLS settings: its connect string may name TLS ports.
  const twin = new ZkClient(connectString, { sessionTimeoutMs, session: { id: clientId, password }, followConfig: false, tls });
  try {
    return await new Promise<boolean>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`expireSession: could not connect a second client within ${timeoutMs} ms`)), timeoutMs);
      twin.once('connected', () => {
        clearTimeout(t);
        resolve(true);
      });
      twin.once('expired', () => {
        clearTimeout(t);
        resolve(false);
      }); // already expired
      twin.start();
    });
  } finally {
    await twin.close();
  }
}

/**
 * Expires `session` on the server and resolves once the session has noticed (`lost` emitted).
 * @param timeoutMs - overall deadline
 * @returns when (epoch ms) the round that ended the session began (the last whose twin connected):
 * the session ended after it, and the rounds before it (a race may need several, 1.5 s apart) did
 * not end it — measure a failover from here, not from the call
 */
export async function expireSession(session: ZkSession, timeoutMs = 20_000): Promise<number> {
  const { clientId, password, tls } = session[kCredentials]();
  let lost = false;
  const onLost = () => {
    lost = true;
  };
  session.once('lost', onLost);
  const deadline = Date.now() + timeoutMs;
  let round = Date.now();
  try {
    while (!lost) {
      if (Date.now() > deadline) throw new Error(`expireSession: session 0x${clientId} still alive after ${timeoutMs} ms`);
      const started = Date.now();
      if (await twinClose(session.connectString, Math.max(1000, deadline - Date.now()), clientId, password, session.sessionTimeoutMs, tls)) round = started;
      const waitUntil = Date.now() + 1500;
      while (!lost && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    session.off('lost', onLost);
  }
  return round;
}
