// A tty=1 command's output: the raw bytes go to a terminal emulator (@xterm/headless, the
// emulator of xterm.js without its renderer), whose screen /screen shows; their text, control
// sequences removed, goes to the spool that becomes the stored output. The emulator keeps no
// scrollback: memory stays one screen whatever the program prints.
import xterm from '@xterm/headless';
import type { Screen, TerminalSize } from '../protocol/types.js';
import { ControlSequenceStripper } from './controlSequences.js';
import type { OutputSink } from './outputPipes.js';

export class TerminalOutput implements OutputSink {
  private readonly emulator: xterm.Terminal;
  private readonly stripper = new ControlSequenceStripper();

  constructor(
    private readonly spool: OutputSink,
    readonly size: TerminalSize,
  ) {
    this.emulator = new xterm.Terminal({ cols: size.cols, rows: size.rows, scrollback: 0, allowProposedApi: true });
  }

  append(chunk: Buffer): void {
    this.emulator.write(chunk);
    const text = this.stripper.strip(chunk);
    if (text.length > 0) this.spool.append(text);
  }

  endInput(): void {
    const held = this.stripper.end();
    if (held.length > 0) this.spool.append(held);
    this.spool.endInput();
  }

  /** The screen as it stands once what was written so far is rendered. */
  screen(): Promise<Screen> {
    // The emulator parses writes asynchronously: an empty write's callback comes after them all.
    return new Promise((resolve) => this.emulator.write('', () => resolve(this.render())));
  }

  private render(): Screen {
    const buffer = this.emulator.buffer.active;
    const lines: string[] = [];
    for (let row = 0; row < this.size.rows; row += 1) lines.push(buffer.getLine(buffer.viewportY + row)?.translateToString(true) ?? '');
    return { cols: this.size.cols, rows: this.size.rows, cursor: { row: buffer.cursorY, col: buffer.cursorX }, lines };
  }

  dispose(): void {
    this.emulator.dispose();
  }
}
