/**
 * The one place that maps errors to HTTP answers. Every error the HTTP API answers is
 * `{ "error": { "code", "message", "details"? } }` with the status this table gives its code.
 */
import type { ChorusErrorCode } from '../errors.js'
import { ChorusError } from '../errors.js'
import type { Logger } from '../observability/logger.js'
import { json } from './reply.js'

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

/** Every code an error body may carry, in the table's order (the OpenAPI document lists them). */
export const HTTP_ERROR_CODES = Object.keys(STATUS) as readonly HttpErrorCode[]

/** The HTTP status for an error code; 500 for a code this table does not know. */
export function httpStatus(code: HttpErrorCode): number {
  return Object.hasOwn(STATUS, code) ? STATUS[code] : 500
}

/** The codes answered with `status`, for documentation. */
export function codesWithStatus(status: number): HttpErrorCode[] {
  return HTTP_ERROR_CODES.filter((code) => STATUS[code] === status)
}

/** The errors only the HTTP layer raises (405, 415): they are no ChorusError. */
export class HttpError extends Error {
  constructor(
    readonly code: HttpOnlyErrorCode,
    message: string,
    /** Headers the answer carries (`allow` for a 405). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

/**
 * The answer to anything a request failed with. A `ChorusError` or `HttpError` answers its
 * code and message; anything else is a bug or a surprise: 500 `internal`, with the cause
 * logged and never shown to the caller.
 */
export function errorResponse(err: unknown, log: Logger, what: string): Response {
  if (err instanceof HttpError) return errorBody(err.code, err.message, err.headers)
  if (err instanceof ChorusError) {
    return errorBody(err.code, err.message, {}, jsonSafe(err.details, log))
  }
  log.error({ err, request: what }, 'request failed')
  return errorBody('internal', 'internal error')
}

function errorBody(
  code: HttpErrorCode,
  message: string,
  headers: Readonly<Record<string, string>> = {},
  details?: Readonly<Record<string, unknown>>,
): Response {
  const error = details === undefined ? { code, message } : { code, message, details }
  return json(httpStatus(code), { error }, headers)
}

/**
 * An error's details as plain JSON (what `JSON.stringify` makes of them), or undefined when
 * there are none or they cannot be serialised (then the error answers without them).
 */
function jsonSafe(
  details: Readonly<Record<string, unknown>> | undefined,
  log: Logger,
): Readonly<Record<string, unknown>> | undefined {
  if (details === undefined) return undefined
  try {
    const parsed = JSON.parse(JSON.stringify(details)) as unknown
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
    return Object.keys(parsed).length === 0 ? undefined : (parsed as Record<string, unknown>)
  } catch (err) {
    log.warn({ err }, 'dropped error details that are not JSON')
    return undefined
  }
}
