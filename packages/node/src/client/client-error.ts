/**
 * The one error the client SDK throws: an error answer from a peer, an invocation that ran
 * and failed, or a request that got no answer. `code` is the peer's code (`unknown-function`,
 * `bad-request`, `timeout`, …, see the HTTP API's table in the package README) or, for a
 * failed invocation, the code its error carries.
 */
import type { InvocationView } from '../peer-api.js'

export interface ChorusClientErrorInit {
  /** The HTTP status of the peer's error answer. */
  readonly status?: number
  readonly invocationId?: string
  /** The invocation as the peer last showed it (a failed one, with its `trace` for a choreography). */
  readonly invocation?: InvocationView
  /** The `details` of the peer's error answer (a refused choreography lists its `errors`). */
  readonly details?: Readonly<Record<string, unknown>>
  /** For `protocol-error`: what came back instead of one of the API's answers. */
  readonly answer?: UnexpectedAnswer
  readonly cause?: unknown
}

/** An answer that is not the API's (a proxy's page, another server): what a `protocol-error` saw. */
export interface UnexpectedAnswer {
  /** Its `content-type` header, if it had one. */
  readonly contentType: string | undefined
  /** Its body parsed as JSON, when it was JSON (just not the API's shape); else undefined. */
  readonly json: unknown
}

export class ChorusClientError extends Error {
  /**
   * The peer's error code; `peer-unreachable` when no answer came, `timeout` when none came
   * in time, `protocol-error` when the answer was not the API's, `bad-request` when the
   * client refused the call before sending it (a bad argument, an unreadable source).
   */
  readonly code: string
  /**
   * The HTTP status of the peer's error answer; undefined when there was none: the
   * invocation ran and failed (the answer was 200), no answer came, or nothing was sent.
   */
  readonly status: number | undefined
  /** The invocation this is about, when there is one. */
  readonly invocationId: string | undefined
  readonly invocation: InvocationView | undefined
  readonly details: Readonly<Record<string, unknown>> | undefined
  /** For `protocol-error`: the answer that was not the API's. */
  readonly answer: UnexpectedAnswer | undefined

  constructor(code: string, message: string, init: ChorusClientErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause })
    this.name = 'ChorusClientError'
    this.code = code
    this.status = init.status
    this.invocationId = init.invocationId ?? init.invocation?.id
    this.invocation = init.invocation
    this.details = init.details
    this.answer = init.answer
  }
}

/** The error a failed invocation's view stands for. */
export function invocationFailure(view: InvocationView): ChorusClientError {
  return new ChorusClientError(
    view.error?.code ?? 'internal',
    view.error?.message ?? `invocation ${view.id} failed`,
    { invocation: view },
  )
}
