/**
 * The one place that maps error codes to HTTP statuses. Every error the HTTP API answers
 * is `{ "error": { "code", "message" } }` with the status this table gives its code.
 */
import type { ChorusErrorCode } from '../errors.js'

/** Conditions only the HTTP layer can meet: they mean nothing inside a peer. */
export type HttpOnlyErrorCode = 'method-not-allowed' | 'unsupported-media-type'

/** Every code an HTTP error body may carry. */
export type HttpErrorCode = ChorusErrorCode | HttpOnlyErrorCode

const STATUS: { readonly [code in HttpErrorCode]: number } = {
  'bad-request': 400,
  'invalid-json': 400,
  'body-too-large': 413,
  'not-found': 404,
  'unknown-owner': 404,
  'unknown-function': 404,
  'unknown-choreography': 404,
  'unknown-invocation': 404,
  'not-responsible': 409,
  'stale-epoch': 409,
  'peer-unreachable': 502,
  timeout: 504,
  overloaded: 503,
  'shutting-down': 503,
  'protocol-error': 502,
  'unknown-method': 502,
  'unsupported-version': 502,
  internal: 500,
  'method-not-allowed': 405,
  'unsupported-media-type': 415,
}

/** The HTTP status for an error code; 500 for a code this table does not know. */
export function httpStatus(code: HttpErrorCode): number {
  return Object.hasOwn(STATUS, code) ? STATUS[code] : 500
}
