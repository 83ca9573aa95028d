import { z } from 'zod';
import { ConfigSchema } from './schema.js';

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
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: 'Gatehouse configuration (gatehouse.yaml)',
    description: 'Settings of the Gatehouse gateway for Ollama. Check a file with `gatehouse config check --config FILE`; reference: README.md#configuration.',
    ...rest,
  };
}
