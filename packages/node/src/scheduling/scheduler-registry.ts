/**
 * The schedulers this peer hosts, by key, and the invocations they hold: which scheduler
 * holds each live invocation, and on which worker it runs once dispatched.
 */
import type { OwnerScheduler } from '@chorus/scheduler-core'
import type { InvocationLedger } from '../core/invocation-ledger.js'
import type { DeadlineTimer } from '../deadline-timer.js'
import type { KnownWorker } from './worker-sync.js'

/** One scheduler this peer is (or was, while it drains) responsible for. */
export interface HostedScheduler {
  readonly key: string
  readonly owner: string
  readonly provider: string
  readonly guid: string
  readonly epoch: number
  readonly scheduler: OwnerScheduler
  /** Armed at the scheduler's next deadline. */
  readonly timer: DeadlineTimer
  /** When it last took or finished an invocation, on the host's clock. */
  lastActive: number
  /** Another responsible won its key: it takes nothing new and goes when its work is done. */
  draining: boolean
  /** The version registered for each function. */
  readonly versions: Map<string, string>
  /** The workers its scheduler knows, with the health and memory it was last told of. */
  readonly workers: Map<string, KnownWorker>
  /** Its idempotency keys and results: they travel with it. */
  readonly ledger: InvocationLedger
  /** Invocations still running at the peer it was handed over from: id → that peer. */
  readonly runningElsewhere: Map<string, string>
  /** The peer it was handed to (a graceful leave): results of what still runs here go there. */
  successor?: string
}

interface Live {
  readonly key: string
  /** The worker (peer) running it, once dispatched. */
  worker?: string
}

export class SchedulerRegistry {
  readonly #hosted = new Map<string, HostedScheduler>()
  /** Live invocation id → the scheduler holding it and where it runs. */
  readonly #live = new Map<string, Live>()

  /** The scheduler hosted for `key`, draining or not. */
  get(key: string): HostedScheduler | undefined {
    return this.#hosted.get(key)
  }

  /** The scheduler for `key` that takes new work: hosted and not draining. */
  accepting(key: string): HostedScheduler | undefined {
    const hosted = this.#hosted.get(key)
    return hosted && !hosted.draining ? hosted : undefined
  }

  /** Whether `hosted` is still the one hosted for its key (not removed or replaced since). */
  isCurrent(hosted: HostedScheduler): boolean {
    return this.#hosted.get(hosted.key) === hosted
  }

  add(hosted: HostedScheduler): void {
    this.#hosted.set(hosted.key, hosted)
  }

  /** Stops hosting it (if it is still the one for its key); its timer is cleared. */
  remove(hosted: HostedScheduler): void {
    hosted.timer.clear()
    if (this.isCurrent(hosted)) this.#hosted.delete(hosted.key)
  }

  values(): IterableIterator<HostedScheduler> {
    return this.#hosted.values()
  }

  /** Notes that the scheduler for `key` holds invocation `id`. */
  hold(id: string, key: string): void {
    this.#live.set(id, { key })
  }

  isLive(id: string): boolean {
    return this.#live.has(id)
  }

  /** The scheduler holding invocation `id`, if it is live here. */
  holderOf(id: string): HostedScheduler | undefined {
    const live = this.#live.get(id)
    return live === undefined ? undefined : this.#hosted.get(live.key)
  }

  /** Notes the worker that runs the (live) invocation. */
  placedOn(id: string, worker: string): void {
    const live = this.#live.get(id)
    if (live !== undefined) live.worker = worker
  }

  /** The worker that runs (or last ran) the invocation, if it was dispatched. */
  workerOf(id: string): string | undefined {
    return this.#live.get(id)?.worker
  }

  /** The invocation is no longer held here (it has a result, or went elsewhere). */
  release(id: string): void {
    this.#live.delete(id)
  }
}
