/**
 * The closed-loop clients of a fleet run: CLIENTS loops take the next request of the shared
 * sequence as soon as their previous one ends, each a streamed native /api/chat. Time to first
 * token is measured on the client: from sending the request to the first NDJSON line whose
 * message carries content.
 */
import { Agent, request } from 'undici';

export interface Outcome {
  model: string;
  /** HTTP status, 0 when none came (transport error, timeout) */
  status: number;
  ok: boolean;
  ttftMs: number | null;
  totalMs: number;
  error?: string;
}

const PROMPT = 'Why is the sky blue? Answer in one short paragraph.';

async function one(agent: Agent, url: string, token: string | null, model: string, timeoutMs: number): Promise<Outcome> {
  const t0 = performance.now();
  const elapsed = (): number => performance.now() - t0;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  try {
    const res = await request(`${url}/api/chat`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model, messages: [{ role: 'user', content: PROMPT }], stream: true }),
      dispatcher: agent,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      return { model, status: res.statusCode, ok: false, ttftMs: null, totalMs: elapsed(), error: `${res.statusCode} ${text.slice(0, 160)}` };
    }
    let ttftMs: number | null = null;
    let done = false;
    let error: string | undefined;
    let buf = '';
    for await (const chunk of res.body) {
      buf += (chunk as Buffer).toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        const obj = JSON.parse(line) as { error?: string; done?: boolean; message?: { content?: string } };
        if (obj.error) error = obj.error;
        if (ttftMs === null && obj.message?.content) ttftMs = elapsed();
        if (obj.done) done = true;
      }
    }
    const ok = done && !error;
    return { model, status: 200, ok, ttftMs, totalMs: elapsed(), ...(ok ? {} : { error: error ?? 'stream ended without done:true' }) };
  } catch (e) {
    return { model, status: 0, ok: false, ttftMs: null, totalMs: elapsed(), error: (e as Error).message };
  }
}

/** Runs the whole sequence through `url` with `clients` loops; outcomes in sequence order. */
export async function closedLoop(url: string, token: string | null, sequence: readonly string[], clients: number, timeoutMs: number): Promise<{ outcomes: Outcome[]; wallMs: number }> {
  const agent = new Agent({ connections: clients * 2, keepAliveTimeout: 30_000 });
  const outcomes: Outcome[] = new Array(sequence.length);
  let next = 0;
  const t0 = performance.now();
  const loop = async (): Promise<void> => {
    while (next < sequence.length) {
      const i = next++;
      outcomes[i] = await one(agent, url, token, sequence[i]!, timeoutMs);
    }
  };
  try {
    await Promise.all(Array.from({ length: clients }, loop));
  } finally {
    await agent.close();
  }
  return { outcomes, wallMs: performance.now() - t0 };
}
