/**
 * A fixed-size Bloom filter over the record_ids of one file: it answers "certainly new" or
 * "perhaps seen before". Exact duplicate detection then only has to look at the few "perhaps"
 * ids (in SQL), instead of holding every id in memory (which grows with the file) or grouping the
 * whole file in the database (which measured 3.4 s for 1.2M rows). Memory stays at most 16 MB at any scale.
 *
 * Blocked: all of an id's bits lie in one 64-byte block, so adding an id costs one cache miss
 * rather than one per bit (six misses per id measured 1.5 s of a 9 s ingest at bench scale).
 */
export class SeenIds {
  readonly #bits: Uint32Array;
  readonly #mask: number;
  readonly #hashes: number;
  /** Ids that may have been seen before (false positives are possible, misses are not). */
  readonly candidates = new Set<string>();

  constructor(opts: { log2Bits?: number; hashes?: number } = {}) {
    const log2Bits = Math.max(opts.log2Bits ?? 27, 9); // 2^27 bits = 16 MB
    this.#bits = new Uint32Array(2 ** (log2Bits - 5));
    // Blocks of 16 words (512 bits): the mask picks a block's first word.
    this.#mask = 2 ** (log2Bits - 5) - 16;
    this.#hashes = opts.hashes ?? 6;
  }

  /**
   * A filter sized for a file of `bytes`: between 1 and 2 bits per byte of file, so about 25 bits
   * per id for the extracts' rows of 100-150 bytes and at least 12 for a 48-byte row, between
   * 2^20 and 2^27 bits (16 MB, about 26 bits per id for 5M attendance rows: a handful of
   * candidates for the SQL check, where 2^26 bits gave 50,000 and a heap holding them). A filter
   * no larger than needed stays in cache (2^27 bits measured twice as slow per id as 2^25).
   */
  static forFileOf(bytes: number): SeenIds {
    return new SeenIds({ log2Bits: Math.min(27, Math.max(20, Math.floor(Math.log2(Math.max(bytes, 1) / 4)))) });
  }

  /** Record an id; remembers it as a candidate duplicate when every bit was already set. */
  add(id: string): void {
    // FNV-1a and a multiplicative hash over the UTF-16 code units, combined by double hashing.
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c;
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    if (this.#set(h1, h2 | 1)) this.candidates.add(id);
  }

  /**
   * Record an id given as ASCII bytes, hashing exactly as `add` does its text (an ASCII byte is
   * its UTF-16 code unit), without making a string. Returns false, recording nothing, when a byte
   * is not ASCII: the caller then passes the id as text.
   */
  addBytes(bytes: Uint8Array, from: number, to: number): boolean {
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c;
    for (let i = from; i < to; i++) {
      const c = bytes[i]!;
      if (c >= 128) return false;
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    if (this.#set(h1, h2 | 1)) this.candidates.add(Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString('latin1'));
    return true;
  }

  /** Set the id's bits (block from h1, bits within it from h2); true when all were set already. */
  #set(h1: number, h2: number): boolean {
    const block = (Math.imul(h1 ^ (h1 >>> 16), 0x45d9f3b) << 4) & this.#mask;
    let present = true;
    let g = h2;
    for (let k = 0; k < this.#hashes; k++) {
      const bit = g & 511;
      g = Math.imul(g ^ (g >>> 13), 0x9e3779b1) | 1;
      const word = block + (bit >>> 5);
      const flag = 1 << (bit & 31);
      if ((this.#bits[word]! & flag) === 0) {
        present = false;
        this.#bits[word] = this.#bits[word]! | flag;
      }
    }
    return present;
  }
}
