// A streamed response, one chunk per write (NDJSON line or SSE frame), as Ollama's c.Stream
// flushes each one. It paces chunks (chunkDelayMs), honours backpressure, stops the moment the
// client leaves, and applies the stream faults: `destroyAfter` kills the socket after N chunks,
// `midStreamErrorAfter` ends the stream after N chunks with Ollama's in-band error line on NDJSON
// or with nothing on SSE (doc §1.3: /v1 streams then simply lack [DONE] / message_stop).
import { once } from 'node:events';
import { chunkDelay, sleep, stopped, type Ctx } from './context.js';
import type { Usage } from './reply.js';

export type StreamKind = 'ndjson' | 'sse';

const CONTENT_TYPES: Record<StreamKind, string> = {
  ndjson: 'application/x-ndjson',
  sse: 'text/event-stream',
};

export const FAULT_ERROR_MESSAGE = 'emulated upstream failure';

export class ChunkStream {
  private written = 0;
  private dead = false;

  constructor(
    private readonly ctx: Ctx,
    private readonly kind: StreamKind,
  ) {}

  /** False once the stream can take no more chunks (client gone, or a fault ended it). */
  get alive(): boolean {
    return !this.dead && !stopped(this.ctx);
  }

  /**
   * Writes one chunk (already framed). `usage` is added to tokensSent once it is on the wire.
   * Resolves false when the caller must stop generating.
   */
  async send(chunk: string, usage?: Usage): Promise<boolean> {
    if (!this.alive) return false;
    if (this.written > 0 && !(await sleep(chunkDelay(this.ctx), this.ctx.signal))) return false;
    if (!this.alive) return false;
    const { res, fault } = this.ctx;
    if (fault?.destroyAfter !== undefined && this.written >= fault.destroyAfter) {
      this.dead = true;
      this.ctx.selfDestroyed = true;
      res.destroy();
      return false;
    }
    if (fault?.midStreamErrorAfter !== undefined && this.written >= fault.midStreamErrorAfter) {
      this.dead = true;
      this.ensureHeaders();
      if (this.kind === 'ndjson') res.end(JSON.stringify({ error: FAULT_ERROR_MESSAGE }) + '\n');
      else res.end();
      return false;
    }
    this.ensureHeaders();
    const ok = res.write(chunk);
    this.written++;
    if (usage) this.ctx.state.countTokens(usage.prompt, usage.completion);
    if (!ok) await this.drain();
    return this.alive;
  }

  /** Normal end of stream. */
  end(): void {
    if (!this.alive) return;
    this.ensureHeaders();
    this.ctx.res.end();
    this.dead = true;
  }

  private ensureHeaders(): void {
    const { res } = this.ctx;
    if (!res.headersSent) res.writeHead(200, { ...this.ctx.presetHeaders, 'Content-Type': CONTENT_TYPES[this.kind] });
  }

  private async drain(): Promise<void> {
    const { res, signal } = this.ctx;
    if (signal.aborted) return;
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await once(res, 'drain', { signal: ac.signal });
    } catch {
      // aborted: the caller sees `alive === false`
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}

export function ndjsonLine(obj: unknown): string {
  return JSON.stringify(obj) + '\n';
}

/** `data: {...}\n\n` for OpenAI chat/completions. */
export function sseData(data: unknown): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

/** `event: <type>\ndata: {...}\n\n` for /v1/responses and /v1/messages. */
export function sseEvent(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}
