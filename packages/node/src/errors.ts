/**
 * The errors a peer reports to its callers. One class, one `code` per condition; the
 * HTTP layer maps codes to statuses in one place (`http-status.ts`).
 */
export type ChorusErrorCode =
  | 'bad-request'
  | 'invalid-json'
  | 'body-too-large'
  | 'not-found'
  | 'unknown-owner'
  | 'unknown-function'
  | 'unknown-choreography'
  | 'unknown-invocation'
  | 'not-responsible'
  | 'stale-epoch'
  | 'peer-unreachable'
  | 'timeout'
  | 'overloaded'
  | 'shutting-down'
  | 'protocol-error'
  /** A peer was sent an RPC method it does not serve. */
  | 'unknown-method'
  /** A peer serves the RPC method, but not at the version it was sent. */
  | 'unsupported-version'
  | 'internal'

export class ChorusError extends Error {
  readonly code: ChorusErrorCode
  readonly details: Readonly<Record<string, unknown>> | undefined

  constructor(code: ChorusErrorCode, message: string, details?: Record<string, unknown>) {
    super(message)
    this.name = 'ChorusError'
    this.code = code
    this.details = details
  }

  toJSON(): { code: ChorusErrorCode; message: string } {
    return { code: this.code, message: this.message }
  }
}

/** Any thrown value as a ChorusError (unknown ones become `internal`). */
export function asChorusError(err: unknown): ChorusError {
  if (err instanceof ChorusError) return err
  return new ChorusError('internal', err instanceof Error ? err.message : String(err))
}
