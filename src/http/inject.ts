// The in-process seam, as fastify's inject() gives: a request goes through the real node:http
// server (its parser, limits and pipeline) over an in-memory connection instead of a socket,
// so a test can drive the edge in microseconds, without a port, and read the answer whole.
import http from 'node:http';
import { Duplex } from 'node:stream';

export interface InjectedRequest {
  readonly method?: string;
  /** The request target, as sent: `/callback?session=a&ticket=1`. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  /** The peer address the server sees (default 127.0.0.1). */
  readonly remoteAddress?: string;
}

export interface InjectedAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The body as UTF-8 text. */
  readonly body: string;
  /** The body's bytes as they came. */
  readonly raw: Buffer;
  /** The body parsed as JSON (throws if it is not JSON). */
  json<T = unknown>(): T;
}

/** Two ends of an in-memory connection: what one writes, the other reads. */
function connectionPair(remoteAddress: string): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const end = (peer: () => Duplex): Duplex =>
    new Duplex({
      read() {},
      write(chunk, _encoding, done) {
        peer().push(chunk);
        done();
      },
      final(done) {
        peer().push(null);
        done();
      },
    });
  const client = end(() => ends[1] as Duplex);
  const server = end(() => ends[0] as Duplex);
  ends.push(client, server);
  // What node:http asks of a socket besides reading and writing.
  for (const socket of ends) {
    Object.assign(socket, { remoteAddress, setTimeout: () => socket, setNoDelay: () => socket, setKeepAlive: () => socket });
  }
  return [client, server];
}

export function inject(server: http.Server, request: InjectedRequest): Promise<InjectedAnswer> {
  const [client, serverSide] = connectionPair(request.remoteAddress ?? '127.0.0.1');
  server.emit('connection', serverSide);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { method: request.method ?? 'GET', path: request.url, headers: { connection: 'close', ...request.headers }, createConnection: () => client as never },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (chunk: Buffer) => parts.push(chunk));
        res.on('end', () => {
          const raw = Buffer.concat(parts);
          const body = raw.toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, raw, json: <T>() => JSON.parse(body) as T });
          serverSide.destroy();
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(request.body);
  });
}
