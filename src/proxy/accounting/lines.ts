/**
 * Splits a byte stream into lines without copying the stream: complete lines are handed out as
 * slices of the chunk they arrived in, and only a line that straddles two chunks is joined.
 * Works for NDJSON (one object per line) and SSE (field lines and blank separators alike).
 */
export class LineSplitter {
  #partial: Buffer | null = null;
  /** Bytes held while waiting for the rest of a line; bounded by the caller's max. */
  readonly #maxLine: number;
  overflowed = false;

  constructor(maxLine = 8 * 1024 * 1024) {
    this.#maxLine = maxLine;
  }

  /** Whether part of a line is held from an earlier chunk. */
  get holding(): boolean {
    return this.#partial !== null;
  }

  /** Calls `onLine` for each complete line (without the `\n`, with any `\r` kept). */
  push(chunk: Buffer, onLine: (line: Buffer) => void): void {
    let start = 0;
    let nl = chunk.indexOf(10);
    if (nl !== -1 && this.#partial) {
      onLine(Buffer.concat([this.#partial, chunk.subarray(0, nl)]));
      this.#partial = null;
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    while (nl !== -1) {
      onLine(chunk.subarray(start, nl));
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      const held = this.#partial ? this.#partial.length + rest.length : rest.length;
      if (held > this.#maxLine) {
        // A line longer than any real chunk: stop holding it (accounting falls back to estimates).
        this.overflowed = true;
        this.#partial = null;
      } else {
        this.#partial = this.#partial ? Buffer.concat([this.#partial, rest]) : Buffer.from(rest);
      }
    }
  }

  /** The unterminated last line, if any (a non-streamed JSON body has no trailing newline). */
  flush(): Buffer | null {
    const p = this.#partial;
    this.#partial = null;
    return p;
  }
}
