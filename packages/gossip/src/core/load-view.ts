/**
 * Each peer's local view of the others' load: the newest summary per origin, forgotten after
 * `expiryMs` without news, and an index of who hosts which scheduler as gossip tells it. Pure:
 * the time is an argument, nothing is read or sent.
 *
 * The expiry follows the mesh: peers publish less often as it grows (`publishIntervals`), so
 * the shell sets `expiryMs` to `suggestedExpiryMs(alive)` as membership changes, and every
 * entry, old or new, is judged by the current expiry: none expires before its successor is due.
 */
import { IndexedHeap } from '@chorus/scheduler-core'
import {
  checkLoadSummary,
  normalizeLoadSummary,
  type LoadSummary,
  type SchedulerLoad,
} from './load-summary.js'
import { VIVALDI_DEFAULTS } from './vivaldi.js'

export interface LoadViewConfig {
  /** A peer's summary is dropped this long after the last one arrived. Default 10 000. */
  readonly expiryMs?: number
  /** Dimensions of the coordinates summaries must carry. Default 8. */
  readonly dimensionality?: number
  /** Origins whose highest seq outlives their entry (against replays). Default 10 000. */
  readonly maxOrigins?: number
}

export const LOAD_VIEW_DEFAULTS = {
  expiryMs: 10_000,
  dimensionality: VIVALDI_DEFAULTS.dimensionality,
  maxOrigins: 10_000,
} as const satisfies Required<LoadViewConfig>

export type LoadRejectionReason = 'invalid-summary' | 'origin-mismatch' | 'invalid-time'

export type LoadMergeResult =
  /** Kept: the newest summary of its origin. */
  | { readonly type: 'accepted'; readonly peerId: string; readonly previousSeq?: number }
  /** Not newer than what is known of its origin: ignored (a duplicate or a replay). */
  | {
      readonly type: 'stale'
      readonly peerId: string
      readonly seq: number
      readonly newest: number
    }
  /** Malformed, or not from whom it claims to be: ignored, nothing changed. */
  | { readonly type: 'rejected'; readonly reason: LoadRejectionReason; readonly message: string }

/** A summary as held in the view. */
export interface LoadEntry {
  readonly summary: LoadSummary
  readonly receivedAt: number
}

/** One peer's claim, as gossip tells it, to host a scheduler. */
export interface SchedulerClaim extends SchedulerLoad {
  readonly peerId: string
  readonly receivedAt: number
}

/** One handled merge, as the bounded log keeps it. */
export interface HandledLoadSummary {
  readonly now: number
  readonly peerId: string | undefined
  readonly result: LoadMergeResult['type']
  readonly reason?: LoadRejectionReason | undefined
}

const RECENT_KEPT = 256

function pairKey(owner: string, provider: string): string {
  return JSON.stringify([owner, provider])
}

export class InvalidLoadViewConfigError extends Error {
  static readonly code = 'ERR_INVALID_LOAD_VIEW_CONFIG'
  readonly code = InvalidLoadViewConfigError.code
  constructor(message: string) {
    super(`invalid load view config: ${message}`)
    this.name = 'InvalidLoadViewConfigError'
  }
}

export class LoadView {
  #expiryMs: number
  readonly #dimensionality: number
  readonly #maxOrigins: number
  readonly #entries = new Map<string, LoadEntry>()
  /** Highest seq seen per origin, kept after the entry expires so replays stay stale. */
  readonly #highWater = new Map<string, number>()
  /** (owner, provider) → peers claiming a scheduler for it. */
  readonly #byPair = new Map<string, Set<string>>()
  /** guid → peers claiming it. */
  readonly #byGuid = new Map<string, Set<string>>()
  /** Oldest first: with one expiry for all, the oldest entry is the next to expire. */
  readonly #byAge = new IndexedHeap<LoadEntry>((a, b) => a.receivedAt < b.receivedAt)
  readonly #recent: HandledLoadSummary[] = []

  constructor(config: LoadViewConfig = {}) {
    const c = { ...LOAD_VIEW_DEFAULTS, ...config }
    checkExpiry(c.expiryMs)
    if (!Number.isInteger(c.dimensionality) || c.dimensionality < 1) {
      throw new InvalidLoadViewConfigError('dimensionality must be a positive integer')
    }
    if (!Number.isInteger(c.maxOrigins) || c.maxOrigins < 1) {
      throw new InvalidLoadViewConfigError('maxOrigins must be a positive integer')
    }
    this.#expiryMs = c.expiryMs
    this.#dimensionality = c.dimensionality
    this.#maxOrigins = c.maxOrigins
  }

  get expiryMs(): number {
    return this.#expiryMs
  }

  /** Judges every entry, those held already too, by `expiryMs` from now on. */
  set expiryMs(ms: number) {
    checkExpiry(ms)
    this.#expiryMs = ms
  }

  /**
   * How old the live entries are at `now` (ms since each arrived), youngest first: what the
   * simulator reports as the age of what a peer decides with.
   */
  ages(now: number): number[] {
    const ages: number[] = []
    for (const e of this.#entries.values()) {
      if (!this.#expired(e, now)) ages.push(now - e.receivedAt)
    }
    return ages.sort((a, b) => a - b)
  }

  /** Peers with a live summary. */
  get size(): number {
    return this.#entries.size
  }

  /**
   * Merges a summary received at `now`. `from` is the authenticated origin of the message that
   * carried it (gossipsub's signed `from`; the local peer's id for its own): a peer speaks only
   * for itself, so a summary about anyone else is refused.
   */
  merge(summary: unknown, from: string, now: number): LoadMergeResult {
    const result = this.#merge(summary, from, now)
    this.#remember({
      now,
      peerId: result.type === 'rejected' ? undefined : result.peerId,
      result: result.type,
      reason: result.type === 'rejected' ? result.reason : undefined,
    })
    return result
  }

  /** Drops the summaries not refreshed for `expiryMs` by `now`; returns their peers. */
  expire(now: number): string[] {
    const gone: string[] = []
    for (;;) {
      const next = this.#byAge.peek()
      if (!next || !this.#expired(next, now)) return gone
      this.#drop(next.summary.peerId)
      gone.push(next.summary.peerId)
    }
  }

  /** When the next summary expires, if any: call `expire(t)` then. */
  nextDeadline(): number | undefined {
    const oldest = this.#byAge.peek()
    return oldest === undefined ? undefined : oldest.receivedAt + this.#expiryMs
  }

  /** Forgets a peer at once (membership says it died or left). Its seq stays remembered. */
  remove(peerId: string): boolean {
    if (!this.#entries.has(peerId)) return false
    this.#drop(peerId)
    return true
  }

  /** The peer's summary; given `now`, not one that has expired by then (even before `expire`). */
  get(peerId: string, now?: number): LoadEntry | undefined {
    const entry = this.#entries.get(peerId)
    if (!entry || (now !== undefined && this.#expired(entry, now))) return undefined
    return { summary: entry.summary, receivedAt: entry.receivedAt }
  }

  /** Every live summary; given `now`, without those that have expired by then. */
  entries(now?: number): LoadEntry[] {
    const out: LoadEntry[] = []
    for (const e of this.#entries.values()) {
      if (now === undefined || !this.#expired(e, now)) {
        out.push({ summary: e.summary, receivedAt: e.receivedAt })
      }
    }
    return out
  }

  /**
   * Every peer that, as gossip tells it, hosts a scheduler for (owner, provider): several for
   * a split capacity, or — with the same guid — a duplicate to resolve by epoch. Highest epoch
   * first, then by peer id.
   */
  responsibles(owner: string, provider: string): SchedulerClaim[] {
    const peers = this.#byPair.get(pairKey(owner, provider))
    if (!peers) return []
    const claims: SchedulerClaim[] = []
    for (const peerId of peers) {
      const entry = this.#entries.get(peerId) as LoadEntry
      for (const s of entry.summary.schedulers) {
        if (s.owner === owner && s.provider === provider) {
          claims.push({ ...s, peerId, receivedAt: entry.receivedAt })
        }
      }
    }
    return claims.sort(byEpochThenPeer)
  }

  /** The peers claiming scheduler `guid`, highest epoch first. */
  claimsOf(guid: string): SchedulerClaim[] {
    const peers = this.#byGuid.get(guid)
    if (!peers) return []
    const claims: SchedulerClaim[] = []
    for (const peerId of peers) {
      const entry = this.#entries.get(peerId) as LoadEntry
      const s = entry.summary.schedulers.find((x) => x.guid === guid)
      if (s) claims.push({ ...s, peerId, receivedAt: entry.receivedAt })
    }
    return claims.sort(byEpochThenPeer)
  }

  /** Schedulers that more than one peer claims (e.g. after a partition healed), by guid. */
  duplicates(): { guid: string; claims: SchedulerClaim[] }[] {
    const out: { guid: string; claims: SchedulerClaim[] }[] = []
    for (const [guid, peers] of this.#byGuid) {
      if (peers.size > 1) out.push({ guid, claims: this.claimsOf(guid) })
    }
    return out.sort((a, b) => (a.guid < b.guid ? -1 : a.guid > b.guid ? 1 : 0))
  }

  /** The last merges handled (at most 256), oldest first. */
  recentEvents(): readonly HandledLoadSummary[] {
    return this.#recent
  }

  #merge(summary: unknown, from: string, now: number): LoadMergeResult {
    if (!Number.isFinite(now)) {
      return { type: 'rejected', reason: 'invalid-time', message: 'now must be a finite number' }
    }
    const problem = checkLoadSummary(summary, this.#dimensionality)
    if (problem) return { type: 'rejected', reason: 'invalid-summary', message: problem }
    const s = summary as LoadSummary
    if (from !== s.peerId) {
      return {
        type: 'rejected',
        reason: 'origin-mismatch',
        message: `a summary of ${s.peerId} cannot come from ${from}`,
      }
    }
    const newest = this.#highWater.get(s.peerId)
    if (newest !== undefined && s.seq <= newest) {
      return { type: 'stale', peerId: s.peerId, seq: s.seq, newest }
    }
    const previous = this.#entries.get(s.peerId)
    if (previous) this.#drop(s.peerId)
    const entry: LoadEntry = { summary: normalizeLoadSummary(s), receivedAt: now }
    this.#entries.set(s.peerId, entry)
    this.#byAge.push(entry)
    for (const x of entry.summary.schedulers) {
      addTo(this.#byPair, pairKey(x.owner, x.provider), s.peerId)
      addTo(this.#byGuid, x.guid, s.peerId)
    }
    this.#highWater.delete(s.peerId)
    this.#highWater.set(s.peerId, s.seq)
    if (this.#highWater.size > this.#maxOrigins) {
      for (const origin of this.#highWater.keys()) {
        if (!this.#entries.has(origin)) {
          this.#highWater.delete(origin)
          break
        }
      }
    }
    return previous
      ? { type: 'accepted', peerId: s.peerId, previousSeq: previous.summary.seq }
      : { type: 'accepted', peerId: s.peerId }
  }

  #drop(peerId: string): void {
    const entry = this.#entries.get(peerId)
    if (!entry) return
    this.#entries.delete(peerId)
    this.#byAge.remove(entry)
    for (const x of entry.summary.schedulers) {
      removeFrom(this.#byPair, pairKey(x.owner, x.provider), peerId)
      removeFrom(this.#byGuid, x.guid, peerId)
    }
  }

  #expired(entry: LoadEntry, now: number): boolean {
    return entry.receivedAt + this.#expiryMs <= now
  }

  #remember(entry: HandledLoadSummary): void {
    if (this.#recent.length === RECENT_KEPT) this.#recent.shift()
    this.#recent.push(entry)
  }
}

function checkExpiry(ms: number): void {
  if (!(ms > 0) || !Number.isFinite(ms)) {
    throw new InvalidLoadViewConfigError('expiryMs must be a positive number')
  }
}

function byEpochThenPeer(a: SchedulerClaim, b: SchedulerClaim): number {
  if (a.epoch !== b.epoch) return b.epoch - a.epoch
  return a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0
}

function addTo(index: Map<string, Set<string>>, key: string, peerId: string): void {
  let set = index.get(key)
  if (!set) index.set(key, (set = new Set()))
  set.add(peerId)
}

function removeFrom(index: Map<string, Set<string>>, key: string, peerId: string): void {
  const set = index.get(key)
  if (!set) return
  set.delete(peerId)
  if (set.size === 0) index.delete(key)
}
