/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and measures how much of the process's busy time was
 * spent with a matching frame anywhere on the stack (inclusive, each sample counted once). Idle
 * samples are left out; the caller scales the result by the CPU time /proc reported for the same
 * process, so what the host's scheduler did to wall time cancels out. Samples taken while a module
 * was being loaded never match: loading ioredis at startup is not what a request costs.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Share {
  /** µs of non-idle samples with a matching frame on the stack. */
  matchedUs: number;
  /** µs of non-idle samples in the whole profile. */
  busyUs: number;
}

const MODULE_LOADER = /^node:internal\/modules\//;

export function inclusiveShare(profile: CpuProfile, frame: RegExp): Share {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const onStack = (re: RegExp): ((id: number) => boolean) => {
    const memo = new Map<number, boolean>();
    const test = (id: number): boolean => {
      const known = memo.get(id);
      if (known !== undefined) return known;
      const up = parent.get(id);
      const m = re.test(byId.get(id)!.callFrame.url) || (up !== undefined && test(up));
      memo.set(id, m);
      return m;
    };
    return test;
  };
  const matchesFrame = onStack(frame);
  const loadingModule = onStack(MODULE_LOADER);
  const matches = (id: number): boolean => matchesFrame(id) && !loadingModule(id);
  let busyUs = 0;
  let matchedUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
    const dt = profile.timeDeltas[i] ?? 0;
    busyUs += dt;
    if (matches(id)) matchedUs += dt;
  }
  return { matchedUs, busyUs };
}
