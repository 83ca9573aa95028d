/**
 * The simulated Ollama nodes, one process each (test/emulator/fleet-main.ts in fleet mode). A
 * router's run gets fresh ones, so every router starts cold with nothing resident; a node's
 * counters are the {"stats"} line it prints when stopped.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startServer, waitHttp, type Server } from '../lib/children.js';
import type { Knobs, NodeSpec } from './scenario.js';

/** What test/emulator/types.ts EmulatorStats holds (read from the node's stdout). */
export interface NodeStats {
  coldLoads: number;
  loadMsTotal: number;
  evictions: number;
  expirations: number;
  busy503: number;
  notFound: number;
  maxRunning: number;
}

export interface FleetNode {
  spec: NodeSpec;
  url: string;
  server: Server;
}

export async function startNodes(specs: readonly NodeSpec[], k: Knobs, nodeMain: string, logDir: string, tag: string): Promise<FleetNode[]> {
  const nodes: FleetNode[] = [];
  try {
    for (const spec of specs) {
      const port = await freePort();
      const args = [nodeMain, '--port', String(port), '--models', spec.models.join(','), '--chunks', String(k.tokens), '--delay', String(k.tokenMs),
        '--parallel', String(k.parallel), '--max-loaded', String(k.maxLoaded), '--load-ms', String(k.loadMs)];
      const server = startServer(`node ${spec.name}`, process.execPath, args, { log: join(logDir, `${tag}-${spec.name}.log`) });
      nodes.push({ spec, url: `http://127.0.0.1:${port}`, server });
    }
    for (const n of nodes) await waitHttp(`${n.url}/api/version`, n.server.proc, 10_000);
    return nodes;
  } catch (e) {
    await Promise.all(nodes.map((n) => n.server.stop()));
    throw e;
  }
}

/** Stops the nodes and returns each one's final counters. */
export async function stopNodes(nodes: readonly FleetNode[]): Promise<NodeStats[]> {
  await Promise.all(nodes.map((n) => n.server.stop()));
  return nodes.map((n) => {
    const line = readFileSync(n.server.log, 'utf8').trim().split('\n').filter((l) => l.startsWith('{"stats"')).pop();
    if (!line) throw new Error(`${n.spec.name} printed no stats (log: ${n.server.log})`);
    return (JSON.parse(line) as { stats: NodeStats }).stats;
  });
}
