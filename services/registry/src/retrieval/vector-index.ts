import { topK } from "./bm25.js";

/**
 * Exact cosine search over unit-normalized Float32 vectors kept in one contiguous buffer (a row per
 * document id). A brute-force scan is exact and, at 10,000 tools × 768 dimensions, a few
 * milliseconds — simpler and more predictable than an approximate index at this scale.
 */
export class VectorIndex {
  private buffer: Float32Array;
  private active = new Uint8Array(1024);
  private count = 0;

  constructor(readonly dimensions: number) {
    this.buffer = new Float32Array(1024 * dimensions);
  }

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    return this.active[id] === 1;
  }

  add(id: number, vector: ArrayLike<number>): void {
    if (vector.length !== this.dimensions) {
      throw new RangeError(`vector has ${vector.length} dimensions, the index ${this.dimensions}`);
    }
    this.grow(id + 1);
    const offset = id * this.dimensions;
    let norm = 0;
    for (let index = 0; index < this.dimensions; index++) norm += (vector[index] ?? 0) ** 2;
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let index = 0; index < this.dimensions; index++)
      this.buffer[offset + index] = (vector[index] ?? 0) * scale;
    if (this.active[id] !== 1) this.count++;
    this.active[id] = 1;
  }

  remove(id: number): void {
    if (this.active[id] === 1) {
      this.active[id] = 0;
      this.count--;
    }
  }

  search(
    query: ArrayLike<number>,
    limit: number,
    accept?: (id: number) => boolean,
  ): { id: number; score: number }[] {
    if (query.length !== this.dimensions || this.count === 0) return [];
    const dimensions = this.dimensions;
    const normalized = new Float32Array(dimensions);
    let norm = 0;
    for (let index = 0; index < dimensions; index++) norm += (query[index] ?? 0) ** 2;
    if (norm === 0) return [];
    const scale = 1 / Math.sqrt(norm);
    for (let index = 0; index < dimensions; index++) normalized[index] = (query[index] ?? 0) * scale;

    const buffer = this.buffer;
    const active = this.active;
    // Keep a small running top list instead of sorting every score.
    const best: { id: number; score: number }[] = [];
    let floor = Number.NEGATIVE_INFINITY;
    const rows = Math.min(active.length, buffer.length / dimensions);
    for (let id = 0; id < rows; id++) {
      if (active[id] !== 1) continue;
      let dot = 0;
      const offset = id * dimensions;
      for (let index = 0; index < dimensions; index++)
        dot += (buffer[offset + index] as number) * (normalized[index] as number);
      if (best.length >= limit && dot <= floor) continue;
      if (accept && !accept(id)) continue;
      best.push({ id, score: dot });
      if (best.length > limit * 4) {
        topK(best, limit);
        best.length = limit;
        floor = best[limit - 1]?.score ?? floor;
      }
    }
    return topK(best, limit);
  }

  private grow(rows: number): void {
    if (rows <= this.active.length && rows * this.dimensions <= this.buffer.length) return;
    let capacity = this.active.length;
    while (capacity < rows) capacity *= 2;
    const buffer = new Float32Array(capacity * this.dimensions);
    buffer.set(this.buffer);
    this.buffer = buffer;
    const active = new Uint8Array(capacity);
    active.set(this.active);
    this.active = active;
  }
}
