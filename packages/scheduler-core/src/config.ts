import { PLACEMENT_POLICIES, type PlacementPolicy } from './placement.js'

/**
 * Settings of one owner scheduler (one capacity shard of one (owner, provider)).
 *
 * Batching is not here: it is each function's (`FunctionSpec.batch`). Whether invocations
 * may share a dispatch, and how long one may wait for company, is the trade-off of the
 * function and whoever deploys it, and a scheduler serves every function of its owner. The
 * scheduler-wide `batchSize` / `batchWaitMs` this replaced had no user: the peer never set
 * them, so no snapshot of a peer carries them (a snapshot that does keeps them unused).
 */
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
  for (const key of ['idleHostTtlMs', 'queueTimeoutMs', 'refusalBackoffMs'] as const) {
    const value = resolved[key]
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
      return `${key} must be a non-negative number`
    }
  }
  return resolved
}
