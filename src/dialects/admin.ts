import type { GatewayError } from '../core/errors.js';
import { ollama } from './ollama.js';
import type { Dialect } from './types.js';

/**
 * The admin API's (/admin/v1) one error shape: `{"error":{"code","message","request_id"}}`, for its
 * own refusals and for those of the stages before it (Host, CORS, authentication, scope), so a
 * script reads every failure the same way (admin/openapi.ts documents it). Admin routes name no
 * model, stream nothing and count no tokens: everything else is the native dialect's, never used.
 */
export function adminErrorBody(err: GatewayError, requestId: string): string {
  return JSON.stringify({ error: { code: err.code, message: err.message, request_id: requestId } });
}

export const admin = Object.freeze<Dialect>({
  ...ollama,
  id: 'admin',
  accounting: [],
  modelFields: [],
  errorBody: adminErrorBody,
  notFoundBody: (message: string) => adminErrorBody({ code: 'GW_ERR_ADMIN_NOT_FOUND', message } as GatewayError, ''),
});
