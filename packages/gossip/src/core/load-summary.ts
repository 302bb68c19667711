/**
 * What a peer gossips about its load, and how a received summary is checked. Summaries come
 * from other machines: every field is validated and bounded before anything is kept.
 */
import {
  VIVALDI_DEFAULTS,
  isValidCoordinate,
  normalizeCoordinate,
  type Coordinate,
} from './vivaldi.js'

/** One scheduler (a capacity shard of one (owner, provider)) that a peer hosts. */
export interface SchedulerLoad {
  /** The scheduler shard's globally unique id. */
  readonly guid: string
  readonly owner: string
  readonly provider: string
  /** Its share of the owner's provider limit: invocations it may run at once. */
  readonly capacity: number
  /** Queued invocations. */
  readonly pending: number
  /** Invocations running. */
  readonly inflight: number
  /** Ownership epoch (fencing): a higher epoch supersedes a lower one for the same guid. */
  readonly epoch: number
  /** Requests arriving per second (exponentially weighted over ~10 s). */
  readonly arrivalRatePerSec: number
  /** The part of them forwarded by other peers; the rest entered at the hosting peer. */
  readonly forwardedRatePerSec: number
  /** Being handed to another peer: it cannot be claimed by anyone else meanwhile. */
  readonly migrating: boolean
}

/** One peer's load, as it publishes it. */
export interface LoadSummary {
  readonly peerId: string
  /**
   * Increases with every summary the peer publishes. Start it at the wall-clock ms of the
   * peer's start, so summaries after a restart supersede those from before it.
   */
  readonly seq: number
  readonly schedulers: readonly SchedulerLoad[]
  /** Memory of the peer's worker host, and how much of it is free (MB). */
  readonly workerCapacityMb: number
  readonly freeMemoryMb: number
  /** Warm function hosts on this peer's worker host. */
  readonly warmFunctions: number
  /** The peer's Vivaldi coordinate. */
  readonly coordinate: Coordinate
  /** The sender's clock when it published (informational: clocks are not compared). */
  readonly sentAt: number
}

/** Bounds on what a summary may carry; anything beyond is refused. */
export const LOAD_LIMITS = {
  maxSchedulers: 1_000,
  /** Peer ids, guids, owners, providers. */
  maxStringLength: 256,
} as const

function isBoundedString(s: unknown): s is string {
  return typeof s === 'string' && s.length > 0 && s.length <= LOAD_LIMITS.maxStringLength
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
}

function isAmount(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0
}

function checkScheduler(s: unknown, at: string): string | undefined {
  if (typeof s !== 'object' || s === null) return `${at} must be an object`
  const x = s as Record<string, unknown>
  for (const key of ['guid', 'owner', 'provider'] as const) {
    if (!isBoundedString(x[key])) {
      const max = LOAD_LIMITS.maxStringLength
      return `${at}.${key} must be a non-empty string of at most ${max} characters`
    }
  }
  for (const key of ['capacity', 'pending', 'inflight', 'epoch'] as const) {
    if (!isCount(x[key])) return `${at}.${key} must be a non-negative integer`
  }
  for (const key of ['arrivalRatePerSec', 'forwardedRatePerSec'] as const) {
    if (!isAmount(x[key])) return `${at}.${key} must be a non-negative number`
  }
  if (typeof x.migrating !== 'boolean') return `${at}.migrating must be a boolean`
  return undefined
}

/** Why `summary` is not a well-formed load summary, or undefined if it is. */
export function checkLoadSummary(
  summary: unknown,
  dimensionality = VIVALDI_DEFAULTS.dimensionality,
): string | undefined {
  if (typeof summary !== 'object' || summary === null) return 'a summary must be an object'
  const s = summary as Record<string, unknown>
  if (!isBoundedString(s.peerId)) return 'peerId must be a non-empty string'
  if (!isCount(s.seq)) return 'seq must be a non-negative integer'
  if (!Array.isArray(s.schedulers)) return 'schedulers must be an array'
  if (s.schedulers.length > LOAD_LIMITS.maxSchedulers) {
    return `${s.schedulers.length} schedulers, at most ${LOAD_LIMITS.maxSchedulers}`
  }
  const guids = new Set<string>()
  for (let i = 0; i < s.schedulers.length; i++) {
    const problem = checkScheduler(s.schedulers[i], `schedulers[${i}]`)
    if (problem) return problem
    const guid = (s.schedulers[i] as SchedulerLoad).guid
    if (guids.has(guid)) return `schedulers[${i}].guid ${guid} appears twice`
    guids.add(guid)
  }
  if (!isAmount(s.workerCapacityMb)) return 'workerCapacityMb must be a non-negative number'
  if (!isAmount(s.freeMemoryMb)) return 'freeMemoryMb must be a non-negative number'
  if (!isCount(s.warmFunctions)) return 'warmFunctions must be a non-negative integer'
  if (!isValidCoordinate(s.coordinate, dimensionality)) {
    return `coordinate must be a valid ${dimensionality}-dimensional Vivaldi coordinate`
  }
  if (typeof s.sentAt !== 'number' || !Number.isFinite(s.sentAt)) {
    return 'sentAt must be a finite number'
  }
  return undefined
}

/**
 * Copies this module made: they hold only the summary's fields and are frozen, so a view keeps
 * one as it is — in the simulator, one summary delivered to 10,000 views is held once.
 */
const normalized = new WeakSet<LoadSummary>()

/** A frozen copy holding only the summary's fields: garbage riding along is not kept. */
export function normalizeLoadSummary(s: LoadSummary): LoadSummary {
  if (normalized.has(s)) return s
  const copy: LoadSummary = Object.freeze({
    peerId: s.peerId,
    seq: s.seq,
    schedulers: Object.freeze(
      s.schedulers.map((x) =>
        Object.freeze({
          guid: x.guid,
          owner: x.owner,
          provider: x.provider,
          capacity: x.capacity,
          pending: x.pending,
          inflight: x.inflight,
          epoch: x.epoch,
          arrivalRatePerSec: x.arrivalRatePerSec,
          forwardedRatePerSec: x.forwardedRatePerSec,
          migrating: x.migrating,
        }),
      ),
    ),
    workerCapacityMb: s.workerCapacityMb,
    freeMemoryMb: s.freeMemoryMb,
    warmFunctions: s.warmFunctions,
    coordinate: normalizeCoordinate(s.coordinate),
    sentAt: s.sentAt,
  })
  normalized.add(copy)
  return copy
}
