/**
 * Real server-side session expiry: open a second handle with the same session id and password,
 * wait for it to connect, close it. The server ends the session at once, so its ephemeral nodes
 * really vanish and the first handle sees `SESSION_EXPIRED`, exactly as in production.
 * @module
 */
import { loadBinding } from '../binding.js';
import { kCredentials, type ZkSession } from '../session.js';

/**
 * Expires `session` on the server. Resolves once the server has ended it (the session itself
 * notices a moment later and emits `lost`).
 * @param timeoutMs - how long to wait for the second handle to connect
 */
export async function expireSession(session: ZkSession, timeoutMs = 10_000): Promise<void> {
  const { clientId, password } = session[kCredentials]();
  const Binding = loadBinding();
  const twin = new Binding({ connect: session.connectString, timeout: session.sessionTimeoutMs, debug_level: 0, client_id: clientId, client_password: password });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error(`expireSession: could not connect a second handle within ${timeoutMs} ms`)); }, timeoutMs);
    twin.on('connect', () => { clearTimeout(t); resolve(); });
    twin.init({});
  }).catch((err) => { twin.close(); throw err; });
  await new Promise<void>((resolve) => {
    twin.on('close', () => resolve());
    setTimeout(resolve, 2000).unref();
    twin.close();
  });
}
