/**
 * When and what this peer gossips about its load: the shell of @chorus/gossip's publish
 * policy. It checks when the policy says (`nextCheckAt`: the regular interval, or when the
 * mesh-wide budget allows a pending change), and sooner only when told the load changed —
 * never more often than every `minIntervalMs` — so an idle peer does nothing between
 * publications. As the mesh grows, peers publish less often; the load view's expiry follows
 * (`suggestedExpiryMs`), so no peer's entry expires before its next summary is due.
 *
 * What it publishes is measured: each scheduler's queue, in-flight, arrival and forwarded
 * rates and whether it is migrating, and the worker pool's own memory and warm hosts.
 */
import {
  PUBLISH_POLICY_DEFAULTS,
  decidePublish,
  publishIntervals,
  suggestedExpiryMs,
  type Coordinate,
  type LoadSummary,
  type LoadView,
  type PublishedLoad,
  type SchedulerLoad,
} from '@chorus/gossip'
import { background } from '../background.js'
import type { Clock, TimerHandle, Timers } from '../core/environment.js'
import type { Logger } from '../observability/logger.js'
import type { SchedulerInfo } from '../peer-api.js'

/** What this peer's worker holds, as its pool counts it. */
export interface WorkerLoad {
  readonly capacityMb: number
  readonly freeMb: number
  /** Function hosts started and kept (warm), busy or idle. */
  readonly warmHosts: number
}

export interface LocalLoad {
  readonly schedulers: readonly SchedulerInfo[]
  readonly worker: WorkerLoad
}

export interface LoadPublisherInit {
  readonly selfId: string
  /** The peer's load view: its own summaries go in too, and its expiry is kept in step. */
  readonly view: LoadView
  readonly localLoad: () => LocalLoad
  /** Alive members, this peer included. */
  readonly aliveMembers: () => number
  readonly coordinate: () => Coordinate
  /** Gossips a summary. */
  readonly publish: (summary: LoadSummary) => Promise<void>
  readonly log: Logger
  readonly clock: Clock
  readonly timers: Timers
  /** The sender's wall clock, informational only. Default `Date.now`. */
  readonly wallClock?: () => number
}

/** A hosted scheduler as its summary carries it. */
export function schedulerLoad(s: SchedulerInfo): SchedulerLoad {
  return {
    guid: s.guid,
    owner: s.owner,
    provider: s.provider,
    capacity: s.capacity,
    pending: s.pending,
    inflight: s.inflight,
    epoch: s.epoch,
    arrivalRatePerSec: s.arrivalRatePerSec,
    forwardedRatePerSec: s.forwardedRatePerSec,
    migrating: s.state === 'migrating',
  }
}

export class LoadPublisher {
  readonly #init: LoadPublisherInit
  #last: { at: number; load: PublishedLoad } | undefined
  #lastCheckAt = Number.NEGATIVE_INFINITY
  /** Starts at the wall clock, so summaries after a restart supersede older ones. */
  #seq: number
  #timer: TimerHandle | undefined
  #checkAt = Number.POSITIVE_INFINITY
  /** A change since the last check has armed one already: the next changes cost nothing. */
  #changeArmed = false
  #running = false

  constructor(init: LoadPublisherInit) {
    this.#init = init
    this.#seq = (init.wallClock ?? Date.now)()
  }

  start(): void {
    this.#running = true
    this.#armAt(this.#init.clock.now())
  }

  stop(): void {
    this.#running = false
    this.#timer?.cancel()
    this.#timer = undefined
  }

  /** The local load changed: look at it as soon as the policy could let it be published. */
  loadChanged(): void {
    // Called on every scheduler event: after the first change, nothing to do until the check.
    if (!this.#running || this.#changeArmed) return
    this.#changeArmed = true
    const now = this.#init.clock.now()
    const last = this.#last
    const budgetAt =
      last === undefined ? now : last.at + publishIntervals(this.#init.aliveMembers()).minMs
    this.#armAt(Math.max(budgetAt, this.#lastCheckAt + PUBLISH_POLICY_DEFAULTS.minIntervalMs))
  }

  /** Membership changed: peers' intervals, and so the view's expiry, follow the mesh's size. */
  membersChanged(): void {
    this.#init.view.expiryMs = suggestedExpiryMs(this.#init.aliveMembers())
  }

  /** Arms the check for `at` unless one is armed for no later. */
  #armAt(at: number): void {
    if (!this.#running || at >= this.#checkAt) return
    this.#timer?.cancel()
    this.#checkAt = at
    this.#timer = this.#init.timers.after(at - this.#init.clock.now(), () => this.#check())
  }

  #check(): void {
    this.#timer = undefined
    this.#checkAt = Number.POSITIVE_INFINITY
    this.#changeArmed = false
    if (!this.#running) return
    const { view, clock } = this.#init
    const now = clock.now()
    this.#lastCheckAt = now
    this.membersChanged()
    view.expire(now)
    const local = this.#init.localLoad()
    const current: PublishedLoad = {
      schedulers: local.schedulers.map(schedulerLoad),
      workerCapacityMb: local.worker.capacityMb,
      freeMemoryMb: local.worker.freeMb,
    }
    const aliveMembers = this.#init.aliveMembers()
    const decision = decidePublish({ now, aliveMembers, last: this.#last, current })
    if (!decision.publish) {
      // At least 1 ms on: (now − last) < min may still round to last + min ≤ now, and a
      // check armed for now would spin (forever, on a virtual clock).
      this.#armAt(Math.max(decision.nextCheckAt, now + 1))
      return
    }
    const summary: LoadSummary = {
      peerId: this.#init.selfId,
      seq: ++this.#seq,
      ...current,
      warmFunctions: local.worker.warmHosts,
      coordinate: this.#init.coordinate(),
      sentAt: (this.#init.wallClock ?? Date.now)(),
    }
    this.#last = { at: now, load: current }
    view.merge(summary, this.#init.selfId, now)
    this.#armAt(now + publishIntervals(aliveMembers).maxMs)
    background(this.#init.publish(summary), (err) =>
      this.#init.log.warn({ err }, 'publishing the load summary failed'),
    )
  }
}
