// Whitespace-delimited fields of a key line, located by index so no intermediate arrays are built.

/** Space, tab, CR and LF: the separators OpenSSH accepts between authorized_keys fields. */
export function isFieldSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0d || code === 0x0a;
}

/** Returns [start, end) of the next whitespace-delimited field at or after `from`, or null. */
export function nextField(line: string, from: number): [number, number] | null {
  let start = from;
  while (start < line.length && isFieldSpace(line.charCodeAt(start))) start++;
  if (start >= line.length) return null;
  let end = start;
  while (end < line.length && !isFieldSpace(line.charCodeAt(end))) end++;
  return [start, end];
}
