// The ticket figures of scripts/bench.mjs (2, 3 and 4), each interleaved with its floor, for any
// server: `ticket(session, nonce)` submits `true` with wait and resolves with the ms it took
// (timedTicket). Shared with scripts/benchCeiling.mjs, so that the ceiling server is measured as
// the daemon is.
import { median, serverCpu, sleep, spawnFloor } from './benchTools.mjs';

/** `ticket` for the figures: times `submit(session, nonce)`, whose answer must be a `done` result. */
export function timedTicket(submit) {
  return async (session, nonce) => {
    const t = performance.now();
    const answer = await submit(session, nonce);
    const ms = performance.now() - t;
    if (answer.type !== 'result' || answer.status !== 'done') throw new Error(`no result: ${JSON.stringify(answer)}`);
    return ms;
  };
}

/**
 * Figure 2: `total` tickets in one session, each sent the moment the last answer came; in blocks
 * of `block`, each after as many bare spawns back to back in a fresh process. The last half counts.
 */
export async function backToBack(ticket, { total = 400, block = 50 } = {}) {
  const ours = [];
  const floor = [];
  for (let done = 0; done < total; done += block) {
    const bare = await spawnFloor({ count: block });
    const times = [];
    for (let i = 0; i < block; i += 1) times.push(await ticket('b2b', String(done + i)));
    if (done >= total / 2) {
      ours.push(...times);
      floor.push(...bare.times);
    }
  }
  return { ours, floor, ratio: median(ours) / median(floor) };
}

/** Figure 3: `count` tickets, each `pauseMs` after the last result; the floor is paced alike. */
export async function agentPaced(ticket, { count = 60, pauseMs = 150, label = 'run' } = {}) {
  const ours = [];
  const floor = [];
  for (let done = 0; done < count; done += 20) {
    floor.push(...(await spawnFloor({ count: 20, pauseMs })).times);
    for (let i = 0; i < 20; i += 1) {
      await sleep(pauseMs);
      ours.push(await ticket('paced', `${label}-${done + i}`));
    }
  }
  return { ours, floor, ratio: median(ours) / median(floor) };
}

/**
 * Figure 4: four sessions at once, each back to back, `each` tickets a round, against four bare
 * spawn loops in one process: tickets per second, and the CPU per ticket of the processes
 * `pidsOf()` names (read after each session's first ticket). `generator`: the busiest round's
 * share of a core taken by this process, the load generator.
 */
export async function fourSessions(ticket, pidsOf, { each = 100, rounds = 3 } = {}) {
  for (let s = 0; s < 4; s += 1) await ticket(`four${s}`, 'warm'); // each session's first shell
  const pids = await pidsOf();
  const ours = [];
  const floor = [];
  let generator = 0;
  for (let round = 0; round < rounds; round += 1) {
    const bare = await spawnFloor({ loops: 4, count: each });
    floor.push({ rate: (4 * each) / (bare.wallMs / 1000), cpu: bare.cpuSeconds / (4 * each) });
    const cpuBefore = serverCpu(pids);
    const ownBefore = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 4 }, async (_, s) => {
      for (let i = 0; i < each; i += 1) await ticket(`four${s}`, `${round}-${i}`);
    }));
    const wall = (performance.now() - t0) / 1000;
    const own = process.cpuUsage(ownBefore);
    generator = Math.max(generator, (own.user + own.system) / 1e6 / wall);
    ours.push({ rate: (4 * each) / wall, cpu: (serverCpu(pids) - cpuBefore) / (4 * each) });
  }
  const rate = (runs) => median(runs.map((r) => r.rate));
  const cpuMs = (runs) => median(runs.map((r) => r.cpu)) * 1000;
  return {
    rate: { ours: rate(ours), floor: rate(floor), ratio: rate(ours) / rate(floor) },
    cpu: { ours: cpuMs(ours), floor: cpuMs(floor), ratio: cpuMs(ours) / cpuMs(floor) },
    generator,
  };
}
