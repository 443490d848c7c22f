// The streaming record reader against JSON.parse: same fields, same output bytes, whatever the
// chunking; and every kind of damage refused with a problem that quotes nothing of the file.
import { describe, expect, it } from 'vitest';
import { RecordParser } from '../src/storage/recordParser.js';
import { DamagedRecord } from '../src/storage/recordFields.js';

class Bytes {
  parts: Buffer[] = [];
  push(bytes: Buffer): void {
    this.parts.push(bytes);
  }
  get all(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** A deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

const PIECES = ['a', 'é', '€', '😀', '\n', '\t', '"', '\\', '\u0000', '\u001f', '\ud800', '\udc00', 'x\ud83d', '/', '\u2028', ' '];

function randomText(next: () => number, length: number): string {
  let text = '';
  for (let i = 0; i < length; i += 1) text += PIECES[Math.floor(next() * PIECES.length)];
  return text;
}

function parseInChunks(json: string | Buffer, cuts: number[]): { fields: Record<string, unknown>; output: Buffer } {
  const bytes = typeof json === 'string' ? Buffer.from(json) : json;
  const sink = new Bytes();
  const parser = new RecordParser('output', sink);
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    parser.feed(bytes.subarray(from, cut));
    from = cut;
  }
  return { fields: parser.end(), output: sink.all };
}

describe('RecordParser', () => {
  it('decodes what JSON.parse decodes, cut into chunks anywhere', () => {
    const next = random(7);
    for (let round = 0; round < 300; round += 1) {
      const output = randomText(next, Math.floor(next() * 200));
      const record = { ticket: 3, session: 's', input: randomText(next, 20), nonce: null, truncated: round % 2 === 0, output, output_bytes: 12 };
      const json = JSON.stringify(record, null, round % 3);
      const bytes = Buffer.from(json);
      const cuts = [...new Set(Array.from({ length: 4 }, () => Math.floor(next() * bytes.length)))].sort((a, b) => a - b);
      const { fields, output: decoded } = parseInChunks(bytes, cuts);
      const expected = JSON.parse(json);
      expect(decoded.equals(Buffer.from(expected.output, 'utf8'))).toBe(true);
      delete expected.output;
      expect(fields).toEqual({ ...expected, input: Buffer.from(expected.input).toString() });
    }
  });

  it('reads a short list of objects as a value, brackets inside its strings included', () => {
    const background = [{ pid: 12, started: 99, command: 'python3 -m http.server ]} "[{' }];
    const json = JSON.stringify({ ticket: 1, background, output: 'x' });
    for (let cut = 0; cut <= json.length; cut += 5) expect(parseInChunks(json, [cut]).fields.background).toEqual(background);
  });

  it('combines an escaped surrogate pair split across chunks, and turns lone surrogates into U+FFFD', () => {
    const json = '{"output":"a\\ud83d\\ude00b\\ud800c\\udc00"}';
    for (let cut = 0; cut <= json.length; cut += 1) {
      expect(parseInChunks(json, [cut]).output.toString()).toBe('a😀b\ufffdc\ufffd');
    }
  });

  it('streams a large output in pieces without holding the record', () => {
    const output = 'line\n'.repeat(400_000);
    const sink = new Bytes();
    const parser = new RecordParser('output', sink);
    const bytes = Buffer.from(JSON.stringify({ ticket: 1, output }));
    for (let i = 0; i < bytes.length; i += 65536) parser.feed(bytes.subarray(i, i + 65536));
    parser.end();
    expect(sink.parts.length).toBeGreaterThan(10);
    expect(sink.all.toString()).toBe(output);
  });

  const damaged: Array<[string, string, RegExp]> = [
    ['empty', '', /cut short/],
    ['truncated', '{"ticket":1,"output":"abc', /cut short/],
    ['an array', '[1,2]', /not a JSON object/],
    ['/etc/passwd', 'root:x:0:0:root:/root:/bin/bash\n', /not a JSON object/],
    ['an unclosed list', '{"background":[{"pid":1}', /cut short/],
    ['a broken list', '{"background":[{"pid":1]}', /not valid JSON/],
    ['a list as output', '{"output":["a"]}', /not a string/],
    ['a duplicate field', '{"ticket":1,"ticket":2}', /twice/],
    ['a duplicate output', '{"output":"a","output":"b"}', /twice/],
    ['a raw control character', '{"output":"a\u0001"}', /control/],
    ['a bad escape', '{"output":"\\q"}', /escape/],
    ['trailing bytes', '{"ticket":1} root:x:0:0', /more after/],
    ['a bad literal', '{"ticket":tru}', /not valid JSON/],
    ['a non-string output', '{"output":12}', /not a string/],
  ];
  for (const [name, text, problem] of damaged) {
    it(`refuses ${name}, naming the problem and quoting nothing`, () => {
      let error: unknown;
      try {
        parseInChunks(text, []);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(DamagedRecord);
      expect((error as Error).message).toMatch(problem);
      expect((error as Error).message).not.toContain('root');
    });
  }
});
