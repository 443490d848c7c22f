// Reach: the OpenAPI document, checked by a real OpenAPI validator, and every answer of a
// scripted session checked against the schema it documents (Ajv, JSON Schema 2020-12); and the
// MCP endpoint driven by the official SDK's own Client over Streamable HTTP.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, stopAll, waitFinal, type Answer, type TestServer } from './helpers/server.js';

let server: TestServer;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let doc: any;

beforeAll(async () => {
  server = await startServer({ env: { MAX_WAIT: '30' } });
  const answer = await server.get('/openapi.json', { auth: false });
  expect(answer.status).toBe(200);
  doc = answer.json;
});
afterAll(stopAll);

describe('/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document, needing no key', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes).toMatchObject({ bearer: { type: 'http', scheme: 'bearer' }, key: { type: 'apiKey', in: 'query', name: 'hash' } });
  });

  it('gives a license, and every operation a tag and a 4xx answer', () => {
    expect(doc.info.license).toEqual({ name: 'MIT', identifier: 'MIT' });
    const tags = new Set((doc.tags as Array<{ name: string }>).map((tag) => tag.name));
    for (const [path, item] of Object.entries<Record<string, { tags: string[]; responses: Record<string, unknown> }>>(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        expect(operation.tags, `${method} ${path}`).toHaveLength(1);
        expect(tags.has(operation.tags[0] ?? ''), `${method} ${path}`).toBe(true);
        expect(Object.keys(operation.responses).some((status) => /^4\d\d$/.test(status)), `${method} ${path} has a 4xx`).toBe(true);
      }
    }
  });

  it('marks /shell, /cancel, /upload, /stdin and the decisions (POST /approve, /deny) consequential, and keeps within GPT Actions\' limits', () => {
    type Operation = { description: string; parameters: Array<{ description: string }>; 'x-openai-isConsequential': boolean };
    for (const [path, item] of Object.entries<{ get: Operation; post?: Operation }>(doc.paths)) {
      if (item.post !== undefined) expect(item.post['x-openai-isConsequential'], path).toBe(true);
      expect(item.get.description.length, path).toBeLessThanOrEqual(300);
      for (const parameter of item.get.parameters) expect(parameter.description.length).toBeLessThanOrEqual(700);
      expect(item.get['x-openai-isConsequential'], path).toBe(path === '/shell' || path === '/cancel' || path === '/upload' || path === '/stdin');
    }
  });
});

describe('every answer of a scripted session', () => {
  it('validates against the schema the document gives for it', async () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema({ ...doc, $id: 'openapi' });
    const check = (path: string, answer: Answer): void => {
      const operation = doc.paths[path].get;
      const response = operation.responses[String(answer.status)];
      expect(response, `${path} ${answer.status} is documented`).toBeDefined();
      const schema = JSON.parse(JSON.stringify(response.content['application/json'].schema).replaceAll('"#/components', '"openapi#/components'));
      const valid = ajv.validate(schema, answer.json);
      expect(ajv.errors ?? [], `${path} ${answer.status}: ${answer.text.slice(0, 300)}`).toEqual([]);
      expect(valid).toBe(true);
    };
    const u = (path: string, params: Record<string, string | number>) => server.url(path, params);
    check('/healthz', await server.get('/healthz', { auth: false }));
    check('/shell', await server.get(u('/shell', { session: 'sc', cmd: 'echo one', wait: 10 })));
    const submitted = await server.get(u('/shell', { session: 'sc', cmd: 'sleep 0.5; seq 1 30000; sleep 30 & echo bg', timeout: 20 }));
    check('/shell', submitted);
    check('/shell', await server.get(u('/shell', { session: 'sc', cmd: 'sleep 0.5; seq 1 30000; sleep 30 & echo bg', timeout: 20 })));
    check('/callback', await server.get(u('/callback', { session: 'sc', ticket: 2 })));
    await waitFinal(server, 'sc', 2);
    check('/callback', await server.get(u('/callback', { session: 'sc', ticket: 2 })));
    check('/callback', await server.get(u('/callback', { session: 'sc', ticket: 2, offset: 100, limit: 50 })));
    check('/callback', await server.get(u('/callback', { session: 'sc', ticket: 2, offset: 10_000_000, limit: 50 })));
    check('/callback', await server.get(u('/callback', { session: 'sc', ticket: 99 })));
    check('/callback', await server.get(u('/callback', { session: 'sc', ticket: 1, wiat: 2 })));
    check('/shell', await server.get(u('/shell', { session: 'sc', cmd: 'echo x', wait: 100 })));
    const running = await server.get(u('/shell', { session: 'sc2', cmd: 'sleep 10' }));
    check('/cancel', await server.get(u('/cancel', { session: 'sc2', ticket: running.json.ticket })));
    check('/cancel', await server.get(u('/cancel', { session: 'sc2', ticket: running.json.ticket })));
    check('/history', await server.get(u('/history', { session: 'sc' })));
    check('/history', await server.get(u('/history', { session: 'nope' })));
    check('/sessions', await server.get(u('/sessions', {})));
    check('/sessions', await server.get('/sessions?hash=wrong', { auth: false }));
    const token = /token=([^&]+)/.exec(submitted.json.callback)?.[1] ?? '';
    check('/sessions', await server.get(`/sessions?token=${token}`, { auth: false }));
    check('/shell', await server.get(u('/shell', { session: 'sc', cmd: `echo ${'y'.repeat(140 * 1024)}` })));
  });
});

describe('/mcp', () => {
  async function connect(key: string | undefined): Promise<Client> {
    const client = new Client({ name: 'llmass-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${server.base}/mcp`), {
      requestInit: key === undefined ? {} : { headers: { Authorization: `Bearer ${key}` } },
    });
    await client.connect(transport);
    return client;
  }

  it('lists the tools, runs a short command, follows a long one with callback, and reads the history', async () => {
    const client = await connect(server.hash);
    try {
      const tools = await client.listTools();
      expect(tools.tools.map((tool) => tool.name).sort()).toEqual(['callback', 'cancel', 'history', 'read_file', 'screen', 'sessions', 'shell', 'stdin', 'write_file']);
      expect(tools.tools.find((tool) => tool.name === 'shell')?.description).toMatch(/callback/);

      const short = await client.callTool({ name: 'shell', arguments: { cmd: 'echo via mcp', session: 'mcp', wait: 10 } });
      const shortText = (short.content as Array<{ type: string; text: string }>)[0]?.text ?? '';
      expect(shortText.split('\n')[0]).toMatch(/^\[ticket 1 · done · exit 0 · \d+ ms\]$/);
      expect(shortText).toContain('via mcp\n');
      // The output goes once, in the text the model reads; the fields go without it, and without URLs.
      expect(short.structuredContent).toMatchObject({ ticket: 1, session: 'mcp', status: 'done', exit_code: 0, output_bytes: 8 });
      expect(short.structuredContent).not.toHaveProperty('output');
      expect(short.structuredContent).not.toHaveProperty('shell');
      expect(shortText).not.toMatch(/https?:\/\//);
      // next speaks in tool calls, not in URLs to GET.
      expect(short.structuredContent).toMatchObject({ next: expect.stringMatching(/call shell with session mcp/) });

      const long = await client.callTool({ name: 'shell', arguments: { cmd: 'sleep 1.5; echo slow', session: 'mcp' } });
      expect(long.structuredContent).toMatchObject({ type: 'submission', ticket: 2, next: expect.stringMatching(/Call callback with session mcp, ticket 2/) });
      expect((long.structuredContent as { next: string }).next).not.toMatch(/\bGET\b/);
      let view = long.structuredContent as { status: string };
      let polledText = '';
      while (view.status === 'queued' || view.status === 'running' || (view as { type?: string }).type === 'submission') {
        const polled = await client.callTool({ name: 'callback', arguments: { session: 'mcp', ticket: 2, wait: 5 } });
        view = polled.structuredContent as { status: string };
        polledText = (polled.content as Array<{ text: string }>)[0]?.text ?? '';
      }
      expect(view).toMatchObject({ status: 'done', output_bytes: 5 });
      expect(polledText).toContain('$ sleep 1.5; echo slow\nslow\n');

      const history = await client.callTool({ name: 'history', arguments: { session: 'mcp' } });
      expect((history.structuredContent as { tickets: unknown[] }).tickets).toHaveLength(2);
      const bad = await client.callTool({ name: 'callback', arguments: { session: 'mcp', ticket: 9 } });
      expect(bad.isError).toBe(true);
      expect(bad.structuredContent).toMatchObject({ error: expect.stringMatching(/does not exist/) });
    } finally {
      await client.close();
    }
  });

  it('answers a tool call as the SDK\'s own transport does, without it; what else comes goes through it', async () => {
    const post = (body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(`${server.base}/mcp`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${server.hash}`, Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const posts = async (): Promise<Record<string, number>> => {
      const metrics = (await server.get(server.url('/metrics'))).text;
      return Object.fromEntries([...metrics.matchAll(/^llmass_mcp_posts_total\{transport="(\w+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
    };
    const before = await posts();
    // The same requests alone (answered directly) and as a batch of one (the SDK's transport).
    const requests = [
      { jsonrpc: '2.0', id: 7, method: 'tools/list' },
      { jsonrpc: '2.0', id: 'x', method: 'tools/call', params: { name: 'callback', arguments: { session: 'nowhere', ticket: 1 } } },
      { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'no-such-tool', arguments: {} } },
      { jsonrpc: '2.0', id: 9, method: 'no/such/method' },
    ];
    for (const request of requests) {
      const alone = await post(request);
      const batched = await post([request]);
      expect([alone.status, alone.headers.get('content-type')]).toEqual([200, 'application/json']);
      expect([batched.status, batched.headers.get('content-type')]).toEqual([200, 'application/json']);
      expect(await alone.json()).toEqual(await batched.json());
    }
    // Headers the SDK's transport refuses reach it, and get its answers.
    expect((await post(requests[0], { Accept: 'application/json' })).status).toBe(406);
    expect((await post(requests[0], { 'Content-Type': 'text/plain' })).status).toBe(415);
    expect((await post(requests[0], { 'MCP-Protocol-Version': '1999-01-01' })).status).toBe(400);
    const after = await posts();
    expect((after.json ?? 0) - (before.json ?? 0)).toBe(requests.length);
    expect((after.sdk ?? 0) - (before.sdk ?? 0)).toBe(requests.length + 3);
  });

  it('caps wait below the usual 60 s tool-call limit', async () => {
    const client = await connect(server.hash);
    try {
      const answer = await client.callTool({ name: 'shell', arguments: { cmd: 'true', session: 'cap', wait: 300 } });
      expect(answer.structuredContent).toMatchObject({ notice: expect.stringMatching(/shortened to 30 s/) });
    } finally {
      await client.close();
    }
  });

  it('refuses a client without a key, with WWW-Authenticate', async () => {
    await expect(connect(undefined)).rejects.toThrow(/the key is missing/);
    await expect(connect('not-the-key-not-the-key-not-the-key')).rejects.toThrow(/the key is wrong/);
    const raw = await fetch(`${server.base}/mcp`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(raw.status).toBe(401);
    expect(raw.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });
});
