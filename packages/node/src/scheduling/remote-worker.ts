/**
 * Dispatches across the mesh: a scheduler places an invocation on another peer's worker
 * with one `execute` request per dispatch, and that peer admits it on its own worker (or
 * answers busy, and the scheduler walks on) and answers once every invocation of the
 * dispatch has an outcome. `execute.cancel` stops invocations the scheduler gave up on.
 *
 * Delivery is at most once: a dispatch whose worker cannot be reached fails its
 * invocations (`worker-unreachable`) rather than run them again elsewhere, since the
 * worker may have run them before it went silent.
 */
import { background } from '../background.js'
import { BoundedMap } from '../bounded-map.js'
import { ChorusError } from '../errors.js'
import { silentLogger, type Logger } from '../observability/logger.js'
import {
  runOnLease,
  type DispatchEffect,
  type InvocationOutcome,
  type ProviderRuntime,
} from './provider.js'
import { WORKER_METHODS } from '../transport/protocols.js'
import { parseMessage } from '../transport/rpc-message.js'
import { z } from 'zod'

export const EXECUTE_METHOD = WORKER_METHODS.execute
export const EXECUTE_CANCEL_METHOD = WORKER_METHODS.cancel

/** Invocations in one dispatch, at most (scheduler-core batches far fewer). */
const MAX_DISPATCH_INVOCATIONS = 1_000
/** Early cancels remembered, at most (a cancel for an invocation that never comes is kept). */
const CANCELS_KEPT = 10_000
/** How long past the function's own deadline the scheduler's peer waits for an answer. */
const ANSWER_GRACE_MS = 30_000

/** What a worker peer answers for a dispatch. */
export type ExecuteAnswer =
  | { readonly type: 'busy'; readonly message: string }
  | { readonly type: 'done'; readonly outcomes: readonly ExecuteOutcome[] }

export type ExecuteOutcome = InvocationOutcome

/** The body of an `execute` request. */
interface ExecuteRequest {
  readonly owner: string
  readonly provider: string
  readonly dispatch: DispatchEffect
}

export interface RemoteWorkerRpc {
  handle(method: string, handler: (body: unknown, from: string) => unknown): void
  request(peerId: string, method: string, body: unknown, timeoutMs?: number): Promise<unknown>
}

export interface RemoteWorkersInit {
  readonly rpc: RemoteWorkerRpc
  /** This peer's runtimes, by provider: what runs a dispatch sent here. */
  readonly runtimes: Readonly<Record<string, ProviderRuntime>>
  /**
   * Called before a dispatch from `from` runs here, so that a definition this peer has not
   * received yet can be pulled from the scheduler's peer first.
   */
  readonly prepare?: (owner: string, dispatch: DispatchEffect, from: string) => Promise<void>
  readonly onExecute?: (fn: string) => void
  /** A dispatch from `from`'s scheduler runs here on the host it names. */
  readonly onDispatch?: (hostId: string, from: string) => void
  readonly log?: Logger
}

export class RemoteWorkers {
  readonly #init: RemoteWorkersInit
  readonly #log: Logger
  /** Invocations running here for other peers' schedulers. */
  readonly #running = new Map<string, AbortController>()
  /** Cancels that came before their invocation started (while it was being prepared). */
  readonly #cancelledEarly = new BoundedMap<string, true>(CANCELS_KEPT)
  #stopped = false
  #draining = false
  /** Dispatches being prepared or run here. */
  #executing = 0

  constructor(init: RemoteWorkersInit) {
    this.#init = init
    this.#log = (init.log ?? silentLogger()).child({ component: 'scheduling:remote' })
    init.rpc.handle(EXECUTE_METHOD, (body, from) => this.#execute(parseExecute(body), from))
    init.rpc.handle(EXECUTE_CANCEL_METHOD, (body) => {
      for (const id of parseIds(body)) {
        const running = this.#running.get(id)
        if (running) running.abort()
        else this.#cancelledEarly.set(id, true)
      }
      return true
    })
  }

  /**
   * Sends a dispatch to `worker`. `signals[i]` aborting (the scheduler cancelled the
   * invocation) tells the worker to stop it. `timeoutMs` is the function's own deadline.
   */
  async dispatch(
    worker: string,
    owner: string,
    provider: string,
    dispatch: DispatchEffect,
    signals: readonly AbortSignal[],
    timeoutMs: number,
  ): Promise<ExecuteAnswer> {
    const onAbort = (id: string) => () => {
      background(
        () => this.#init.rpc.request(worker, EXECUTE_CANCEL_METHOD, { ids: [id] }, 10_000),
        // The worker is gone: nothing runs there to cancel.
        (err) => this.#log.debug({ err, worker, invocation: id }, 'cancelling on a worker failed'),
      )
    }
    const listeners = dispatch.invocations.map((inv, i) => {
      const listener = onAbort(inv.id)
      signals[i]?.addEventListener('abort', listener, { once: true })
      return listener
    })
    try {
      const body: ExecuteRequest = { owner, provider, dispatch }
      const answer = await this.#init.rpc.request(
        worker,
        EXECUTE_METHOD,
        body,
        timeoutMs + ANSWER_GRACE_MS,
      )
      return parseAnswer(answer, dispatch.invocations.length)
    } finally {
      dispatch.invocations.forEach((_, i) => {
        const listener = listeners[i]
        if (listener) signals[i]?.removeEventListener('abort', listener)
      })
    }
  }

  /** Runs a dispatch sent by another peer's scheduler on this peer's worker. */
  async #execute(request: ExecuteRequest, from: string): Promise<ExecuteAnswer> {
    const { provider } = request
    const runtime = Object.hasOwn(this.#init.runtimes, provider)
      ? this.#init.runtimes[provider]
      : undefined
    if (runtime === undefined) {
      throw new ChorusError('bad-request', `this peer runs no provider ${provider}`)
    }
    if (this.#draining) return { type: 'busy', message: 'this peer is leaving the mesh' }
    this.#executing++
    try {
      return await this.#run(runtime, request, from)
    } finally {
      this.#executing--
    }
  }

  async #run(
    runtime: ProviderRuntime,
    { owner, dispatch }: ExecuteRequest,
    from: string,
  ): Promise<ExecuteAnswer> {
    await this.#init.prepare?.(owner, dispatch, from)
    this.#init.onDispatch?.(dispatch.hostId, from)
    const lease = await runtime.acquire(owner, dispatch)
    if (lease.type === 'busy') return lease
    const outcomes = await Promise.all(
      dispatch.invocations.map(async (inv, i): Promise<ExecuteOutcome> => {
        const controller = new AbortController()
        if (this.#stopped || this.#cancelledEarly.has(inv.id)) {
          this.#cancelledEarly.delete(inv.id)
          controller.abort()
        }
        this.#running.set(inv.id, controller)
        this.#init.onExecute?.(dispatch.fn)
        try {
          return await runOnLease(lease, i, inv, controller.signal)
        } finally {
          if (this.#running.get(inv.id) === controller) this.#running.delete(inv.id)
        }
      }),
    )
    return { type: 'done', outcomes }
  }

  /** Whether dispatches from other peers are being prepared or run here. */
  get busy(): boolean {
    return this.#executing > 0
  }

  /** Takes no new dispatch (they are answered busy); what runs here finishes. */
  drain(): void {
    this.#draining = true
  }

  /** Stops what runs here for other peers (this peer is stopping). */
  stop(): void {
    this.#stopped = true
    this.#draining = true
    for (const controller of this.#running.values()) controller.abort()
    this.#running.clear()
  }
}

/** One invocation of a dispatch: its input is the user's, anything JSON. */
const dispatchedInvocationSchema = z.object({
  id: z.string().min(1),
  attempt: z.number().int().positive(),
  input: z.unknown(),
})

/** `execute/1`: the scheduler-core `dispatch` effect, as the scheduler's peer sent it. */
const executeRequestSchema = z.object({
  owner: z.string().min(1),
  provider: z.string().min(1),
  dispatch: z.object({
    type: z.literal('dispatch'),
    dispatchId: z.string().min(1),
    fn: z.string().min(1),
    version: z.string(),
    worker: z.string(),
    hostId: z.string().min(1).max(300),
    coldStart: z.boolean(),
    overloaded: z.boolean(),
    invocations: z.array(dispatchedInvocationSchema).min(1).max(MAX_DISPATCH_INVOCATIONS),
  }),
})

/** `execute.cancel/1`: invocations the scheduler gave up on. */
const cancelRequestSchema = z.object({
  ids: z.array(z.string()).max(MAX_DISPATCH_INVOCATIONS),
})

const outcomeSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('succeeded'), output: z.unknown() }),
  z.object({ status: z.literal('failed'), error: z.string() }),
])

/** What the worker peer answers: busy, or one outcome per invocation, in order. */
const executeAnswerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('busy'), message: z.string() }),
  z.object({ type: z.literal('done'), outcomes: z.array(outcomeSchema) }),
])

function parseExecute(raw: unknown): ExecuteRequest {
  return parseMessage(executeRequestSchema, raw, EXECUTE_METHOD)
}

function parseIds(raw: unknown): string[] {
  return parseMessage(cancelRequestSchema, raw, EXECUTE_CANCEL_METHOD).ids
}

function parseAnswer(raw: unknown, count: number): ExecuteAnswer {
  const answer = parseMessage(executeAnswerSchema, raw, `${EXECUTE_METHOD} answer`)
  if (answer.type === 'done' && answer.outcomes.length !== count) {
    throw new ChorusError(
      'protocol-error',
      `${EXECUTE_METHOD} answer: ${answer.outcomes.length} outcomes for ${count} invocations`,
    )
  }
  return answer
}
