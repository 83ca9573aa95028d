// Everything the emulator remembers between requests: installed models, uploaded blobs, loaded
// models (for /api/ps), pending faults, recorded requests and the token counters.
import { createHash } from 'node:crypto';
import { displayName, isValidName, parseModelName, sameName, type ModelName } from './model-names.js';
import { Scheduler, validFleetOptions, type FleetCounters } from './scheduler.js';
import type { EmulatorStats, Fault, FleetOptions, RecordedRequest } from './types.js';

export interface InstalledModel {
  name: ModelName;
  display: string;
  digest: string;
  size: number;
  modifiedAt: string;
  family: string;
  capabilities: string[];
}

interface PendingFault {
  fault: Fault;
  remaining: number;
}

function describeModel(name: ModelName, capabilities?: string[]): InstalledModel {
  const display = displayName(name);
  const hex = createHash('sha256').update(display.toLowerCase()).digest('hex');
  const embedding = /embed/i.test(name.model);
  return {
    name,
    display,
    digest: hex,
    size: 1_000_000_000 + parseInt(hex.slice(0, 6), 16),
    modifiedAt: new Date(Date.UTC(2025, 0, 1)).toISOString(),
    family: (/^[a-z]+[0-9]*/i.exec(name.model)?.[0] ?? name.model).toLowerCase(),
    capabilities: capabilities ?? (embedding ? ['embedding'] : ['completion', 'tools']),
  };
}

export class EmulatorState {
  readonly requests: RecordedRequest[] = [];
  readonly tokensSent = { prompt: 0, completion: 0 };
  readonly models: InstalledModel[] = [];
  /** digest ("sha256:<hex>") → size */
  readonly blobs = new Map<string, number>();
  /** display name → expiry (ms since epoch) */
  readonly loaded = new Map<string, number>();
  /** Fleet mode only: the node's model scheduler (scheduler.ts). */
  readonly fleet: Scheduler | undefined;
  private readonly counters: FleetCounters = { coldLoads: 0, loadMsTotal: 0, evictions: 0, expirations: 0, busy503: 0 };
  private notFound = 0;
  private running = 0;
  private maxRunning = 0;
  private faults: PendingFault[] = [];
  private activeHandlers = 0;
  private readonly listeners = new Set<() => void>();

  constructor(
    models: readonly string[],
    readonly chunks: number,
    readonly chunkDelayMs: number,
    fleet?: FleetOptions,
  ) {
    for (const m of models) this.install(m);
    this.fleet = fleet ? new Scheduler(validFleetOptions(fleet), this.counters, this.loaded, () => this.changed()) : undefined;
  }

  findModel(raw: string): InstalledModel | undefined {
    const name = parseModelName(raw);
    if (!isValidName(name)) return undefined;
    return this.models.find((m) => sameName(m.name, name));
  }

  /** The model stored under exactly this spelling (a manifest path on a case-sensitive disk). */
  findModelExact(raw: string): InstalledModel | undefined {
    const n = parseModelName(raw);
    if (!isValidName(n)) return undefined;
    return this.models.find((m) => m.name.host === n.host && m.name.namespace === n.namespace && m.name.model === n.model && m.name.tag === n.tag);
  }

  /**
   * getExistingName (server/routes.go): each part of `n` that equals, ignoring case, the same
   * part of any installed model takes that model's spelling, part by part; the rest stay as sent.
   */
  existingName(n: ModelName): ModelName {
    const out = { ...n };
    const eq = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
    for (const { name: e } of this.models) {
      if (eq(e.host, n.host)) out.host = e.host;
      if (eq(e.namespace, n.namespace)) out.namespace = e.namespace;
      if (eq(e.model, n.model)) out.model = e.model;
      if (eq(e.tag, n.tag)) out.tag = e.tag;
    }
    return out;
  }

  /** Adds a model (no-op when present). Returns it, or undefined for an invalid name. */
  install(raw: string, capabilities?: string[]): InstalledModel | undefined {
    const existing = this.findModel(raw);
    if (existing) return existing;
    const name = parseModelName(raw);
    if (!isValidName(name)) return undefined;
    const model = describeModel(name, capabilities);
    this.models.push(model);
    return model;
  }

  remove(model: InstalledModel): void {
    const i = this.models.indexOf(model);
    if (i >= 0) this.models.splice(i, 1);
    this.loaded.delete(model.display);
    this.fleet?.unload(model.display);
  }

  markLoaded(model: InstalledModel): void {
    this.loaded.set(model.display, Date.now() + 5 * 60_000);
  }

  addFault(f: Fault): void {
    this.faults.push({ fault: f, remaining: f.times ?? 1 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Consumes one use of the first fault that matches this request. */
  takeFault(r: RecordedRequest): Fault | undefined {
    const hit = this.faults.find((p) => p.remaining > 0 && (p.fault.match ? p.fault.match(r) : true));
    if (!hit) return undefined;
    hit.remaining--;
    if (hit.remaining <= 0) this.faults = this.faults.filter((p) => p !== hit);
    return hit.fault;
  }

  countTokens(prompt: number, completion: number): void {
    this.tokensSent.prompt += prompt;
    this.tokensSent.completion += completion;
    this.changed();
  }

  handlerStarted(): void {
    this.activeHandlers++;
    this.changed();
  }

  handlerEnded(): void {
    this.activeHandlers--;
    this.changed();
  }

  inFlight(): number {
    return this.activeHandlers;
  }

  /** A request starts running a model (it holds a slot until `modelEnded`). */
  modelStarted(): void {
    this.running++;
    if (this.running > this.maxRunning) this.maxRunning = this.running;
  }

  modelEnded(): void {
    this.running--;
  }

  /** A model-running route answered 404 for a model that is not installed. */
  countNotFound(): void {
    this.notFound++;
  }

  stats(): EmulatorStats {
    return {
      ...this.counters,
      notFound: this.notFound,
      maxRunning: this.maxRunning,
      running: this.running,
      queued: this.fleet?.queued() ?? 0,
      resident: this.fleet ? this.fleet.resident() : [...this.loaded].filter(([, expires]) => expires > Date.now()).map(([name]) => name),
    };
  }

  reset(): void {
    this.requests.length = 0;
    this.tokensSent.prompt = 0;
    this.tokensSent.completion = 0;
    this.clearFaults();
    for (const k of Object.keys(this.counters) as Array<keyof FleetCounters>) this.counters[k] = 0;
    this.notFound = 0;
    this.maxRunning = this.running;
    this.changed();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(): void {
    for (const l of [...this.listeners]) l();
  }
}
