import { GatewayError, refuse } from '../core/errors.js';

/**
 * The one place where an upstream failure becomes an answer (docs/architecture.md). The cause is kept
 * for logs; the client gets a clear message without Ollama's internals.
 */
export function mapUpstreamError(err: unknown): GatewayError {
  // Our own refusals raised while streaming the request body (upload too large, stalled).
  if (err instanceof GatewayError) return err;
  if ((err as { cause?: unknown } | null)?.cause instanceof GatewayError) return (err as { cause: GatewayError }).cause;
  const code = (err as { code?: string } | null)?.code ?? '';
  switch (code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return refuse('GW_ERR_UPSTREAM_UNAVAILABLE', 'Ollama is not reachable from Gatehouse (is it running?); try again shortly', { cause: err });
    case 'UND_ERR_HEADERS_TIMEOUT':
      return refuse('GW_ERR_UPSTREAM_TIMEOUT', 'Ollama did not start answering in time (a model load can be slow; the gateway timeout is timeouts.upstream_headers)', { cause: err });
    case 'UND_ERR_BODY_TIMEOUT':
      return refuse('GW_ERR_UPSTREAM_TIMEOUT', 'Ollama stopped sending data (timeouts.upstream_body)', { cause: err });
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return refuse('GW_ERR_UPSTREAM_RESET', 'the connection to Ollama broke before the answer was complete', { cause: err });
    default:
      return refuse('GW_ERR_UPSTREAM_BAD_RESPONSE', 'Ollama answered in a way Gatehouse could not pass on', { cause: err });
  }
}

/**
 * The cause of an upstream failure as the operator needs it, for the log and the audit record
 * (never the client's body): what the socket or undici reported, e.g. "connect ECONNREFUSED
 * 127.0.0.1:11434" or "UND_ERR_HEADERS_TIMEOUT: Headers Timeout Error". Falls back to the
 * client-facing message when there is no cause (our own refusals raised mid-upload).
 */
export function upstreamFailureCause(err: GatewayError): string {
  return err.cause === undefined || err.cause === null ? err.message : describe(err.cause, 0);
}

function describe(e: unknown, depth: number): string {
  if (!(e instanceof Error)) return String(e);
  // Happy eyeballs (a host name with IPv4 and IPv6 addresses) fails with every attempt's error.
  if (e instanceof AggregateError && e.errors.length > 0) return e.errors.map((x) => describe(x, depth + 1)).join('; ');
  const code = (e as { code?: unknown }).code;
  let text = typeof code === 'string' && code && !e.message.includes(code) ? `${code}: ${e.message}` : e.message || e.name;
  if (e.cause !== undefined && e.cause !== e && depth < 3) text += ` (${describe(e.cause, depth + 1)})`;
  return text;
}
