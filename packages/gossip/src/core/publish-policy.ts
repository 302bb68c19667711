/**
 * When the local peer should publish its next load summary: a pure function of what it last
 * published, what it would publish now, and the size of the mesh.
 *
 * - At least every `maxIntervalMs` (3 s), so a view that expires entries after 10 s survives
 *   two lost summaries in a row.
 * - At most what the mesh-wide budget allows: every peer receives every other's summaries, so
 *   with n alive members each peer receives (n − 1)/interval summaries a second. Keeping that
 *   at or below `meshRatePerSec` (20/s) means an interval of at least (n − 1)/20 s:
 *   0.95 s at 20 peers, 5 s at 101. When the budget interval exceeds `maxIntervalMs`, the
 *   budget wins and the view's expiry must grow with it (`suggestedExpiryMs`).
 * - Sooner on a significant change — a scheduler appeared or went, an epoch, capacity or
 *   migrating flag changed, pending or in-flight moved by ≥ 25% (of at least 1), free memory moved by ≥ 25%
 *   of the worker's memory — but never sooner than `minIntervalMs` (250 ms) nor the budget.
 */
import type { LoadSummary } from './load-summary.js'

export interface PublishPolicyConfig {
  /** Never publish more often than this. Default 250. */
  readonly minIntervalMs?: number
  /** Publish at least this often (unless the mesh budget forbids it). Default 3 000. */
  readonly maxIntervalMs?: number
  /** Summaries each peer may receive per second from the whole mesh. Default 20. */
  readonly meshRatePerSec?: number
  /** Relative change of pending / in-flight / free memory that is significant. Default 0.25. */
  readonly changeThreshold?: number
}

export const PUBLISH_POLICY_DEFAULTS = {
  minIntervalMs: 250,
  maxIntervalMs: 3_000,
  meshRatePerSec: 20,
  changeThreshold: 0.25,
} as const satisfies Required<PublishPolicyConfig>

/** The parts of a summary the policy compares. */
export type PublishedLoad = Pick<LoadSummary, 'schedulers' | 'workerCapacityMb' | 'freeMemoryMb'>

export interface PublishInput {
  readonly now: number
  /** Alive members, the local peer included. */
  readonly aliveMembers: number
  /** The last publication, if any. */
  readonly last?: { readonly at: number; readonly load: PublishedLoad } | undefined
  readonly current: PublishedLoad
}

export type PublishReason = 'first' | 'max-interval' | 'significant-change'

export type PublishDecision =
  | { readonly publish: true; readonly reason: PublishReason; readonly change?: string }
  /** Not now: ask again at `nextCheckAt` (or sooner if the load changes). */
  | {
      readonly publish: false
      readonly reason: 'budget' | 'unchanged'
      readonly nextCheckAt: number
      readonly change?: string
    }

/** The config with defaults filled in; throws a RangeError naming a setting that is not usable. */
export function resolvePublishPolicy(
  config: PublishPolicyConfig = {},
): Required<PublishPolicyConfig> {
  const c = { ...PUBLISH_POLICY_DEFAULTS, ...config }
  for (const key of [
    'minIntervalMs',
    'maxIntervalMs',
    'meshRatePerSec',
    'changeThreshold',
  ] as const) {
    const v = c[key]
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new RangeError(`publish policy: ${key} must be a positive number, got ${String(v)}`)
    }
  }
  return c
}

/** The shortest and longest interval between two publications in a mesh of `aliveMembers`. */
export function publishIntervals(
  aliveMembers: number,
  config: PublishPolicyConfig = {},
): { readonly minMs: number; readonly maxMs: number } {
  const c = resolvePublishPolicy(config)
  const others = Math.max(0, Math.floor(aliveMembers) - 1)
  const budgetMs = (others / c.meshRatePerSec) * 1000
  const minMs = Math.max(c.minIntervalMs, budgetMs)
  return { minMs, maxMs: Math.max(c.maxIntervalMs, minMs) }
}

/**
 * An expiry for the load view that survives two lost summaries in a row at the longest
 * interval: max(10 s, 3 × maxMs + 1 s). 10 s for meshes up to 61 peers at the defaults.
 */
export function suggestedExpiryMs(aliveMembers: number, config: PublishPolicyConfig = {}): number {
  return Math.max(10_000, 3 * publishIntervals(aliveMembers, config).maxMs + 1_000)
}

/** What makes `current` worth publishing before the regular interval, if anything. */
export function significantChange(
  previous: PublishedLoad,
  current: PublishedLoad,
  threshold: number = PUBLISH_POLICY_DEFAULTS.changeThreshold,
): string | undefined {
  const before = new Map(previous.schedulers.map((s) => [s.guid, s]))
  for (const s of current.schedulers) {
    const p = before.get(s.guid)
    if (!p) return `scheduler ${s.guid} appeared`
    if (p.epoch !== s.epoch) return `scheduler ${s.guid} epoch ${p.epoch} → ${s.epoch}`
    if (p.capacity !== s.capacity)
      return `scheduler ${s.guid} capacity ${p.capacity} → ${s.capacity}`
    if (p.migrating !== s.migrating)
      return `scheduler ${s.guid} ${s.migrating ? 'began' : 'ended'} migrating`
    if (moved(p.pending, s.pending, threshold)) {
      return `scheduler ${s.guid} pending ${p.pending} → ${s.pending}`
    }
    if (moved(p.inflight, s.inflight, threshold)) {
      return `scheduler ${s.guid} in-flight ${p.inflight} → ${s.inflight}`
    }
    before.delete(s.guid)
  }
  const [gone] = before.keys()
  if (gone !== undefined) return `scheduler ${gone} went away`
  if (previous.workerCapacityMb !== current.workerCapacityMb) {
    return `worker memory ${previous.workerCapacityMb} → ${current.workerCapacityMb} MB`
  }
  const memoryStep = threshold * current.workerCapacityMb
  if (memoryStep > 0 && Math.abs(current.freeMemoryMb - previous.freeMemoryMb) >= memoryStep) {
    return `free memory ${previous.freeMemoryMb} → ${current.freeMemoryMb} MB`
  }
  return undefined
}

function moved(before: number, after: number, threshold: number): boolean {
  return Math.abs(after - before) >= threshold * Math.max(before, 1)
}

/** Whether to publish now, and if not, when to ask again. */
export function decidePublish(
  input: PublishInput,
  config: PublishPolicyConfig = {},
): PublishDecision {
  const { now, last, current } = input
  if (!last) return { publish: true, reason: 'first' }
  const { minMs, maxMs } = publishIntervals(input.aliveMembers, config)
  const elapsed = now - last.at
  if (elapsed >= maxMs) return { publish: true, reason: 'max-interval' }
  const change = significantChange(last.load, current, resolvePublishPolicy(config).changeThreshold)
  if (change === undefined)
    return { publish: false, reason: 'unchanged', nextCheckAt: last.at + maxMs }
  if (elapsed >= minMs) return { publish: true, reason: 'significant-change', change }
  return { publish: false, reason: 'budget', nextCheckAt: last.at + minMs, change }
}
