// One MCP request answered as one JSON body, for the POST an MCP client sends for each tool call:
// what the SDK's Streamable HTTP transport does with it (stateless, JSON answers), without
// turning the request and its answer into web Request and Response objects, which cost about
// 1 ms of a call's 4 (issue 28). It takes only a request the SDK's transport would take as it
// is: a single JSON-RPC request, not `initialize`, with the Accept, Content-Type and protocol
// version headers the transport requires. Anything else (initialize, batches, notifications,
// GET, DELETE, a header wrong) goes to the SDK's transport, which answers it as before.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isJsonContentType } from '@modelcontextprotocol/sdk/shared/mediaType.js';
import { isJSONRPCRequest, SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCMessage, type JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';

/** The request, when the SDK's transport would take it as it is and answer it with one JSON body. */
export function singleJsonRequest(req: IncomingMessage, body: unknown): JSONRPCRequest | undefined {
  if (req.method !== 'POST' || Array.isArray(body) || !isJSONRPCRequest(body) || body.method === 'initialize') return undefined;
  // The transport's own checks (webStandardStreamableHttp.ts): Accept as a substring, Content-Type
  // parsed, and a protocol version it supports, if one is given.
  const accept = req.headers.accept ?? '';
  if (!accept.includes('application/json') || !accept.includes('text/event-stream')) return undefined;
  if (!isJsonContentType(req.headers['content-type'])) return undefined;
  const version = req.headers['mcp-protocol-version'];
  if (version !== undefined && (typeof version !== 'string' || !SUPPORTED_PROTOCOL_VERSIONS.includes(version))) return undefined;
  return body;
}

const isAnswerTo = (message: JSONRPCMessage, id: JSONRPCRequest['id']): boolean => 'id' in message && message.id === id && ('result' in message || 'error' in message);

/**
 * A transport for that one request: it hands the request to the server it is connected to, and
 * writes the server's answer to it as the response, as the SDK's transport would (200,
 * application/json). What else the server sends (notifications) has nowhere to go without an
 * event stream, as there.
 */
export class JsonCallTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport['onmessage'];
  readonly sessionId = undefined;
  private closed = false;

  constructor(
    private readonly request: JSONRPCRequest,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly auth: AuthInfo,
  ) {}

  async start(): Promise<void> {
    // Nothing to open: the request has been read.
  }

  /** Hands the request over; the server answers it through send(). */
  deliver(): void {
    this.onmessage?.(this.request, { authInfo: this.auth, requestInfo: { headers: this.req.headers } });
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed || !isAnswerTo(message, this.request.id) || this.res.headersSent) return;
    const text = JSON.stringify(message);
    this.res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    this.res.end(text);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
}
