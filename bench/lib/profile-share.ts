/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and measures how much of the process's busy time was
 * spent with a matching frame anywhere on the stack (inclusive, each sample counted once). Idle
 * samples are left out; the caller scales the result by the CPU time /proc reported for the same
 * process, so what the host's scheduler did to wall time cancels out.
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

export function inclusiveShare(profile: CpuProfile, frame: RegExp): Share {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map<number, boolean>();
  const matches = (id: number): boolean => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const cf = byId.get(id)!.callFrame;
    const up = parent.get(id);
    const m = frame.test(cf.url) || (up !== undefined && matches(up));
    memo.set(id, m);
    return m;
  };
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
