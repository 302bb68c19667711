import type { OwnerSchedulerConfig } from './config.js'
import type { Priority } from './events.js'
import type { FunctionSpec } from './function-spec.js'
import type { WorkerHealth } from './openwhisk-placement.js'
import { InvalidSnapshotError } from './errors.js'
import type { DecayedRate } from './summary.js'

export const SNAPSHOT_FORMAT = 'chorus.owner-scheduler/1'

/** An invocation as a snapshot carries it. `queueDeadline` null means none. */
export interface InvocationSnapshot {
  readonly id: string
  readonly fn: string
  readonly priority: Priority
  readonly preemptible: boolean
  readonly input: unknown
  readonly enqueuedAt: number
  readonly queueDeadline: number | null
  readonly seq: number
  readonly attempt: number
  readonly failures: number
  /** Times it was preempted; absent in snapshots written before it was counted (restored as 0). */
  readonly preemptions?: number
}

/**
 * The whole state of an owner scheduler as plain JSON: what migration and replication
 * carry. Derived state (load counts, heaps, free slots) is rebuilt on restore.
 */
export interface SchedulerSnapshot {
  readonly format: typeof SNAPSHOT_FORMAT
  readonly config: OwnerSchedulerConfig
  readonly now: number
  readonly capacity: number
  readonly counters: {
    readonly seq: number
    readonly frontSeq: number
    readonly dispatchSeq: number
    readonly hostSeq: number
    readonly idleOrder: number
  }
  readonly arrivals: DecayedRate
  /** The arrivals forwarded from other peers; absent in older snapshots (none then). */
  readonly forwardedArrivals?: DecayedRate
  /**
   * The state of the scheduler's rng (`Rng.state()`), so a restored scheduler draws what this
   * one would have drawn. Absent when the rng cannot be serialised, and in snapshots written
   * before it was carried: such a restore draws from the rng it is given.
   */
  readonly rng?: number
  readonly functions: readonly FunctionSpec[]
  /** In stable position order. */
  readonly workers: readonly {
    readonly id: string
    readonly memoryMb: number
    readonly health: WorkerHealth
    readonly refusingUntil: number
  }[]
  readonly hosts: readonly {
    readonly id: string
    readonly n: number
    readonly worker: string
    readonly fn: string
    readonly fnKey: string
    readonly memoryMb: number
    readonly slots: number
    readonly lastUsedAt: number
    /** When it became idle, or null while it runs something. */
    readonly idleSince: number | null
    readonly idleOrder: number
  }[]
  /** Queued invocations in queue order. */
  readonly queued: readonly InvocationSnapshot[]
  readonly dispatches: readonly {
    readonly id: string
    readonly seq: number
    readonly fn: string
    readonly worker: string
    readonly hostId: string
    readonly dispatchedAt: number
    readonly deadline: number
    readonly coldStart: boolean
    readonly overloaded: boolean
    /**
     * Whether it may be preempted, as decided when it was dispatched (all its invocations were
     * preemptible then). Absent in older snapshots: judged from the unfinished ones.
     */
    readonly preemptible?: boolean
    /** The invocations of the dispatch that have not finished yet. */
    readonly invocations: readonly InvocationSnapshot[]
  }[]
}

/** Checks the outer shape of a snapshot; `restore()` checks the parts as it loads them. */
export function checkSnapshotShape(snapshot: SchedulerSnapshot): void {
  if (typeof snapshot !== 'object' || snapshot === null)
    throw new InvalidSnapshotError('', 'must be an object')
  const format: unknown = snapshot.format
  if (format !== SNAPSHOT_FORMAT) {
    throw new InvalidSnapshotError('format', `expected ${SNAPSHOT_FORMAT}, got ${String(format)}`)
  }
  for (const key of ['functions', 'workers', 'hosts', 'queued', 'dispatches'] as const) {
    if (!Array.isArray(snapshot[key])) throw new InvalidSnapshotError(key, 'must be an array')
  }
  if (!Number.isFinite(snapshot.now))
    throw new InvalidSnapshotError('now', 'must be a finite number')
  const counters = snapshot.counters as unknown as Record<string, unknown> | null
  if (typeof counters !== 'object' || counters === null)
    throw new InvalidSnapshotError('counters', 'must be an object')
  for (const key of ['seq', 'frontSeq', 'dispatchSeq', 'hostSeq', 'idleOrder']) {
    if (!Number.isInteger(counters[key]))
      throw new InvalidSnapshotError(`counters.${key}`, 'must be an integer')
  }
  const arrivals = snapshot.arrivals as unknown as Record<string, unknown> | null
  if (
    typeof arrivals !== 'object' ||
    arrivals === null ||
    !Number.isFinite(arrivals.perMs) ||
    !Number.isFinite(arrivals.at)
  ) {
    throw new InvalidSnapshotError('arrivals', 'must be { perMs, at } with finite numbers')
  }
  const forwarded = snapshot.forwardedArrivals as unknown as Record<string, unknown> | undefined
  if (
    forwarded !== undefined &&
    (typeof forwarded !== 'object' ||
      forwarded === null ||
      !Number.isFinite(forwarded.perMs) ||
      !Number.isFinite(forwarded.at))
  ) {
    throw new InvalidSnapshotError('forwardedArrivals', 'must be { perMs, at } with finite numbers')
  }
  const rng: unknown = snapshot.rng
  if (
    rng !== undefined &&
    !(Number.isInteger(rng) && (rng as number) >= 0 && (rng as number) < 2 ** 32)
  )
    throw new InvalidSnapshotError('rng', 'must be an unsigned 32-bit integer')
}
