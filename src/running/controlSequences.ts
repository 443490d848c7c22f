// What a terminal program prints, as text to store: escape sequences (CSI, OSC, and the other
// ESC sequences) and BEL removed, `\r\n` read as `\n`, the rest kept. Byte by byte, so that a
// sequence split across chunks is still removed whole. The screen is the emulator's job
// (terminal.ts); this only keeps the stored output readable.
const ESC = 0x1b;
const BEL = 0x07;
const CR = 0x0d;
const LF = 0x0a;

type State = 'text' | 'escape' | 'csi' | 'string' | 'string-escape' | 'cr';

export class ControlSequenceStripper {
  private state: State = 'text';

  /** The text of `chunk`, with what is left of a sequence at its end kept for the next one. */
  strip(chunk: Buffer): Buffer {
    // At most one byte more than the chunk: a CR held back from the one before.
    const out = Buffer.allocUnsafe(chunk.length + 1);
    let n = 0;
    for (const byte of chunk) {
      if (this.state === 'cr') {
        // A CR is kept unless a LF follows it (\r\n is \n); the byte after it is text.
        this.state = 'text';
        if (byte !== LF) out[n++] = CR;
      }
      switch (this.state) {
        case 'text':
          if (byte === ESC) this.state = 'escape';
          else if (byte === CR) this.state = 'cr';
          else if (byte !== BEL) out[n++] = byte;
          break;
        case 'escape':
          // ESC [ : a control sequence; ESC ] P X ^ _ : a string up to BEL or ESC \; else two bytes.
          if (byte === 0x5b) this.state = 'csi';
          else if (byte === 0x5d || byte === 0x50 || byte === 0x58 || byte === 0x5e || byte === 0x5f) this.state = 'string';
          else this.state = 'text';
          break;
        case 'csi':
          if (byte >= 0x40 && byte <= 0x7e) this.state = 'text';
          break;
        case 'string':
          if (byte === BEL) this.state = 'text';
          else if (byte === ESC) this.state = 'string-escape';
          break;
        case 'string-escape':
          this.state = byte === 0x5c ? 'text' : 'string';
          break;
      }
    }
    return out.subarray(0, n);
  }

  /** The end of the output: a CR held back is text after all. */
  end(): Buffer {
    const held = this.state === 'cr' ? Buffer.from([CR]) : Buffer.alloc(0);
    this.state = 'text';
    return held;
  }
}
