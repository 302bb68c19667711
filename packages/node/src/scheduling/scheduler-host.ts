/**
 * The schedulers this peer is responsible for, and the shell around each: it feeds
 * OwnerScheduler events with the time, arms a timer at nextDeadline(), carries out the
 * effects (every dispatch through one run path, to this peer's providers or to another
 * peer's worker), and keeps results for whoever waits or asks later.
 *
 * The parts, one a file beside this one: `scheduler-registry.ts` (what is hosted and what
 * each holds, with its ledger), `result-store.ts`, `worker-sync.ts`,
 * `idle-deallocation.ts`, `dispatch-runner.ts` with `remote-dispatcher.ts` (running a
 * dispatch), `provider.ts` (what providers implement), `scheduler-key.ts` and
 * `scheduler-info.ts` (a scheduler as the API and the load summary show it).
 */
import {
  OwnerScheduler,
  seededRng,
  type InvocationRequest,
  type PlacementPolicy,
  type SchedulerEffect,
  type SchedulerEvent,
} from '@chorus/scheduler-core'
import { schedulerInfo } from './scheduler-info.js'
import { background } from '../background.js'
import {
  InvocationLedger,
  type LedgerResult,
  type LedgerSnapshot,
} from '../core/invocation-ledger.js'
import { schedulerKeyOfInvocation } from '../core/invocation-id.js'
import type { RunTrace } from '../choreography/index.js'
import { DeadlineTimer } from '../deadline-timer.js'
import { ChorusError } from '../errors.js'
import { silentLogger, type Logger } from '../observability/logger.js'
import type { InvocationView, PeerEvent, SchedulerInfo } from '../peer-api.js'
import { DispatchRunner } from './dispatch-runner.js'
import { idleExpired, isIdle, sweepEveryMs } from './idle-deallocation.js'
import type { DispatchEffect, Dispatcher, ProviderRuntime } from './provider.js'
import { BUILTIN_PROVIDER, BuiltinProvider } from './providers/builtin-provider.js'
import {
  DEFAULT_REMOTE_TIMEOUT_MS,
  remoteDispatcher,
  type RemoteDispatch,
} from './remote-dispatcher.js'
import { ResultStore } from './result-store.js'
import { SchedulerRegistry, type HostedScheduler } from './scheduler-registry.js'
import { schedulerKey } from './scheduler-key.js'
import { hostLabel } from './warm-host-sync.js'
import { syncWorkers, type WorkerOffer } from './worker-sync.js'

// What peer.ts and the providers have always imported from here.
export type { DispatchEffect, ProviderLease, ProviderRuntime } from './provider.js'
export type { WorkerOffer } from './worker-sync.js'
export { schedulerKey } from './scheduler-key.js'

export interface SchedulerHostInit {
  selfId: string
  workerMemoryMb: number
  /** An owner's concurrent invocations per provider. */
  ownerLimit: number
  placement: PlacementPolicy
  schedulerIdleMs: number
  /** Milliseconds on a monotonic clock. */
  now: () => number
  /**
   * Where each new scheduler's seed comes from (the peer's seeded rng): a scheduler draws from
   * its own seeded rng, whose state its snapshot carries. Default `Math.random`.
   */
  rng?: () => number
  emit: (event: PeerEvent) => void
  /** Called as a dispatched invocation starts running on this peer's worker. */
  onExecute?: (fn: string) => void
  /** Called when a worker refused a dispatch (busy): the scheduler walks on. */
  onRefused?: (worker: string) => void
  /** Called after a scheduler was freed for idleness, to remove its directory entry. */
  onDeallocated: (key: string, guid: string, epoch: number) => void
  /** Default silent; the host logs as `scheduling:host`. */
  log?: Logger
  /**
   * Providers other than `builtin` (which the host brings), by name: where their functions'
   * specs come from and how they run.
   */
  providers?: Readonly<Record<string, ProviderRuntime>>
  /**
   * Providers whose schedulers place invocations on every peer's worker (`workers`), not
   * only on this peer's; their dispatches to other peers go through `remote`.
   */
  meshWide?: ReadonlySet<string>
  /** The peers that offer a worker now, this one included. */
  workers?: () => readonly WorkerOffer[]
  /** Sends dispatches to other peers' workers (RemoteWorkers). */
  remote?: RemoteDispatch
  /**
   * A scheduler handed over to `successor` finished an invocation that was still running
   * here: its result belongs in the moved ledger there.
   */
  onResultAfterHandover?: (successor: string, key: string, result: LedgerResult) => void
  /** A scheduler's queue, in-flight or state changed (its peer's load summary may follow). */
  onLoadChanged?: () => void
  /** A scheduler evicted its host named `label` on `worker`: stop it there. */
  evictHost?: (worker: string, label: string) => void
}

/** A scheduler as it is handed to another peer: its identity, queue and ledger. */
export interface HandoverPackage {
  readonly key: string
  readonly owner: string
  readonly provider: string
  readonly guid: string
  readonly epoch: number
  /** Queued, not yet dispatched, each with its idempotency key: the successor queues them. */
  readonly queued: readonly SubmitRequest[]
  /** Running here: they finish here, and their results follow to the successor. */
  readonly running: readonly string[]
  readonly ledger: LedgerSnapshot
  /** The source is leaving the mesh: the successor commits as if it were gone already. */
  readonly leaving?: boolean
}

export interface SubmitRequest {
  readonly id: string
  readonly fn: string
  readonly input: unknown
  readonly priority: 0 | 1
  readonly idempotencyKey?: string | undefined
  /** Entered the mesh at another peer, which forwarded it here. */
  readonly forwarded?: boolean
}

export class SchedulerHost {
  readonly #init: SchedulerHostInit
  readonly #log: Logger
  /** Every provider by name, `builtin` included. */
  readonly #providers: ReadonlyMap<string, ProviderRuntime>
  readonly #registry = new SchedulerRegistry()
  /** Outcomes and their waiters: each scheduler's own (its ledger's) and copies learned elsewhere. */
  readonly #results = new ResultStore()
  readonly #runner: DispatchRunner
  readonly #sweep: ReturnType<typeof setInterval>

  constructor(init: SchedulerHostInit) {
    this.#init = init
    this.#log = (init.log ?? silentLogger()).child({ component: 'scheduling:host' })
    this.#providers = new Map([
      ...Object.entries(init.providers ?? {}),
      [BUILTIN_PROVIDER, new BuiltinProvider()],
    ])
    this.#runner = new DispatchRunner({
      log: this.#log,
      ...(init.onExecute ? { onExecute: init.onExecute } : {}),
    })
    this.#sweep = setInterval(() => {
      this.#deallocateIdle()
      // Load summaries bring each worker's memory after it joined: keep schedulers current.
      this.workersChanged()
    }, sweepEveryMs(init.schedulerIdleMs))
    this.#sweep.unref()
  }

  /** Whether any scheduler here still has work queued or running. */
  get busy(): boolean {
    for (const hosted of this.#registry.values()) if (!isIdle(hosted)) return true
    return false
  }

  has(key: string): boolean {
    return this.#registry.accepting(key) !== undefined
  }

  entry(key: string): { guid: string; epoch: number } | undefined {
    const hosted = this.#registry.accepting(key)
    return hosted ? { guid: hosted.guid, epoch: hosted.epoch } : undefined
  }

  /** Keys, GUIDs and epochs of what this peer is responsible for. */
  entries(): { key: string; guid: string; epoch: number }[] {
    return [...this.#registry.values()]
      .filter((h) => !h.draining)
      .map((h) => ({ key: h.key, guid: h.guid, epoch: h.epoch }))
  }

  /** Becomes responsible for (owner, provider): a new scheduler with this GUID and epoch. */
  create(owner: string, provider: string, guid: string, epoch: number): void {
    this.#create(owner, provider, guid, epoch, new InvocationLedger(), new Map())
  }

  /**
   * Continues a scheduler handed over by another peer, under its GUID at `epoch` (the
   * directory already committed it here): its ledger comes along, what ran there finishes
   * there, and its queue is queued here in order. A queued invocation that cannot be queued
   * here (its function unknown) fails with a recorded result, never silently.
   */
  adopt(handover: HandoverPackage, epoch: number, from: string): void {
    const { key, owner, provider, guid } = handover
    const existing = this.#registry.get(key)
    if (existing && this.#registry.isCurrent(existing) && existing.guid !== guid) {
      throw new ChorusError('stale-epoch', `${key} is already hosted here as ${existing.guid}`)
    }
    const elsewhere = new Map(handover.running.map((id) => [id, from]))
    this.#create(owner, provider, guid, epoch, InvocationLedger.restore(handover.ledger), elsewhere)
    for (const queued of handover.queued) {
      // Its key came along in the ledger, already naming this invocation.
      const request: SubmitRequest = {
        id: queued.id,
        fn: queued.fn,
        input: queued.input,
        priority: queued.priority,
      }
      try {
        this.submit(key, request)
      } catch (err) {
        this.#settle(this.#registry.get(key), {
          id: request.id,
          status: 'failed',
          error: { code: asCode(err), message: `could not queue after a handover: ${String(err)}` },
        })
      }
    }
  }

  /** Whether `provider` here knows `owner`'s function `fn` (its definition arrived). */
  hasFunction(owner: string, provider: string, fn: string): boolean {
    return this.#providers.get(provider)?.spec(owner, fn) !== undefined
  }

  /** Records, in the moved ledger, the outcome of an invocation that ran at the old peer. */
  recordHandedOver(key: string, result: LedgerResult): void {
    const hosted = this.#registry.get(key)
    if (hosted) hosted.runningElsewhere.delete(result.id)
    this.#settle(hosted, result)
  }

  #create(
    owner: string,
    provider: string,
    guid: string,
    epoch: number,
    ledger: InvocationLedger,
    runningElsewhere: Map<string, string>,
  ): void {
    const key = schedulerKey(owner, provider)
    if (this.#registry.accepting(key)) return
    const hosted: HostedScheduler = {
      key,
      owner,
      provider,
      guid,
      epoch,
      scheduler: new OwnerScheduler(
        { owner, provider, capacity: this.#init.ownerLimit, placement: this.#init.placement },
        { rng: seededRng(Math.floor((this.#init.rng ?? Math.random)() * 2 ** 32)) },
      ),
      timer: new DeadlineTimer(() => {
        if (this.#registry.isCurrent(hosted)) this.#handle(hosted, { type: 'tick' })
      }),
      lastActive: this.#init.now(),
      draining: false,
      versions: new Map(),
      workers: new Map(),
      ledger,
      runningElsewhere,
    }
    this.#registry.add(hosted)
    this.#init.onLoadChanged?.()
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
    const hosted = this.#registry.accepting(key)
    if (!hosted) {
      throw new ChorusError('not-responsible', `this peer is not responsible for ${key}`)
    }
    // A forward retried after a lost answer carries the same id: it is the same invocation.
    if (
      this.#registry.isLive(request.id) ||
      hosted.ledger.result(request.id) !== undefined ||
      hosted.runningElsewhere.has(request.id)
    ) {
      return { id: request.id, done: this.wait(request.id) }
    }
    this.#register(hosted, request.fn)
    if (request.idempotencyKey !== undefined) {
      const earlier = hosted.ledger.claimKey(request.idempotencyKey, request.id)
      // A handed-on invocation may find its own key in a ledger that came ahead of it.
      if (earlier !== undefined && earlier !== request.id)
        return { id: earlier, done: this.wait(earlier) }
    }
    const invocation: InvocationRequest = {
      id: request.id,
      fn: request.fn,
      input: request.input,
      priority: request.priority,
      ...(request.forwarded === true ? { forwarded: true } : {}),
    }
    const done = this.wait(request.id)
    this.#registry.hold(request.id, key)
    hosted.lastActive = this.#init.now()
    this.#handle(hosted, { type: 'invocation-submitted', invocation })
    return { id: request.id, done }
  }

  /** Settles when the invocation has a result (at once if it has one already). */
  wait(id: string): Promise<InvocationView> {
    const key = schedulerKeyOfInvocation(id)
    const recorded = key === undefined ? undefined : this.#registry.get(key)?.ledger.result(id)
    return recorded ? Promise.resolve(recorded as InvocationView) : this.#results.wait(id)
  }

  /** What this peer knows of an invocation, or undefined. */
  status(id: string): InvocationView | undefined {
    const key = schedulerKeyOfInvocation(id)
    const ledgerOf = key === undefined ? undefined : this.#registry.get(key)
    const recorded = ledgerOf?.ledger.result(id)
    if (recorded) return recorded as InvocationView
    const result = this.#results.get(id)
    if (result) return result
    const ranElsewhere = ledgerOf?.runningElsewhere.get(id)
    if (ranElsewhere !== undefined) return { id, status: 'running', peerId: ranElsewhere }
    const hosted = this.#registry.holderOf(id)
    const progress = hosted?.scheduler.invocationProgress(id)
    if (!progress || !hosted) return undefined
    return {
      id,
      status: progress.state,
      peerId: this.#registry.workerOf(id) ?? this.#init.selfId,
      ...this.#traceOf(hosted, id),
      attempts: progress.attempts,
      preemptions: progress.preemptions,
    }
  }

  /** Records an outcome learned elsewhere (a forwarded invocation's answer). */
  record(view: InvocationView): void {
    if (view.status === 'succeeded' || view.status === 'failed') this.#results.settle(view)
  }

  list(): SchedulerInfo[] {
    return [...this.#registry.values()].map((h) =>
      schedulerInfo(
        { ...h, moving: h.draining },
        this.#init.selfId,
        h.scheduler.summary(this.#init.now()),
      ),
    )
  }

  /**
   * Another responsible won this key: stop dispatching, hand the queued invocations to
   * `forward` (whose answers settle their waiters), and finish what already runs here.
   */
  drainInto(key: string, forward: (request: SubmitRequest) => Promise<InvocationView>): void {
    const hosted = this.#registry.accepting(key)
    if (!hosted) return
    hosted.draining = true
    this.#handle(hosted, { type: 'capacity-changed', capacity: 0 })
    const queued = hosted.scheduler.snapshot().queued
    for (const q of queued) {
      this.#handle(hosted, { type: 'invocation-withdrawn', invocationId: q.id })
      this.#registry.release(q.id)
      background(
        async () => {
          let view: InvocationView
          try {
            const idempotencyKey = hosted.ledger.keyOf(q.id)
            view = await forward({
              id: q.id,
              fn: q.fn,
              input: q.input,
              priority: q.priority,
              ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
            })
          } catch (err) {
            this.#results.settle({
              id: q.id,
              status: 'failed',
              error: {
                code: 'peer-unreachable',
                message: `handing off to another scheduler failed: ${String(err)}`,
              },
            })
            return
          }
          if (view.status === 'succeeded' || view.status === 'failed') this.#results.settle(view)
          else this.#results.handOver(view)
        },
        (err) => this.#bug(`handing off ${q.id}`, err),
      )
    }
    this.#emitOwnershipChanged(hosted, queued.length)
    this.#maybeRemoveDrained(hosted)
  }

  #emitOwnershipChanged(hosted: HostedScheduler, handedOff: number): void {
    this.#init.emit({
      type: 'scheduler-ownership-changed',
      at: Date.now(),
      peerId: this.#init.selfId,
      key: hosted.key,
      guid: hosted.guid,
      handedOff,
    })
  }

  /** The ledger of the scheduler for `key` (draining or not), as it travels. */
  ledgerOf(key: string): LedgerSnapshot | undefined {
    return this.#registry.get(key)?.ledger.snapshot()
  }

  /** Takes in the ledger of a scheduler that merged into this one (a healed partition). */
  absorbLedger(key: string, ledger: LedgerSnapshot): boolean {
    const hosted = this.#registry.get(key)
    if (!hosted) return false
    hosted.ledger.absorb(ledger)
    return true
  }

  /**
   * Starts handing the scheduler for `key` over: nothing more is dispatched (its capacity
   * drops to 0, so nothing queued starts running and runs twice), and its package is made.
   * Follow with `completeHandover` once the successor holds it, or `abortHandover`.
   */
  beginHandover(key: string): HandoverPackage | undefined {
    const hosted = this.#registry.accepting(key)
    if (!hosted) return undefined
    this.#handle(hosted, { type: 'capacity-changed', capacity: 0 })
    const snapshot = hosted.scheduler.snapshot()
    const queued = snapshot.queued.map((q): SubmitRequest => {
      const idempotencyKey = hosted.ledger.keyOf(q.id)
      return {
        id: q.id,
        fn: q.fn,
        input: q.input,
        priority: q.priority,
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      }
    })
    const running = snapshot.dispatches.flatMap((d) => d.invocations.map((i) => i.id))
    return {
      key,
      owner: hosted.owner,
      provider: hosted.provider,
      guid: hosted.guid,
      epoch: hosted.epoch,
      queued,
      running: [...running, ...hosted.runningElsewhere.keys()],
      ledger: hosted.ledger.snapshot(),
    }
  }

  /** The handover did not happen: the scheduler dispatches again, as if nothing was tried. */
  abortHandover(key: string): void {
    const hosted = this.#registry.accepting(key)
    if (hosted) this.#handle(hosted, { type: 'capacity-changed', capacity: this.#init.ownerLimit })
  }

  /**
   * `successor` holds the scheduler now (at `epoch`): this one takes nothing new, tells
   * the waiters of what it queued where it went, hands on anything queued since the
   * package was made through `forward`, and goes once what runs here finished (its results
   * following to the successor).
   */
  completeHandover(
    key: string,
    pkg: HandoverPackage,
    successor: string,
    forward: (request: SubmitRequest) => Promise<InvocationView>,
  ): void {
    const hosted = this.#registry.accepting(key)
    if (!hosted) return
    hosted.successor = successor
    const moved = new Set(pkg.queued.map((q) => q.id))
    const late = hosted.scheduler.snapshot().queued.filter((q) => !moved.has(q.id))
    for (const id of moved) {
      this.#handle(hosted, { type: 'invocation-withdrawn', invocationId: id })
      this.#registry.release(id)
      this.#results.handOver({ id, status: 'queued', peerId: successor })
    }
    for (const id of hosted.runningElsewhere.keys()) {
      this.#results.handOver({ id, status: 'running', peerId: successor })
    }
    if (late.length > 0) this.drainInto(key, forward)
    else {
      hosted.draining = true
      this.#emitOwnershipChanged(hosted, moved.size)
      this.#maybeRemoveDrained(hosted)
    }
  }

  /** The mesh's workers changed (a peer joined, was suspected, died or left). */
  workersChanged(): void {
    let offers: readonly WorkerOffer[] | undefined
    for (const hosted of this.#registry.values()) {
      if (this.#init.meshWide?.has(hosted.provider) !== true) continue
      offers ??= this.#init.workers?.()
      this.#syncWorkers(hosted, offers)
    }
  }

  stop(): void {
    clearInterval(this.#sweep)
    for (const hosted of this.#registry.values()) hosted.timer.clear()
    this.#runner.stop()
    this.#results.failWaiters({
      status: 'failed',
      error: { code: 'shutting-down', message: 'the peer stopped' },
    })
  }

  // ----------------------------------------------------------------------------

  /**
   * Tells the scheduler of workers that joined, changed health or went (offline: what
   * they ran fails as `worker-lost`). A scheduler of a provider that is not mesh-wide
   * knows only this peer's worker.
   */
  #syncWorkers(hosted: HostedScheduler, meshOffers?: readonly WorkerOffer[]): void {
    const self: WorkerOffer = {
      id: this.#init.selfId,
      memoryMb: this.#init.workerMemoryMb,
      state: 'alive',
    }
    const meshWide = this.#init.meshWide?.has(hosted.provider) === true
    const offers = meshWide ? (meshOffers ?? this.#init.workers?.() ?? [self]) : [self]
    for (const event of syncWorkers(hosted.workers, offers)) this.#handle(hosted, event)
  }

  /** Registers (or re-registers, after a redeploy) the function's current spec. */
  #register(hosted: HostedScheduler, fn: string): void {
    const spec = this.#providers.get(hosted.provider)?.spec(hosted.owner, fn)
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

  #handle(hosted: HostedScheduler, event: SchedulerEvent): void {
    const effects = hosted.scheduler.handle(event, this.#init.now())
    this.#carryOut(hosted, effects)
    hosted.timer.arm(hosted.scheduler.nextDeadline(), this.#init.now())
    this.#init.onLoadChanged?.()
  }

  #carryOut(hosted: HostedScheduler, effects: readonly SchedulerEffect[]): void {
    for (const effect of effects) {
      switch (effect.type) {
        case 'dispatch':
          for (const inv of effect.invocations) this.#registry.placedOn(inv.id, effect.worker)
          this.#dispatch(hosted, effect)
          break
        case 'cancel':
          this.#runner.cancel(effect.invocationIds)
          break
        case 'result': {
          const id = effect.invocationId
          const ranOn = this.#registry.workerOf(id) ?? this.#init.selfId
          this.#registry.release(id)
          hosted.lastActive = this.#init.now()
          const result: LedgerResult = {
            id,
            status: effect.status,
            ...(effect.status === 'succeeded'
              ? { output: effect.output }
              : { error: effect.error }),
            peerId: ranOn,
            ...this.#traceOf(hosted, id),
            attempts: effect.attempts,
            preemptions: effect.preemptions,
          }
          this.#settle(hosted, result)
          if (hosted.successor !== undefined) {
            this.#init.onResultAfterHandover?.(hosted.successor, hosted.key, result)
          }
          break
        }
        case 'evict-host':
          this.#init.evictHost?.(effect.worker, hostLabel(hosted.guid, effect.hostId))
          break
        case 'rejected':
          // Late answers of cancelled attempts, and the loss of a host the scheduler had
          // evicted already, land here; anything else is a bug worth seeing.
          if (
            effect.reason !== 'stale-attempt' &&
            effect.reason !== 'unknown-invocation' &&
            effect.reason !== 'unknown-host'
          ) {
            this.#log.warn(
              { key: hosted.key, event: effect.event, reason: effect.reason },
              `the scheduler rejected ${effect.event}: ${effect.message}`,
            )
          }
          break
      }
    }
    if (hosted.draining) this.#maybeRemoveDrained(hosted)
  }

  /**
   * A host that scheduler `guid` named is gone from its worker (reaped, exited, evicted for
   * memory): the scheduler hears `host-lost`, so it places on what the worker really has.
   */
  hostLost(guid: string, hostId: string): void {
    for (const hosted of this.#registry.values()) {
      if (hosted.guid === guid) this.#handle(hosted, { type: 'host-lost', hostId })
    }
  }

  /**
   * Runs a dispatch on this peer's provider, or sends it to another peer's worker, on the
   * host it names, under the name that is unique in the mesh (`hostLabel`).
   */
  #dispatch(hosted: HostedScheduler, effect: DispatchEffect): void {
    const { owner, provider } = hosted
    const dispatch = { ...effect, hostId: hostLabel(hosted.guid, effect.hostId) }
    const runtime = this.#providers.get(provider)
    const local = dispatch.worker === this.#init.selfId
    const dispatcher: Dispatcher = local
      ? (d) =>
          runtime
            ? runtime.acquire(owner, d)
            : Promise.reject(new Error(`no provider ${provider} on this peer`))
      : remoteDispatcher(
          this.#init.remote,
          owner,
          provider,
          (fn) => runtime?.spec(owner, fn)?.timeoutMs ?? DEFAULT_REMOTE_TIMEOUT_MS,
        )
    this.#runner.run(
      dispatch,
      dispatcher,
      {
        answered: (event) => {
          if (this.#registry.isCurrent(hosted)) this.#handle(hosted, event)
        },
        refused: (message) => this.#refused(hosted, dispatch, message),
      },
      local,
    )
  }

  /** The worker refused the dispatch (busy): nothing runs, and the scheduler walks on. */
  #refused(hosted: HostedScheduler, dispatch: DispatchEffect, message: string): void {
    if (!this.#registry.isCurrent(hosted)) return
    this.#log.debug(
      { key: hosted.key, worker: dispatch.worker, fn: dispatch.fn },
      `the worker is busy: ${message}`,
    )
    this.#init.onRefused?.(dispatch.worker)
    this.#handle(hosted, { type: 'dispatch-refused', dispatchId: dispatch.dispatchId })
  }

  #traceOf(hosted: HostedScheduler, id: string): { trace?: RunTrace } {
    const trace = this.#providers.get(hosted.provider)?.trace?.(id)
    return trace === undefined ? {} : { trace }
  }

  /** A final outcome: recorded once, in the scheduler's ledger, and given to its waiters. */
  #settle(hosted: HostedScheduler | undefined, result: LedgerResult): void {
    hosted?.ledger.record(result)
    this.#results.settle(result as InvocationView)
  }

  /** A handler that threw where it cannot: a bug here, logged with its stack. */
  #bug(what: string, err: unknown): void {
    this.#log.error({ err }, `bug: ${what} threw`)
  }

  #deallocateIdle(): void {
    const idle = idleExpired(this.#registry.values(), this.#init.now(), this.#init.schedulerIdleMs)
    for (const hosted of idle) {
      this.#remove(hosted, 'idle')
      this.#init.onDeallocated(hosted.key, hosted.guid, hosted.epoch)
    }
  }

  #maybeRemoveDrained(hosted: HostedScheduler): void {
    if (this.#registry.isCurrent(hosted) && isIdle(hosted)) this.#remove(hosted, 'merged')
  }

  #remove(hosted: HostedScheduler, reason: 'idle' | 'merged'): void {
    this.#registry.remove(hosted)
    this.#init.onLoadChanged?.()
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

function asCode(err: unknown): string {
  return err instanceof ChorusError ? err.code : 'internal'
}
