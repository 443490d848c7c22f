// /openapi.json: OpenAPI 3.1, built from the endpoint and parameter descriptions the server
// itself uses (endpoints.ts) and the answer schemas the tests check real answers against
// (schemas.ts). No key needed.
import { ENDPOINTS, FORMATS, PARAMS } from './endpoints.js';
import { SCHEMAS } from './schemas.js';

const STATUS_TEXT: Record<number, string> = {
  400: 'a bad or unknown parameter (the hint names the right one)',
  401: 'the key or token is missing, wrong, expired or revoked',
  403: 'a token used beyond its session or kind',
  404: 'no such session or ticket',
  414: 'the command (over 128 KiB) or the URL is too long',
  416: 'the window starts beyond the stored output',
  422: 'the ticket\'s record on disk is damaged',
  429: 'too many wrong keys from this client: wait Retry-After seconds',
  431: 'the request head is too large',
  503: 'the queue is full or the server is restarting: retry after Retry-After',
  507: 'no room on the server\'s disk: nothing ran',
};

const errorResponse = (status: number, schema = 'ErrorAnswer'): Record<string, unknown> => ({
  description: schema === 'Unhealthy' ? 'commands cannot run now: the error says why' : (STATUS_TEXT[status] ?? 'an error'),
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
});

function operation(path: string, method: 'get' | 'put' | 'post' = 'get'): Record<string, unknown> {
  const spec = ENDPOINTS[path];
  if (spec === undefined) throw new Error(`no spec for ${path}`);
  const params = method === 'put' && spec.put !== undefined ? spec.put.params : spec.params;
  const required = method === 'put' && spec.put !== undefined ? spec.put.required : spec.required;
  const parameters = params.map((name) => {
    const param = PARAMS[name];
    const format = name === 'format' ? FORMATS[path] : undefined;
    return {
      name,
      in: 'query',
      required: required.includes(name),
      description: format?.description ?? param.description,
      schema: format === undefined ? param.schema : { type: 'string', enum: format.values },
    };
  });
  const content: Record<string, unknown> = {};
  if (spec.answers.length > 0) {
    const refs = spec.answers.map((name) => ({ $ref: `#/components/schemas/${name}` }));
    content['application/json'] = { schema: refs.length === 1 ? refs[0] : { oneOf: refs } };
  }
  if (spec.page !== undefined) content[spec.page] = { schema: { type: spec.page === 'application/json' ? 'object' : 'string' } };
  // One content type per status, so that a generated client's 200 is one type: the variants a
  // format= value asks for are named beside it (x-llmass-formats), not mixed into it.
  const variants = Object.fromEntries((FORMATS[path]?.values ?? []).filter((value) => VARIANT_TYPES[value] !== undefined && VARIANT_TYPES[value] !== spec.page).map((value) => [value, VARIANT_TYPES[value]]));
  // An unknown parameter is a 400 on every endpoint.
  const errors = spec.open === true ? [...spec.errors, 400] : [...spec.errors, 400, 401, 403, 429];
  const responses: Record<string, unknown> = { '200': { description: spec.summary, content } };
  for (const status of [...new Set(errors)].sort()) responses[String(status)] = errorResponse(status, spec.errorAnswers?.[status]);
  const form = { type: 'object', properties: { reason: PARAMS.reason.schema }, additionalProperties: false };
  const body =
    method === 'put'
      ? { requestBody: { required: true, description: 'the whole file', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } } }
      : method === 'post' && spec.params.includes('reason')
        ? { requestBody: { required: false, description: 'a browser\'s form: the reason, instead of reason= in the query', content: { 'application/x-www-form-urlencoded': { schema: form } } } }
        : {};
  return {
    operationId: (path === '/' ? 'readme' : path.slice(1).replace(/[^a-z]/g, '_')) + (method === 'get' ? '' : `_${method}`),
    summary: spec.summary,
    description: spec.description,
    tags: [tagOf(path)],
    parameters,
    responses,
    ...body,
    // A GET that only shows what a POST decides changes nothing.
    ...(Object.keys(variants).length === 0 ? {} : { 'x-llmass-formats': variants }),
    'x-openai-isConsequential': method === 'get' && spec.post === true ? false : spec.consequential,
    ...(spec.open === true ? { security: [] } : {}),
  };
}

/** The media type each non-default format= value answers with. */
const VARIANT_TYPES: Readonly<Record<string, string | undefined>> = { text: 'text/plain', md: 'text/markdown', html: 'text/html' };

/** The groups operations are listed under, and which paths each holds; the rest is `server`. */
const TAGS: ReadonlyArray<{ readonly name: string; readonly description: string; readonly paths: readonly string[] }> = [
  { name: 'commands', description: 'Run commands and read their results', paths: ['/shell', '/callback', '/cancel', '/history', '/stdin', '/screen'] },
  { name: 'sessions', description: 'The sessions and their live pages', paths: ['/sessions', '/view'] },
  { name: 'approvals', description: 'A person decides the commands of keys that need approval', paths: ['/approve', '/deny'] },
  { name: 'files', description: 'Files in and out of the host', paths: ['/file', '/upload'] },
  { name: 'server', description: 'This server: its pages, health, metrics and descriptions', paths: [] },
];

function tagOf(path: string): string {
  return TAGS.find((tag) => tag.paths.includes(path))?.name ?? 'server';
}

export function openApiDocument(fqdn: string, version: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const [path, spec] of Object.entries(ENDPOINTS)) {
    paths[path] = { get: operation(path), ...(spec.put === undefined ? {} : { put: operation(path, 'put') }), ...(spec.post === true ? { post: operation(path, 'post') } : {}) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'LLMASS',
      version,
      description:
        'A shell for agents: run a command with /shell, read its result with /callback (the poll URL in every answer), see a session with /history. Every answer says in next what to do now. MCP clients can use /mcp instead.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: TAGS.map(({ name, description }) => ({ name, description })),
    servers: [{ url: fqdn }],
    security: [{ bearer: [] }, { key: [] }, { token: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <key>' },
        key: { type: 'apiKey', in: 'query', name: 'hash', description: 'the key as hash=' },
        token: { type: 'apiKey', in: 'query', name: 'token', description: 'a token from the ready URLs of an answer (one session)' },
      },
      schemas: SCHEMAS,
    },
  };
}
