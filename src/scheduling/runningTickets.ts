// Running tickets, from start to stored end: starts a queued ticket's command with its output
// spooled (in the session's shell started ahead, shellsAhead.ts, or in a new one), answers what
// it has printed so far, and when it ends builds its final record, has finisher.ts store it,
// keeps the session's shell state, and frees the session. Until the final record is on disk the
// ticket counts as running, with a note saying why.
import type { Config } from '../config/config.js';
import { errorCode, isDiskFull } from '../storage/safeFiles.js';
import { ticketKey, type Finisher } from './finisher.js';
import { OutputSpool } from '../storage/spool.js';
import { OutputCollector } from '../storage/outputCollector.js';
import type { CollectedOutput, OutputPlan } from '../protocol/outputParts.js';
import type { FinishedTicket, QueuedTicket, RunningTicket } from '../protocol/types.js';
import type { Waiting } from './queue.js';
import { endingRecord } from './endings.js';
import type { LiveTicket, Run, StopResult } from './runState.js';
import { OutputWatch } from './outputWatch.js';
import { TicketTerminal } from './ticketTerminal.js';
import { TerminalOutput } from '../running/terminal.js';
import { withHalfTheOutput } from '../storage/recordFit.js';
import type { Redactor } from '../logging/redact.js';
import { ProcessTracking, type TicketProcesses } from '../running/processTracking.js';
import { runCommand, type RunOutcome, type RunningCommand } from '../running/shellProcess.js';
import { goMessage } from '../running/prelude.js';
import type { NextShells } from './nextShells.js';
import type { Leftovers } from './leftovers.js';
import { MAX_STATE_BYTES, type ShellStates } from '../running/shellState.js';
import { raceTimeout } from '../running/timeLimit.js';
import type { TicketStore } from '../storage/ticketStore.js';
import { collectText } from '../storage/outputCollector.js';

export interface RunningTicketsDeps {
  readonly config: Config;
  /** The shells tickets start in. */
  readonly next: NextShells;
  readonly store: TicketStore;
  readonly shells: ShellStates;
  readonly redactor: Redactor;
  readonly finisher: Finisher;
  readonly leftovers: Leftovers;
  /** The name of the session's command user ('' for the server's own). */
  readonly userOf: (session: string) => string;
  /** The session's ticket's shell has exited, its state kept: the session's next shell may be started. */
  readonly onShellExited: (session: string) => void;
  /** The session's ticket has finished (or never started): its next one may start. */
  readonly onSessionFree: (session: string) => void;
  /** A ticket ended `error` because its command never started: commands may not be able to run. */
  readonly onNeverStarted: (reason: string) => void;
  readonly onError: (message: string, error: unknown) => void;
}

export class RunningTickets {
  private readonly runs = new Map<string, Run>();

  constructor(private readonly deps: RunningTicketsDeps) {}

  get count(): number {
    return this.runs.size;
  }

  has(session: string, ticket: number): boolean {
    return this.runs.has(ticketKey(session, ticket));
  }

  live(session: string, ticket: number, plan: OutputPlan): LiveTicket | undefined {
    const run = this.runs.get(ticketKey(session, ticket));
    if (run === undefined) return undefined;
    let output: CollectedOutput;
    if (run.ending !== undefined) output = collectText(run.ending.output, plan);
    else {
      const collector = new OutputCollector(plan);
      run.spool.feed(collector);
      output = collector.result();
    }
    return {
      meta: run.record,
      output,
      outputBytes: run.spool.total,
      truncated: run.ending?.truncated ?? run.spool.truncated,
      outputDropped: run.ending?.output_dropped_bytes ?? run.spool.dropped,
      background: [],
      storeProblem: run.storeProblem,
      ...(run.terminal === undefined ? {} : { terminal: { stdinWrites: run.terminal.stdinWrites, quietMs: Math.max(0, Date.now() - run.watch.lastAt) } }),
    };
  }

  /** A running ticket's output watch and terminal; undefined when it is not running here. */
  running(session: string, ticket: number): { readonly watch: OutputWatch; readonly terminal: TicketTerminal | undefined; readonly ended: boolean } | undefined {
    const run = this.runs.get(ticketKey(session, ticket));
    return run === undefined ? undefined : { watch: run.watch, terminal: run.terminal, ended: run.command.exited || run.ending !== undefined };
  }

  /** Removes the record files made ahead, once no ticket can start or finish any more (shutdown). */
  dropPreparedFiles(): Promise<void> {
    return this.deps.store.dropPrepared();
  }

  start(entry: Waiting): void {
    const queued = entry.record;
    const { session, ticket } = queued;
    const startedAt = new Date();
    const spool = new OutputSpool(this.deps.store.layout.spoolFile(session, ticket), this.deps.config.maxOutputBytes, this.deps.redactor);
    const trackingId = queued.process_marker ?? ProcessTracking.newId();
    let command: RunningCommand;
    let processes: TicketProcesses | undefined;
    const watch = new OutputWatch(spool);
    let terminal: TicketTerminal | undefined;
    void this.deps.leftovers.makeRoom(this.deps.userOf(session));
    try {
      const ready = this.deps.next.shellFor(entry, trackingId);
      processes = ready.shell.processes;
      if (ready.note !== undefined) spool.append(Buffer.from(ready.note, 'utf8'));
      if (queued.tty !== null && ready.shell.child.stdin !== null) {
        const output = new TerminalOutput(watch, queued.tty);
        terminal = new TicketTerminal(output, ready.shell.child.stdin);
      }
      command = runCommand(ready.shell, {
        go: goMessage(this.deps.shells.usesPrelude ? entry.command : ''),
        timeoutMs: queued.timeout * 1000,
        idleTimeoutMs: queued.idle_timeout === null ? null : queued.idle_timeout * 1000,
        spool: terminal?.output ?? watch,
        maxStateBytes: MAX_STATE_BYTES,
        announces: this.deps.shells.usesPrelude,
      });
    } catch (error) {
      terminal?.close();
      void this.finish(queued, startedAt, { kind: 'failed', message: `could not start the command: ${String(error)}` }, spool, processes);
      return;
    }
    const tracked = processes;
    this.deps.store.prepareNextWrite(session, ticket);
    if (command.pid === undefined) {
      void command.outcome.then((outcome) => this.finish(queued, startedAt, outcome, spool, tracked));
      return;
    }
    const record: RunningTicket = {
      ...queued,
      status: 'running',
      started_at: startedAt.toISOString(),
      process_group: command.pid,
      process_started: command.startedTicks,
    };
    // Kept in memory only: the disk keeps `queued` (with the tracking id) until the final
    // record, one file fewer per ticket. A restart after a crash ends the ticket's processes by
    // that id and marks it interrupted, as it would a running record.
    let firstWritten: (stored: boolean) => void = () => undefined;
    const firstWrite = new Promise<boolean>((resolve) => (firstWritten = resolve));
    const run: Run = {
      record,
      spool,
      command,
      watch,
      terminal,
      firstWrite,
      storeProblem: null,
      ending: undefined,
      finished: command.outcome.then((outcome) => this.finish(queued, startedAt, outcome, spool, tracked, run, firstWritten)),
    };
    this.runs.set(ticketKey(session, ticket), run);
  }

  private async finish(
    queued: QueuedTicket,
    startedAt: Date,
    outcome: RunOutcome,
    spool: OutputSpool,
    processes: TicketProcesses | undefined,
    run?: Run,
    firstWritten?: (stored: boolean) => void,
  ): Promise<FinishedTicket | undefined> {
    const { session, ticket } = queued;
    if (outcome.kind === 'exited' || outcome.kind === 'stopped') {
      // Its shell has exited: the state it left is kept now, and the session's next shell started
      // from it (in the spawner) while this record is stored and answered.
      try {
        this.deps.shells.capture(session, outcome.state);
      } catch (error) {
        this.deps.onError('keeping the shell state failed', error);
      }
      this.deps.onShellExited(session);
    }
    // A terminal's last screen is kept in the record: /screen shows it once the ticket has ended.
    const screen = run?.terminal === undefined ? null : await run.terminal.screen();
    run?.terminal?.close();
    const record = endingRecord(queued, startedAt, outcome, spool, this.deps.config, { screen, stdinWrites: run?.terminal?.stdinWrites ?? 0 }, processes?.oomKilled?.() ?? false);
    if (run !== undefined) run.ending = record;
    // On a full disk the ticket's own room comes first: its spool, whose output the record holds.
    let spoolFreed = false;
    const fit = (tried: FinishedTicket): FinishedTicket | undefined => {
      if (spoolFreed) {
        const smaller = withHalfTheOutput(tried);
        if (run !== undefined && smaller !== undefined) run.ending = smaller;
        return smaller;
      }
      spoolFreed = true;
      spool.remove();
      return tried;
    };
    const stored = await this.deps.finisher.store(
      record,
      (error) => {
        if (run !== undefined && run.storeProblem === null) {
          run.storeProblem = isDiskFull(error) ? 'the sessions disk is full' : `writing failed: ${errorCode(error)}`;
          firstWritten?.(false);
        }
      },
      fit,
    );
    firstWritten?.(stored !== undefined);
    this.runs.delete(ticketKey(session, ticket));
    if (stored === undefined) {
      // Given up at shutdown: the spool stays for the next start's recovery.
      processes?.release();
      spool.close();
      return undefined;
    }
    spool.remove();
    this.deps.finisher.announce(stored);
    if (outcome.kind === 'never-started' && record.reason !== null) this.deps.onNeverStarted(record.reason);
    // The ticket's cgroup is removed once the waiters have answered (the next turn of the event
    // loop), and before the session is free to start its next command.
    await new Promise((resolve) => setImmediate(resolve));
    // Empty unless the command left processes in the background: the sweep takes it later;
    // what it left is kept track of, and ended if it holds its user's process limit.
    processes?.release();
    await this.deps.leftovers.afterFinish(stored, processes, this.deps.userOf(session));
    this.deps.onSessionFree(session);
    return stored;
  }

  /** Stops a running ticket's command and returns once it has ended (and, if it could be, was stored). */
  async stop(session: string, ticket: number, reason: 'canceled' | 'interrupted'): Promise<StopResult | undefined> {
    const run = this.runs.get(ticketKey(session, ticket));
    if (run === undefined) return undefined;
    const wasRunning = !run.command.exited;
    run.command.stop(reason);
    await run.command.outcome;
    if (!(await run.firstWrite)) return 'storing';
    const record = await run.finished;
    return wasRunning && record?.status === reason ? 'stopped' : 'had-ended';
  }

  /**
   * Shutdown: running commands get `graceMs` to finish, then their groups are stopped; a final
   * record that cannot be stored (a full disk) gets a few seconds more, then is left to recovery.
   */
  async stopAll(graceMs: number): Promise<void> {
    const runs = [...this.runs.values()];
    if (runs.length === 0) return;
    const finishing = Promise.all(runs.map((run) => run.finished));
    await raceTimeout(finishing, graceMs);
    for (const run of runs) run.command.stop('interrupted');
    await Promise.all(runs.map((run) => run.command.outcome));
    await raceTimeout(finishing, 3000);
    this.deps.finisher.abandon();
    await finishing;
  }
}
