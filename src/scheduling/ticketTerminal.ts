// A running tty=1 ticket's terminal, as the scheduler holds it: the emulator's screen, the
// numbered writes to its input (stdinWrites.ts), and the input itself (script's stdin, which it
// relays to the terminal). Ctrl-D is the terminal's end-of-file: eof=1 sends it.
import type { Writable } from 'node:stream';
import type { Screen } from '../protocol/types.js';
import type { TerminalOutput } from '../running/terminal.js';
import { StdinWrites, type WriteDecision } from './stdinWrites.js';

const CTRL_D = Buffer.from([0x04]);

export class TicketTerminal {
  private readonly writes = new StdinWrites();

  constructor(
    readonly output: TerminalOutput,
    private readonly input: Writable,
  ) {}

  get stdinWrites(): number {
    return this.writes.count;
  }

  /** Write `n`: typed once (its text, then Ctrl-D with eof), or refused as the decision says. */
  write(n: number, text: Buffer, eof: boolean): WriteDecision {
    const decision = this.writes.decide(n, text, eof);
    if (decision.kind !== 'accept') return decision;
    if (text.length > 0) this.input.write(text);
    if (eof) this.input.write(CTRL_D);
    return decision;
  }

  screen(): Promise<Screen> {
    return this.output.screen();
  }

  /** The program has ended: its input closes, the emulator goes. */
  close(): void {
    this.input.end();
    this.output.dispose();
  }
}
