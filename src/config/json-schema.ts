import { z } from 'zod';
import { ConfigSchema, DURATION_PATTERN } from './schema.js';

/**
 * The configuration schema as JSON Schema (draft-07, which every editor's YAML/JSON language
 * server understands), for `gatehouse config schema`. It describes what may be *written* in
 * gatehouse.yaml (zod's input side): durations and sizes as strings or numbers, every default
 * shown, unknown keys refused at every level. Cross-field rules (tls.cert needs tls.key, …) and
 * value checks zod expresses as code (listen addresses, URLs) are not representable here;
 * `gatehouse config check` remains the authority.
 */
export function configJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(ConfigSchema, { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as Record<string, unknown>;
  durationsNeedUnits(generated);
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: 'Gatehouse configuration (gatehouse.yaml)',
    description: 'Settings of the Gatehouse gateway for Ollama. Check a file with `gatehouse config check --config FILE`; reference: README.md#configuration.',
    ...rest,
  };
}

/**
 * A duration is written with its unit ("90d", "30s"); the only bare number accepted is 0 (issue #18
 * item 6: `retention: 90` was 90 seconds to the parser and 90 days to whoever wrote it). zod sees a
 * string-or-number union there, so the schema is narrowed here to what the parser accepts.
 */
function durationsNeedUnits(node: unknown): void {
  if (!node || typeof node !== 'object') return;
  const n = node as Record<string, unknown>;
  if (n.pattern === DURATION_PATTERN) {
    delete n.type;
    delete n.pattern;
    delete n.minimum;
    n.anyOf = [{ type: 'string', pattern: DURATION_PATTERN }, { type: 'number', const: 0 }];
    n.description = 'A duration with its unit: "500ms", "30s", "5m", "2h", "7d", "2w" or "1h30m" (0 may be written bare).';
    return;
  }
  for (const v of Object.values(n)) durationsNeedUnits(v);
}
