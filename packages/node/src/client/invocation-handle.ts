/**
 * A handle on one invocation, function or choreography: its `status()` now, and its
 * `result()` once it has finished, found by polling `GET /v1/invocations/{id}` with a backoff
 * that doubles up to a cap. A finished invocation never changes, so its view is kept and
 * asked for only once.
 */
import type { InvocationView } from '../peer-api.js'
import { ChorusClientError, invocationFailure } from './client-error.js'
import { isTransient, type JsonHttp } from './json-http.js'

export interface InvocationHandle<O = unknown> {
  readonly id: string
  /**
   * The peer's answer to the submit that made this handle: the invocation as it was then
   * (queued, or finished when submitted with `wait`). Undefined on a handle from
   * `mesh.invocation(id)`.
   */
  readonly submitted: InvocationView | undefined
  /**
   * The output once the invocation has succeeded. Rejects with a `ChorusClientError`
   * carrying the invocation's error when it failed, or with code `timeout` when
   * `timeoutMs` passed first (the invocation itself goes on).
   */
  result(options?: ResultOptions): Promise<O>
  /** The invocation as the peer shows it now (a choreography's with its `trace`). */
  status(options?: { readonly signal?: AbortSignal }): Promise<InvocationView>
}

export interface ResultOptions {
  /** How long to wait for the invocation to finish, in ms. Default: as long as it takes. */
  readonly timeoutMs?: number
  /** Stops waiting: `result()` rejects with the signal's reason. */
  readonly signal?: AbortSignal
}

/** How `result()` polls: the first wait, doubled after every poll up to the cap. */
export interface PollSchedule {
  readonly initialMs: number
  readonly maxMs: number
}

export const DEFAULT_POLL: PollSchedule = { initialMs: 25, maxMs: 1_000 }

/**
 * How many answers in a row that may get better by asking again (no answer, 502, 503, 504)
 * `result()` tolerates while polling before it gives up with the last of them.
 */
export const MAX_TRANSIENT_POLL_FAILURES = 3

/** The wait after poll `n` (counting from 0): `initialMs · 2ⁿ`, at most `maxMs`. */
export function pollDelay(n: number, schedule: PollSchedule): number {
  return Math.min(schedule.maxMs, schedule.initialMs * 2 ** Math.min(n, 52))
}

export function isFinal(view: InvocationView): boolean {
  return view.status === 'succeeded' || view.status === 'failed'
}

/**
 * A handle on invocation `id`; `submitted` is the peer's answer to its submit, when this
 * handle comes from one (kept as the final view too when it is final).
 */
export function invocationHandle<O>(
  http: JsonHttp,
  id: string,
  schedule: PollSchedule,
  submitted?: InvocationView,
): InvocationHandle<O> {
  return new PolledInvocation<O>(http, id, schedule, submitted)
}

class PolledInvocation<O> implements InvocationHandle<O> {
  readonly id: string
  readonly submitted: InvocationView | undefined
  readonly #http: JsonHttp
  readonly #schedule: PollSchedule
  #final: InvocationView | undefined

  constructor(http: JsonHttp, id: string, schedule: PollSchedule, submitted?: InvocationView) {
    this.id = id
    this.submitted = submitted
    this.#http = http
    this.#schedule = schedule
    if (submitted !== undefined && submitted.id === id && isFinal(submitted)) {
      this.#final = submitted
    }
  }

  async status(
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<InvocationView> {
    if (this.#final !== undefined) return this.#final
    const { body } = await this.#http.request<InvocationView>(
      'GET',
      `/v1/invocations/${encodeURIComponent(this.id)}`,
      options,
    )
    if (isFinal(body)) this.#final = body
    return body
  }

  async result(options: ResultOptions = {}): Promise<O> {
    const view = await this.#poll(options)
    if (view.status === 'failed') throw invocationFailure(view)
    return view.output as O
  }

  async #poll({ timeoutMs, signal }: ResultOptions): Promise<InvocationView> {
    const deadline = timeoutMs === undefined ? Infinity : performance.now() + timeoutMs
    let failures = 0
    for (let n = 0; ; n++) {
      const left = deadline - performance.now()
      try {
        const bound = Number.isFinite(left) ? { timeoutMs: Math.max(1, Math.ceil(left)) } : {}
        const view = await this.status({ ...bound, ...(signal === undefined ? {} : { signal }) })
        if (isFinal(view)) return view
        failures = 0
      } catch (err) {
        if (signal?.aborted === true) throw signal.reason
        if (!isTransient(err) || ++failures > MAX_TRANSIENT_POLL_FAILURES) throw err
      }
      const remaining = deadline - performance.now()
      if (remaining <= 0) {
        throw new ChorusClientError(
          'timeout',
          `invocation ${this.id} did not finish within ${timeoutMs} ms`,
          { invocationId: this.id },
        )
      }
      await sleep(Math.min(pollDelay(n, this.#schedule), remaining), signal)
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) return reject(signal.reason as Error)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason as Error)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
