// npm run bench: starts the real daemon on loopback and measures its figures, each as a ratio
// against a floor measured in the same run (absolute times on a shared 2-core machine are
// noise). Reads are loaded by wrk and costed in the server's own CPU time from /proc.
// Prints a markdown table (median of several rounds, the floor, the ratio, the target) and
// exits non-zero when a target is missed. Needs wrk (apt-get install wrk).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startDaemon as startDaemonProcess } from './daemon.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const cleanups = [];

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

function rssBytes(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

async function startDaemon(env = {}, prepare) {
  const daemon = await startDaemonProcess({ env: { DEDUP_WINDOW: '0', ...env }, prepare });
  cleanups.push(() => daemon.stop());
  return daemon;
}

/** The machine's CPU time so far (all cores), and the part of it the hypervisor gave to others (steal). */
function cpuTicks() {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] };
}

/** Steal as a share of the CPU time between two cpuTicks(): how loaded the host was meanwhile. */
function stealShare(before, after) {
  const total = after.total - before.total;
  return total > 0 ? (after.steal - before.steal) / total : 0;
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64 });

function get(base, target) {
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
const getJson = async (base, target) => JSON.parse((await get(base, target)).body);

function spawnTrue() {
  return new Promise((resolve) => {
    const child = spawn('/bin/bash', ['-c', 'true'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.resume();
    child.stderr.resume();
    child.once('close', resolve);
  });
}

/** Requests per second that `connections` keep-alive loops get from `target` in `ms`. */
async function loadTest(base, target, connections, ms) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  let done = 0;
  const until = performance.now() + ms;
  const loop = async () => {
    while (performance.now() < until) {
      await new Promise((resolve, reject) => {
        http
          .get(base + target, { agent }, (res) => {
            res.resume();
            res.on('end', resolve);
          })
          .on('error', reject);
      });
      done += 1;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: connections }, loop));
  agent.destroy();
  return done / ((performance.now() - t0) / 1000);
}

/** A bare node:http server in its own process answering `body` from memory. */
async function startFloorServer(body, contentType) {
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

const rows = [];
function report(name, value, floor, ratio, target, met, note = '') {
  rows.push({ name, value, floor, ratio, target, met, note });
  process.stderr.write(`${name}: ${value} (floor ${floor}) ratio ${ratio} ${met ? 'OK' : 'MISSED'}\n`);
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** Runs wrk (one thread, 32 connections) against `url` for `seconds`; returns the server's CPU µs per request. */
function wrkRound(pid, url, seconds) {
  const before = cpuSeconds(pid);
  const out = spawnSync('wrk', ['-t1', '-c32', `-d${seconds}s`, url], { encoding: 'utf8' });
  const after = cpuSeconds(pid);
  const requests = Number(/(\d+) requests in/.exec(out.stdout)?.[1]);
  if (!requests) throw new Error(`wrk failed: ${out.stdout}${out.stderr}`);
  return { cpuPerRequest: ((after - before) / requests) * 1e6, rate: requests / seconds };
}

const SETTLE_MS = 10;
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

async function turnaround() {
  // 600+ consecutive tickets in one session, each `true` submitted and answered in one GET,
  // paired with a bare spawn; judged on the last half, when the server has worked a while.
  const daemon = await startDaemon();
  const TICKETS = Number(process.env.BENCH_TICKETS ?? 640);
  const ratios = [];
  const ours = [];
  const floor = [];
  const ticksBefore = cpuTicks();
  for (let i = 0; i < TICKETS; i += 1) {
    // Each measured from a quiet machine, as an agent's commands come (a model thinks between
    // them): neither runs while the other's after-work (a reaped child, a shell started ahead)
    // still takes one of the two cores.
    await settle();
    let t = performance.now();
    await spawnTrue();
    const bare = performance.now() - t;
    await settle();
    t = performance.now();
    const answer = await getJson(daemon.base, daemon.url('shell', { session: 'turn', wait: 10, cmd: 'true', nonce: i }));
    const ms = performance.now() - t;
    if (answer.type !== 'result') throw new Error(`turnaround: no result: ${JSON.stringify(answer)}`);
    if (i >= TICKETS / 2) {
      ours.push(ms);
      floor.push(bare);
      ratios.push(ms / bare);
    }
  }
  const ratio = median(ours) / median(floor);
  const steal = stealShare(ticksBefore, cpuTicks());
  report(
    `1. turnaround: GET /shell?wait= for \`true\`, last ${ours.length} of ${TICKETS} tickets`,
    `${median(ours).toFixed(2)} ms`,
    `${median(floor).toFixed(2)} ms (spawn bash -c true)`,
    `${ratio.toFixed(2)}×`,
    '≤ 1.3×',
    ratio <= 1.3,
    `median of paired ratios ${median(ratios).toFixed(2)}×; host steal ${(steal * 100).toFixed(1)} %`,
  );
  await daemon.stop();
}

async function read() {
  const daemon = await startDaemon();
  const done = await getJson(daemon.base, daemon.url('shell', { session: 'read', wait: 10, cmd: 'seq 1 200' }));
  const target = daemon.url('callback', { session: 'read', ticket: done.ticket });
  const sample = await get(daemon.base, target);
  const floorServer = await startFloorServer(sample.body, 'application/json; charset=utf-8');
  // Interleaved rounds, each ratio taken against the floor measured just before it: the speed
  // of these shared machines drifts within a minute, and a paired ratio cancels it. wrk (C) is
  // the load generator, so the client is never the limit; CPU per request comes from /proc.
  wrkRound(daemon.pid, daemon.base + target, 1); // warm up
  wrkRound(floorServer.pid, floorServer.base + target, 1);
  const ours = [];
  const floor = [];
  const ratios = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    floor.push(wrkRound(floorServer.pid, floorServer.base + target, 2));
    ours.push(wrkRound(daemon.pid, daemon.base + target, 2));
    ratios.push(ours.at(-1).cpuPerRequest / floor.at(-1).cpuPerRequest);
  }
  const ratio = median(ratios);
  const us = (rounds) => median(rounds.map((r) => r.cpuPerRequest)).toFixed(1);
  const rate = (rounds) => median(rounds.map((r) => r.rate)).toFixed(0);
  report(
    '2. read: CPU per /callback of a finished ticket (wrk, 1 thread, 32 connections)',
    `${us(ours)} µs (${rate(ours)} req/s)`,
    `${us(floor)} µs (${rate(floor)} req/s, bare node:http, same bytes)`,
    `${ratio.toFixed(2)}×`,
    '≤ 1.5×',
    ratio <= 1.5,
  );
  await floorServer.stop();
  await daemon.stop();
}

async function scale() {
  // A session that already holds 5 000 finished tickets, written as the daemon writes them.
  const template = {
    type: undefined, ticket: 0, session: 'big', input: 'echo bench', timeout: 300, idle_timeout: null, nonce: null,
    submitted_at: new Date().toISOString(), status: 'done', started_at: new Date().toISOString(), finished_at: new Date().toISOString(),
    duration_ms: 3, exit_code: 0, signal: null, timeout_kind: null, output: 'bench\n', output_bytes: 6, truncated: false,
  };
  const daemon = await startDaemon({}, (sessionsDir) => {
    const dir = path.join(sessionsDir, 'big');
    fs.mkdirSync(dir, { recursive: true });
    for (let n = 1; n <= 5000; n += 1) fs.writeFileSync(path.join(dir, `${n}.ticket`), JSON.stringify({ ...template, ticket: n }, null, 1));
  });
  let counter = 0;
  const submit = async (session) => {
    counter += 1;
    const t = performance.now();
    const answer = await getJson(daemon.base, daemon.url('shell', { session, cmd: 'true', nonce: counter }));
    const ms = performance.now() - t;
    if (answer.type !== 'submission') throw new Error(`scale: ${JSON.stringify(answer)}`);
    return ms;
  };
  await submit('big'); // loads the session index once
  await submit('fresh');
  const big = [];
  const fresh = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    const a = [];
    const b = [];
    for (let i = 0; i < 20; i += 1) {
      a.push(await submit(`fresh${round}-${i}`));
      b.push(await submit('big'));
    }
    fresh.push(median(a));
    big.push(median(b));
  }
  const ratio = median(fresh) / median(big);
  report('3a. scale: submit in a session of 5 000 tickets', `${median(big).toFixed(2)} ms`, `${median(fresh).toFixed(2)} ms (fresh session)`, `${ratio.toFixed(2)}×`, '≥ 0.95×', ratio >= 0.95);
  // Let the queued `true`s drain, then time /history of the 5 000 (+ the ones just added).
  await getJson(daemon.base, daemon.url('callback', { session: 'big', ticket: 5000 + ROUNDS * 20 + 1, wait: 50 }));
  const times = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    const t = performance.now();
    const history = await get(daemon.base, daemon.url('history', { session: 'big' }));
    times.push(performance.now() - t);
    if (history.status !== 200) throw new Error('history failed');
  }
  report('3b. scale: /history of 5 000 tickets', `${median(times).toFixed(0)} ms`, '—', '—', '< 200 ms', median(times) < 200);
  await daemon.stop();
}

async function memory() {
  const daemon = await startDaemon();
  await getJson(daemon.base, daemon.url('shell', { session: 'mem', wait: 10, cmd: 'echo warm' }));
  const before = rssBytes(daemon.pid);
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssBytes(daemon.pid));
  }, 20);
  const submitted = await getJson(daemon.base, daemon.url('shell', { session: 'mem', cmd: 'head -c 1000000000 /dev/zero' }));
  let result;
  do result = await getJson(daemon.base, daemon.url('callback', { session: 'mem', ticket: submitted.ticket, wait: 50 }));
  while (result.type !== 'result');
  clearInterval(sampler);
  const growth = (peak - before) / 2 ** 20;
  const floorGrowth = (await bareReaderGrowth()) / 2 ** 20;
  report(
    '4a. memory: RSS growth while a ticket writes 1 GB',
    `${growth.toFixed(1)} MB`,
    `${floorGrowth.toFixed(1)} MB (bare Node reading the same pipe, discarding it)`,
    `${(growth / floorGrowth).toFixed(2)}×`,
    '< 50 MB',
    growth < 50,
    `output_bytes ${result.output_bytes}`,
  );
  await daemon.stop();

  const queued = await startDaemon({ MAX_CONCURRENCY: '1', MAX_QUEUE: '2000' });
  await getJson(queued.base, queued.url('shell', { session: 'blocker', cmd: 'sleep 600' }));
  const idle = rssBytes(queued.pid);
  for (let i = 0; i < 1000; i += 20) {
    await Promise.all(Array.from({ length: 20 }, (_, k) => getJson(queued.base, queued.url('shell', { session: `q${(i + k) % 50}`, cmd: `echo ${i + k}` }))));
  }
  const waiting = rssBytes(queued.pid);
  const growthQueued = (waiting - idle) / 2 ** 20;
  report('4b. memory: RSS growth with 1 000 tickets queued', `${growthQueued.toFixed(1)} MB`, `${(idle / 2 ** 20).toFixed(0)} MB idle RSS`, '—', '< 50 MB', growthQueued < 50);
  await queued.stop();
}

/** RSS growth of a bare Node process that reads 1 GB from a child's pipe and drops it. */
async function bareReaderGrowth() {
  const source = `
    const fs = require('node:fs');
    const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
    const before = rss(); let peak = before;
    const timer = setInterval(() => { peak = Math.max(peak, rss()); }, 20);
    const child = require('node:child_process').spawn('head', ['-c', '1000000000', '/dev/zero'], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.on('data', () => {});
    child.on('close', () => { clearInterval(timer); console.log(peak - before); });`;
  const proc = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  let printed = '';
  proc.stdout.on('data', (chunk) => (printed += chunk));
  await new Promise((resolve) => proc.once('close', resolve));
  return Number(printed.trim());
}

async function longPoll() {
  const daemon = await startDaemon();
  const delays = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    const samples = [];
    for (let i = 0; i < 10; i += 1) {
      const submitted = await getJson(daemon.base, daemon.url('shell', { session: 'lp', cmd: 'sleep 0.2' }));
      const answer = await getJson(daemon.base, daemon.url('callback', { session: 'lp', ticket: submitted.ticket, wait: 10 }));
      samples.push(Date.now() - Date.parse(answer.finished_at));
    }
    delays.push(median(samples));
  }
  report('5. long-poll: ticket finished → waiting /callback answered', `${median(delays).toFixed(1)} ms`, '— (ms clock)', '—', '< 5 ms', median(delays) < 5);
  await daemon.stop();
}

async function main() {
  const figures = { turnaround, read, scale, memory, longPoll };
  const only = process.argv.slice(2);
  for (const [name, figure] of Object.entries(figures)) {
    if (only.length > 0 && !only.includes(name)) continue;
    await figure();
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`\nMachine: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.type()} ${os.release()}`);
  console.log(`Command: npm run bench (BENCH_ROUNDS=${ROUNDS}); each figure is the median of ${ROUNDS} rounds.\n`);
  console.log('| figure | LLMASS | floor | ratio | target | met |');
  console.log('|---|---|---|---|---|---|');
  for (const row of rows) console.log(`| ${row.name} | ${row.value} | ${row.floor} | ${row.ratio} | ${row.target} | ${row.met ? 'yes' : 'no'}${row.note ? ` (${row.note})` : ''} |`);
  const missed = rows.filter((row) => !row.met);
  if (missed.length > 0) {
    console.log(`\nMissed: ${missed.map((row) => row.name).join('; ')}`);
    process.exitCode = 1;
  }
}

try {
  await main();
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  keepAlive.destroy();
}
