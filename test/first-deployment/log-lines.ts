import type { GatewayProcess } from '../helpers/stack.js';

/** A gateway's stdout as parsed JSON lines (non-JSON lines are kept as { raw }). */
export type LogLine = Record<string, unknown>;

export function jsonLines(gw: GatewayProcess): LogLine[] {
  return gw
    .logs()
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        return { raw: l };
      }
    });
}

/** Waits (bounded) until `pick` finds what it wants in the log; returns its last answer. */
export async function waitForLog<T>(gw: GatewayProcess, pick: (lines: LogLine[]) => T | undefined, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const got = pick(jsonLines(gw));
    if (got !== undefined) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; log:\n${gw.logs()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const byRequest = (id: string) => (lines: LogLine[]) => lines.filter((l) => l.request_id === id);
