/**
 * A deployed function or choreography as a local async function: call it and get its
 * output (one request that waits), or `submit` it and get an `InvocationHandle` at once.
 */
import type { InvocationView } from '../peer-api.js'
import { ChorusClientError, invocationFailure } from './client-error.js'
import { invocationHandle, type InvocationHandle, type PollSchedule } from './invocation-handle.js'
import type { JsonHttp } from './json-http.js'

export interface InvokeOptions {
  /** 0 (high) runs first and may preempt 1 (low). Default: the scheduler's. */
  readonly priority?: 0 | 1
  /** `latency`: the nearest scheduler shard; `cost`: the least loaded one. */
  readonly qos?: 'latency' | 'cost'
  /** A retry with the same key gets the same invocation instead of a new one. */
  readonly idempotencyKey?: string
  /** Aborts the request: the promise rejects with the signal's reason (the invocation goes on). */
  readonly signal?: AbortSignal
  /**
   * Bounds the request, in ms; past it the call rejects with code `timeout` (the invocation
   * goes on). Default: the client's `timeoutMs`.
   */
  readonly timeoutMs?: number
}

export interface SubmitOptions extends InvokeOptions {
  /**
   * Resolve only once the invocation has finished (one request that waits, no polling),
   * with a handle whose `status()` and `result()` answer without asking again: the way to
   * get a finished invocation's whole view (`peerId`, `trace`) in one round trip.
   * Default false: resolve as soon as the peer has queued it.
   */
  readonly wait?: boolean
}

export interface RemoteFunction<I = unknown, O = unknown> {
  /**
   * Invokes and waits: resolves with the output, or rejects with a `ChorusClientError`
   * whose `code` and `message` are the invocation's error when it failed.
   */
  (input?: I, options?: InvokeOptions): Promise<O>
  /**
   * Queues an invocation and resolves with its handle as soon as the peer has accepted it
   * (or, with `wait`, once it has finished). Never rejects because the invocation failed:
   * `result()` does.
   */
  submit(input?: I, options?: SubmitOptions): Promise<InvocationHandle<O>>
  /** The function's (or choreography's) name; also the callable's `name`. */
  readonly name: string
}

/**
 * The callable for `POST {invocations}` (the function's or the choreography's invocations
 * route, already encoded).
 */
export function remoteFunction<I, O>(
  http: JsonHttp,
  name: string,
  invocations: string,
  poll: PollSchedule,
): RemoteFunction<I, O> {
  const send = (input: I | undefined, wait: boolean, options: InvokeOptions) =>
    http.request<InvocationView>('POST', invocations, {
      body: {
        ...(input === undefined ? {} : { input }),
        ...(options.priority === undefined ? {} : { priority: options.priority }),
        ...(options.qos === undefined ? {} : { qos: options.qos }),
        ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
        wait,
      },
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    })

  const call = async (input?: I, options: InvokeOptions = {}): Promise<O> => {
    const { body: view } = await send(input, true, options)
    checkView(view, invocations)
    if (view.status === 'failed') throw invocationFailure(view)
    if (view.status !== 'succeeded') {
      // A retried idempotency key may find its invocation still running: wait for it.
      return invocationHandle<O>(http, view.id, poll).result({
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      })
    }
    return view.output as O
  }
  const submit = async (input?: I, options: SubmitOptions = {}): Promise<InvocationHandle<O>> => {
    const { body: view } = await send(input, options.wait ?? false, options)
    checkView(view, invocations)
    return invocationHandle<O>(http, view.id, poll, view)
  }
  Object.defineProperty(call, 'name', { value: name })
  return Object.assign(call, { submit })
}

function checkView(view: InvocationView | undefined, path: string): asserts view is InvocationView {
  if (typeof view !== 'object' || view === null || typeof view.id !== 'string') {
    throw new ChorusClientError('protocol-error', `POST ${path} answered without an invocation id`)
  }
}
