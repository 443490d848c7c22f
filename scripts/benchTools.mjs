// Measuring tools for scripts/bench.mjs: CPU time from /proc, wrk runs (with wrk's own CPU, to
// show the load generator is not the limit), a bare node:http floor server, and a bare spawn
// floor process whose CPU can be read as the server's is.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat; 0 once it is gone. */
export function cpuSeconds(pid) {
  let stat;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** The PIDs of a process's children (from /proc/<pid>/task/<tid>/children). */
function childrenOf(pid) {
  const found = [];
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    const text = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    if (text !== '') found.push(...text.split(' ').map(Number));
  }
  return found;
}

/**
 * The server's processes whose CPU counts as the server's: the daemon and its spawner (the
 * small process that forks shells, if it runs one). Commands and shells are not counted.
 */
export function serverPids(daemonPid) {
  const spawners = childrenOf(daemonPid).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('spawnerProcess');
    } catch {
      return false;
    }
  });
  return [daemonPid, ...spawners];
}

/**
 * The daemon and its spawner, once the spawner runs (it is started with the first shell started
 * ahead, after the first command's answer): a CPU figure without it would leave out the forks.
 */
export async function serverPidsWithSpawner(daemonPid) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const pids = serverPids(daemonPid);
    if (pids.length === 2) return pids;
    if (Date.now() > deadline) throw new Error(`the spawner process of server ${daemonPid} was not found: its CPU would be left out`);
    await sleep(20);
  }
}

export const serverCpu = (pids) => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);

/** Per-request figures of one wrk run (one thread, 32 connections) against `url`, optionally with a Lua script. */
export function wrkRound(pid, url, seconds, script) {
  const before = cpuSeconds(pid);
  // wrk runs under a bash that prints its own /proc stat once wrk is reaped: the children's
  // CPU fields then hold wrk's, to check the load generator is not the limit.
  const args = ['-t1', '-c32', `-d${seconds}s`, ...(script ? ['-s', script] : []), url];
  const out = spawnSync('bash', ['-c', 'wrk "$@"; cat /proc/$$/stat', '_', ...args], { encoding: 'utf8' });
  const after = cpuSeconds(pid);
  const requests = Number(/(\d+) requests in/.exec(out.stdout)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out.stdout)?.[1] ?? 0);
  if (!requests || non2xx > 0) throw new Error(`wrk failed: ${out.stdout}${out.stderr}`);
  const stat = out.stdout.trim().split('\n').at(-1);
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const wrkCpu = (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
  return { cpuPerRequest: ((after - before) / requests) * 1e6, rate: requests / seconds, serverBusy: (after - before) / seconds, wrkBusy: wrkCpu / seconds };
}

/** A bare node:http server in its own process answering `body` from memory. */
export async function startFloorServer(body, contentType, cleanups) {
  const source = `
    const body = Buffer.from(process.env.BODY, 'base64');
    require('node:http').createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': process.env.TYPE, 'Content-Length': body.length, 'Cache-Control': 'no-store' });
      res.end(body);
    }).listen(0, '127.0.0.1', function () { console.log(this.address().port); });`;
  const proc = spawn(process.execPath, ['-e', source], { env: { BODY: Buffer.from(body).toString('base64'), TYPE: contentType }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => proc.stdout.once('data', (chunk) => resolve(Number(String(chunk).trim()))));
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const stop = async () => {
    proc.kill('SIGTERM');
    await exited;
  };
  cleanups.push(stop);
  return { base: `http://127.0.0.1:${port}`, pid: proc.pid, stop };
}

const SPAWN_FLOOR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'benchSpawnFloor.cjs');

/**
 * The bare spawn floor: a fresh Node process running `loops` loops of `count` spawns of
 * `bash -c true` each, `pauseMs` before each. Resolves with each spawn's ms (start to close),
 * the wall time, and the process's own CPU seconds (as the server's is read).
 */
export function spawnFloor({ loops = 1, count, pauseMs = 0 }) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [SPAWN_FLOOR, String(loops), String(count), String(pauseMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let printed = '';
    proc.stdout.on('data', (chunk) => (printed += chunk));
    proc.once('error', reject);
    proc.once('close', (code) => (code === 0 ? resolve(JSON.parse(printed)) : reject(new Error(`spawn floor exited ${code}`))));
  });
}

export const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64 });

export function get(base, target) {
  return new Promise((resolve, reject) => {
    http
      .get(base + target, { agent: keepAlive }, (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      })
      .on('error', reject);
  });
}
export const getJson = async (base, target) => JSON.parse((await get(base, target)).body);

/** One MCP tools/call over POST /mcp (stateless, JSON answers). */
export function mcpCall(base, key, name, args) {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } });
  return new Promise((resolve, reject) => {
    const req = http.request(
      base + '/mcp',
      { method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${key}`, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
