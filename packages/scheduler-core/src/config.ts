import { PLACEMENT_POLICIES, type PlacementPolicy } from './placement.js'

/** Settings of one owner scheduler (one capacity shard of one (owner, provider)). */
export interface OwnerSchedulerConfig {
  readonly owner: string
  readonly provider: string
  /** Invocations this shard may run at once: its fraction of the owner's provider limit. */
  readonly capacity: number
  /** `warm-bounded` (default), OpenWhisk's plain hash walk `openwhisk`, or a baseline. */
  readonly placement?: PlacementPolicy
  /** Bounded load: no worker takes more than ⌈(1+ε) × mean⌉ invocations. Default 1 (twice the mean). */
  readonly loadBoundEpsilon?: number
  /** An idle function host is reaped after this long. Default 600 000 (10 minutes). */
  readonly idleHostTtlMs?: number
  /** Invocations of one function dispatched to one host together; 1 turns batching off (default). */
  readonly batchSize?: number
  /** A batch smaller than `batchSize` leaves after waiting this long. Default 10. */
  readonly batchWaitMs?: number
  /** A queued invocation not dispatched within this long fails. Default 300 000. */
  readonly queueTimeoutMs?: number
  /** A worker that refused a dispatch is not offered another for this long. Default 100. */
  readonly refusalBackoffMs?: number
}

export type ResolvedConfig = Required<OwnerSchedulerConfig>

export const CONFIG_DEFAULTS = {
  placement: 'warm-bounded',
  loadBoundEpsilon: 1,
  idleHostTtlMs: 600_000,
  batchSize: 1,
  batchWaitMs: 10,
  queueTimeoutMs: 300_000,
  refusalBackoffMs: 100,
} as const satisfies Partial<ResolvedConfig>

/** A capacity is a non-negative whole number of concurrent invocations. */
export function isValidCapacity(capacity: unknown): capacity is number {
  return typeof capacity === 'number' && Number.isInteger(capacity) && capacity >= 0
}

/** Returns the config with defaults filled in, or a message saying what is wrong with it. */
export function resolveConfig(config: OwnerSchedulerConfig): ResolvedConfig | string {
  if (typeof config !== 'object' || config === null) return 'config must be an object'
  const resolved: ResolvedConfig = { ...CONFIG_DEFAULTS, ...config }
  if (typeof resolved.owner !== 'string' || resolved.owner === '')
    return 'owner must be a non-empty string'
  if (typeof resolved.provider !== 'string' || resolved.provider === '') {
    return 'provider must be a non-empty string'
  }
  if (!isValidCapacity(resolved.capacity)) return 'capacity must be a non-negative integer'
  if (!PLACEMENT_POLICIES.includes(resolved.placement)) {
    return `placement must be one of ${PLACEMENT_POLICIES.join(', ')}`
  }
  if (!(resolved.loadBoundEpsilon > 0) || !Number.isFinite(resolved.loadBoundEpsilon)) {
    return 'loadBoundEpsilon must be a positive number'
  }
  if (!Number.isInteger(resolved.batchSize) || resolved.batchSize < 1) {
    return 'batchSize must be a positive integer'
  }
  for (const key of [
    'idleHostTtlMs',
    'batchWaitMs',
    'queueTimeoutMs',
    'refusalBackoffMs',
  ] as const) {
    const value = resolved[key]
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
      return `${key} must be a non-negative number`
    }
  }
  return resolved
}
