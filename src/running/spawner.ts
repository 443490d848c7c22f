// The server's side of the spawner process (spawnerProcess.cjs): shells started ahead are forked
// there, off the server's event loop, and arrive here as their PID and three pipes. A shell made
// there looks to the runner like a child of ours (SpawnedShell: the same pid, pipes, exit codes
// and 'exit' event), except that it has no stdin (a shell on a terminal is started here, as a
// session's first command is: spawnShell) and that its exit may be lost: if the spawner ends,
// nobody is left to see its shells exit, so they are KILLed and reported `lost`.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { GroupJoin } from './groupJoins.js';
import { signalGroup } from './processGroups.js';
import { raceTimeout } from './timeLimit.js';

/** What the spawner starts: the same as a local spawn is given. */
export interface SpawnRequest {
  readonly program: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The groups the spawner moves the shell into before handing it over (groupJoins.ts). */
  readonly joins?: readonly GroupJoin[];
}

/** Why a shell made by the spawner ended without its exit being seen. */
export const SPAWNER_ENDED = "the server's spawner process, which started this command's shell, ended";

/** A shell the spawner started: its PID and pipes, and its exit as the spawner saw it. */
export class SpawnedShell extends EventEmitter {
  readonly stdin = null;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  /** Set when the shell's exit could not be seen (the spawner ended): it was KILLed then. */
  lost: string | undefined = undefined;

  constructor(
    readonly pid: number,
    // As a ChildProcess's: stdin (none here), stdout, stderr, fd 3, and no fd 4.
    readonly stdio: [null, Socket, Socket, Socket, undefined],
    /** Why the spawner could not move it into its groups (the request's joins), or null once it did. */
    readonly refused: string | null,
  ) {
    super();
  }

  get stdout(): Socket {
    return this.stdio[1];
  }

  get stderr(): Socket {
    return this.stdio[2];
  }

  ended(code: number | null, signal: NodeJS.Signals | null, lost?: string): void {
    if (this.exitCode !== null || this.signalCode !== null) return;
    this.exitCode = code;
    this.signalCode = signal;
    this.lost = lost;
    this.emit('exit', code, signal);
  }
}

interface Pending {
  readonly pipes: Socket[];
  readonly resolve: (shell: SpawnedShell) => void;
  readonly reject: (error: Error) => void;
}

type SpawnerMessage =
  | { id: number; kind: 'pipe'; fd: 1 | 2 | 3 }
  | { id: number; kind: 'started'; pid: number; refused: string | null }
  | { id: number; kind: 'exit'; code: number | null; signal: NodeJS.Signals | null }
  | { id: number; kind: 'failed'; message: string };

const SPAWNER_FILE = new URL('./spawnerProcess.cjs', import.meta.url);
/** How long close() waits for the spawner to exit. */
const CLOSE_WAIT_MS = 3000;

export class Spawner {
  private process: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly started = new Map<number, SpawnedShell>();
  /** Spawner processes started: 1 in a server whose spawner never ended. */
  starts = 0;

  /** The spawner's PID, once it runs. */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Starts a shell in the spawner (started first if it is not running). */
  spawn(request: SpawnRequest): Promise<SpawnedShell> {
    const spawner = this.running();
    const id = this.nextId++;
    return new Promise<SpawnedShell>((resolve, reject) => {
      this.pending.set(id, { pipes: [], resolve, reject });
      spawner.channel?.ref();
      spawner.send({ kind: 'spawn', id, ...request }, (error) => {
        if (error !== null) this.fail(id, `could not reach the spawner process: ${error.message}`);
      });
    });
  }

  /** Ends the spawner (shutdown, after the shells it started have been ended); resolves once it has exited. */
  async close(): Promise<void> {
    const spawner = this.process;
    if (spawner === undefined) return;
    const exited = new Promise((resolve) => spawner.once('exit', resolve));
    if (spawner.connected) spawner.disconnect();
    await raceTimeout(exited, CLOSE_WAIT_MS);
  }

  private running(): ChildProcess {
    if (this.process !== undefined) return this.process;
    // No flags of ours (a profiler, a test loader) and no environment: it needs neither, and the
    // shells it starts are given theirs.
    const spawner = fork(SPAWNER_FILE, [String(process.pid)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [], env: {} });
    this.starts += 1;
    spawner.unref();
    spawner.on('message', (message: SpawnerMessage, handle: unknown) => this.received(message, handle));
    spawner.on('error', () => undefined);
    spawner.once('exit', () => this.ended(spawner));
    this.process = spawner;
    return spawner;
  }

  private received(message: SpawnerMessage, handle: unknown): void {
    if (message.kind === 'exit') {
      const shell = this.started.get(message.id);
      this.started.delete(message.id);
      shell?.ended(message.code, message.signal);
      return;
    }
    const pending = this.pending.get(message.id);
    if (pending === undefined) return;
    if (message.kind === 'pipe') pending.pipes[message.fd] = handle as Socket;
    else if (message.kind === 'failed') this.fail(message.id, message.message);
    else {
      this.settle(message.id);
      const [, stdout, stderr, control] = pending.pipes;
      if (stdout === undefined || stderr === undefined || control === undefined) {
        signalGroup(message.pid, 'SIGKILL');
        pending.reject(new Error('the spawner process did not hand over the shell’s pipes'));
        return;
      }
      // A spawner that said nothing of the groups is not taken at its word: the shell is killed.
      const refused = message.refused === null || typeof message.refused === 'string' ? message.refused : 'the spawner process did not say whether it moved the shell into its groups';
      const shell = new SpawnedShell(message.pid, [null, stdout, stderr, control, undefined], refused);
      this.started.set(message.id, shell);
      pending.resolve(shell);
    }
  }

  private fail(id: number, message: string): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.settle(id);
    for (const pipe of pending.pipes) pipe?.destroy();
    pending.reject(new Error(message));
  }

  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.process?.channel?.unref();
  }

  /** The spawner ended: what it was starting failed, and what it started is ended (its exit would not be seen). */
  private ended(spawner: ChildProcess): void {
    if (this.process === spawner) this.process = undefined;
    for (const id of [...this.pending.keys()]) this.fail(id, SPAWNER_ENDED);
    for (const shell of this.started.values()) {
      signalGroup(shell.pid, 'SIGKILL');
      shell.ended(null, 'SIGKILL', SPAWNER_ENDED);
    }
    this.started.clear();
  }
}
