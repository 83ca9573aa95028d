// `options` and `keep_alive` as Ollama reads them (doc §2): api.Options.FromMap rejects values of
// the wrong type for known keys and ignores unknown keys (map keys are exact, not case-folded);
// keep_alive is a number of seconds or a Go duration string, negative meaning "forever".

type OptionType = 'int' | 'float' | 'bool' | 'strings';

const OPTION_TYPES: Record<string, OptionType> = {
  num_keep: 'int', seed: 'int', num_predict: 'int', top_k: 'int', num_ctx: 'int', num_batch: 'int',
  num_gpu: 'int', main_gpu: 'int', num_thread: 'int', repeat_last_n: 'int',
  temperature: 'float', top_p: 'float', min_p: 'float', typical_p: 'float', repeat_penalty: 'float',
  presence_penalty: 'float', frequency_penalty: 'float',
  use_mmap: 'bool', numa: 'bool', penalize_newline: 'bool',
  stop: 'strings',
};

const TYPE_WORDS: Record<OptionType, string> = {
  int: 'integer',
  float: 'float32',
  bool: 'boolean',
  strings: 'array of strings',
};

function hasType(v: unknown, t: OptionType): boolean {
  if (t === 'int' || t === 'float') return typeof v === 'number';
  if (t === 'bool') return typeof v === 'boolean';
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

/** Returns an error message for a badly typed known option, else undefined. */
export function validateOptions(options: Record<string, unknown> | undefined): string | undefined {
  if (!options) return undefined;
  for (const [key, value] of Object.entries(options)) {
    const t = OPTION_TYPES[key];
    if (t && value !== null && !hasType(value, t)) return `option "${key}" must be of type ${TYPE_WORDS[t]}`;
  }
  return undefined;
}

/** options.num_predict as an integer when it caps generation (positive), else undefined. */
export function numPredict(options: Record<string, unknown> | undefined): number | undefined {
  const v = options?.['num_predict'];
  return typeof v === 'number' && v > 0 ? Math.trunc(v) : undefined;
}

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds; undefined when invalid. */
export function parseGoDuration(s: string): number | undefined {
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  const re = /^(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m || m[1] === '' || m[1] === '.') return undefined;
    total += Number(m[1]) * UNIT_NS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

export type KeepAlive = { kind: 'default' } | { kind: 'unload' } | { kind: 'duration'; ns: number } | { kind: 'error'; message: string };

export function parseKeepAlive(v: unknown): KeepAlive {
  if (v === undefined) return { kind: 'default' };
  if (typeof v === 'number') return v === 0 ? { kind: 'unload' } : { kind: 'duration', ns: v < 0 ? Infinity : v * 1e9 };
  if (typeof v === 'string') {
    const ns = parseGoDuration(v);
    if (ns === undefined) return { kind: 'error', message: `time: invalid duration "${v}"` };
    return ns === 0 ? { kind: 'unload' } : { kind: 'duration', ns: ns < 0 ? Infinity : ns };
  }
  const kind = typeof v === 'boolean' ? 'bool' : Array.isArray(v) ? '[]interface {}' : 'map[string]interface {}';
  return { kind: 'error', message: `Unsupported type: '${kind}'` };
}
