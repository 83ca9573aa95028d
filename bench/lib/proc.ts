/**
 * Linux /proc readers: CPU time and peak RSS of a whole process tree, host CPU from /proc/stat.
 * Everything is read-only except `resetPeakRss`, which writes "5" to /proc/PID/clear_refs of our
 * own child processes (that resets VmHWM to the current RSS).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

let tck = 0;
/** Clock ticks per second (USER_HZ), almost always 100. */
export function clockTicks(): number {
  if (tck) return tck;
  try {
    tck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    tck = 100;
  }
  return tck;
}

interface StatLine {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime, in ticks (cutime/cstime: children already reaped). */
  ticks: number;
  /** utime + stime only */
  own: number;
  /** utime + cutime: user-space ticks */
  user: number;
  /** stime + cstime: ticks in the kernel on the process's behalf */
  system: number;
}

function readStat(pid: number | 'self'): StatLine | null {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name is in parentheses and may contain spaces: fields start after the last ')'.
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // f[0]=state f[1]=ppid ... f[11]=utime f[12]=stime f[13]=cutime f[14]=cstime
  const pidNum = pid === 'self' ? Number(s.slice(0, s.indexOf(' '))) : pid;
  const own = Number(f[11]) + Number(f[12]);
  return { pid: pidNum, ppid: Number(f[1]), own, ticks: own + Number(f[13]) + Number(f[14]), user: Number(f[11]) + Number(f[13]), system: Number(f[12]) + Number(f[14]) };
}

function allStats(): StatLine[] {
  const out: StatLine[] = [];
  for (const d of readdirSync('/proc')) {
    const c = d.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const st = readStat(Number(d));
    if (st) out.push(st);
  }
  return out;
}

/** pid and every live descendant. */
export function treePids(root: number, stats: StatLine[] = allStats()): StatLine[] {
  const byParent = new Map<number, StatLine[]>();
  let rootLine: StatLine | undefined;
  for (const s of stats) {
    if (s.pid === root) rootLine = s;
    const l = byParent.get(s.ppid);
    if (l) l.push(s);
    else byParent.set(s.ppid, [s]);
  }
  if (!rootLine) return [];
  const out: StatLine[] = [rootLine];
  for (let i = 0; i < out.length; i++) out.push(...(byParent.get((out[i] as StatLine).pid) ?? []));
  return out;
}

/** CPU seconds used so far by a process tree (live processes plus children they reaped). */
export function treeCpuSeconds(root: number): number {
  let t = 0;
  for (const s of treePids(root)) t += s.ticks;
  return t / clockTicks();
}

/** The same, split into user space and kernel (system) seconds. */
export function treeCpuSplit(root: number): { user: number; system: number } {
  let user = 0;
  let system = 0;
  for (const s of treePids(root)) {
    user += s.user;
    system += s.system;
  }
  return { user: user / clockTicks(), system: system / clockTicks() };
}

/**
 * CPU ticks (utime+stime) of every user-space process on the host that is not this benchmark (this
 * process and its descendants) and not a kernel thread, by pid. The delta of two snapshots is a
 * lower bound of what the rest of the host used meanwhile (other people's builds and tests, say):
 * a process that exits in between loses its last part. Reaped children's time (cutime) is left out
 * on purpose: a parent reaping a long test run would add minutes of CPU at once.
 */
export function othersTicks(): Map<number, number> {
  const stats = allStats();
  const mine = new Set(treePids(process.pid, stats).map((s) => s.pid));
  const out = new Map<number, number>();
  for (const s of stats) if (!mine.has(s.pid) && s.pid !== 2 && s.ppid !== 2) out.set(s.pid, s.own);
  return out;
}

/** CPU seconds the other processes used between two snapshots (processes new in `after` count in full). */
export function othersCpuSeconds(before: Map<number, number>, after: Map<number, number>): number {
  let t = 0;
  for (const [pid, ticks] of after) t += Math.max(0, ticks - (before.get(pid) ?? 0));
  return t / clockTicks();
}

/** Sum of VmHWM (peak resident set; field 'VmRSS' for the current one) over the tree, in KiB. */
export function treePeakRssKiB(root: number, field: 'VmHWM' | 'VmRSS' = 'VmHWM'): number {
  let kib = 0;
  const re = new RegExp(`${field}:\\s+(\\d+)\\s+kB`);
  for (const s of treePids(root)) {
    try {
      const m = re.exec(readFileSync(`/proc/${s.pid}/status`, 'latin1'));
      if (m) kib += Number(m[1]);
    } catch {
      /* exited */
    }
  }
  return kib;
}

/** Resets VmHWM of every process in the tree; false if the kernel refused (then peaks are since start). */
export function resetPeakRss(root: number): boolean {
  let ok = true;
  for (const s of treePids(root)) {
    try {
      writeFileSync(`/proc/${s.pid}/clear_refs`, '5');
    } catch {
      ok = false;
    }
  }
  return ok;
}

export interface HostCpu {
  /** ticks summed over all CPUs */
  busy: number;
  /** of which interrupts and softirq (loopback networking shows up here, in no process) */
  irq: number;
  steal: number;
  total: number;
}

/** Host-wide CPU counters from the first line of /proc/stat. */
export function hostCpu(): HostCpu {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  return { busy: user + nice + system + irq + softirq, irq: irq + softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}
