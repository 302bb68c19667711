/**
 * The replicated definitions of every owner: its functions and choreographies. A pure
 * state machine: changes go in with the time and come out as operations to persist and
 * spread; it reads no clock, draws no randomness and does no I/O.
 *
 * Each (owner, kind, name) holds one operation, the greatest by `compareOps` of all the
 * operations it has seen for that name: a last-writer-wins register ordered by (version,
 * HLC, origin). Merging is commutative, associative and idempotent, so peers that have
 * seen the same set of operations hold the same state, in whatever order and however many
 * times the operations arrived. A delete is a tombstone operation that stays.
 *
 * Bad input (a malformed, oversized or badly named operation, a stamp from too far in the
 * future) is rejected as data and leaves the state as it was.
 *
 * @example
 * const log = new DefinitionLog({ self: 'peerA' })
 * const out = log.change({ type: 'deploy-choreography', owner: 'acme', name: 'p', definition: {} }, 1000)
 * // out: { type: 'applied', op: { kind: 'choreography', action: 'put', version: 1, ... } }
 * otherPeersLog.apply(out.op, 1001)
 */
import { addHash64, hash64Hex, subtractHash64, utf8Length, type Hash64 } from './canonical-json.js'
import {
  MAX_VERSION,
  checkOp,
  compareOps,
  definitionProblem,
  entryKey,
  nameProblem,
  ownerProblem,
  rejection,
  revisionOf,
  type ChoreographyPut,
  type DefinitionKind,
  type DefinitionOp,
  type DefinitionRejection,
  type DefinitionRejectionReason,
  type FunctionPut,
} from './definition-op.js'
import { checkFunctionSpec, type FunctionSpec, type FunctionSpecInput } from './function-spec.js'
import { HLC_ZERO, receiveHlc, tickHlc, type Hlc } from './hlc.js'

export interface DefinitionLimits {
  /** Largest operation, as canonical JSON in UTF-8. */
  readonly maxOpBytes: number
  /** How far ahead of the local wall clock a received stamp may be. */
  readonly maxClockSkewMs: number
  readonly maxOwners: number
  /** Names (live or deleted) over all owners. */
  readonly maxEntries: number
  readonly maxEntriesPerOwner: number
}

export const DEFINITION_LIMITS: DefinitionLimits = {
  maxOpBytes: 256 * 1024,
  maxClockSkewMs: 5 * 60_000,
  maxOwners: 10_000,
  maxEntries: 100_000,
  maxEntriesPerOwner: 4096,
}

/** Bounds of one anti-entropy answer and request. */
export interface SyncLimits {
  /** Operations in one answer. */
  readonly maxOps: number
  /** Canonical bytes of the operations in one answer (one operation is always let through). */
  readonly maxBytes: number
  /** Owners an answer may list as differing. */
  readonly maxDiffer: number
  /** Key stamps in one request. */
  readonly maxKeys: number
}

export const SYNC_LIMITS: SyncLimits = {
  maxOps: 512,
  maxBytes: 2 * 1024 * 1024,
  maxDiffer: 256,
  maxKeys: 4096,
}

export interface DefinitionLogInit {
  /** This peer's id: the origin of the operations it issues. */
  readonly self: string
  readonly limits?: Partial<DefinitionLimits>
}

/** A change asked for at this peer. */
export type LocalChange =
  | {
      readonly type: 'deploy-function'
      readonly owner: string
      readonly name: string
      readonly spec: FunctionSpecInput
    }
  | { readonly type: 'delete-function'; readonly owner: string; readonly name: string }
  | {
      readonly type: 'deploy-choreography'
      readonly owner: string
      readonly name: string
      readonly definition: unknown
    }
  | { readonly type: 'delete-choreography'; readonly owner: string; readonly name: string }

export type ApplyOutcome =
  /** The operation is now the state of its name; `replaced` was. */
  | { readonly type: 'applied'; readonly op: DefinitionOp; readonly replaced?: DefinitionOp }
  /** Already known, or beaten by what the name holds: nothing changed but the clock. */
  | {
      readonly type: 'ignored'
      readonly reason: 'duplicate' | 'superseded'
      readonly op: DefinitionOp
    }
  | DefinitionRejection

/** A deployed function as peers see it. */
export interface FunctionDefinition extends FunctionSpec {
  readonly owner: string
  readonly name: string
  readonly version: number
  /**
   * Unique per deploy (`<version>.<hash of the operation>`), even when two peers deployed
   * the same name concurrently and both gave it the same version: key caches on this.
   */
  readonly revision: string
  /** The deploy's HLC wall time (ms since the epoch). */
  readonly deployedAt: number
  /** The peer it was deployed at. */
  readonly origin: string
}

export interface ChoreographyDefinition {
  readonly owner: string
  readonly name: string
  readonly version: number
  readonly revision: string
  readonly definition: unknown
  readonly deployedAt: number
  readonly origin: string
}

/** Per owner, the number of names it holds and a hash of their operations. */
export interface DefinitionSummary {
  readonly owners: Readonly<Record<string, string>>
}

/** What a peer holds for one name: `[version, hlc.wall, hlc.counter, origin, hash]`. */
export type KeyStamp = readonly [number, number, number, string, string]

/**
 * The stamps of an owner's names in the key range (`after`, `through`] (open ends when
 * absent): the answer brings, for that range, the operations that beat them.
 */
export interface SyncSlice {
  readonly owner: string
  readonly after?: string
  readonly through?: string
  readonly stamps: Readonly<Record<string, KeyStamp>>
}

/**
 * An anti-entropy request. With `from`, the answerer compares the asker's summary
 * (`owners`) with its own for the owners after `from` ('' for all), in name order; with
 * `slices`, it compares name by name.
 */
export interface SyncRequest {
  readonly from?: string
  readonly owners?: Readonly<Record<string, string>>
  readonly slices?: readonly SyncSlice[]
}

export interface SyncAnswer {
  /** Operations that beat what the asker holds. */
  readonly ops: DefinitionOp[]
  /** Owners whose hash differs from the asker's: ask again with slices. */
  readonly differ: string[]
  /** The slices' answer was cut short by a bound: ask them again. */
  readonly more: boolean
  /** The owner comparison stopped after this owner: ask again `from` it. */
  readonly next?: string
}

/** One handled call, as the bounded log keeps it. */
export interface HandledChange {
  readonly now: number
  readonly type: 'change' | 'apply' | 'restore'
  readonly outcome: 'applied' | 'ignored' | 'rejected'
  readonly key?: string
  readonly reason?: DefinitionRejectionReason | 'duplicate' | 'superseded'
}

const RECENT_KEPT = 256

interface Entry {
  readonly op: DefinitionOp
  readonly hash: Hash64
}

interface OwnerState {
  readonly entries: Map<string, Entry>
  hash: Hash64
}

export class DefinitionLog {
  readonly #self: string
  readonly #limits: DefinitionLimits
  readonly #owners = new Map<string, OwnerState>()
  #entries = 0
  #clock: Hlc = HLC_ZERO
  readonly #recent: HandledChange[] = []
  #recentNext = 0

  constructor(init: DefinitionLogInit) {
    this.#self = init.self
    this.#limits = { ...DEFINITION_LIMITS, ...init.limits }
  }

  get self(): string {
    return this.#self
  }

  get limits(): DefinitionLimits {
    return this.#limits
  }

  /** The HLC: later than every stamp issued or seen here. */
  get clock(): Hlc {
    return this.#clock
  }

  /** Names held (live or deleted), over all owners. */
  get size(): number {
    return this.#entries
  }

  /**
   * A change asked for here, at wall time `now`: issues its operation (version = highest
   * known for the name + 1, stamped later than anything seen) and applies it. The shell
   * persists and spreads `op`.
   */
  change(change: LocalChange, now: number): ApplyOutcome {
    const outcome = this.#change(change, now)
    this.#remember(now, 'change', outcome, change)
    return outcome
  }

  /** An operation from another peer, received at wall time `now`. */
  apply(raw: unknown, now: number): ApplyOutcome {
    let outcome: ApplyOutcome
    if (!Number.isFinite(now)) {
      outcome = rejection('invalid-time', `now must be a finite number, got ${String(now)}`)
    } else {
      outcome = this.#receive(raw, now, true)
    }
    this.#remember(now, 'apply', outcome)
    return outcome
  }

  /** An operation read back from this peer's own disk: as `apply`, without the skew check. */
  restore(raw: unknown): ApplyOutcome {
    const outcome = this.#receive(raw, 0, false)
    this.#remember(this.#clock.wall, 'restore', outcome)
    return outcome
  }

  getFunction(owner: string, name: string): FunctionDefinition | undefined {
    const entry = this.#livePut(owner, 'function', name)
    return entry && functionView(entry.op as FunctionPut, entry.hash)
  }

  listFunctions(owner: string): FunctionDefinition[] {
    return this.#live(owner, 'function').map(({ op, hash }) =>
      functionView(op as FunctionPut, hash),
    )
  }

  getChoreography(owner: string, name: string): ChoreographyDefinition | undefined {
    const entry = this.#livePut(owner, 'choreography', name)
    return entry && choreographyView(entry.op as ChoreographyPut, entry.hash)
  }

  listChoreographies(owner: string): ChoreographyDefinition[] {
    return this.#live(owner, 'choreography').map(({ op, hash }) =>
      choreographyView(op as ChoreographyPut, hash),
    )
  }

  /** Owners with at least one live definition, sorted. */
  owners(): string[] {
    return [...this.#owners.entries()]
      .filter(([, state]) => [...state.entries.values()].some((e) => e.op.action === 'put'))
      .map(([owner]) => owner)
      .sort()
  }

  /** Every name's operation (tombstones included): what a snapshot keeps. */
  entries(): DefinitionOp[] {
    const ops: DefinitionOp[] = []
    for (const state of this.#owners.values())
      for (const e of state.entries.values()) ops.push(e.op)
    return ops
  }

  /** Peers that deployed a live function with this code: likely holders of it, newest first. */
  originsOf(digest: string): string[] {
    const found: { origin: string; wall: number }[] = []
    for (const state of this.#owners.values()) {
      for (const { op } of state.entries.values()) {
        if (op.kind === 'function' && op.action === 'put' && op.spec.digest === digest) {
          found.push({ origin: op.origin, wall: op.hlc.wall })
        }
      }
    }
    found.sort((a, b) => b.wall - a.wall)
    return [...new Set(found.map((f) => f.origin))]
  }

  /** The last handled calls, oldest first. */
  recent(): readonly HandledChange[] {
    return [...this.#recent.slice(this.#recentNext), ...this.#recent.slice(0, this.#recentNext)]
  }

  // --- anti-entropy ------------------------------------------------------------------

  /** Per owner: `<names>.<hash of their operations>`. Equal summaries, equal states. */
  summary(): DefinitionSummary {
    return { owners: Object.fromEntries(this.#ownerDigests()) }
  }

  /**
   * The stamps of `owner`'s names after key `after`, in key order, at most `max` of them;
   * `through` is the last key given when more follow.
   */
  stampsOf(
    owner: string,
    after: string | undefined,
    max: number,
  ): { stamps: Record<string, KeyStamp>; through?: string } {
    const state = this.#owners.get(owner)
    const stamps: [string, KeyStamp][] = []
    if (!state) return { stamps: {} }
    max = Math.max(1, max)
    for (const [key, e] of sortedEntries(state)) {
      if (after !== undefined && key <= after) continue
      if (stamps.length >= max) {
        return { stamps: Object.fromEntries(stamps), through: stamps.at(-1)?.[0] }
      }
      stamps.push([key, stampOf(e)])
    }
    return { stamps: Object.fromEntries(stamps) }
  }

  /**
   * Answers another peer's sync request within `limits`: for its slices, the operations
   * that beat its stamps; then, comparing summaries owner by owner from `from`, all the
   * operations of owners it does not know, and the owners whose hashes differ.
   */
  answerSync(raw: unknown, limits: SyncLimits = SYNC_LIMITS): SyncAnswer | DefinitionRejection {
    const request = this.#checkSyncRequest(raw, limits)
    if (request.type === 'rejected') return request
    const ops: DefinitionOp[] = []
    const differ: string[] = []
    let bytes = 0
    /** Adds an operation if it fits (the first always does); false when the answer is full. */
    const add = (e: Entry): boolean => {
      const size = canonicalBytes(e.op)
      if (ops.length >= limits.maxOps || (ops.length > 0 && bytes + size > limits.maxBytes)) {
        return false
      }
      ops.push(e.op)
      bytes += size
      return true
    }
    let more = false
    slices: for (const slice of request.slices) {
      const state = this.#owners.get(slice.owner)
      if (!state) continue
      for (const [key, e] of sortedEntries(state)) {
        if (slice.after !== undefined && key <= slice.after) continue
        if (slice.through !== undefined && key > slice.through) break
        const theirs = slice.stamps.get(key)
        if (theirs && !beats(e, theirs)) continue
        if (!add(e)) {
          more = true
          break slices
        }
      }
    }
    const { from } = request
    if (from === undefined) return { ops, differ, more }
    if (more) return { ops, differ, more, next: from }
    const sliced = new Set(request.slices.map((s) => s.owner))
    const digests = new Map(this.#ownerDigests())
    let last = from
    for (const owner of [...this.#owners.keys()].filter((o) => o > from).sort()) {
      const theirs = request.owners.get(owner)
      if (!sliced.has(owner) && theirs !== digests.get(owner)) {
        if (theirs === undefined) {
          const state = this.#owners.get(owner) as OwnerState
          if (!sortedEntries(state).every(([, e]) => add(e)))
            return { ops, differ, more, next: last }
        } else if (differ.length >= limits.maxDiffer) {
          return { ops, differ, more, next: last }
        } else differ.push(owner)
      }
      last = owner
    }
    return { ops, differ, more }
  }

  // --- internals ---------------------------------------------------------------------

  #change(change: LocalChange, now: number): ApplyOutcome {
    if (!Number.isFinite(now)) {
      return rejection('invalid-time', `now must be a finite number, got ${String(now)}`)
    }
    if (typeof change !== 'object' || change === null) {
      return rejection('malformed', 'a change must be an object')
    }
    const kind: DefinitionKind | undefined =
      change.type === 'deploy-function' || change.type === 'delete-function'
        ? 'function'
        : change.type === 'deploy-choreography' || change.type === 'delete-choreography'
          ? 'choreography'
          : undefined
    if (!kind) return rejection('malformed', `unknown change ${String(change.type)}`)
    const badName = ownerProblem(change.owner) ?? nameProblem(kind, change.name)
    if (badName) return rejection('bad-name', badName)
    const existing = this.#owners.get(change.owner)?.entries.get(entryKey(kind, change.name))
    const version = (existing?.op.version ?? 0) + 1
    if (version > MAX_VERSION) return rejection('limit', `${change.name} has run out of versions`)
    const base = {
      owner: change.owner,
      name: change.name,
      version,
      hlc: tickHlc(this.#clock, now),
      origin: this.#self,
    }
    let op: DefinitionOp
    switch (change.type) {
      case 'deploy-function': {
        const spec = checkFunctionSpec(change.spec, true)
        if (typeof spec === 'string') return rejection('malformed', spec)
        op = { kind: 'function', action: 'put', ...base, spec }
        break
      }
      case 'deploy-choreography': {
        const problem = definitionProblem(change.definition)
        if (problem) return rejection('malformed', problem)
        op = { kind: 'choreography', action: 'put', ...base, definition: change.definition }
        break
      }
      case 'delete-function':
      case 'delete-choreography':
        if (existing?.op.action !== 'put') {
          return rejection('not-found', `${kind} ${change.owner}/${change.name} does not exist`)
        }
        op = { kind, action: 'delete', ...base }
        break
    }
    const checked = checkOp(op, this.#limits.maxOpBytes)
    if (checked.type === 'rejected') return checked
    const outcome = this.#merge(checked.op, checked.hash)
    if (outcome.type === 'applied') this.#clock = base.hlc
    return outcome
  }

  #receive(raw: unknown, now: number, checkSkew: boolean): ApplyOutcome {
    const checked = checkOp(raw, this.#limits.maxOpBytes)
    if (checked.type === 'rejected') return checked
    const { op, hash } = checked
    if (checkSkew && op.hlc.wall > now + this.#limits.maxClockSkewMs) {
      return rejection(
        'clock-skew',
        `stamp ${op.hlc.wall} is more than ${this.#limits.maxClockSkewMs} ms ahead of ${now}`,
      )
    }
    const outcome = this.#merge(op, hash)
    if (outcome.type !== 'rejected') this.#clock = receiveHlc(this.#clock, op.hlc, now)
    return outcome
  }

  #merge(op: DefinitionOp, hash: Hash64): ApplyOutcome {
    const key = entryKey(op.kind, op.name)
    let state = this.#owners.get(op.owner)
    const existing = state?.entries.get(key)
    if (existing) {
      const order = compareOps(op, existing.op)
      if (order === 0) return { type: 'ignored', reason: 'duplicate', op }
      if (order < 0) return { type: 'ignored', reason: 'superseded', op }
    } else {
      const limits = this.#limits
      if (!state && this.#owners.size >= limits.maxOwners) {
        return rejection('limit', `this peer holds the most owners it may (${limits.maxOwners})`)
      }
      if (this.#entries >= limits.maxEntries) {
        return rejection('limit', `this peer holds the most names it may (${limits.maxEntries})`)
      }
      if (state && state.entries.size >= limits.maxEntriesPerOwner) {
        return rejection(
          'limit',
          `owner ${op.owner} has the most names it may (${limits.maxEntriesPerOwner})`,
        )
      }
    }
    if (!state) {
      state = { entries: new Map(), hash: [0, 0] }
      this.#owners.set(op.owner, state)
    }
    state.entries.set(key, { op, hash })
    state.hash = addHash64(existing ? subtractHash64(state.hash, existing.hash) : state.hash, hash)
    if (!existing) this.#entries++
    return existing ? { type: 'applied', op, replaced: existing.op } : { type: 'applied', op }
  }

  /** The entry of `owner`'s `kind` named `name`, when it is a put (not deleted). */
  #livePut(owner: string, kind: DefinitionKind, name: string): Entry | undefined {
    const entry = this.#owners.get(owner)?.entries.get(entryKey(kind, name))
    return entry?.op.kind === kind && entry.op.action === 'put' ? entry : undefined
  }

  #live(owner: string, kind: DefinitionKind): Entry[] {
    const state = this.#owners.get(owner)
    if (!state) return []
    return [...state.entries.values()]
      .filter((e) => e.op.kind === kind && e.op.action === 'put')
      .sort((a, b) => (a.op.name < b.op.name ? -1 : a.op.name > b.op.name ? 1 : 0))
  }

  *#ownerDigests(): Generator<[string, string]> {
    for (const [owner, state] of this.#owners) {
      yield [owner, `${state.entries.size}.${hash64Hex(state.hash)}`]
    }
  }

  #checkSyncRequest(
    raw: unknown,
    limits: SyncLimits,
  ):
    | {
        type: 'request'
        from: string | undefined
        owners: Map<string, string>
        slices: { owner: string; after?: string; through?: string; stamps: Map<string, KeyStamp> }[]
      }
    | DefinitionRejection {
    if (!isRecord(raw)) return rejection('malformed', 'a sync request must be an object')
    const { from } = raw
    if (from !== undefined && !isShortString(from)) {
      return rejection('malformed', 'from must be a short string')
    }
    const owners = new Map<string, string>()
    if (from !== undefined) {
      if (!isRecord(raw.owners)) return rejection('malformed', 'owners must be an object')
      const entries = Object.entries(raw.owners)
      if (entries.length > this.#limits.maxOwners) {
        return rejection(
          'too-large',
          `a sync request may name at most ${this.#limits.maxOwners} owners`,
        )
      }
      for (const [owner, digest] of entries) {
        if (!isShortString(digest)) {
          return rejection('malformed', `owners.${owner} must be a short string`)
        }
        owners.set(owner, digest)
      }
    }
    const slices: {
      owner: string
      after?: string
      through?: string
      stamps: Map<string, KeyStamp>
    }[] = []
    if (raw.slices !== undefined) {
      if (!Array.isArray(raw.slices)) return rejection('malformed', 'slices must be an array')
      let count = 0
      for (const slice of raw.slices as unknown[]) {
        if (!isRecord(slice) || !isShortString(slice.owner) || !isRecord(slice.stamps)) {
          return rejection('malformed', 'a slice must have an owner and stamps')
        }
        const { owner, after, through } = slice
        if (
          (after !== undefined && !isShortString(after)) ||
          (through !== undefined && !isShortString(through))
        ) {
          return rejection('malformed', "a slice's after and through must be short strings")
        }
        const stamps = new Map<string, KeyStamp>()
        for (const [key, stamp] of Object.entries(slice.stamps)) {
          if (++count > limits.maxKeys) {
            return rejection('too-large', `a sync request may carry at most ${limits.maxKeys} keys`)
          }
          if (!isStamp(stamp))
            return rejection('malformed', `stamp of ${owner}/${key} is malformed`)
          stamps.set(key, stamp)
        }
        if (++count > limits.maxKeys) {
          return rejection('too-large', `a sync request may carry at most ${limits.maxKeys} keys`)
        }
        slices.push({
          owner,
          ...(after === undefined ? {} : { after }),
          ...(through === undefined ? {} : { through }),
          stamps,
        })
      }
    }
    return { type: 'request', from, owners, slices }
  }

  #remember(
    now: number,
    type: HandledChange['type'],
    outcome: ApplyOutcome,
    change?: LocalChange,
  ): void {
    const op = outcome.type === 'rejected' ? undefined : outcome.op
    const key = op
      ? `${op.owner}/${entryKey(op.kind, op.name)}`
      : typeof change?.owner === 'string' && typeof change.name === 'string'
        ? `${change.owner}/${change.name}`
        : undefined
    const entry: HandledChange = {
      now: Number.isFinite(now) ? now : this.#clock.wall,
      type,
      outcome: outcome.type,
      ...(key === undefined ? {} : { key: key.slice(0, 300) }),
      ...(outcome.type === 'applied' ? {} : { reason: outcome.reason }),
    }
    if (this.#recent.length < RECENT_KEPT) this.#recent.push(entry)
    else this.#recent[this.#recentNext] = entry
    this.#recentNext = (this.#recentNext + 1) % RECENT_KEPT
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isShortString(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 300
}

function isStamp(value: unknown): value is KeyStamp {
  return (
    Array.isArray(value) &&
    value.length === 5 &&
    Number.isSafeInteger(value[0]) &&
    Number.isSafeInteger(value[1]) &&
    Number.isSafeInteger(value[2]) &&
    typeof value[3] === 'string' &&
    typeof value[4] === 'string'
  )
}

function stampOf({ op, hash }: Entry): KeyStamp {
  return [op.version, op.hlc.wall, op.hlc.counter, op.origin, hash64Hex(hash)]
}

/** Whether our entry should go to a peer that holds `theirs` for the same name. */
function beats({ op, hash }: Entry, theirs: KeyStamp): boolean {
  const [version, wall, counter, origin, theirHash] = theirs
  if (op.version !== version) return op.version > version
  if (op.hlc.wall !== wall) return op.hlc.wall > wall
  if (op.hlc.counter !== counter) return op.hlc.counter > counter
  if (op.origin !== origin) return op.origin > origin
  // Same stamp, other content: only the canonical texts can tell; let the asker decide.
  return hash64Hex(hash) !== theirHash
}

function sortedEntries(state: OwnerState): [string, Entry][] {
  return [...state.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

function canonicalBytes(op: DefinitionOp): number {
  // JSON.stringify of a checked op has the canonical text's length up to key order.
  return utf8Length(JSON.stringify(op))
}

function functionView(op: FunctionPut, hash: Hash64): FunctionDefinition {
  return {
    owner: op.owner,
    name: op.name,
    version: op.version,
    revision: revisionOf(op, hash),
    ...op.spec,
    deployedAt: op.hlc.wall,
    origin: op.origin,
  }
}

function choreographyView(op: ChoreographyPut, hash: Hash64): ChoreographyDefinition {
  return {
    owner: op.owner,
    name: op.name,
    version: op.version,
    revision: revisionOf(op, hash),
    definition: op.definition,
    deployedAt: op.hlc.wall,
    origin: op.origin,
  }
}
