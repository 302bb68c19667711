/**
 * The errors of definitions and code: ChorusErrors (so the HTTP layer maps their codes in
 * its one place) with structured fields.
 */
import { ChorusError, type ChorusErrorCode } from '../errors.js'
import type { DefinitionKind, DefinitionRejectionReason } from './definition-op.js'

/** A deploy or delete the definition log refused; nothing changed. */
export class DefinitionRejectedError extends ChorusError {
  readonly reason: DefinitionRejectionReason
  readonly owner: string
  readonly kind: DefinitionKind
  readonly definitionName: string

  constructor(
    fields: {
      reason: DefinitionRejectionReason
      owner: string
      kind: DefinitionKind
      name: string
    },
    message: string,
  ) {
    super(rejectionCode(fields.reason, fields.kind), message, { ...fields })
    this.name = 'DefinitionRejectedError'
    this.reason = fields.reason
    this.owner = fields.owner
    this.kind = fields.kind
    this.definitionName = fields.name
  }
}

function rejectionCode(reason: DefinitionRejectionReason, kind: DefinitionKind): ChorusErrorCode {
  switch (reason) {
    case 'not-found':
      return kind === 'function' ? 'unknown-function' : 'unknown-choreography'
    case 'too-large':
      return 'body-too-large'
    case 'malformed':
    case 'bad-name':
    case 'limit':
      return 'bad-request'
    case 'clock-skew':
    case 'invalid-time':
      return 'internal'
  }
}

/**
 * Bytes whose sha256 is not the digest they were given under: refused, not stored. From
 * another peer (`from`) it is that peer's fault (`protocol-error`), else the caller's.
 */
export class CodeIntegrityError extends ChorusError {
  readonly expected: string
  readonly actual: string
  readonly from: string | undefined

  constructor(fields: { expected: string; actual: string; from?: string }) {
    const source = fields.from === undefined ? '' : ` from ${fields.from}`
    super(
      fields.from === undefined ? 'bad-request' : 'protocol-error',
      `refused code${source}: its sha256 is ${fields.actual}, not the expected ${fields.expected}`,
      { ...fields },
    )
    this.name = 'CodeIntegrityError'
    this.expected = fields.expected
    this.actual = fields.actual
    this.from = fields.from
  }
}

/** Code over the size limit. */
export class CodeTooLargeError extends ChorusError {
  readonly size: number
  readonly limit: number

  constructor(fields: { size: number; limit: number }) {
    super(
      'body-too-large',
      `code of ${fields.size} bytes exceeds the limit of ${fields.limit} bytes`,
      { ...fields },
    )
    this.name = 'CodeTooLargeError'
    this.size = fields.size
    this.limit = fields.limit
  }
}

/** No peer could give the code with this digest. */
export class CodeUnavailableError extends ChorusError {
  readonly digest: string
  readonly tried: readonly string[]

  constructor(fields: { digest: string; tried: readonly string[] }, why: string) {
    super('not-found', `code ${fields.digest} is not available: ${why}`, {
      digest: fields.digest,
      tried: [...fields.tried],
    })
    this.name = 'CodeUnavailableError'
    this.digest = fields.digest
    this.tried = fields.tried
  }
}
