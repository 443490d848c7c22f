// Listening: on a TCP address or on a unix socket, with a backlog sized for bursts. A socket
// left by a dead server is replaced; one a live server answers on is not.
import type http from 'node:http';
import fs from 'node:fs';
import net from 'node:net';

/**
 * Connections waiting to be accepted. A full backlog on a unix socket refuses at once (Caddy then
 * answers 503 for a healthy server), so it is sized for bursts; the kernel caps it at
 * net.core.somaxconn (4096 by default since Linux 5.4; the Deploy names it).
 */
export const LISTEN_BACKLOG = 4096;

/** Listens on `host:port`; resolves with the port bound (PORT=0 picks one). */
export async function listenOnPort(server: http.Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : port;
}

/**
 * Listens on a unix socket, mode 0660: the server's user and group (the proxy's, given by the
 * setgid directory it lives in) may connect, nobody else. A socket left by a dead server is
 * replaced; one a live server answers on is not.
 */
export async function listenOnSocket(server: http.Server, file: string): Promise<void> {
  let existing: fs.Stats | undefined;
  try {
    existing = fs.lstatSync(file);
  } catch {
    existing = undefined;
  }
  if (existing !== undefined) {
    if (!existing.isSocket()) throw new Error(`SOCKET ${file} exists and is not a socket; remove it or choose another path`);
    const answered = await new Promise<boolean>((resolve) => {
      const probe = net.connect(file, () => {
        probe.destroy();
        resolve(true);
      });
      probe.on('error', () => resolve(false));
    });
    if (answered) throw new Error(`another server is listening on SOCKET ${file}`);
    fs.rmSync(file);
  }
  // Made with no access for others from the first moment, then opened to the group.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: file, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(umask);
  }
  fs.chmodSync(file, 0o660);
}
