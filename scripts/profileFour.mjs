// Scratch: profile the daemon under four sessions back to back.
import http from 'node:http';
import fs from 'node:fs';
import { startDaemon } from './daemon.mjs';
import { serverPids, cpuSeconds } from './benchTools.mjs';
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
function getJson(base, p) {
  return new Promise((resolve, reject) => {
    http.get(base + p, { agent }, (res) => { let b = ''; res.setEncoding('utf8'); res.on('data', (c) => (b += c)); res.on('end', () => resolve(JSON.parse(b))); }).on('error', reject);
  });
}
const daemon = await startDaemon({ nodeArgs: process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : [] });
const t = (s, n) => getJson(daemon.base, daemon.url('shell', { session: s, wait: 10, cmd: 'true', nonce: n }));
for (let s = 0; s < 4; s++) await t(`f${s}`, 'w');
const pids = serverPids(daemon.pid);
const before = pids.map(cpuSeconds);
const t0 = performance.now();
const N = Number(process.env.N ?? 150);
await Promise.all([0, 1, 2, 3].map(async (s) => { for (let i = 0; i < N; i++) { const a = await t(`f${s}`, String(i)); if (a.status !== 'done') throw new Error(JSON.stringify(a)); } }));
const wall = performance.now() - t0;
const after = pids.map(cpuSeconds);
console.log('tickets/s', (4 * N / wall * 1000).toFixed(0), 'cpu ms/ticket', pids.map((p, i) => `${p}:${((after[i] - before[i]) * 1000 / (4 * N)).toFixed(2)}`).join(' '));
const m = await new Promise((resolve) => http.get(daemon.base + daemon.url('metrics'), { agent }, (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => resolve(b)); }));
console.log(m.split('\n').filter((l) => l.startsWith('llmass_ready')).join('\n'));
await daemon.stop();
agent.destroy();
