import { topK } from "./bm25.js";

/**
 * Exact scans cost rows × dimensions multiply-adds (≈1 ns each in V8, no SIMD): up to this budget
 * the index scans exactly; above it, it prefilters with sign bits (see {@link VectorIndex}).
 */
export const EXACT_SCAN_BUDGET = 2_000_000;
/** Candidates kept by the sign-bit prefilter, per requested hit (at least {@link MIN_CANDIDATES}). */
const OVERSAMPLE = 6;
const MIN_CANDIDATES = 200;

/**
 * Cosine search over unit-normalized Float32 vectors kept in one contiguous buffer (a row per
 * document id).
 *
 * A small index is scanned exactly. A large one (10,000 tools × 768 dimensions is 7.7 M
 * multiply-adds, ≈ 7–9 ms in V8) is searched in two steps, the usual binary-quantization scheme:
 * each vector also keeps its sign bits (SimHash: the Hamming distance between sign bits tracks the
 * angle), a Hamming scan (24 popcounts per row at 768 dimensions) picks the closest
 * `max(6·k, 200)` candidates, and those are rescored exactly. The bench reports recall@k of this
 * path against the exact scan.
 */
export class VectorIndex {
  private buffer: Float32Array;
  private bits: Uint32Array;
  private readonly words: number;
  private active = new Uint8Array(1024);
  private count = 0;
  private distances = new Uint16Array(0);
  /** One past the highest id ever added: scans stop there, not at the buffer's capacity. */
  private rows = 0;
  private readonly histogram: Uint32Array;

  constructor(readonly dimensions: number) {
    this.buffer = new Float32Array(1024 * dimensions);
    this.words = Math.ceil(dimensions / 32);
    this.bits = new Uint32Array(1024 * this.words);
    this.histogram = new Uint32Array(dimensions + 2);
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
    for (let index = 0; index < this.dimensions; index++) {
      this.buffer[offset + index] = (vector[index] ?? 0) * scale;
    }
    const bitOffset = id * this.words;
    for (let word = 0; word < this.words; word++) this.bits[bitOffset + word] = 0;
    for (let index = 0; index < this.dimensions; index++) {
      if ((vector[index] ?? 0) > 0) {
        const slot = bitOffset + (index >>> 5);
        this.bits[slot] = ((this.bits[slot] as number) | (1 << (index & 31))) >>> 0;
      }
    }
    if (this.active[id] !== 1) this.count++;
    this.active[id] = 1;
    if (id >= this.rows) this.rows = id + 1;
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
    options: { exact?: boolean } = {},
  ): { id: number; score: number }[] {
    if (query.length !== this.dimensions || this.count === 0) return [];
    const dimensions = this.dimensions;
    const normalized = new Float32Array(dimensions);
    let norm = 0;
    for (let index = 0; index < dimensions; index++) norm += (query[index] ?? 0) ** 2;
    if (norm === 0) return [];
    const scale = 1 / Math.sqrt(norm);
    for (let index = 0; index < dimensions; index++) normalized[index] = (query[index] ?? 0) * scale;
    const rows = this.rows;
    const hits: { id: number; score: number }[] = [];
    if (options.exact || this.count * dimensions <= EXACT_SCAN_BUDGET) {
      for (let id = 0; id < rows; id++) {
        if (this.active[id] !== 1 || (accept && !accept(id))) continue;
        hits.push({ id, score: this.dot(id, normalized) });
      }
      return topK(hits, limit);
    }
    for (const id of this.nearestBySign(normalized, rows, Math.max(limit * OVERSAMPLE, MIN_CANDIDATES))) {
      if (accept && !accept(id)) continue;
      hits.push({ id, score: this.dot(id, normalized) });
    }
    return topK(hits, limit);
  }

  private dot(id: number, query: Float32Array): number {
    const buffer = this.buffer;
    const dimensions = this.dimensions;
    const offset = id * dimensions;
    let a = 0;
    let b = 0;
    let c = 0;
    let d = 0;
    let index = 0;
    for (; index + 3 < dimensions; index += 4) {
      a += (buffer[offset + index] as number) * (query[index] as number);
      b += (buffer[offset + index + 1] as number) * (query[index + 1] as number);
      c += (buffer[offset + index + 2] as number) * (query[index + 2] as number);
      d += (buffer[offset + index + 3] as number) * (query[index + 3] as number);
    }
    for (; index < dimensions; index++) a += (buffer[offset + index] as number) * (query[index] as number);
    return a + b + c + d;
  }

  /** Ids of the `wanted` rows whose sign bits are closest (Hamming) to the query's. */
  private nearestBySign(query: Float32Array, rows: number, wanted: number): number[] {
    const words = this.words;
    const queryBits = new Uint32Array(words);
    for (let index = 0; index < this.dimensions; index++) {
      if ((query[index] as number) > 0) {
        queryBits[index >>> 5] = ((queryBits[index >>> 5] as number) | (1 << (index & 31))) >>> 0;
      }
    }
    // Scratch buffers reused across queries (search is synchronous): no per-query garbage.
    if (this.distances.length < rows) this.distances = new Uint16Array(this.active.length);
    const distances = this.distances;
    const histogram = this.histogram;
    histogram.fill(0);
    const bits = this.bits;
    const active = this.active;
    for (let id = 0; id < rows; id++) {
      if (active[id] !== 1) {
        distances[id] = this.dimensions + 1;
        continue;
      }
      let distance = 0;
      const offset = id * words;
      for (let word = 0; word < words; word++) {
        let x = ((bits[offset + word] as number) ^ (queryBits[word] as number)) >>> 0;
        x -= (x >>> 1) & 0x55555555;
        x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
        distance += Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
      }
      distances[id] = distance;
      histogram[distance] = (histogram[distance] as number) + 1;
    }
    let cutoff = 0;
    for (let seen = 0; cutoff <= this.dimensions; cutoff++) {
      seen += histogram[cutoff] as number;
      if (seen >= wanted) break;
    }
    // Everything closer than the cutoff, then as much of the cutoff's own bucket as fits: sparse
    // or clustered vectors can tie by the thousands, and rescoring must stay bounded.
    let room = wanted;
    for (let distance = 0; distance < cutoff; distance++) room -= histogram[distance] as number;
    const ids: number[] = [];
    for (let id = 0; id < rows; id++) {
      const distance = distances[id] as number;
      if (distance < cutoff) ids.push(id);
      else if (distance === cutoff && room > 0) {
        ids.push(id);
        room--;
      }
    }
    return ids;
  }

  private grow(rows: number): void {
    if (rows <= this.active.length) return;
    let capacity = this.active.length;
    while (capacity < rows) capacity *= 2;
    const buffer = new Float32Array(capacity * this.dimensions);
    buffer.set(this.buffer);
    this.buffer = buffer;
    const bits = new Uint32Array(capacity * this.words);
    bits.set(this.bits);
    this.bits = bits;
    const active = new Uint8Array(capacity);
    active.set(this.active);
    this.active = active;
  }
}
