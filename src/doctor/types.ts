/** What `gatehouse doctor` reports: findings, each with a severity, what it means and the fix. */

/**
 * critical: a hole or a broken deploy (Ollama reachable without Gatehouse, upstream down, a
 *           secret readable by everyone); makes doctor exit non-zero.
 * warning:  weaker than it should be; fine only if you meant it.
 * info:     worth knowing, nothing to fix.
 * ok:       checked and fine.
 */
export type Severity = 'critical' | 'warning' | 'info' | 'ok';

export const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info', 'ok'];

export interface Finding {
  /** Stable id, e.g. `upstream.exposed`; scripts match on it. */
  id: string;
  severity: Severity;
  /** One line: what was found. */
  title: string;
  /** Why it matters / what was seen. */
  detail?: string;
  /** What to do about it. */
  fix?: string;
}

export interface DoctorReport {
  ok: boolean;
  config_file: string | null;
  /** The addresses probed for a bypass of Gatehouse, and where that list came from. */
  probe: { source: 'interfaces' | 'flag'; port: number | null; addresses: string[] };
  findings: Finding[];
  counts: Record<Severity, number>;
}
