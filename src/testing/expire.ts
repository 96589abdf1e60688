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
import { kCredentials, type ZkSession } from '../session.js';

async function twinClose(connectString: string, timeoutMs: number, clientId: string, password: Buffer, sessionTimeoutMs: number): Promise<void> {
  const twin = new ZkClient(connectString, { sessionTimeoutMs, session: { id: clientId, password }, followConfig: false });
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`expireSession: could not connect a second client within ${timeoutMs} ms`)), timeoutMs);
      twin.once('connected', () => {
        clearTimeout(t);
        resolve();
      });
      twin.once('expired', () => {
        clearTimeout(t);
        resolve();
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
 */
export async function expireSession(session: ZkSession, timeoutMs = 20_000): Promise<void> {
  const { clientId, password } = session[kCredentials]();
  let lost = false;
  const onLost = () => {
    lost = true;
  };
  session.once('lost', onLost);
  const deadline = Date.now() + timeoutMs;
  try {
    while (!lost) {
      if (Date.now() > deadline) throw new Error(`expireSession: session 0x${clientId} still alive after ${timeoutMs} ms`);
      await twinClose(session.connectString, Math.max(1000, deadline - Date.now()), clientId, password, session.sessionTimeoutMs);
      const waitUntil = Date.now() + 1500;
      while (!lost && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    session.off('lost', onLost);
  }
}
