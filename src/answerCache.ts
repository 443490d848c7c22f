// Serialized answers of finished tickets. A finished ticket with nothing left running in the
// background never changes, so its /callback
// answer to one asker is the same bytes for as long as the token in its ready URL is reused
// (TokenCache, a minute): those bytes are kept and sent again without reading the record,
// building the view or serializing it. Emptied when the keys change; bounded, oldest first.
export class AnswerCache {
  private readonly entries = new Map<string, { body: string; at: number }>();

  constructor(
    private readonly reuseMs = 60_000,
    private readonly max = 2000,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (this.now() - entry.at >= this.reuseMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.body;
  }

  set(key: string, body: string): void {
    this.entries.delete(key);
    this.entries.set(key, { body, at: this.now() });
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
