/**
 * The scheduler of one capacity shard of one (owner, provider): a deterministic state
 * machine. Events go in with the time, effects come out; it reads no clock, draws no
 * randomness of its own (the rng is injected) and does no I/O.
 */
import {
  isValidCapacity,
  resolveConfig,
  type OwnerSchedulerConfig,
  type ResolvedConfig,
} from './config.js'
import { Deque } from './deque.js'
import type { ErrorCode, RejectionReason, SchedulerEffect } from './effects.js'
import { InvalidConfigError, InvalidSnapshotError } from './errors.js'
import {
  FAILURE_CODES,
  type InvocationRequest,
  type Priority,
  type SchedulerEvent,
  type SchedulerEventType,
} from './events.js'
import { resolveFunctionSpec, type ResolvedFunctionSpec } from './function-spec.js'
import { IndexedHeap } from './indexed-heap.js'
import {
  WORKER_HEALTH_STATES,
  homeAndStep,
  invocationHash,
  pairwiseCoprimeNumbersUntil,
  type WorkerHealth,
} from './openwhisk-placement.js'
import {
  placeLeastLoaded,
  placeOpenWhisk,
  placeRandom,
  placeWarmBounded,
  type PlacementDecision,
  type PlacementView,
} from './placement.js'
import { seededRng, type Rng } from './rng.js'
import {
  SNAPSHOT_FORMAT,
  checkSnapshotShape,
  type InvocationSnapshot,
  type SchedulerSnapshot,
} from './snapshot.js'
import { decayRate, recordArrival, type DecayedRate, type SchedulerSummary } from './summary.js'

export interface OwnerSchedulerDeps {
  /** Used only by the `openwhisk` fallback and the `random` baseline. */
  readonly rng: Rng
}

/** One handled event, as the bounded log keeps it. */
export interface HandledEvent {
  readonly now: number
  readonly type: SchedulerEventType | 'unknown'
  readonly effects: number
  readonly rejected?: RejectionReason | undefined
}

/** A read-only view of one worker, for the shell, tests and the dashboard. */
export interface WorkerView {
  readonly id: string
  readonly position: number
  readonly health: WorkerHealth
  readonly memoryMb: number
  readonly usedMb: number
  readonly idleMb: number
  readonly load: number
  readonly hosts: readonly { readonly id: string; readonly fn: string; readonly busy: number }[]
}

/** Where a live invocation is and how it got there, as its view shows it. */
export interface InvocationProgress {
  readonly state: 'queued' | 'running'
  /** Times it was started (dispatched and not refused): a preempted or retried one starts over. */
  readonly attempts: number
  /** Times a high-priority invocation evicted it while it ran. */
  readonly preemptions: number
}

const RECENT_EVENTS_KEPT = 256

/**
 * The rng of a placement preview: a clone of the scheduler's, made only if the decision
 * draws at all (most take the first fitting worker), or a fixed draw if it cannot clone.
 */
class PreviewRng implements Rng {
  readonly #source: Rng
  #clone: Rng | undefined

  constructor(source: Rng) {
    this.#source = source
  }

  reset(): void {
    this.#clone = undefined
  }

  next(): number {
    this.#clone ??= this.#source.clone?.() ?? { next: () => 0 }
    return this.#clone.next()
  }
}

interface FunctionState {
  spec: ResolvedFunctionSpec
  /** name@version: warm hosts are shared only within one version. */
  key: string
  hash: number
  inflight: number
  readonly groups: readonly [Group, Group]
}

/** The queue of one function at one priority, FIFO. */
interface Group {
  readonly fn: FunctionState
  readonly priority: Priority
  readonly queue: Deque<Invocation>
  /** Queued invocations in `queue` (it may also hold finished ones, skipped lazily). */
  live: number
  /** Sequence number of the head: the ready heap's key. */
  headSeq: number
  /** When a waiting batch leaves anyway: the batch heap's key. */
  batchReadyAt: number
}

interface Invocation {
  readonly id: string
  readonly fn: FunctionState
  readonly priority: Priority
  readonly preemptible: boolean
  readonly input: unknown
  readonly enqueuedAt: number
  queueDeadline: number
  seq: number
  attempt: number
  failures: number
  preemptions: number
  state: 'queued' | 'running' | 'finished'
  dispatch: Dispatch | undefined
}

interface Worker {
  readonly id: string
  readonly position: number
  memoryMb: number
  health: WorkerHealth
  refusingUntil: number
  usedMb: number
  idleMb: number
  load: number
  readonly hosts: Map<string, Host>
  /** fnKey → hosts of that version with a free slot. */
  readonly freeSlotHosts: Map<string, Set<Host>>
}

interface Host {
  readonly id: string
  readonly n: number
  readonly worker: Worker
  readonly fn: string
  readonly fnKey: string
  readonly memoryMb: number
  readonly slots: number
  readonly dispatches: Set<Dispatch>
  /** Slots in use: the invocations running on it (a batch takes one each). */
  running: number
  lastUsedAt: number
  idleSince: number
  idleOrder: number
}

interface Dispatch {
  readonly id: string
  readonly seq: number
  readonly fn: FunctionState
  readonly host: Host
  readonly invocations: Invocation[]
  readonly dispatchedAt: number
  readonly deadline: number
  readonly coldStart: boolean
  readonly overloaded: boolean
  pending: number
}

class Rejection {
  constructor(
    readonly reason: RejectionReason,
    readonly message: string,
  ) {}
}

function rejectedEffect(
  event: SchedulerEventType | 'unknown',
  rejection: Rejection,
): SchedulerEffect {
  return { type: 'rejected', event, reason: rejection.reason, message: rejection.message }
}

export class OwnerScheduler {
  readonly #config: ResolvedConfig
  readonly #rng: Rng
  readonly #previewRng: PreviewRng
  #now = 0
  #capacity: number
  #inflight = 0
  #seq = 0
  #frontSeq = 0
  #dispatchSeq = 0
  #hostSeq = 0
  #idleOrder = 0
  #arrivals: DecayedRate = { perMs: 0, at: 0 }
  /** The arrivals forwarded from other peers. */
  #forwardedArrivals: DecayedRate = { perMs: 0, at: 0 }

  readonly #functions = new Map<string, FunctionState>()
  readonly #invocations = new Map<string, Invocation>()
  readonly #workers: Worker[] = []
  readonly #workersById = new Map<string, Worker>()
  readonly #hosts = new Map<string, Host>()
  readonly #dispatches = new Map<string, Dispatch>()
  readonly #warmWorkers = new Map<string, number>()
  #eligibleCount = 0
  #totalLoad = 0
  /** Probe steps for `#stepsFor` workers, recomputed lazily when the count changed. */
  #steps: number[] = []
  #stepsFor = 0
  /** A ring of the last RECENT_EVENTS_KEPT handled events; `#recentNext` is the oldest slot. */
  readonly #recent: HandledEvent[] = []
  #recentNext = 0

  readonly #ready = new IndexedHeap<Group>((a, b) =>
    a.priority !== b.priority ? a.priority < b.priority : a.headSeq < b.headSeq,
  )
  readonly #batchWaiting = new IndexedHeap<Group>((a, b) => a.batchReadyAt < b.batchReadyAt)
  readonly #queueDeadlines = new IndexedHeap<Invocation>((a, b) =>
    a.queueDeadline !== b.queueDeadline ? a.queueDeadline < b.queueDeadline : a.seq < b.seq,
  )
  readonly #runDeadlines = new IndexedHeap<Dispatch>((a, b) =>
    a.deadline !== b.deadline ? a.deadline < b.deadline : a.seq < b.seq,
  )
  readonly #idleHosts = new IndexedHeap<Host>((a, b) => a.idleOrder < b.idleOrder)
  readonly #refusing = new IndexedHeap<Worker>((a, b) =>
    a.refusingUntil !== b.refusingUntil
      ? a.refusingUntil < b.refusingUntil
      : a.position < b.position,
  )
  /** Running low-priority preemptible dispatches, the most recent first. */
  readonly #preemptible = new IndexedHeap<Dispatch>((a, b) => a.seq > b.seq)

  readonly #view: PlacementView

  constructor(config: OwnerSchedulerConfig, deps: OwnerSchedulerDeps) {
    const resolved = resolveConfig(config)
    if (typeof resolved === 'string') throw new InvalidConfigError(resolved)
    this.#config = resolved
    this.#capacity = resolved.capacity
    this.#rng = deps.rng
    this.#previewRng = new PreviewRng(deps.rng)
    this.#view = this.#placementView()
  }

  get owner(): string {
    return this.#config.owner
  }

  get provider(): string {
    return this.#config.provider
  }

  get config(): Readonly<ResolvedConfig> {
    return this.#config
  }

  get capacity(): number {
    return this.#capacity
  }

  get inflight(): number {
    return this.#inflight
  }

  get queued(): number {
    return this.#invocations.size - this.#inflight
  }

  /** Handles one event at time `now` (ms, monotonic; an earlier time counts as the latest seen). */
  handle(event: SchedulerEvent, now: number): SchedulerEffect[] {
    const type =
      typeof event === 'object' && event !== null && typeof event.type === 'string'
        ? event.type
        : 'unknown'
    const rejection = Number.isFinite(now)
      ? this.#validate(event)
      : new Rejection('invalid-time', `now must be a finite number, got ${String(now)}`)
    if (rejection) {
      this.#remember({ now: this.#now, type, effects: 1, rejected: rejection.reason })
      return [rejectedEffect(type, rejection)]
    }
    this.#now = Math.max(this.#now, now)
    const effects: SchedulerEffect[] = []
    this.#fireDeadlines(effects)
    // What fell due may have overtaken the event (an answer arriving after its timeout).
    const overtaken = this.#validate(event)
    if (overtaken) effects.push(rejectedEffect(type, overtaken))
    else this.#apply(event, effects)
    this.#dispatchReady(effects)
    this.#remember({ now: this.#now, type, effects: effects.length, rejected: overtaken?.reason })
    return effects
  }

  /** The earliest time at which `handle({ type: 'tick' }, t)` would do something, if any. */
  nextDeadline(): number | undefined {
    let next = Number.POSITIVE_INFINITY
    const queued = this.#queueDeadlines.peek()
    if (queued) next = Math.min(next, queued.queueDeadline)
    const running = this.#runDeadlines.peek()
    if (running) next = Math.min(next, running.deadline)
    const idle = this.#idleHosts.peek()
    if (idle) next = Math.min(next, idle.idleSince + this.#config.idleHostTtlMs)
    const batch = this.#batchWaiting.peek()
    if (batch) next = Math.min(next, batch.batchReadyAt)
    const refusing = this.#refusing.peek()
    if (refusing) next = Math.min(next, refusing.refusingUntil)
    return next === Number.POSITIVE_INFINITY ? undefined : next
  }

  /**
   * Where an invocation of `fn` would go now, without reserving anything or drawing from
   * the scheduler's rng: a random choice is previewed on a clone of the rng when it has
   * one (so it matches the real one), else on a fixed draw.
   */
  decidePlacement(fn: string): { worker: string; warm: boolean; overloaded: boolean } | undefined {
    const state = this.#functions.get(fn)
    if (!state) return undefined
    this.#previewRng.reset()
    const decision = this.#decide(state, this.#previewRng)
    if (!decision) return undefined
    return {
      worker: (this.#workers[decision.position] as Worker).id,
      warm: decision.warm,
      overloaded: decision.overloaded,
    }
  }

  invocationState(id: string): 'queued' | 'running' | undefined {
    return this.invocationProgress(id)?.state
  }

  /** A live invocation's state with its attempts and preemptions so far; undefined once finished. */
  invocationProgress(id: string): InvocationProgress | undefined {
    const inv = this.#invocations.get(id)
    if (inv?.state !== 'queued' && inv?.state !== 'running') return undefined
    return { state: inv.state, attempts: inv.attempt, preemptions: inv.preemptions }
  }

  summary(now: number): SchedulerSummary {
    let high = 0
    let low = 0
    let oldest = Number.POSITIVE_INFINITY
    for (const fn of this.#functions.values()) {
      for (const group of fn.groups) {
        if (group.live === 0) continue
        if (group.priority === 0) high += group.live
        else low += group.live
        const head = this.#head(group)
        if (head) oldest = Math.min(oldest, head.enqueuedAt)
      }
    }
    return {
      owner: this.#config.owner,
      provider: this.#config.provider,
      capacity: this.#capacity,
      inflight: this.#inflight,
      pending: { high, low },
      oldestWaitMs: oldest === Number.POSITIVE_INFINITY ? 0 : Math.max(0, now - oldest),
      arrivalRatePerSec: decayRate(this.#arrivals, now).perMs * 1000,
      forwardedRatePerSec: decayRate(this.#forwardedArrivals, now).perMs * 1000,
      warmHosts: this.#hosts.size,
      workers: { total: this.#workers.length, eligible: this.#eligibleCount },
    }
  }

  workers(): WorkerView[] {
    return this.#workers.map((w) => ({
      id: w.id,
      position: w.position,
      health: w.health,
      memoryMb: w.memoryMb,
      usedMb: w.usedMb,
      idleMb: w.idleMb,
      load: w.load,
      hosts: [...w.hosts.values()]
        .sort((a, b) => a.n - b.n)
        .map((h) => ({ id: h.id, fn: h.fnKey, busy: h.running })),
    }))
  }

  /** The last events handled (at most 256), oldest first: for failing tests and the dashboard. */
  recentEvents(): readonly HandledEvent[] {
    return [...this.#recent.slice(this.#recentNext), ...this.#recent.slice(0, this.#recentNext)]
  }

  // ---------------------------------------------------------------- validation

  #validate(event: SchedulerEvent): Rejection | undefined {
    if (typeof event !== 'object' || event === null)
      return new Rejection('invalid-event', 'event must be an object')
    switch (event.type) {
      case 'tick':
        return undefined
      case 'function-registered': {
        const resolved = resolveFunctionSpec(event.spec)
        return typeof resolved === 'string'
          ? new Rejection('invalid-function', resolved)
          : undefined
      }
      case 'worker-joined': {
        if (typeof event.workerId !== 'string' || event.workerId === '') {
          return new Rejection('invalid-event', 'workerId must be a non-empty string')
        }
        if (!isValidCapacity(event.memoryMb)) {
          return new Rejection('invalid-event', 'memoryMb must be a non-negative integer')
        }
        const existing = this.#workersById.get(event.workerId)
        if (existing && existing.health !== 'offline') {
          return new Rejection('duplicate-worker', `worker ${event.workerId} has already joined`)
        }
        return undefined
      }
      case 'worker-health':
        if (!this.#workersById.has(event.workerId)) {
          return new Rejection('unknown-worker', `no worker ${String(event.workerId)}`)
        }
        if (!WORKER_HEALTH_STATES.includes(event.health)) {
          return new Rejection(
            'invalid-event',
            `health must be one of ${WORKER_HEALTH_STATES.join(', ')}`,
          )
        }
        return undefined
      case 'capacity-changed':
        return isValidCapacity(event.capacity)
          ? undefined
          : new Rejection(
              'invalid-capacity',
              `capacity must be a non-negative integer, got ${String(event.capacity)}`,
            )
      case 'invocation-submitted':
        return this.#validateSubmission(event.invocation)
      case 'invocation-completed':
      case 'invocation-failed':
      case 'invocation-released': {
        const inv = this.#invocations.get(event.invocationId)
        if (!inv)
          return new Rejection(
            'unknown-invocation',
            `no live invocation ${String(event.invocationId)}`,
          )
        if (inv.state !== 'running') {
          return new Rejection('stale-attempt', `invocation ${inv.id} is ${inv.state}, not running`)
        }
        if (inv.attempt !== event.attempt) {
          return new Rejection(
            'stale-attempt',
            `invocation ${inv.id} is running attempt ${inv.attempt}, not ${String(event.attempt)}`,
          )
        }
        if (event.type === 'invocation-failed' && typeof event.error !== 'string') {
          return new Rejection('invalid-event', 'error must be a string')
        }
        if (
          event.type === 'invocation-failed' &&
          event.code !== undefined &&
          !(FAILURE_CODES as readonly unknown[]).includes(event.code)
        ) {
          return new Rejection('invalid-event', `code must be one of ${FAILURE_CODES.join(', ')}`)
        }
        return undefined
      }
      case 'invocation-withdrawn': {
        const inv = this.#invocations.get(event.invocationId)
        if (!inv)
          return new Rejection(
            'unknown-invocation',
            `no live invocation ${String(event.invocationId)}`,
          )
        return inv.state === 'queued'
          ? undefined
          : new Rejection(
              'not-queued',
              `invocation ${inv.id} is ${inv.state}: only queued ones can be withdrawn`,
            )
      }
      case 'dispatch-refused':
        return this.#dispatches.has(event.dispatchId)
          ? undefined
          : new Rejection('unknown-dispatch', `no running dispatch ${String(event.dispatchId)}`)
      case 'host-lost':
        return this.#hosts.has(event.hostId)
          ? undefined
          : new Rejection('unknown-host', `no host ${String(event.hostId)}`)
      default:
        return new Rejection(
          'invalid-event',
          `unknown event type ${JSON.stringify((event as { type?: unknown }).type)}`,
        )
    }
  }

  #validateSubmission(inv: InvocationRequest): Rejection | undefined {
    if (typeof inv !== 'object' || inv === null)
      return new Rejection('invalid-invocation', 'invocation must be an object')
    if (typeof inv.id !== 'string' || inv.id === '')
      return new Rejection('invalid-invocation', 'id must be a non-empty string')
    if (this.#invocations.has(inv.id))
      return new Rejection('duplicate-invocation', `invocation ${inv.id} is already live`)
    if (typeof inv.fn !== 'string' || !this.#functions.has(inv.fn)) {
      return new Rejection(
        'unknown-function',
        `no function ${String(inv.fn)} registered for ${this.#config.owner}`,
      )
    }
    if (inv.priority !== undefined && inv.priority !== 0 && inv.priority !== 1) {
      return new Rejection('invalid-invocation', 'priority must be 0 (high) or 1 (low)')
    }
    if (
      inv.queueTimeoutMs !== undefined &&
      !(typeof inv.queueTimeoutMs === 'number' && inv.queueTimeoutMs >= 0)
    ) {
      return new Rejection('invalid-invocation', 'queueTimeoutMs must be a non-negative number')
    }
    return undefined
  }

  // ---------------------------------------------------------------- events

  #apply(event: SchedulerEvent, effects: SchedulerEffect[]): void {
    switch (event.type) {
      case 'tick':
        return
      case 'function-registered':
        return this.#registerFunction(resolveFunctionSpec(event.spec) as ResolvedFunctionSpec)
      case 'worker-joined':
        return this.#workerJoined(event.workerId, event.memoryMb)
      case 'worker-health':
        return this.#setHealth(
          this.#workersById.get(event.workerId) as Worker,
          event.health,
          effects,
        )
      case 'capacity-changed':
        this.#capacity = event.capacity
        return
      case 'invocation-submitted':
        return this.#submit(event.invocation)
      case 'invocation-completed': {
        const inv = this.#invocations.get(event.invocationId) as Invocation
        this.#finishRunning(inv)
        return this.#settle(inv, effects, { status: 'succeeded', output: event.output })
      }
      case 'invocation-failed':
        return this.#fail(
          this.#invocations.get(event.invocationId) as Invocation,
          event.code ?? 'function-error',
          event.error,
          effects,
        )
      case 'invocation-released':
        return this.#fail(
          this.#invocations.get(event.invocationId) as Invocation,
          'released',
          'released by the shell before an answer came',
          effects,
        )
      case 'invocation-withdrawn':
        return this.#withdraw(this.#invocations.get(event.invocationId) as Invocation)
      case 'dispatch-refused':
        return this.#refused(this.#dispatches.get(event.dispatchId) as Dispatch)
      case 'host-lost':
        return this.#removeHost(
          this.#hosts.get(event.hostId) as Host,
          'host-lost',
          'the function host was lost',
          effects,
        )
    }
  }

  #registerFunction(spec: ResolvedFunctionSpec): void {
    const key = `${spec.name}@${spec.version}`
    const existing = this.#functions.get(spec.name)
    if (existing) {
      existing.spec = spec
      existing.key = key
      for (const group of existing.groups) this.#refreshGroup(group)
      return
    }
    const fn = {
      spec,
      key,
      hash: invocationHash(this.#config.owner, `${this.#config.owner}/${spec.name}`),
      inflight: 0,
      groups: [] as unknown as [Group, Group],
    } satisfies FunctionState
    const makeGroup = (priority: Priority): Group => ({
      fn,
      priority,
      queue: new Deque<Invocation>(),
      live: 0,
      headSeq: 0,
      batchReadyAt: 0,
    })
    ;(fn as { groups: [Group, Group] }).groups = [makeGroup(0), makeGroup(1)]
    this.#functions.set(spec.name, fn)
  }

  #workerJoined(id: string, memoryMb: number): void {
    const existing = this.#workersById.get(id)
    if (existing) {
      existing.memoryMb = memoryMb
      this.#setHealthFlags(existing, 'healthy')
      return
    }
    const worker: Worker = {
      id,
      position: this.#workers.length,
      memoryMb,
      health: 'offline',
      refusingUntil: 0,
      usedMb: 0,
      idleMb: 0,
      load: 0,
      hosts: new Map(),
      freeSlotHosts: new Map(),
    }
    this.#workers.push(worker)
    this.#workersById.set(id, worker)
    this.#setHealthFlags(worker, 'healthy')
  }

  #setHealth(worker: Worker, health: WorkerHealth, effects: SchedulerEffect[]): void {
    if (health === 'offline') {
      const hosts = [...worker.hosts.values()].sort((a, b) => a.n - b.n)
      for (const host of hosts)
        this.#removeHost(host, 'worker-lost', `worker ${worker.id} went offline`, effects)
    }
    this.#setHealthFlags(worker, health)
  }

  #setHealthFlags(worker: Worker, health: WorkerHealth): void {
    const wasEligible = this.#isEligible(worker)
    worker.health = health
    const eligible = this.#isEligible(worker)
    if (wasEligible !== eligible) this.#eligibleCount += eligible ? 1 : -1
  }

  #isEligible(worker: Worker): boolean {
    return worker.health === 'healthy' && worker.refusingUntil === 0
  }

  #submit(request: InvocationRequest): void {
    const fn = this.#functions.get(request.fn) as FunctionState
    const priority = request.priority ?? 1
    const inv: Invocation = {
      id: request.id,
      fn,
      priority,
      preemptible: priority === 1 && request.preemptible !== false,
      input: request.input,
      enqueuedAt: this.#now,
      queueDeadline: this.#now + (request.queueTimeoutMs ?? this.#config.queueTimeoutMs),
      seq: ++this.#seq,
      attempt: 0,
      failures: 0,
      preemptions: 0,
      state: 'queued',
      dispatch: undefined,
    }
    this.#invocations.set(inv.id, inv)
    this.#arrivals = recordArrival(this.#arrivals, this.#now)
    if (request.forwarded === true)
      this.#forwardedArrivals = recordArrival(this.#forwardedArrivals, this.#now)
    const group = fn.groups[priority]
    group.queue.pushBack(inv)
    group.live++
    if (Number.isFinite(inv.queueDeadline)) this.#queueDeadlines.push(inv)
    this.#refreshGroup(group)
  }

  /** Puts a dispatched invocation back at the front of its priority, to run again. */
  #requeueFront(inv: Invocation): void {
    inv.state = 'queued'
    inv.dispatch = undefined
    inv.seq = --this.#frontSeq
    inv.queueDeadline = Number.POSITIVE_INFINITY
    const group = inv.fn.groups[inv.priority]
    group.queue.pushFront(inv)
    group.live++
    this.#refreshGroup(group)
  }

  #fail(inv: Invocation, code: ErrorCode, message: string, effects: SchedulerEffect[]): void {
    this.#finishRunning(inv)
    inv.failures++
    if (inv.failures <= inv.fn.spec.maxRetries) this.#requeueFront(inv)
    else this.#settle(inv, effects, { status: 'failed', error: { code, message } })
  }

  #settle(
    inv: Invocation,
    effects: SchedulerEffect[],
    outcome:
      | { status: 'succeeded'; output: unknown }
      | { status: 'failed'; error: { code: ErrorCode; message: string } },
  ): void {
    inv.state = 'finished'
    inv.dispatch = undefined
    this.#invocations.delete(inv.id)
    effects.push({
      type: 'result',
      invocationId: inv.id,
      ...outcome,
      attempts: inv.attempt,
      preemptions: inv.preemptions,
    })
  }

  #refused(dispatch: Dispatch): void {
    const worker = dispatch.host.worker
    const invocations = dispatch.invocations.filter(
      (inv) => inv.state === 'running' && inv.dispatch === dispatch,
    )
    for (const inv of invocations) this.#finishRunning(inv)
    // The refused dispatch was never run: the attempt does not count.
    for (const inv of invocations.reverse()) {
      inv.attempt--
      this.#requeueFront(inv)
    }
    if (
      dispatch.coldStart &&
      dispatch.host.dispatches.size === 0 &&
      this.#hosts.has(dispatch.host.id)
    ) {
      this.#dropHost(dispatch.host)
    }
    this.#startRefusal(worker, this.#now + this.#config.refusalBackoffMs)
  }

  #startRefusal(worker: Worker, until: number): void {
    const wasEligible = this.#isEligible(worker)
    worker.refusingUntil = until
    this.#refusing.update(worker)
    if (wasEligible) this.#eligibleCount--
  }

  #endRefusal(worker: Worker): void {
    if (worker.refusingUntil === 0) return
    worker.refusingUntil = 0
    this.#refusing.remove(worker)
    if (this.#isEligible(worker)) this.#eligibleCount++
  }

  // ---------------------------------------------------------------- deadlines

  #fireDeadlines(effects: SchedulerEffect[]): void {
    const now = this.#now
    for (;;) {
      const queued = this.#queueDeadlines.peek()
      if (queued && queued.queueDeadline <= now) {
        this.#expireQueued(queued, effects)
        continue
      }
      const running = this.#runDeadlines.peek()
      if (running && running.deadline <= now) {
        this.#timeOut(running, effects)
        continue
      }
      const idle = this.#idleHosts.peek()
      if (idle && idle.idleSince + this.#config.idleHostTtlMs <= now) {
        effects.push({
          type: 'evict-host',
          worker: idle.worker.id,
          hostId: idle.id,
          fn: idle.fn,
          reason: 'idle',
        })
        this.#dropHost(idle)
        continue
      }
      const batch = this.#batchWaiting.peek()
      if (batch && batch.batchReadyAt <= now) {
        this.#refreshGroup(batch)
        continue
      }
      const refusing = this.#refusing.peek()
      if (refusing && refusing.refusingUntil <= now) {
        this.#endRefusal(refusing)
        continue
      }
      return
    }
  }

  /** Forgets a queued invocation without a result (another scheduler will answer for it). */
  #withdraw(inv: Invocation): void {
    this.#queueDeadlines.remove(inv)
    const group = inv.fn.groups[inv.priority]
    group.live--
    inv.state = 'finished'
    this.#invocations.delete(inv.id)
    this.#refreshGroup(group)
  }

  #expireQueued(inv: Invocation, effects: SchedulerEffect[]): void {
    this.#queueDeadlines.remove(inv)
    const group = inv.fn.groups[inv.priority]
    group.live--
    this.#settle(inv, effects, {
      status: 'failed',
      error: {
        code: 'queue-timeout',
        message: `not dispatched within ${inv.queueDeadline - inv.enqueuedAt} ms`,
      },
    })
    this.#refreshGroup(group)
  }

  #timeOut(dispatch: Dispatch, effects: SchedulerEffect[]): void {
    const pending = dispatch.invocations.filter(
      (inv) => inv.state === 'running' && inv.dispatch === dispatch,
    )
    effects.push({
      type: 'cancel',
      dispatchId: dispatch.id,
      worker: dispatch.host.worker.id,
      hostId: dispatch.host.id,
      invocationIds: pending.map((inv) => inv.id),
      reason: 'timeout',
    })
    const message = `timed out after ${dispatch.fn.spec.timeoutMs} ms`
    for (const inv of pending) this.#fail(inv, 'timeout', message, effects)
  }

  // ---------------------------------------------------------------- queue

  /** The first still-queued invocation of a group, dropping finished ones from the front. */
  #head(group: Group): Invocation | undefined {
    for (;;) {
      const front = group.queue.peekFront()
      if (front === undefined || front.state === 'queued') return front
      group.queue.popFront()
    }
  }

  #takeHead(group: Group): Invocation {
    const inv = this.#head(group) as Invocation
    group.queue.popFront()
    group.live--
    this.#queueDeadlines.remove(inv)
    return inv
  }

  /** Puts a group in the ready heap, the batch-wait heap, or neither, as its state says. */
  #refreshGroup(group: Group): void {
    const head = group.live > 0 ? this.#head(group) : undefined
    const capped = group.fn.inflight >= group.fn.spec.maxConcurrent
    let waitingForBatch = false
    if (head) {
      group.headSeq = head.seq
      const batch = group.fn.spec.batch
      group.batchReadyAt = head.enqueuedAt + batch.waitMs
      waitingForBatch = batch.size > 1 && group.live < batch.size && this.#now < group.batchReadyAt
    }
    this.#ready.sync(group, head !== undefined && !capped && !waitingForBatch)
    this.#batchWaiting.sync(group, head !== undefined && !capped && waitingForBatch)
  }

  #dispatchReady(effects: SchedulerEffect[]): void {
    for (;;) {
      const group = this.#ready.peek()
      if (!group) return
      const free = this.#capacity - this.#inflight
      if (free <= 0) {
        if (group.priority === 0 && this.#preemptFor(effects)) continue
        return
      }
      const decision = this.#decide(group.fn)
      if (!decision) return
      const { spec } = group.fn
      const worker = this.#workers[decision.position] as Worker
      const warmHost = decision.warm ? this.#warmHost(worker, group.fn.key) : undefined
      // A batch takes a slot of one host each: no more than the host has free.
      const hostRoom = warmHost ? warmHost.slots - warmHost.running : spec.concurrency
      const fnRoom = spec.maxConcurrent - group.fn.inflight
      const take = Math.min(spec.batch.size, group.live, free, fnRoom, hostRoom)
      const invocations: Invocation[] = []
      for (let i = 0; i < take; i++) invocations.push(this.#takeHead(group))
      this.#startDispatch(group.fn, decision, warmHost, invocations, effects)
      this.#refreshGroup(group)
    }
  }

  /** Evicts the most recent running low-priority preemptible dispatch, if that frees capacity. */
  #preemptFor(effects: SchedulerEffect[]): boolean {
    const victim = this.#preemptible.peek()
    if (!victim || this.#inflight - victim.pending >= this.#capacity) return false
    const pending = victim.invocations.filter(
      (inv) => inv.state === 'running' && inv.dispatch === victim,
    )
    effects.push({
      type: 'cancel',
      dispatchId: victim.id,
      worker: victim.host.worker.id,
      hostId: victim.host.id,
      invocationIds: pending.map((inv) => inv.id),
      reason: 'preempted',
    })
    for (const inv of pending) {
      this.#finishRunning(inv)
      inv.preemptions++
    }
    for (const inv of pending.reverse()) this.#requeueFront(inv)
    return true
  }

  // ---------------------------------------------------------------- placement

  #decide(fn: FunctionState, rng: Rng = this.#rng): PlacementDecision | undefined {
    const count = this.#workers.length
    if (count === 0) return undefined
    if (this.#stepsFor !== count) {
      this.#steps = pairwiseCoprimeNumbersUntil(count)
      this.#stepsFor = count
    }
    const { home, step } = homeAndStep(fn.hash, count, this.#steps)
    const request = { fnKey: fn.key, memoryMb: fn.spec.memoryMb, home, step }
    switch (this.#config.placement) {
      case 'openwhisk':
        return placeOpenWhisk(this.#view, request, rng)
      case 'random':
        return placeRandom(this.#view, request, rng)
      case 'least-loaded':
        return placeLeastLoaded(this.#view, request)
      case 'warm-bounded':
        return placeWarmBounded(this.#view, request, this.#config.loadBoundEpsilon)
    }
  }

  #placementView(): PlacementView {
    const workers = this.#workers
    const at = (position: number): Worker => workers[position] as Worker
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the view reads live state
    const self = this
    return {
      get workerCount() {
        return workers.length
      },
      get eligibleCount() {
        return self.#eligibleCount
      },
      get totalLoad() {
        return self.#totalLoad
      },
      isEligible: (position) => this.#isEligible(at(position)),
      hasWarmSlot: (position, fnKey) => (at(position).freeSlotHosts.get(fnKey)?.size ?? 0) > 0,
      freeMb: (position) => {
        const w = at(position)
        return w.memoryMb - w.usedMb
      },
      roomMb: (position) => {
        const w = at(position)
        return w.memoryMb - w.usedMb + w.idleMb
      },
      load: (position) => at(position).load,
      warmWorkerCount: (fnKey) => this.#warmWorkers.get(fnKey) ?? 0,
    }
  }

  /** Dispatches to `warmHost`, or to a new host on the decision's worker when there is none. */
  #startDispatch(
    fn: FunctionState,
    decision: PlacementDecision,
    warmHost: Host | undefined,
    invocations: Invocation[],
    effects: SchedulerEffect[],
  ): void {
    const worker = this.#workers[decision.position] as Worker
    const host = warmHost ?? this.#newHost(worker, fn, effects)
    const dispatch: Dispatch = {
      id: `d${++this.#dispatchSeq}`,
      seq: this.#dispatchSeq,
      fn,
      host,
      invocations,
      dispatchedAt: this.#now,
      deadline: this.#now + fn.spec.timeoutMs,
      coldStart: !decision.warm,
      overloaded: decision.overloaded,
      pending: invocations.length,
    }
    this.#occupy(host, dispatch)
    this.#dispatches.set(dispatch.id, dispatch)
    this.#runDeadlines.push(dispatch)
    if (invocations.every((inv) => inv.preemptible)) this.#preemptible.push(dispatch)
    for (const inv of invocations) {
      inv.state = 'running'
      inv.dispatch = dispatch
      inv.attempt++
    }
    this.#addLoad(fn, worker, invocations.length)
    effects.push({
      type: 'dispatch',
      dispatchId: dispatch.id,
      fn: fn.spec.name,
      version: fn.spec.version,
      worker: worker.id,
      hostId: host.id,
      coldStart: dispatch.coldStart,
      overloaded: dispatch.overloaded,
      invocations: invocations.map((inv) => ({
        id: inv.id,
        attempt: inv.attempt,
        input: inv.input,
      })),
    })
  }

  #addLoad(fn: FunctionState, worker: Worker, delta: number): void {
    const wasCapped = fn.inflight >= fn.spec.maxConcurrent
    fn.inflight += delta
    worker.load += delta
    this.#totalLoad += delta
    this.#inflight += delta
    if (wasCapped !== fn.inflight >= fn.spec.maxConcurrent) {
      for (const group of fn.groups) this.#refreshGroup(group)
    }
  }

  /** Takes an invocation off its dispatch: frees its capacity and its host slot. */
  #finishRunning(inv: Invocation): void {
    const dispatch = inv.dispatch as Dispatch
    inv.dispatch = undefined
    inv.state = 'finished'
    dispatch.pending--
    const worker = dispatch.host.worker
    this.#addLoad(dispatch.fn, worker, -1)
    if (dispatch.pending === 0) {
      this.#dispatches.delete(dispatch.id)
      this.#runDeadlines.remove(dispatch)
      this.#preemptible.remove(dispatch)
    }
    this.#vacate(dispatch.host, dispatch)
    this.#endRefusal(worker)
  }

  // ---------------------------------------------------------------- warm-host table

  #warmHost(worker: Worker, fnKey: string): Host {
    let best: Host | undefined
    for (const host of worker.freeSlotHosts.get(fnKey) ?? [])
      if (!best || host.n < best.n) best = host
    return best as Host
  }

  #newHost(worker: Worker, fn: FunctionState, effects: SchedulerEffect[]): Host {
    const needed = fn.spec.memoryMb
    if (worker.memoryMb - worker.usedMb < needed) {
      const idle = [...worker.hosts.values()]
        .filter((h) => h.dispatches.size === 0)
        .sort((a, b) => a.idleOrder - b.idleOrder)
      for (const victim of idle) {
        if (worker.memoryMb - worker.usedMb >= needed) break
        effects.push({
          type: 'evict-host',
          worker: worker.id,
          hostId: victim.id,
          fn: victim.fn,
          reason: 'memory',
        })
        this.#dropHost(victim)
      }
    }
    const n = ++this.#hostSeq
    const host: Host = {
      id: `${worker.id}/h${n}`,
      n,
      worker,
      fn: fn.spec.name,
      fnKey: fn.key,
      memoryMb: needed,
      slots: fn.spec.concurrency,
      dispatches: new Set(),
      running: 0,
      lastUsedAt: this.#now,
      idleSince: this.#now,
      idleOrder: 0,
    }
    this.#hosts.set(host.id, host)
    worker.hosts.set(host.id, host)
    worker.usedMb += needed
    this.#markFreeSlot(host, true)
    return host
  }

  #occupy(host: Host, dispatch: Dispatch): void {
    if (host.dispatches.size === 0 && this.#idleHosts.remove(host))
      host.worker.idleMb -= host.memoryMb
    host.dispatches.add(dispatch)
    host.running += dispatch.invocations.length
    host.lastUsedAt = this.#now
    this.#markFreeSlot(host, host.running < host.slots)
  }

  /** One of `dispatch`'s invocations left its slot; the host idles when nothing runs on it. */
  #vacate(host: Host, dispatch: Dispatch): void {
    host.running--
    if (dispatch.pending === 0) host.dispatches.delete(dispatch)
    if (!this.#hosts.has(host.id)) return
    this.#markFreeSlot(host, true)
    if (host.dispatches.size === 0) this.#becomeIdle(host)
  }

  #becomeIdle(host: Host): void {
    host.idleSince = this.#now
    host.idleOrder = ++this.#idleOrder
    host.worker.idleMb += host.memoryMb
    this.#idleHosts.push(host)
  }

  #markFreeSlot(host: Host, free: boolean): void {
    const byFn = host.worker.freeSlotHosts
    let set = byFn.get(host.fnKey)
    const had = (set?.size ?? 0) > 0
    if (free) {
      if (!set) byFn.set(host.fnKey, (set = new Set()))
      set.add(host)
    } else if (set) {
      set.delete(host)
      if (set.size === 0) byFn.delete(host.fnKey)
    }
    const has = (byFn.get(host.fnKey)?.size ?? 0) > 0
    if (had !== has) {
      const count = (this.#warmWorkers.get(host.fnKey) ?? 0) + (has ? 1 : -1)
      if (count === 0) this.#warmWorkers.delete(host.fnKey)
      else this.#warmWorkers.set(host.fnKey, count)
    }
  }

  /** Removes a host with everything it runs: its running invocations fail (and may retry). */
  #removeHost(host: Host, code: ErrorCode, message: string, effects: SchedulerEffect[]): void {
    const dispatches = [...host.dispatches].sort((a, b) => a.seq - b.seq)
    this.#dropHost(host)
    for (const dispatch of dispatches) {
      for (const inv of dispatch.invocations) {
        if (inv.state === 'running' && inv.dispatch === dispatch)
          this.#fail(inv, code, message, effects)
      }
    }
  }

  /** Forgets a host and gives its memory back; its dispatches, if any, are the caller's. */
  #dropHost(host: Host): void {
    const worker = host.worker
    this.#markFreeSlot(host, false)
    if (this.#idleHosts.remove(host)) worker.idleMb -= host.memoryMb
    worker.usedMb -= host.memoryMb
    worker.hosts.delete(host.id)
    this.#hosts.delete(host.id)
  }

  #remember(entry: HandledEvent): void {
    this.#recent[this.#recentNext] = entry
    this.#recentNext = (this.#recentNext + 1) % RECENT_EVENTS_KEPT
  }

  // ---------------------------------------------------------------- snapshots

  /** The whole state as plain JSON. `restore()` of it behaves exactly like this scheduler. */
  snapshot(): SchedulerSnapshot {
    const invocationSnapshot = (inv: Invocation): InvocationSnapshot => ({
      id: inv.id,
      fn: inv.fn.spec.name,
      priority: inv.priority,
      preemptible: inv.preemptible,
      input: inv.input,
      enqueuedAt: inv.enqueuedAt,
      queueDeadline: Number.isFinite(inv.queueDeadline) ? inv.queueDeadline : null,
      seq: inv.seq,
      attempt: inv.attempt,
      failures: inv.failures,
      preemptions: inv.preemptions,
    })
    const queued = [...this.#invocations.values()]
      .filter((inv) => inv.state === 'queued')
      .sort((a, b) => a.seq - b.seq)
      .map(invocationSnapshot)
    const dispatches = [...this.#dispatches.values()]
      .sort((a, b) => a.seq - b.seq)
      .map((d) => ({
        id: d.id,
        seq: d.seq,
        fn: d.fn.spec.name,
        worker: d.host.worker.id,
        hostId: d.host.id,
        dispatchedAt: d.dispatchedAt,
        deadline: d.deadline,
        coldStart: d.coldStart,
        overloaded: d.overloaded,
        preemptible: this.#preemptible.has(d),
        invocations: d.invocations
          .filter((inv) => inv.state === 'running' && inv.dispatch === d)
          .map(invocationSnapshot),
      }))
    return JSON.parse(
      JSON.stringify({
        format: SNAPSHOT_FORMAT,
        config: this.#config,
        now: this.#now,
        counters: {
          seq: this.#seq,
          frontSeq: this.#frontSeq,
          dispatchSeq: this.#dispatchSeq,
          hostSeq: this.#hostSeq,
          idleOrder: this.#idleOrder,
        },
        arrivals: this.#arrivals,
        forwardedArrivals: this.#forwardedArrivals,
        rng: this.#rng.state?.(),
        capacity: this.#capacity,
        functions: [...this.#functions.values()].map((fn) => ({
          ...fn.spec,
          maxConcurrent: Number.isFinite(fn.spec.maxConcurrent) ? fn.spec.maxConcurrent : undefined,
        })),
        workers: this.#workers.map((w) => ({
          id: w.id,
          memoryMb: w.memoryMb,
          health: w.health,
          refusingUntil: w.refusingUntil,
        })),
        hosts: [...this.#hosts.values()]
          .sort((a, b) => a.n - b.n)
          .map((h) => ({
            id: h.id,
            n: h.n,
            worker: h.worker.id,
            fn: h.fn,
            fnKey: h.fnKey,
            memoryMb: h.memoryMb,
            slots: h.slots,
            lastUsedAt: h.lastUsedAt,
            idleSince: h.dispatches.size === 0 ? h.idleSince : null,
            idleOrder: h.idleOrder,
          })),
        queued,
        dispatches,
      }),
    ) as SchedulerSnapshot
  }

  /** Rebuilds a scheduler from `snapshot()`'s output. Throws InvalidSnapshotError if it is malformed. */
  static restore(snapshot: SchedulerSnapshot, deps: OwnerSchedulerDeps): OwnerScheduler {
    checkSnapshotShape(snapshot)
    let scheduler: OwnerScheduler
    try {
      // The snapshot's rng continues where the snapshotted scheduler's was.
      const rng = snapshot.rng === undefined ? deps.rng : seededRng(snapshot.rng)
      scheduler = new OwnerScheduler(snapshot.config, { ...deps, rng })
    } catch (err) {
      throw new InvalidSnapshotError('config', err instanceof Error ? err.message : String(err))
    }
    scheduler.#load(snapshot)
    return scheduler
  }

  #load(s: SchedulerSnapshot): void {
    const fail = (path: string, message: string): never => {
      throw new InvalidSnapshotError(path, message)
    }
    this.#now = s.now
    if (!isValidCapacity(s.capacity)) fail('capacity', 'must be a non-negative integer')
    this.#capacity = s.capacity
    this.#seq = s.counters.seq
    this.#frontSeq = s.counters.frontSeq
    this.#dispatchSeq = s.counters.dispatchSeq
    this.#hostSeq = s.counters.hostSeq
    this.#idleOrder = s.counters.idleOrder
    this.#arrivals = { perMs: s.arrivals.perMs, at: s.arrivals.at }
    const forwarded = s.forwardedArrivals ?? { perMs: 0, at: 0 }
    this.#forwardedArrivals = { perMs: forwarded.perMs, at: forwarded.at }
    s.functions.forEach((spec, i) => {
      const resolved = resolveFunctionSpec(spec)
      if (typeof resolved === 'string') fail(`functions[${i}]`, resolved)
      if (this.#functions.has(spec.name)) fail(`functions[${i}]`, `duplicate function ${spec.name}`)
      this.#registerFunction(resolved as ResolvedFunctionSpec)
    })
    s.workers.forEach((w, i) => {
      if (typeof w.id !== 'string' || this.#workersById.has(w.id))
        fail(`workers[${i}].id`, 'missing or duplicate')
      if (!isValidCapacity(w.memoryMb))
        fail(`workers[${i}].memoryMb`, 'must be a non-negative integer')
      if (!WORKER_HEALTH_STATES.includes(w.health)) fail(`workers[${i}].health`, 'unknown health')
      this.#workerJoined(w.id, w.memoryMb)
      const worker = this.#workersById.get(w.id) as Worker
      this.#setHealthFlags(worker, w.health)
      if (w.refusingUntil > 0) this.#startRefusal(worker, w.refusingUntil)
    })
    s.hosts.forEach((h, i) => {
      const worker =
        this.#workersById.get(h.worker) ?? fail(`hosts[${i}].worker`, `unknown worker ${h.worker}`)
      if (this.#hosts.has(h.id)) fail(`hosts[${i}].id`, 'duplicate host')
      const host: Host = {
        id: h.id,
        n: h.n,
        worker,
        fn: h.fn,
        fnKey: h.fnKey,
        memoryMb: h.memoryMb,
        slots: h.slots,
        dispatches: new Set(),
        running: 0,
        lastUsedAt: h.lastUsedAt,
        idleSince: h.idleSince ?? 0,
        idleOrder: h.idleOrder,
      }
      this.#hosts.set(host.id, host)
      worker.hosts.set(host.id, host)
      worker.usedMb += host.memoryMb
      this.#markFreeSlot(host, true)
      if (h.idleSince !== null) {
        worker.idleMb += host.memoryMb
        this.#idleHosts.push(host)
      }
    })
    const revive = (snap: InvocationSnapshot, path: string): Invocation => {
      const fn = this.#functions.get(snap.fn) ?? fail(`${path}.fn`, `unknown function ${snap.fn}`)
      if (typeof snap.id !== 'string' || this.#invocations.has(snap.id))
        fail(`${path}.id`, 'missing or duplicate')
      if (snap.priority !== 0 && snap.priority !== 1) fail(`${path}.priority`, 'must be 0 or 1')
      // Older snapshots did not count preemptions: the count starts there, from 0.
      const preemptions = snap.preemptions ?? 0
      if (!Number.isInteger(preemptions) || preemptions < 0)
        fail(`${path}.preemptions`, 'must be a non-negative integer')
      const inv: Invocation = {
        id: snap.id,
        fn,
        priority: snap.priority,
        preemptible: snap.preemptible,
        input: snap.input,
        enqueuedAt: snap.enqueuedAt,
        queueDeadline: snap.queueDeadline ?? Number.POSITIVE_INFINITY,
        seq: snap.seq,
        attempt: snap.attempt,
        failures: snap.failures,
        preemptions,
        state: 'queued',
        dispatch: undefined,
      }
      this.#invocations.set(inv.id, inv)
      return inv
    }
    s.queued.forEach((snap, i) => {
      const inv = revive(snap, `queued[${i}]`)
      const group = inv.fn.groups[inv.priority]
      group.queue.pushBack(inv)
      group.live++
      if (Number.isFinite(inv.queueDeadline)) this.#queueDeadlines.push(inv)
    })
    s.dispatches.forEach((d, i) => {
      const path = `dispatches[${i}]`
      const fn = this.#functions.get(d.fn) ?? fail(`${path}.fn`, `unknown function ${d.fn}`)
      const host = this.#hosts.get(d.hostId) ?? fail(`${path}.hostId`, `unknown host ${d.hostId}`)
      if (host.worker.id !== d.worker) fail(`${path}.worker`, 'does not hold the host')
      if (d.invocations.length === 0)
        fail(`${path}.invocations`, 'a running dispatch has invocations')
      const invocations = d.invocations.map((snap, j) => revive(snap, `${path}.invocations[${j}]`))
      const dispatch: Dispatch = {
        id: d.id,
        seq: d.seq,
        fn,
        host,
        invocations,
        dispatchedAt: d.dispatchedAt,
        deadline: d.deadline,
        coldStart: d.coldStart,
        overloaded: d.overloaded,
        pending: invocations.length,
      }
      if (this.#idleHosts.remove(host)) host.worker.idleMb -= host.memoryMb
      host.dispatches.add(dispatch)
      host.running += invocations.length
      this.#markFreeSlot(host, host.running < host.slots)
      this.#dispatches.set(dispatch.id, dispatch)
      this.#runDeadlines.push(dispatch)
      // As decided at dispatch: a batch that held a non-preemptible one stays unpreemptible.
      if (d.preemptible ?? invocations.every((inv) => inv.preemptible))
        this.#preemptible.push(dispatch)
      for (const inv of invocations) {
        inv.state = 'running'
        inv.dispatch = dispatch
      }
      this.#addLoad(fn, host.worker, invocations.length)
    })
    for (const fn of this.#functions.values())
      for (const group of fn.groups) this.#refreshGroup(group)
  }
}
