// The ceiling server of scripts/benchCeiling.mjs: a node:http server that does only what any
// LLMASS ticket must, and nothing else, to show what a Node server can reach on this machine.
// Per GET /ticket?cmd=…: a queued record (a new file, renamed into place), a shell from the
// server's own spawner process (dist/running/spawnerProcess.cjs: its three pipes handed over),
// optionally moved into the ticket's groups (the server's own cgroup code, from dist), its pipes
// read to their end and its exit seen, the final record (rewritten in place: less than the
// server does), a JSON answer, the groups removed. No validation, keys, state, logging, views,
// limits on output, or anything else. CEILING_SHELLS=spawn starts each ticket's shell when the
// ticket comes; =ahead keeps up to four shells started ahead, which take their command on fd 3.
// CEILING_GROUPS=1 makes the groups. Run by benchCeiling.mjs, which reads this process's CPU.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const { ProcessTracking } = await import(path.join(DIST, 'running', 'processTracking.js'));
const { TicketLimits } = await import(path.join(DIST, 'running', 'ticketLimits.js'));

const AHEAD = process.env.CEILING_SHELLS === 'ahead';
const GROUPS = process.env.CEILING_GROUPS === '1';
const recordsDir = process.argv[2];
const POOL = 4;
const env = { PATH: process.env.PATH, HOME: process.env.HOME ?? '/root' };

const scope = ProcessTracking.scopeOf(recordsDir);
const tracking = GROUPS ? ProcessTracking.detect(scope, () => undefined) : undefined;
if (tracking !== undefined) tracking.useLimits(TicketLimits.detect(scope, { maxProcesses: 512, maxMemoryBytes: 2 ** 30 }).limits);

const spawner = fork(path.join(DIST, 'running', 'spawnerProcess.cjs'), [String(process.pid)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [], env: {} });
const shells = new Map();
let nextSpawn = 1;

/** Reads a handed-over pipe to its end. */
function readAll(pipe) {
  pipe.on('error', () => undefined);
  return new Promise((resolve) => {
    const chunks = [];
    pipe.on('data', (chunk) => chunks.push(chunk));
    pipe.on('end', () => resolve(Buffer.concat(chunks).toString()));
  });
}

spawner.on('message', (message, handle) => {
  const shell = shells.get(message.id);
  if (shell === undefined) return;
  if (message.kind === 'pipe') {
    shell.handles[message.fd] = handle;
    shell.outputs[message.fd] = readAll(handle);
  } else if (message.kind === 'started') shell.started();
  else if (message.kind === 'exit') {
    shells.delete(message.id);
    shell.exited(message.code);
  } else if (message.kind === 'failed') throw new Error(message.message);
});

/** Asks the spawner for a shell running `args`, moved into a new ticket's groups when GROUPS is set. */
function startShell(args) {
  const processes = tracking?.forTicket(ProcessTracking.newId(), true);
  const shell = { handles: [], outputs: [], processes };
  shell.ready = new Promise((resolve) => (shell.started = resolve));
  shell.exit = new Promise((resolve) => (shell.exited = resolve));
  const id = nextSpawn++;
  shells.set(id, shell);
  spawner.send({ kind: 'spawn', id, program: '/bin/bash', args, cwd: recordsDir, env, joins: processes?.joins ?? [] });
  return shell;
}

const WAITING = ['-c', 'IFS= read -r line <&3 && eval "$line"'];
const pool = AHEAD ? Array.from({ length: POOL }, () => startShell(WAITING)) : [];
let ticket = 0;

const server = http.createServer(async (req, res) => {
  const cmd = new URL(req.url, 'http://ceiling').searchParams.get('cmd') ?? 'true';
  ticket += 1;
  const file = path.join(recordsDir, `${ticket}.ticket`);
  const queued = { ticket, cmd, status: 'queued', created_at: new Date().toISOString() };
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(queued, null, 1), { flag: 'wx', mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
  const shell = AHEAD ? (pool.shift() ?? startShell(WAITING)) : startShell(['-c', cmd]);
  await shell.ready;
  if (AHEAD) shell.handles[3].write(`${cmd}\n`);
  const [output, errors] = await Promise.all([shell.outputs[1], shell.outputs[2], shell.outputs[3]]);
  const code = await shell.exit;
  const text = JSON.stringify({ ...queued, status: 'done', exit_code: code, output: output + errors, finished_at: new Date().toISOString() }, null, 1);
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, text, 0);
  fs.ftruncateSync(fd, Buffer.byteLength(text));
  fs.closeSync(fd);
  const body = JSON.stringify({ type: 'result', ticket, status: 'done', exit_code: code, output: output + errors });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  setImmediate(() => {
    shell.processes?.release();
    if (AHEAD && pool.length < POOL) pool.push(startShell(WAITING));
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port, spawner: spawner.pid }));

process.on('message', async (message) => {
  if (message !== 'stop') return;
  server.close();
  server.closeAllConnections();
  // The shells still waiting get `exit` for a command; their groups go once they have exited.
  for (const shell of pool) {
    await shell.ready;
    shell.handles[3].write('exit\n');
    await shell.exit;
    shell.processes?.release();
  }
  tracking?.close();
  spawner.disconnect();
  process.exit(0);
});
