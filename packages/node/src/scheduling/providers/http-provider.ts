/**
 * The provider `http`: each function is an external endpoint (its deploy's `url`). An
 * invocation is `POST <url>` with `{ "value": <input> }`, the contract of a `process`
 * function host, and the JSON answer is its output. Nothing runs on a worker here: the
 * (owner, http) scheduler's job is to hold the owner to its concurrency limit and queue
 * the rest, so its functions take no worker memory.
 */
import type { FunctionSpec } from '@chorus/scheduler-core'
import type { DefinitionReplicator } from '../../definitions/index.js'
import { ChorusError } from '../../errors.js'
import { DEFAULT_MAX_OUTPUT_BYTES } from '../../function-host/index.js'
import type { DispatchEffect, ProviderLease, ProviderRuntime } from '../provider.js'

export const HTTP_PROVIDER = 'http'

/** An endpoint's answer shown in an error, at most. */
const ERROR_BODY_CHARS = 500
/** The scheduler's deadline is a backstop beyond the request's own. */
const SCHEDULER_TIMEOUT_GRACE_MS = 5_000

export interface HttpProviderInit {
  readonly definitions: Pick<DefinitionReplicator, 'getFunction'>
  /** Largest answer taken from an endpoint. */
  readonly maxOutputBytes?: number
  readonly fetch?: typeof fetch
}

export class HttpProvider implements ProviderRuntime {
  readonly #init: HttpProviderInit
  readonly #maxOutputBytes: number

  constructor(init: HttpProviderInit) {
    this.#init = init
    this.#maxOutputBytes = init.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
  }

  spec(owner: string, fn: string): FunctionSpec | undefined {
    const def = this.#init.definitions.getFunction(owner, fn)
    if (def === undefined || def.provider !== HTTP_PROVIDER) return undefined
    return {
      name: fn,
      version: def.revision,
      // A virtual host per function: its slots are the endpoint's concurrency.
      memoryMb: 1,
      concurrency: def.concurrency,
      timeoutMs: def.timeoutMs + SCHEDULER_TIMEOUT_GRACE_MS,
      // Each of a batch is a request of its own, on a slot of the endpoint's concurrency.
      ...(def.batch === undefined ? {} : { batch: def.batch }),
    }
  }

  acquire(owner: string, dispatch: DispatchEffect): Promise<ProviderLease> {
    const def = this.#init.definitions.getFunction(owner, dispatch.fn)
    if (def?.provider !== HTTP_PROVIDER || def.url === undefined) {
      return Promise.reject(
        new ChorusError('unknown-function', `no http function ${owner}/${dispatch.fn}`),
      )
    }
    const { url, timeoutMs } = def
    return Promise.resolve({
      type: 'ready',
      run: (_index, id, input, signal) => this.#call(url, id, input, timeoutMs, signal),
    })
  }

  async #call(
    url: string,
    id: string,
    input: unknown,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<unknown> {
    const doFetch = this.#init.fetch ?? fetch
    const deadline = AbortSignal.timeout(timeoutMs)
    let response: Response
    try {
      response = await doFetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-chorus-invocation-id': id,
          'x-chorus-deadline': String(Date.now() + timeoutMs),
        },
        body: JSON.stringify({ value: input ?? null }),
        signal: AbortSignal.any([signal, deadline]),
        redirect: 'error',
      })
    } catch (err) {
      if (deadline.aborted) throw timedOut(url, timeoutMs)
      if (signal.aborted) throw new ChorusError('internal', `invocation ${id} was cancelled`)
      throw new ChorusError('peer-unreachable', `calling ${url} failed: ${causeOf(err)}`)
    }
    let text: string
    try {
      text = await readLimited(response, this.#maxOutputBytes)
    } catch (err) {
      if (deadline.aborted) throw timedOut(url, timeoutMs)
      if (signal.aborted) throw new ChorusError('internal', `invocation ${id} was cancelled`)
      throw err instanceof ChorusError
        ? err
        : new ChorusError('peer-unreachable', `reading ${url}'s answer failed: ${causeOf(err)}`)
    }
    if (!response.ok) {
      const shown = text.length > ERROR_BODY_CHARS ? `${text.slice(0, ERROR_BODY_CHARS)}…` : text
      throw new ChorusError(
        'bad-request',
        `${url} answered ${response.status}${shown ? `: ${shown}` : ''}`,
      )
    }
    if (text.length === 0) return null
    try {
      return JSON.parse(text) as unknown
    } catch {
      throw new ChorusError('bad-request', `${url} answered something that is not JSON`)
    }
  }
}

function timedOut(url: string, timeoutMs: number): ChorusError {
  return new ChorusError('timeout', `${url} did not answer within its timeout of ${timeoutMs} ms`)
}

function causeOf(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause
  const inner = cause instanceof Error ? cause.message : undefined
  const outer = err instanceof Error ? err.message : String(err)
  return inner !== undefined ? `${outer} (${inner})` : outer
}

/** The answer as text, refusing one over `maxBytes` without reading it all. */
async function readLimited(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  if (declared > maxBytes) {
    await response.body?.cancel()
    throw outputTooLarge(maxBytes)
  }
  if (response.body === null) return ''
  const chunks: Uint8Array[] = []
  let total = 0
  // Leaving the loop early cancels the stream: the rest is never read.
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength
    if (total > maxBytes) throw outputTooLarge(maxBytes)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function outputTooLarge(maxBytes: number): ChorusError {
  return new ChorusError('bad-request', `the output is larger than the limit of ${maxBytes} bytes`)
}
