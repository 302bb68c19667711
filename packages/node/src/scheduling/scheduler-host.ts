/**
 * The schedulers this peer is responsible for, and the shell around each: it feeds
 * OwnerScheduler events with the time, arms a timer at nextDeadline(), runs dispatches
 * on this peer's worker, and keeps results for whoever waits or asks later.
 */
import {
  OwnerScheduler,
  type FunctionSpec,
  type InvocationRequest,
  type PlacementPolicy,
  type SchedulerEffect,
  type SchedulerEvent,
  type WorkerHealth,
} from '@chorus/scheduler-core'
import { background } from '../background.js'
import { BoundedMap } from '../bounded-map.js'
import { BUILTIN_FUNCTIONS, BUILTIN_PROVIDER, runBuiltin } from './providers/builtin-provider.js'
import { ChorusError } from '../errors.js'
import type { RunTrace } from '../choreography/index.js'
import type { InvocationView, PeerEvent, SchedulerInfo } from '../peer-api.js'
import type { RemoteWorkers } from './remote-worker.js'

export interface SchedulerHostInit {
  selfId: string
  workerMemoryMb: number
  /** An owner's concurrent invocations per provider. */
  ownerLimit: number
  placement: PlacementPolicy
  schedulerIdleMs: number
  /** Milliseconds on a monotonic clock. */
  now: () => number
  emit: (event: PeerEvent) => void
  /** Called as a dispatched invocation starts running on this peer's worker. */
  onExecute?: (fn: string) => void
  /** Called when a worker refused a dispatch (busy): the scheduler walks on. */
  onRefused?: (worker: string) => void
  /** Called after a scheduler was freed for idleness, to remove its directory entry. */
  onDeallocated: (key: string, guid: string, epoch: number) => void
  log?: (line: string) => void
  /** Providers other than `builtin`, by name: where their functions' specs come from and how they run. */
  providers?: Readonly<Record<string, ProviderRuntime>>
  /**
   * Providers whose schedulers place invocations on every peer's worker (`workers`), not
   * only on this peer's; their dispatches to other peers go through `remote`.
   */
  meshWide?: ReadonlySet<string>
  /** The peers that offer a worker now, this one included. */
  workers?: () => readonly WorkerOffer[]
  /** Sends dispatches to other peers' workers. */
  remote?: Pick<RemoteWorkers, 'dispatch'>
}

/** A peer's worker as the mesh sees it. */
export interface WorkerOffer {
  readonly id: string
  readonly memoryMb: number
  /**
   * `suspect` (maybe dead) and `left` (leaving gracefully) workers keep what they run but
   * get no new work; a worker no longer offered is offline: what it ran fails.
   */
  readonly state: 'alive' | 'suspect' | 'left'
}

const HEALTH_OF: Readonly<Record<WorkerOffer['state'], WorkerHealth>> = {
  alive: 'healthy',
  suspect: 'unresponsive',
  left: 'unhealthy',
}

export type DispatchEffect = Extract<SchedulerEffect, { type: 'dispatch' }>

/**
 * How a provider's functions run on this peer's worker. `spec` is asked on every submit, so
 * a redeploy (a new `version`) is registered before its first invocation is queued.
 */
export interface ProviderRuntime {
  /** The scheduler spec of `owner`'s function `fn` as deployed now, or undefined if there is none. */
  spec(owner: string, fn: string): FunctionSpec | undefined
  /**
   * Takes what a dispatch needs on the worker (a host slot per invocation): `busy` when the
   * worker cannot take it now (the scheduler walks on). Rejects when the dispatch can never
   * run (its code does not load): its invocations fail with the message.
   */
  acquire(owner: string, dispatch: DispatchEffect): Promise<ProviderLease>
  /** What an invocation's view shows beyond its status: a choreography run's trace. */
  trace?(id: string): RunTrace | undefined
}

export type ProviderLease =
  | { readonly type: 'busy'; readonly message: string }
  | {
      readonly type: 'ready'
      /**
       * Runs the dispatch's `index`th invocation on its slot and gives the slot back (at once,
       * without running, when `signal` has already aborted).
       */
      run(index: number, id: string, input: unknown, signal: AbortSignal): Promise<unknown>
    }

export interface SubmitRequest {
  readonly id: string
  readonly fn: string
  readonly input: unknown
  readonly priority: 0 | 1
  readonly idempotencyKey?: string | undefined
}

interface Hosted {
  readonly key: string
  readonly owner: string
  readonly provider: string
  readonly guid: string
  readonly epoch: number
  readonly scheduler: OwnerScheduler
  timer: ReturnType<typeof setTimeout> | undefined
  timerAt: number
  lastActive: number
  /** Merged into another responsible: accepts nothing new, finishes what runs. */
  draining: boolean
  /** The version registered for each function of a non-builtin provider. */
  readonly versions: Map<string, string>
  /** The workers its scheduler knows, with the health and memory it was last told of. */
  readonly workers: Map<string, { health: WorkerHealth; memoryMb: number }>
}

const RESULTS_KEPT = 100_000

export class SchedulerHost {
  readonly #init: SchedulerHostInit
  readonly #hosted = new Map<string, Hosted>()
  /** Live invocation id → the key of the scheduler holding it. */
  readonly #live = new Map<string, string>()
  readonly #waiters = new Map<string, ((view: InvocationView) => void)[]>()
  readonly #results = new BoundedMap<string, InvocationView>(RESULTS_KEPT)
  readonly #idempotent = new BoundedMap<string, string>(RESULTS_KEPT)
  readonly #running = new Map<string, AbortController>()
  /** Dispatched invocation id → the worker (peer) running it. */
  readonly #ranOn = new Map<string, string>()
  readonly #sweep: ReturnType<typeof setInterval>

  constructor(init: SchedulerHostInit) {
    this.#init = init
    const every = Math.max(50, Math.min(1000, init.schedulerIdleMs / 4))
    this.#sweep = setInterval(() => {
      this.#deallocateIdle()
      // Load summaries bring each worker's memory after it joined: keep schedulers current.
      this.workersChanged()
    }, every)
    this.#sweep.unref()
  }

  /** Whether any scheduler here still has work queued or running. */
  get busy(): boolean {
    for (const hosted of this.#hosted.values()) if (!this.#isIdle(hosted)) return true
    return false
  }

  has(key: string): boolean {
    const hosted = this.#hosted.get(key)
    return hosted !== undefined && !hosted.draining
  }

  entry(key: string): { guid: string; epoch: number } | undefined {
    const hosted = this.#hosted.get(key)
    return hosted && !hosted.draining ? { guid: hosted.guid, epoch: hosted.epoch } : undefined
  }

  /** Keys, GUIDs and epochs of what this peer is responsible for. */
  entries(): { key: string; guid: string; epoch: number }[] {
    return [...this.#hosted.values()]
      .filter((h) => !h.draining)
      .map((h) => ({ key: h.key, guid: h.guid, epoch: h.epoch }))
  }

  /** Becomes responsible for (owner, provider): a new scheduler with this GUID and epoch. */
  create(owner: string, provider: string, guid: string, epoch: number): void {
    const key = schedulerKey(owner, provider)
    const existing = this.#hosted.get(key)
    if (existing && !existing.draining) return
    const scheduler = new OwnerScheduler(
      { owner, provider, capacity: this.#init.ownerLimit, placement: this.#init.placement },
      { rng: { next: Math.random } },
    )
    const now = this.#init.now()
    if (provider === BUILTIN_PROVIDER) {
      for (const spec of BUILTIN_FUNCTIONS)
        scheduler.handle({ type: 'function-registered', spec }, now)
    }
    const hosted: Hosted = {
      key,
      owner,
      provider,
      guid,
      epoch,
      scheduler,
      timer: undefined,
      timerAt: Number.POSITIVE_INFINITY,
      lastActive: now,
      draining: false,
      versions: new Map(),
      workers: new Map(),
    }
    this.#hosted.set(key, hosted)
    this.#syncWorkers(hosted)
    this.#init.emit({
      type: 'scheduler-created',
      at: Date.now(),
      peerId: this.#init.selfId,
      key,
      owner,
      provider,
      guid,
      epoch,
    })
  }

  /**
   * Queues an invocation; `done` settles with its final view. An idempotency key seen
   * before gives the earlier invocation instead.
   */
  submit(key: string, request: SubmitRequest): { id: string; done: Promise<InvocationView> } {
    const hosted = this.#hosted.get(key)
    if (!hosted || hosted.draining) {
      throw new ChorusError('not-responsible', `this peer is not responsible for ${key}`)
    }
    // A forward retried after a lost answer carries the same id: it is the same invocation.
    if (this.#live.has(request.id) || this.#results.has(request.id)) {
      return { id: request.id, done: this.wait(request.id) }
    }
    if (hosted.provider !== BUILTIN_PROVIDER) this.#register(hosted, request.fn)
    if (request.idempotencyKey !== undefined) {
      const idemKey = `${hosted.owner}\u0000${request.idempotencyKey}`
      const earlier = this.#idempotent.get(idemKey)
      if (earlier !== undefined) return { id: earlier, done: this.wait(earlier) }
      this.#idempotent.set(idemKey, request.id)
    }
    const invocation: InvocationRequest = {
      id: request.id,
      fn: request.fn,
      input: request.input,
      priority: request.priority,
    }
    const done = this.wait(request.id)
    this.#live.set(request.id, key)
    hosted.lastActive = this.#init.now()
    this.#handle(hosted, { type: 'invocation-submitted', invocation })
    return { id: request.id, done }
  }

  /** Settles when the invocation has a result (at once if it has one already). */
  wait(id: string): Promise<InvocationView> {
    const result = this.#results.get(id)
    if (result) return Promise.resolve(result)
    return new Promise((resolve) => {
      const list = this.#waiters.get(id)
      if (list) list.push(resolve)
      else this.#waiters.set(id, [resolve])
    })
  }

  /** What this peer knows of an invocation, or undefined. */
  status(id: string): InvocationView | undefined {
    const result = this.#results.get(id)
    if (result) return result
    const key = this.#live.get(id)
    const hosted = key === undefined ? undefined : this.#hosted.get(key)
    const state = hosted?.scheduler.invocationState(id)
    if (!state || !hosted) return undefined
    const trace = this.#init.providers?.[hosted.provider]?.trace?.(id)
    return {
      id,
      status: state,
      peerId: this.#ranOn.get(id) ?? this.#init.selfId,
      ...(trace === undefined ? {} : { trace }),
    }
  }

  /** Records an outcome learned elsewhere (a forwarded invocation's answer). */
  record(view: InvocationView): void {
    if (view.status === 'succeeded' || view.status === 'failed') this.#settle(view)
  }

  list(): SchedulerInfo[] {
    return [...this.#hosted.values()].map((h) => {
      const summary = h.scheduler.summary(this.#init.now())
      return {
        guid: h.guid,
        owner: h.owner,
        provider: h.provider,
        peerId: this.#init.selfId,
        epoch: h.epoch,
        capacity: summary.capacity,
        pending: summary.pending.high + summary.pending.low,
        inflight: summary.inflight,
      }
    })
  }

  /**
   * Another responsible won this key: stop dispatching, hand the queued invocations to
   * `forward` (whose answers settle their waiters), and finish what already runs here.
   */
  drainInto(key: string, forward: (request: SubmitRequest) => Promise<InvocationView>): void {
    const hosted = this.#hosted.get(key)
    if (!hosted || hosted.draining) return
    hosted.draining = true
    this.#handle(hosted, { type: 'capacity-changed', capacity: 0 })
    const queued = hosted.scheduler.snapshot().queued
    for (const q of queued) {
      this.#handle(hosted, { type: 'invocation-withdrawn', invocationId: q.id })
      this.#live.delete(q.id)
      background(
        async () => {
          let view: InvocationView
          try {
            view = await forward({ id: q.id, fn: q.fn, input: q.input, priority: q.priority })
          } catch (err) {
            this.#settle({
              id: q.id,
              status: 'failed',
              error: {
                code: 'peer-unreachable',
                message: `handing off to another scheduler failed: ${String(err)}`,
              },
            })
            return
          }
          if (view.status === 'succeeded' || view.status === 'failed') this.#settle(view)
          else this.#handOver(view)
        },
        (err) => this.#bug(`handing off ${q.id}`, err),
      )
    }
    this.#init.emit({
      type: 'scheduler-ownership-changed',
      at: Date.now(),
      peerId: this.#init.selfId,
      key,
      guid: hosted.guid,
      handedOff: queued.length,
    })
    this.#maybeRemoveDrained(hosted)
  }

  /** The mesh's workers changed (a peer joined, was suspected, died or left). */
  workersChanged(): void {
    let offers: readonly WorkerOffer[] | undefined
    for (const hosted of this.#hosted.values()) {
      if (this.#init.meshWide?.has(hosted.provider) !== true) continue
      offers ??= this.#init.workers?.()
      this.#syncWorkers(hosted, offers)
    }
  }

  stop(): void {
    clearInterval(this.#sweep)
    for (const hosted of this.#hosted.values()) clearTimeout(hosted.timer)
    for (const controller of this.#running.values()) controller.abort()
    this.#running.clear()
    const stopping: InvocationView = {
      id: '',
      status: 'failed',
      error: { code: 'shutting-down', message: 'the peer stopped' },
    }
    for (const [id, waiters] of this.#waiters) for (const w of waiters) w({ ...stopping, id })
    this.#waiters.clear()
  }

  // ----------------------------------------------------------------------------

  /**
   * Tells the scheduler of workers that joined, changed health or went (offline: what
   * they ran fails as `worker-lost`). A scheduler of a provider that is not mesh-wide
   * knows only this peer's worker.
   */
  #syncWorkers(hosted: Hosted, meshOffers?: readonly WorkerOffer[]): void {
    const self: WorkerOffer = {
      id: this.#init.selfId,
      memoryMb: this.#init.workerMemoryMb,
      state: 'alive',
    }
    const meshWide = this.#init.meshWide?.has(hosted.provider) === true
    const offers = meshWide ? (meshOffers ?? this.#init.workers?.() ?? [self]) : [self]
    const seen = new Set<string>()
    for (const offer of offers) {
      seen.add(offer.id)
      const known = hosted.workers.get(offer.id)
      let health: WorkerHealth = known?.health ?? 'offline'
      if (health === 'offline' || known?.memoryMb !== offer.memoryMb) {
        // Joining again updates the memory of a worker the scheduler knows, and revives it.
        this.#handle(hosted, {
          type: 'worker-joined',
          workerId: offer.id,
          memoryMb: offer.memoryMb,
        })
        health = 'healthy'
      }
      const wanted = HEALTH_OF[offer.state]
      if (health !== wanted) {
        this.#handle(hosted, { type: 'worker-health', workerId: offer.id, health: wanted })
      }
      hosted.workers.set(offer.id, { health: wanted, memoryMb: offer.memoryMb })
    }
    for (const [id, known] of hosted.workers) {
      if (seen.has(id) || known.health === 'offline') continue
      this.#handle(hosted, { type: 'worker-health', workerId: id, health: 'offline' })
      hosted.workers.set(id, { ...known, health: 'offline' })
    }
  }

  /** Registers (or re-registers, after a redeploy) the function's current spec. */
  #register(hosted: Hosted, fn: string): void {
    const runtime = this.#init.providers?.[hosted.provider]
    const spec = runtime?.spec(hosted.owner, fn)
    if (spec === undefined) {
      throw new ChorusError(
        'unknown-function',
        `no function ${fn} for ${hosted.owner} on provider ${hosted.provider}`,
      )
    }
    const version = spec.version ?? ''
    if (hosted.versions.get(fn) === version) return
    const effects = hosted.scheduler.handle({ type: 'function-registered', spec }, this.#init.now())
    const rejected = effects.find((e) => e.type === 'rejected')
    if (rejected) throw new ChorusError('internal', `cannot register ${fn}: ${rejected.message}`)
    this.#carryOut(hosted, effects)
    hosted.versions.set(fn, version)
  }

  #handle(hosted: Hosted, event: SchedulerEvent): void {
    const effects = hosted.scheduler.handle(event, this.#init.now())
    this.#carryOut(hosted, effects)
    this.#arm(hosted)
  }

  #carryOut(hosted: Hosted, effects: readonly SchedulerEffect[]): void {
    for (const effect of effects) {
      switch (effect.type) {
        case 'dispatch':
          for (const inv of effect.invocations) this.#ranOn.set(inv.id, effect.worker)
          if (hosted.provider === BUILTIN_PROVIDER) {
            for (const inv of effect.invocations)
              this.#run(hosted, effect.fn, inv.id, inv.attempt, inv.input)
          } else {
            this.#runOnProvider(hosted, effect)
          }
          break
        case 'cancel':
          for (const id of effect.invocationIds) this.#running.get(id)?.abort()
          break
        case 'result': {
          const ranOn = this.#ranOn.get(effect.invocationId) ?? this.#init.selfId
          this.#ranOn.delete(effect.invocationId)
          this.#live.delete(effect.invocationId)
          hosted.lastActive = this.#init.now()
          this.#settle({
            id: effect.invocationId,
            status: effect.status,
            ...(effect.status === 'succeeded'
              ? { output: effect.output }
              : { error: effect.error }),
            peerId: ranOn,
            ...this.#traceOf(hosted, effect.invocationId),
          })
          break
        }
        case 'evict-host':
          break // builtin hosts are in-process: nothing to stop
        case 'rejected':
          // Late answers of cancelled attempts land here; anything else is a bug worth seeing.
          if (effect.reason !== 'stale-attempt' && effect.reason !== 'unknown-invocation') {
            this.#init.log?.(`scheduler ${hosted.key} rejected ${effect.event}: ${effect.message}`)
          }
          break
      }
    }
    if (hosted.draining) this.#maybeRemoveDrained(hosted)
  }

  #run(hosted: Hosted, fn: string, id: string, attempt: number, input: unknown): void {
    const controller = new AbortController()
    this.#running.set(id, controller)
    this.#init.onExecute?.(fn)
    background(
      async () => {
        let event: SchedulerEvent
        try {
          const output = await runBuiltin(fn, input, controller.signal)
          event = { type: 'invocation-completed', invocationId: id, attempt, output }
        } catch (err) {
          const error = err instanceof Error ? err.message : String(err)
          event = { type: 'invocation-failed', invocationId: id, attempt, error }
        }
        this.#answered(hosted, controller, id, event)
      },
      (err) => this.#bug(`answering ${id}`, err),
    )
  }

  #traceOf(hosted: Hosted, id: string): { trace?: RunTrace } {
    const trace = this.#init.providers?.[hosted.provider]?.trace?.(id)
    return trace === undefined ? {} : { trace }
  }

  /** The worker refused the dispatch (busy): nothing runs, and the scheduler walks on. */
  #refused(
    hosted: Hosted,
    dispatch: DispatchEffect,
    controllers: readonly AbortController[],
    message: string,
  ): void {
    dispatch.invocations.forEach((inv, i) => {
      if (this.#running.get(inv.id) === controllers[i]) this.#running.delete(inv.id)
    })
    if (this.#hosted.get(hosted.key) !== hosted) return
    this.#init.log?.(`${hosted.key}: ${dispatch.worker} busy for ${dispatch.fn}: ${message}`)
    this.#init.onRefused?.(dispatch.worker)
    this.#handle(hosted, { type: 'dispatch-refused', dispatchId: dispatch.dispatchId })
  }

  /** Sends a dispatch to another peer's worker; its answer settles each invocation. */
  #runRemote(hosted: Hosted, dispatch: DispatchEffect): void {
    const controllers = dispatch.invocations.map((inv) => {
      const controller = new AbortController()
      this.#running.set(inv.id, controller)
      return controller
    })
    const answerAll = (
      events: (inv: DispatchEffect['invocations'][number], i: number) => SchedulerEvent,
    ) =>
      dispatch.invocations.forEach((inv, i) =>
        this.#answered(hosted, controllers[i] as AbortController, inv.id, events(inv, i)),
      )
    const spec = this.#init.providers?.[hosted.provider]?.spec(hosted.owner, dispatch.fn)
    const remote = this.#init.remote
    const sent = remote
      ? remote.dispatch(
          dispatch.worker,
          hosted.owner,
          hosted.provider,
          dispatch,
          controllers.map((c) => c.signal),
          spec?.timeoutMs ?? 60_000,
        )
      : Promise.reject(new Error('this peer cannot dispatch to other peers'))
    background(
      async () => {
        let answer: Awaited<typeof sent>
        try {
          answer = await sent
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err)
          answerAll((inv) => ({
            type: 'invocation-failed',
            invocationId: inv.id,
            attempt: inv.attempt,
            error: `worker ${dispatch.worker} did not answer: ${message}`,
          }))
          return
        }
        if (answer.type === 'busy') {
          this.#refused(hosted, dispatch, controllers, answer.message)
          return
        }
        answerAll((inv, i) => {
          const outcome = answer.outcomes[i]
          return outcome?.status === 'succeeded'
            ? {
                type: 'invocation-completed',
                invocationId: inv.id,
                attempt: inv.attempt,
                output: outcome.output,
              }
            : {
                type: 'invocation-failed',
                invocationId: inv.id,
                attempt: inv.attempt,
                error: outcome?.error ?? 'no outcome',
              }
        })
      },
      (err) => this.#bug(`answering a dispatch to ${dispatch.worker}`, err),
    )
  }

  /** Runs a dispatch of a non-builtin provider: acquire (or refuse, busy), run, answer each. */
  #runOnProvider(hosted: Hosted, dispatch: DispatchEffect): void {
    if (dispatch.worker !== this.#init.selfId) {
      this.#runRemote(hosted, dispatch)
      return
    }
    const runtime = this.#init.providers?.[hosted.provider]
    const controllers = dispatch.invocations.map((inv) => {
      const controller = new AbortController()
      this.#running.set(inv.id, controller)
      return controller
    })
    const fail = (index: number, message: string): void => {
      const inv = dispatch.invocations[index]
      const controller = controllers[index]
      if (inv === undefined || controller === undefined) return
      this.#answered(hosted, controller, inv.id, {
        type: 'invocation-failed',
        invocationId: inv.id,
        attempt: inv.attempt,
        error: message,
      })
    }
    const acquiring = runtime
      ? runtime.acquire(hosted.owner, dispatch)
      : Promise.reject(new Error(`no provider ${hosted.provider} on this peer`))
    background(
      async () => {
        let lease: Awaited<typeof acquiring>
        try {
          lease = await acquiring
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err)
          dispatch.invocations.forEach((_, i) => fail(i, message))
          return
        }
        if (lease.type === 'busy') {
          this.#refused(hosted, dispatch, controllers, lease.message)
          return
        }
        dispatch.invocations.forEach((inv, i) => {
          const controller = controllers[i] as AbortController
          this.#init.onExecute?.(dispatch.fn)
          background(
            async () => {
              let output: unknown
              try {
                output = await lease.run(i, inv.id, inv.input, controller.signal)
              } catch (err) {
                fail(i, err instanceof Error ? err.message : String(err))
                return
              }
              this.#answered(hosted, controller, inv.id, {
                type: 'invocation-completed',
                invocationId: inv.id,
                attempt: inv.attempt,
                output,
              })
            },
            (err) => this.#bug(`answering ${inv.id}`, err),
          )
        })
      },
      (err) => this.#bug(`running a dispatch of ${dispatch.fn}`, err),
    )
  }

  #answered(hosted: Hosted, controller: AbortController, id: string, event: SchedulerEvent): void {
    if (this.#running.get(id) === controller) this.#running.delete(id)
    if (this.#hosted.get(hosted.key) !== hosted) return // deallocated meanwhile
    this.#handle(hosted, event)
  }

  /** Tells waiters the invocation now lives elsewhere (`view` says where), keeping no result. */
  #handOver(view: InvocationView): void {
    const waiters = this.#waiters.get(view.id)
    this.#waiters.delete(view.id)
    for (const w of waiters ?? []) w(view)
  }

  /** A handler that threw where it cannot: a bug here, logged with its stack. */
  #bug(what: string, err: unknown): void {
    this.#init.log?.(
      `bug: ${what} threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    )
  }

  #settle(view: InvocationView): void {
    this.#results.set(view.id, view)
    const waiters = this.#waiters.get(view.id)
    if (!waiters) return
    this.#waiters.delete(view.id)
    for (const w of waiters) w(view)
  }

  #arm(hosted: Hosted): void {
    const at = hosted.scheduler.nextDeadline()
    if (at === undefined) {
      clearTimeout(hosted.timer)
      hosted.timer = undefined
      hosted.timerAt = Number.POSITIVE_INFINITY
      return
    }
    if (hosted.timer !== undefined && hosted.timerAt <= at) return
    clearTimeout(hosted.timer)
    hosted.timerAt = at
    hosted.timer = setTimeout(
      () => {
        hosted.timer = undefined
        hosted.timerAt = Number.POSITIVE_INFINITY
        if (this.#hosted.get(hosted.key) === hosted) this.#handle(hosted, { type: 'tick' })
      },
      Math.max(0, at - this.#init.now()),
    )
    hosted.timer.unref()
  }

  #isIdle(hosted: Hosted): boolean {
    return hosted.scheduler.inflight === 0 && hosted.scheduler.queued === 0
  }

  #deallocateIdle(): void {
    const now = this.#init.now()
    for (const hosted of [...this.#hosted.values()]) {
      if (hosted.draining || !this.#isIdle(hosted)) continue
      if (now - hosted.lastActive < this.#init.schedulerIdleMs) continue
      this.#remove(hosted, 'idle')
      this.#init.onDeallocated(hosted.key, hosted.guid, hosted.epoch)
    }
  }

  #maybeRemoveDrained(hosted: Hosted): void {
    if (this.#hosted.get(hosted.key) === hosted && this.#isIdle(hosted))
      this.#remove(hosted, 'merged')
  }

  #remove(hosted: Hosted, reason: 'idle' | 'merged'): void {
    clearTimeout(hosted.timer)
    this.#hosted.delete(hosted.key)
    this.#init.emit({
      type: 'scheduler-deallocated',
      at: Date.now(),
      peerId: this.#init.selfId,
      key: hosted.key,
      guid: hosted.guid,
      epoch: hosted.epoch,
      reason,
    })
  }
}

export function schedulerKey(owner: string, provider: string): string {
  return `${owner}/${provider}`
}
