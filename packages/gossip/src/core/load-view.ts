/**
 * Each peer's local view of the others' load: the newest summary per origin, forgotten after
 * `expiryMs` without news, and who hosts which scheduler as gossip tells it. Pure:
 * the time is an argument, nothing is read or sent.
 *
 * The expiry follows the mesh: peers publish less often as it grows (`publishIntervals`), so
 * the shell sets `expiryMs` to `suggestedExpiryMs(alive)` as membership changes, and every
 * entry, old or new, is judged by the current expiry: none expires before its successor is due.
 */
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
  /**
   * Oldest first: a summary is re-inserted when it arrives and arrival times never go back
   * (`#latest`), so with one expiry for all the first entry is always the next to expire —
   * no heap to keep (at 10,000 views of 1,000 entries each, the simulator felt its memory).
   */
  readonly #entries = new Map<string, LoadEntry>()
  #latest = Number.NEGATIVE_INFINITY
  /**
   * Highest seq seen of origins whose entry expired or was removed, so replays stay stale (the
   * `maxOrigins` most recent); a held entry's own summary says it for the others.
   */
  readonly #highWater = new Map<string, number>()
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
      const next = this.#oldest()
      if (!next || !this.#expired(next, now)) return gone
      this.#drop(next.summary.peerId)
      gone.push(next.summary.peerId)
    }
  }

  /** When the next summary expires, if any: call `expire(t)` then. */
  nextDeadline(): number | undefined {
    const oldest = this.#oldest()
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
    return this.#claims((s) => s.owner === owner && s.provider === provider)
  }

  /** The peers claiming scheduler `guid`, highest epoch first. */
  claimsOf(guid: string): SchedulerClaim[] {
    return this.#claims((s) => s.guid === guid)
  }

  /** Schedulers that more than one peer claims (e.g. after a partition healed), by guid. */
  duplicates(): { guid: string; claims: SchedulerClaim[] }[] {
    const byGuid = new Map<string, SchedulerClaim[]>()
    for (const claim of this.#claims(() => true)) {
      const claims = byGuid.get(claim.guid)
      if (claims === undefined) byGuid.set(claim.guid, [claim])
      else claims.push(claim)
    }
    return [...byGuid]
      .filter(([, claims]) => claims.length > 1)
      .map(([guid, claims]) => ({ guid, claims }))
      .sort((a, b) => (a.guid < b.guid ? -1 : a.guid > b.guid ? 1 : 0))
  }

  /**
   * The claims of the held summaries that `wanted` picks, highest epoch first. Found by a scan,
   * not kept in an index: these are asked for rarely, and an index per view cost every merge
   * (and, at 10,000 peers, most of the simulator's memory).
   */
  #claims(wanted: (s: SchedulerLoad) => boolean): SchedulerClaim[] {
    const claims: SchedulerClaim[] = []
    for (const [peerId, entry] of this.#entries) {
      for (const s of entry.summary.schedulers) {
        if (wanted(s)) claims.push({ ...s, peerId, receivedAt: entry.receivedAt })
      }
    }
    return claims.sort(byEpochThenPeer)
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
    const previous = this.#entries.get(s.peerId)
    const newest = previous?.summary.seq ?? this.#highWater.get(s.peerId)
    if (newest !== undefined && s.seq <= newest) {
      return { type: 'stale', peerId: s.peerId, seq: s.seq, newest }
    }
    // Re-inserted, so the entries stay oldest first.
    if (previous) this.#entries.delete(s.peerId)
    else this.#highWater.delete(s.peerId)
    this.#latest = Math.max(this.#latest, now)
    const entry: LoadEntry = { summary: normalizeLoadSummary(s), receivedAt: this.#latest }
    this.#entries.set(s.peerId, entry)
    return previous
      ? { type: 'accepted', peerId: s.peerId, previousSeq: previous.summary.seq }
      : { type: 'accepted', peerId: s.peerId }
  }

  /** Forgets an origin's entry, remembering its seq against replays. */
  #drop(peerId: string): void {
    const entry = this.#entries.get(peerId)
    if (!entry) return
    this.#entries.delete(peerId)
    this.#highWater.set(peerId, entry.summary.seq)
    if (this.#highWater.size > this.#maxOrigins) {
      this.#highWater.delete(this.#highWater.keys().next().value as string)
    }
  }

  #oldest(): LoadEntry | undefined {
    for (const entry of this.#entries.values()) return entry
    return undefined
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
