// The request log line, one per request, written out by hand: the cheapest way that still gives
// the same JSON as the logger would. Split in two around the duration, so that an answer sent
// again from the answer cache (keptAnswers.ts) carries its line ready-made but for the time and
// the client's address.

/** What the pipeline and the handler add to a request's line (never a secret: the key's name). */
export interface RequestLogFields {
  /** The name of the key that asked (HASH for the operator's), once it is known. */
  key?: string;
  session?: string;
  ticket?: number;
}

let isoAt = NaN;
let iso = '';

/** The time as ISO 8601, made once per millisecond: many requests share one under load. */
export function isoNow(): string {
  const now = Date.now();
  if (now !== isoAt) {
    isoAt = now;
    iso = new Date(now).toISOString();
  }
  return iso;
}

/** The fields before the duration. Only the path can hold odd characters. */
export function requestLogHead(method: string | undefined, path: string, status: number): string {
  return `"method":${JSON.stringify(method ?? '')},"path":${JSON.stringify(path)},"status":${status},"ms":`;
}

/** The fields after the duration, and the closing brace. */
export function requestLogTail(fields: RequestLogFields): string {
  let tail = '';
  if (fields.key !== undefined) tail += `,"key":${JSON.stringify(fields.key)}`;
  if (fields.session !== undefined) tail += `,"session":${JSON.stringify(fields.session)}`;
  if (fields.ticket !== undefined) tail += `,"ticket":${fields.ticket}`;
  return `${tail}}`;
}

/**
 * The whole line. The client comes apart from the tail: a kept answer's tail is made once, and
 * the same URL may come again from another address.
 */
export function requestLine(head: string, ms: number, tail: string, client: string): string {
  return `{"time":"${isoNow()}","level":"info","msg":"request",${head}${Math.round(ms * 10) / 10},"client":${JSON.stringify(client)}${tail}`;
}

/** The path alone: the query (which may hold the hash) never reaches the log. */
export function safePath(url: string | undefined): string {
  const value = url ?? '';
  const q = value.indexOf('?');
  return (q === -1 ? value : value.slice(0, q)).slice(0, 200);
}
