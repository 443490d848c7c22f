// A typed client, as a user would make one: openapi-typescript generates the types from the
// server's own /openapi.json, openapi-fetch calls it. The client's two calls (/shell, then
// /callback) type-check under strict tsc with no cast, because each status has one content
// type; and compiled, they run against the real server.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startServer, stopAll, type TestServer } from './helpers/server.js';

let server: TestServer;
// Inside node_modules, so that the client resolves openapi-fetch and @types/node as a project would.
const dir = path.join(ROOT, 'node_modules', '.cache', `llmass-typed-client-${crypto.randomBytes(4).toString('hex')}`);

const CLIENT = `import createClient from 'openapi-fetch';
import type { paths } from './llmass.js';

const client = createClient<paths>({ baseUrl: process.env.BASE, headers: { Authorization: \`Bearer \${process.env.KEY}\` } });
const submitted = await client.GET('/shell', { params: { query: { cmd: 'echo typed', session: 'typed', wait: 10 } } });
if (submitted.data === undefined) throw new Error(\`/shell failed: \${JSON.stringify(submitted.error)}\`);
const ticket: number = submitted.data.ticket;
const view = await client.GET('/callback', { params: { query: { session: 'typed', ticket, wait: 10 } } });
const status: string | undefined = view.data?.status;
const output: string | undefined = view.data?.output;
console.log(JSON.stringify({ ticket, status, output }));
`;

beforeAll(async () => {
  server = await startServer();
  fs.mkdirSync(dir, { recursive: true });
});
afterAll(async () => {
  await stopAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a client generated from /openapi.json', () => {
  it('type-checks its calls without a cast, and runs them', async () => {
    const doc = (await server.get('/openapi.json', { auth: false })).json;
    fs.writeFileSync(path.join(dir, 'llmass.ts'), astToString(await openapiTS(doc)));
    fs.writeFileSync(path.join(dir, 'client.ts'), CLIENT);
    fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
    const tsconfig = { compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], types: ['node'], strict: true, noUncheckedIndexedAccess: true, outDir: 'out', skipLibCheck: true }, files: ['client.ts'] };
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
    const compiled = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8' });
    expect(compiled.status, compiled.stdout + compiled.stderr).toBe(0);
    const ran = spawnSync(process.execPath, [path.join(dir, 'out', 'client.js')], { encoding: 'utf8', env: { ...process.env, BASE: server.base, KEY: server.hash }, timeout: 30_000 });
    expect(ran.status, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toEqual({ ticket: 1, status: 'done', output: 'typed\n' });
  });
});
