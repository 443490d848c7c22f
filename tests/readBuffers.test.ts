// The collection that frees output read buffers (readBuffers.ts): when it runs, and that V8's
// `gc` is made available to it alone.
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ReadBuffers, youngCollection } from '../src/readBuffers.js';

describe('ReadBuffers', () => {
  it('collects once per `everyBytes` of output read, over any chunk sizes', () => {
    let collections = 0;
    const buffers = new ReadBuffers(() => (collections += 1), 100);
    buffers.read(60);
    expect(collections).toBe(0);
    buffers.read(40);
    expect(collections).toBe(1);
    for (let i = 0; i < 10; i += 1) buffers.read(30);
    expect(collections).toBe(3);
    buffers.read(1000);
    expect(collections).toBe(4);
  });

  it('reads on without collecting where V8 gives no collection', () => {
    const buffers = new ReadBuffers(undefined, 10);
    expect(() => buffers.read(100)).not.toThrow();
  });
});

describe('youngCollection', () => {
  it('is a working collection, and leaves gc unexposed to contexts made later', () => {
    const collect = youngCollection();
    expect(typeof collect).toBe('function');
    expect(() => collect?.()).not.toThrow();
    expect(vm.runInNewContext('typeof gc')).toBe('undefined');
  });
});
