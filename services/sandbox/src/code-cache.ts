/**
 * Tool code by content hash, least recently used first out, bounded by the bytes it holds
 * (`SANDBOX_CODE_CACHE_MB`, docs/adr/0160). Code is immutable under its hash, so an entry is
 * never stale; the bound only limits memory. A module larger than the whole bound is not kept.
 */
export class CodeCache {
  readonly #entries = new Map<string, { code: string; bytes: number }>();
  #bytes = 0;

  constructor(readonly maxBytes: number) {}

  get(hash: string): string | undefined {
    const entry = this.#entries.get(hash);
    if (!entry) return undefined;
    // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
    this.#entries.delete(hash);
    this.#entries.set(hash, entry);
    return entry.code;
  }

  set(hash: string, code: string): void {
    const bytes = Buffer.byteLength(code, "utf8");
    const previous = this.#entries.get(hash);
    if (previous) {
      this.#entries.delete(hash);
      this.#bytes -= previous.bytes;
    }
    if (bytes > this.maxBytes) return;
    this.#entries.set(hash, { code, bytes });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
  }

  /** Bytes of code held. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }
}
