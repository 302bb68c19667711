/**
 * SWIM membership and failure detection with Lifeguard's refinements, as a deterministic state
 * machine: events go in with the time, effects come out. It reads no clock, draws no randomness
 * of its own (the rng is injected) and does no I/O; the shell carries pings, acks, syncs and
 * broadcasts and feeds what arrives back in. The defaults and their arithmetic are in
 * `membership-config.ts`.
 */
import { IndexedHeap, type Rng } from '@chorus/scheduler-core'
import {
  resolveMembershipConfig,
  type MembershipConfig,
  type ResolvedMembershipConfig,
} from './membership-config.js'
import type {
  MemberEventKind,
  MembershipEffect,
  MembershipRejectionReason,
} from './membership-effects.js'
import type { MembershipEvent, MembershipEventType } from './membership-events.js'
import {
  MEMBERSHIP_LIMITS,
  checkUpdate,
  isValidAddrs,
  isValidId,
  judgeUpdate,
  normalizeUpdate,
  type Member,
  type MemberState,
  type MemberUpdate,
} from './member-update.js'
import {
  confirmSuspicion,
  expectedConfirmations,
  startSuspicion,
  type Suspicion,
} from './suspicion.js'
import { TransmitQueue, retransmitLimit } from './transmit-queue.js'

export interface MembershipDeps {
  /** Shuffles the probe order, picks ping-req helpers and sync partners, staggers timers. */
  readonly rng: Rng
}

/** One handled event, as the bounded log keeps it. */
export interface HandledMembershipEvent {
  readonly now: number
  readonly type: MembershipEventType | 'unknown'
  readonly effects: number
  readonly rejected?: MembershipRejectionReason | undefined
}

/** Everything the core holds, as plain data: for debugging, tests and the dashboard. */
export interface MembershipSnapshot {
  readonly id: string
  readonly incarnation: number
  readonly state: 'alive' | 'left'
  readonly now: number
  /** Local health score: timeouts and the probe interval are multiplied by health + 1. */
  readonly health: number
  readonly nextDeadline: number | undefined
  readonly members: readonly Member[]
  readonly probes: readonly {
    readonly probeId: number
    readonly target: string
    readonly phase: 'direct' | 'indirect'
    /** Its ping waits for a connection to open (`ping-connecting`). */
    readonly connecting: boolean
    readonly startedAt: number
    readonly relayers: readonly string[]
    readonly nacks: number
  }[]
  readonly relays: readonly {
    readonly probeId: number
    readonly requester: string
    readonly target: string
  }[]
  readonly suspicions: readonly {
    readonly id: string
    readonly accuser: string
    readonly confirmations: number
    readonly expected: number
    readonly deadline: number
  }[]
  readonly queued: readonly { readonly update: MemberUpdate; readonly transmits: number }[]
  readonly recentEvents: readonly HandledMembershipEvent[]
}

const RECENT_EVENTS_KEPT = 256
/** A relay nacks at this fraction of the requester's indirect window, so the nack arrives in it. */
const NACK_FRACTION = 0.8
/** Discovering the same peer again within this long sends it no second sync. */
const DISCOVERY_SYNC_GAP_MS = 1_000
/**
 * After the first table from another member arrives, push-pull again this long after it, with
 * random members (×0.75…1.25): peers that joined in the same moment learn of each other from the
 * ones they met, instead of waiting for a broadcast that reached them before they subscribed or
 * for the regular anti-entropy round (bench:gossip: ~10 s for 20 peers joining at once).
 */
const CATCH_UP_SYNCS_MS = [1_000, 3_000] as const
/** Above this many members, push-pull slows down logarithmically (memberlist's pushPullScale). */
const SYNC_SCALE_THRESHOLD = 32

interface MemberRecord {
  readonly id: string
  addrs: readonly string[]
  state: MemberState
  incarnation: number
  stateChangedAt: number
  /** The accuser of a suspect, the declarer of a dead member. */
  by: string
  suspicion: Suspicion | undefined
  reapAt: number
  lastSyncAt: number
  inProbeOrder: boolean
}

interface Probe {
  readonly probeId: number
  readonly target: string
  /** The target's incarnation when the probe started: a failure suspects that one. */
  readonly incarnation: number
  readonly startedAt: number
  roundEnd: number
  phase: 'direct' | 'indirect'
  connecting: boolean
  at: number
  deferred: boolean
  relayers: readonly string[]
  readonly nacks: Set<string>
}

interface Relay {
  readonly probeId: number
  readonly requester: string
  readonly requesterProbeId: number
  readonly target: string
  readonly expireAt: number
  nacked: boolean
  at: number
  deferred: boolean
}

class Rejection {
  constructor(
    readonly reason: MembershipRejectionReason,
    readonly message: string,
  ) {}
}

/** Effects of one `handle` call, plus the updates this peer originated in it. */
class Output {
  readonly effects: MembershipEffect[] = []
  readonly originated: MemberUpdate[] = []
}

function sameAddrs(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

function isProbeable(state: MemberState): boolean {
  return state === 'alive' || state === 'suspect'
}

function isProbeId(id: unknown): id is number {
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0
}

export class Membership {
  readonly #config: ResolvedMembershipConfig
  readonly #rng: Rng
  readonly #self: {
    addrs: readonly string[]
    incarnation: number
    state: 'alive' | 'left'
    changedAt: number
  }
  readonly #members = new Map<string, MemberRecord>()
  readonly #queue = new TransmitQueue()
  readonly #recent: HandledMembershipEvent[] = []

  #now = 0
  #started = false
  #announced = false
  #seq = 0
  #health = 0
  #probeable = 0
  #nextProbeAt = 0
  #nextSyncAt = 0
  /** When the first table from another member arrived (we joined), and catch-ups left. */
  #joinedAt: number | undefined
  #catchUps = 0
  #maxLate = 0
  #lastStallAt = Number.NEGATIVE_INFINITY
  #probeOrder: string[] = []
  #probeIndex = 0

  readonly #probes = new Map<number, Probe>()
  readonly #probing = new Set<string>()
  readonly #relays = new Map<number, Relay>()
  readonly #probeTimers = new IndexedHeap<Probe>((a, b) =>
    a.at !== b.at ? a.at < b.at : a.probeId < b.probeId,
  )
  readonly #relayTimers = new IndexedHeap<Relay>((a, b) =>
    a.at !== b.at ? a.at < b.at : a.probeId < b.probeId,
  )
  readonly #suspicions = new IndexedHeap<MemberRecord>(
    (a, b) => (a.suspicion?.deadline ?? 0) < (b.suspicion?.deadline ?? 0),
  )
  readonly #tombstones = new IndexedHeap<MemberRecord>((a, b) => a.reapAt < b.reapAt)

  constructor(config: MembershipConfig, deps: MembershipDeps) {
    const resolved = resolveMembershipConfig(config)
    if (typeof resolved === 'string') throw new InvalidMembershipConfigError(resolved)
    this.#config = resolved
    this.#rng = deps.rng
    this.#self = {
      addrs: resolved.addrs,
      incarnation: resolved.incarnation,
      state: 'alive',
      changedAt: 0,
    }
  }

  get id(): string {
    return this.#config.id
  }

  get config(): Readonly<ResolvedMembershipConfig> {
    return this.#config
  }

  get incarnation(): number {
    return this.#self.incarnation
  }

  /** Local health score, 0 … healthMax: timeouts and the probe interval scale by health + 1. */
  get health(): number {
    return this.#health
  }

  /** Handles one event at time `now` (ms, monotonic; an earlier time counts as the latest seen). */
  handle(event: MembershipEvent, now: number): MembershipEffect[] {
    const type =
      typeof event === 'object' && event !== null && typeof event.type === 'string'
        ? event.type
        : 'unknown'
    const rejection = Number.isFinite(now)
      ? this.#validate(event)
      : new Rejection('invalid-time', `now must be a finite number, got ${String(now)}`)
    if (rejection) {
      this.#remember({ now: this.#now, type, effects: 1, rejected: rejection.reason })
      return [
        { type: 'rejected', event: type, reason: rejection.reason, message: rejection.message },
      ]
    }
    this.#now = Math.max(this.#now, now)
    const out = new Output()
    const starting = !this.#started
    if (starting) this.#start()
    this.#maxLate = 0
    this.#fireDeadlines(out)
    if (this.#maxLate > this.#config.stallToleranceMs) this.#stalled(this.#maxLate)
    this.#apply(event, out)
    // Announce ourselves after the first event, which may have told us our addresses.
    if (starting && !out.originated.some((u) => u.id === this.#config.id)) {
      this.#originate(this.#selfUpdate(), out)
    }
    if (out.originated.length > 0) {
      out.effects.push({ type: 'broadcast', updates: out.originated })
    }
    this.#remember({ now: this.#now, type, effects: out.effects.length })
    return out.effects
  }

  /** The earliest time at which `handle({ type: 'tick' }, t)` would do something, if any. */
  nextDeadline(): number | undefined {
    if (!this.#started) return undefined
    let next = Number.POSITIVE_INFINITY
    if (this.#active()) next = Math.min(next, this.#nextProbeAt, this.#nextSyncAt)
    const probe = this.#probeTimers.peek()
    if (probe) next = Math.min(next, probe.at)
    const relay = this.#relayTimers.peek()
    if (relay) next = Math.min(next, relay.at)
    const suspect = this.#suspicions.peek()?.suspicion
    if (suspect) next = Math.min(next, suspect.deadline)
    const tombstone = this.#tombstones.peek()
    if (tombstone) next = Math.min(next, tombstone.reapAt)
    return next === Number.POSITIVE_INFINITY ? undefined : next
  }

  /** Every known member, the local one first. */
  members(): Member[] {
    return [this.#selfMember(), ...[...this.#members.values()].map(toMember)]
  }

  member(id: string): Member | undefined {
    if (id === this.#config.id) return this.#selfMember()
    const record = this.#members.get(id)
    return record ? toMember(record) : undefined
  }

  /** Alive members, the local one included while it has not left. */
  aliveCount(): number {
    let n = this.#self.state === 'alive' ? 1 : 0
    for (const m of this.#members.values()) if (m.state === 'alive') n++
    return n
  }

  /** The whole table as updates: what a sync carries. */
  stateUpdates(): MemberUpdate[] {
    return [this.#selfUpdate(), ...[...this.#members.values()].map(updateOf)]
  }

  /** The last events handled (at most 256), oldest first: for failing tests and the dashboard. */
  recentEvents(): readonly HandledMembershipEvent[] {
    return this.#recent
  }

  snapshot(): MembershipSnapshot {
    return {
      id: this.#config.id,
      incarnation: this.#self.incarnation,
      state: this.#self.state,
      now: this.#now,
      health: this.#health,
      nextDeadline: this.nextDeadline(),
      members: this.members(),
      probes: [...this.#probes.values()].map((p) => ({
        probeId: p.probeId,
        target: p.target,
        phase: p.phase,
        connecting: p.connecting,
        startedAt: p.startedAt,
        relayers: [...p.relayers],
        nacks: p.nacks.size,
      })),
      relays: [...this.#relays.values()].map((r) => ({
        probeId: r.probeId,
        requester: r.requester,
        target: r.target,
      })),
      suspicions: [...this.#members.values()].flatMap((m) =>
        m.suspicion
          ? [
              {
                id: m.id,
                accuser: m.suspicion.accuser,
                confirmations: m.suspicion.confirmedBy.size - 1,
                expected: m.suspicion.expected,
                deadline: m.suspicion.deadline,
              },
            ]
          : [],
      ),
      queued: this.#queue.pending(),
      recentEvents: [...this.#recent],
    }
  }

  // ---------------------------------------------------------------- validation

  #validate(event: MembershipEvent): Rejection | undefined {
    if (typeof event !== 'object' || event === null) {
      return new Rejection('invalid-event', 'event must be an object')
    }
    const e = event as unknown as Record<string, unknown>
    switch (event.type) {
      case 'tick':
        return undefined
      case 'peer-discovered': {
        if (!isValidId(e.id)) return new Rejection('invalid-event', 'id must be a valid peer id')
        if (!isValidAddrs(e.addrs)) {
          return new Rejection('invalid-event', 'addrs must be at most 16 non-empty strings')
        }
        if (
          e.id !== this.#config.id &&
          !this.#members.has(e.id) &&
          this.#members.size >= this.#config.maxMembers
        ) {
          return new Rejection('too-many-members', `already ${this.#members.size} members`)
        }
        return undefined
      }
      case 'ping-received':
        return (
          this.#checkFrom(e.from) ??
          this.#checkProbeId(e.probeId) ??
          this.#checkUpdates(e.updates, MEMBERSHIP_LIMITS.maxUpdatesPerMessage)
        )
      case 'updates-received':
        return (
          this.#checkFrom(e.from) ??
          this.#checkUpdates(e.updates, MEMBERSHIP_LIMITS.maxUpdatesPerMessage)
        )
      case 'sync-received':
        if (typeof e.reply !== 'boolean') {
          return new Rejection('invalid-event', 'reply must be a boolean')
        }
        return this.#checkFrom(e.from) ?? this.#checkUpdates(e.updates, this.#config.maxMembers + 1)
      case 'ping-req-received': {
        const bad = this.#checkFrom(e.from) ?? this.#checkProbeId(e.probeId)
        if (bad) return bad
        if (!isValidId(e.target)) return new Rejection('invalid-event', 'target must be a peer id')
        if (e.target === this.#config.id || e.target === e.from) {
          return new Rejection('invalid-event', 'a ping-req must name a third member as target')
        }
        if (this.#relays.size >= this.#config.maxRelays) {
          return new Rejection('too-many-relays', `already relaying ${this.#relays.size} pings`)
        }
        return undefined
      }
      case 'ack-received': {
        const bad = this.#checkFrom(e.from) ?? this.#checkProbeId(e.probeId)
        if (bad) return bad
        if (
          e.rttMs !== undefined &&
          !(typeof e.rttMs === 'number' && Number.isFinite(e.rttMs) && e.rttMs >= 0)
        ) {
          return new Rejection('invalid-event', 'rttMs must be a non-negative number')
        }
        const probe = this.#probes.get(event.probeId)
        if (probe && event.from !== probe.target && !probe.relayers.includes(event.from)) {
          return new Rejection(
            'unexpected-ack',
            `probe ${event.probeId} is of ${probe.target}; ${event.from} was not asked to relay it`,
          )
        }
        const relay = this.#relays.get(event.probeId)
        if (relay && event.from !== relay.target) {
          return new Rejection(
            'unexpected-ack',
            `relayed ping ${event.probeId} went to ${relay.target}, not ${event.from}`,
          )
        }
        return this.#checkUpdates(e.updates, MEMBERSHIP_LIMITS.maxUpdatesPerMessage)
      }
      case 'nack-received': {
        const bad = this.#checkFrom(e.from) ?? this.#checkProbeId(e.probeId)
        if (bad) return bad
        const probe = this.#probes.get(event.probeId)
        if (probe && !probe.relayers.includes(event.from)) {
          return new Rejection(
            'unexpected-nack',
            `${event.from} was not asked to relay probe ${event.probeId}`,
          )
        }
        return undefined
      }
      case 'ping-connecting':
      case 'ping-sent':
      case 'ping-unsent':
        return this.#checkProbeId(e.probeId)
      case 'local-health':
        return typeof e.lagMs === 'number' && Number.isFinite(e.lagMs) && e.lagMs >= 0
          ? undefined
          : new Rejection('invalid-event', 'lagMs must be a non-negative number')
      case 'leave':
        return this.#self.state === 'left'
          ? new Rejection('already-left', 'the local peer has already left')
          : undefined
      default:
        return new Rejection(
          'invalid-event',
          `unknown event type ${JSON.stringify((event as { type?: unknown }).type) ?? 'undefined'}`,
        )
    }
  }

  #checkFrom(from: unknown): Rejection | undefined {
    if (!isValidId(from)) return new Rejection('invalid-event', 'from must be a valid peer id')
    if (from === this.#config.id) {
      return new Rejection('from-self', 'a message cannot come from the local peer')
    }
    return undefined
  }

  #checkProbeId(probeId: unknown): Rejection | undefined {
    return isProbeId(probeId)
      ? undefined
      : new Rejection('invalid-event', 'probeId must be a non-negative integer')
  }

  /** Checks a whole message: one bad update refuses all of it. */
  #checkUpdates(updates: unknown, max: number): Rejection | undefined {
    if (!Array.isArray(updates)) return new Rejection('invalid-event', 'updates must be an array')
    if (updates.length > max) {
      return new Rejection('too-many-updates', `${updates.length} updates, at most ${max}`)
    }
    const joining = new Set<string>()
    for (let i = 0; i < updates.length; i++) {
      const u = updates[i] as unknown
      const problem = checkUpdate(u)
      if (problem) return new Rejection('invalid-update', `updates[${i}]: ${problem}`)
      const update = u as MemberUpdate
      const known =
        update.id === this.#config.id
          ? this.#self.incarnation
          : this.#members.get(update.id)?.incarnation
      if (
        known !== undefined &&
        update.incarnation > known + MEMBERSHIP_LIMITS.maxIncarnationLead
      ) {
        return new Rejection(
          'implausible-incarnation',
          `updates[${i}]: ${update.kind} ${update.id} at incarnation ${update.incarnation}, ` +
            `known at ${known}`,
        )
      }
      if (update.kind === 'alive' && known === undefined) joining.add(update.id)
    }
    if (this.#members.size + joining.size > this.#config.maxMembers) {
      return new Rejection(
        'too-many-members',
        `${joining.size} new members would exceed ${this.#config.maxMembers}`,
      )
    }
    return undefined
  }

  // ---------------------------------------------------------------- events

  #apply(event: MembershipEvent, out: Output): void {
    switch (event.type) {
      case 'tick':
        return
      case 'peer-discovered':
        return this.#discovered(event.id, event.addrs, out)
      case 'ping-received':
        this.#merge(event.updates, out)
        out.effects.push({
          type: 'send-ack',
          to: event.from,
          probeId: event.probeId,
          updates: this.#piggyback(this.#members.get(event.from)),
        })
        return
      case 'ping-req-received':
        return this.#startRelay(event.from, event.target, event.probeId, out)
      case 'ack-received':
        this.#merge(event.updates, out)
        return this.#acked(event.from, event.probeId, out)
      case 'nack-received': {
        const probe = this.#probes.get(event.probeId)
        if (probe) probe.nacks.add(event.from)
        return
      }
      case 'updates-received':
        return this.#merge(event.updates, out)
      case 'sync-received':
        this.#merge(event.updates, out)
        if (event.reply) this.#sendSync(event.from, false, out)
        if (this.#joinedAt === undefined) this.#joined()
        return
      case 'ping-connecting':
        return this.#pingConnecting(event.probeId)
      case 'ping-sent':
        return this.#pingSent(event.probeId)
      case 'ping-unsent':
        return this.#pingUnsent(event.probeId, out)
      case 'local-health':
        if (event.lagMs > this.#config.stallToleranceMs) this.#stalled(event.lagMs)
        return
      case 'leave':
        return this.#leave(out)
    }
  }

  /** The first event: stagger the periodic timers (the announcement follows the event). */
  #start(): void {
    this.#started = true
    this.#nextProbeAt = this.#now + Math.floor(this.#rng.next() * this.#config.probeIntervalMs)
    // Discovery already exchanges whole tables: the first anti-entropy round can wait.
    this.#nextSyncAt =
      this.#now + Math.floor(((1 + this.#rng.next()) / 2) * this.#config.syncIntervalMs)
  }

  #discovered(id: string, addrs: readonly string[], out: Output): void {
    if (id === this.#config.id) return this.#ownAddrs(addrs, out)
    let record = this.#members.get(id)
    if (!record) {
      record = this.#addMember(id, addrs, 0, out)
      this.#queue.enqueue(updateOf(record))
    } else if (addrs.length > 0 && !sameAddrs(record.addrs, addrs)) {
      record.addrs = [...addrs]
    }
    // Tell it what we know: a restarted peer learns it was declared dead and refutes.
    if (this.#self.state === 'alive' && this.#now - record.lastSyncAt >= DISCOVERY_SYNC_GAP_MS) {
      this.#sendSync(id, true, out)
    }
  }

  /**
   * The shell tells us where we listen. Once others may have heard the old addresses, the new
   * ones go out at a higher incarnation, the only way an alive update supersedes another.
   */
  #ownAddrs(addrs: readonly string[], out: Output): void {
    if (this.#self.state === 'left' || sameAddrs(this.#self.addrs, addrs)) return
    this.#self.addrs = [...addrs]
    if (this.#announced) {
      this.#self.incarnation++
      this.#originate(this.#selfUpdate(), out)
    }
  }

  #sendSync(to: string, reply: boolean, out: Output): void {
    const record = this.#members.get(to)
    if (record) record.lastSyncAt = this.#now
    out.effects.push({ type: 'send-sync', to, updates: this.stateUpdates(), reply })
  }

  #leave(out: Output): void {
    this.#self.state = 'left'
    this.#self.changedAt = this.#now
    for (const probe of this.#probes.values()) this.#probeTimers.remove(probe)
    this.#probes.clear()
    this.#probing.clear()
    this.#originate(this.#selfUpdate(), out)
  }

  // ---------------------------------------------------------------- merging

  #merge(updates: readonly MemberUpdate[], out: Output): void {
    for (const raw of updates) {
      const update = normalizeUpdate(raw)
      if (update.id === this.#config.id) {
        this.#aboutSelf(update, out)
        continue
      }
      const record = this.#members.get(update.id)
      const verdict = judgeUpdate(record, update)
      if (verdict === 'ignore') continue
      if (verdict === 'confirm' && record) {
        if (update.kind === 'suspect') this.#confirm(record, update.from, update.incarnation)
        this.#queue.enqueue(update)
        continue
      }
      this.#transition(record, update, out)
      this.#queue.enqueue(update)
    }
  }

  /** Lifeguard: whatever says we are not alive at our incarnation or later gets refuted. */
  #aboutSelf(update: MemberUpdate, out: Output): void {
    if (this.#self.state === 'left') return
    const accused = update.incarnation
    if (
      update.kind === 'alive' ? accused > this.#self.incarnation : accused >= this.#self.incarnation
    ) {
      this.#self.incarnation = accused + 1
      this.#raiseHealth(1)
      this.#originate(this.#selfUpdate(), out)
    }
  }

  #confirm(record: MemberRecord, from: string, incarnation: number): boolean {
    const s = record.suspicion
    if (!s) return false
    if (incarnation > record.incarnation) record.incarnation = incarnation
    const counted = confirmSuspicion(
      s,
      from,
      this.#config.suspicionMinMs,
      this.#config.suspicionMaxMs,
    )
    if (counted) {
      // A confirmation may bring the deadline into the past: it falls due now, not "late".
      s.deadline = Math.max(s.deadline, this.#now)
      this.#suspicions.update(record)
    }
    return counted
  }

  #addMember(id: string, addrs: readonly string[], incarnation: number, out: Output): MemberRecord {
    const record: MemberRecord = {
      id,
      addrs: [...addrs],
      state: 'alive',
      incarnation,
      stateChangedAt: this.#now,
      by: '',
      suspicion: undefined,
      reapAt: 0,
      lastSyncAt: Number.NEGATIVE_INFINITY,
      inProbeOrder: false,
    }
    this.#members.set(id, record)
    this.#becameProbeable(record)
    this.#emit('joined', record, out)
    return record
  }

  /** Applies an accepted update to its member (new if `record` is undefined). */
  #transition(record: MemberRecord | undefined, update: MemberUpdate, out: Output): void {
    if (!record) {
      if (update.kind === 'alive') this.#addMember(update.id, update.addrs, update.incarnation, out)
      return
    }
    const before = record.state
    const after = update.kind
    record.incarnation = update.incarnation
    if (update.kind === 'alive') record.addrs = update.addrs
    if (update.kind === 'suspect' || update.kind === 'dead') record.by = update.from
    if (before === after) return
    record.state = after
    record.stateChangedAt = this.#now
    if (after === 'suspect') {
      const members = this.#probeable + (this.#self.state === 'alive' ? 1 : 0)
      record.suspicion = startSuspicion(
        record.by,
        this.#now,
        expectedConfirmations(this.#config.suspicionConfirmations, members),
        this.#config.suspicionMinMs,
        this.#config.suspicionMaxMs,
      )
      this.#suspicions.update(record)
    } else if (record.suspicion) {
      record.suspicion = undefined
      this.#suspicions.remove(record)
    }
    if (after === 'dead' || after === 'left') {
      record.reapAt = this.#now + this.#config.tombstoneMs
      this.#tombstones.update(record)
    } else {
      this.#tombstones.remove(record)
    }
    if (isProbeable(before) && !isProbeable(after)) this.#probeable--
    if (!isProbeable(before) && isProbeable(after)) this.#becameProbeable(record)
    this.#emit(after, record, out)
  }

  #becameProbeable(record: MemberRecord): void {
    if (this.#probeable === 0) this.#nextProbeAt = Math.max(this.#nextProbeAt, this.#now)
    this.#probeable++
    if (record.inProbeOrder) return
    // A new member goes to a random place in the current round, as memberlist does.
    const at = Math.floor(this.#rng.next() * (this.#probeOrder.length + 1))
    this.#probeOrder.splice(at, 0, record.id)
    if (at < this.#probeIndex) this.#probeIndex++
    record.inProbeOrder = true
  }

  #emit(kind: MemberEventKind, record: MemberRecord, out: Output): void {
    out.effects.push({
      type: 'member',
      kind,
      id: record.id,
      incarnation: record.incarnation,
      addrs: record.addrs,
    })
  }

  /** An update this peer says: applied locally already, broadcast and piggybacked. */
  #originate(update: MemberUpdate, out: Output): void {
    // After leaving, our verdicts about others stay local: we are on our way out.
    if (this.#self.state === 'left' && update.id !== this.#config.id) return
    if (update.id === this.#config.id) this.#announced = true
    this.#queue.enqueue(update)
    out.originated.push(update)
  }

  // ---------------------------------------------------------------- timers

  #fireDeadlines(out: Output): void {
    for (;;) {
      const now = this.#now
      const probe = this.#probeTimers.peek()
      if (probe && probe.at <= now) {
        this.#probeDue(probe, out)
        continue
      }
      const relay = this.#relayTimers.peek()
      if (relay && relay.at <= now) {
        this.#relayDue(relay, out)
        continue
      }
      const suspect = this.#suspicions.peek()
      if (suspect?.suspicion && suspect.suspicion.deadline <= now) {
        this.#suspicionDue(suspect, suspect.suspicion, out)
        continue
      }
      const tombstone = this.#tombstones.peek()
      if (tombstone && tombstone.reapAt <= now) {
        this.#reap(tombstone)
        continue
      }
      if (this.#active() && this.#nextProbeAt <= now) {
        this.#probeTick(out)
        continue
      }
      if (this.#active() && this.#nextSyncAt <= now) {
        this.#syncTick(out)
        continue
      }
      return
    }
  }

  /**
   * A deadline handled more than `stallToleranceMs` after it fell due means the event loop
   * stalled, and answers may be queued behind this very tick. Such a verdict is put off once,
   * by the tolerance, so they are read first; the stall also counts against local health.
   */
  #overdue(at: number): boolean {
    const late = this.#now - at
    if (late > this.#maxLate) this.#maxLate = late
    return late > this.#config.stallToleranceMs
  }

  #probeTick(out: Output): void {
    this.#overdue(this.#nextProbeAt)
    const step = this.#config.probeIntervalMs * this.#scale()
    this.#nextProbeAt += step
    if (this.#nextProbeAt <= this.#now) this.#nextProbeAt = this.#now + step
    const target = this.#nextTarget()
    if (!target) return
    const scale = this.#scale()
    const { probeTimeoutMs, indirectTimeoutMs } = this.#config
    const probe: Probe = {
      probeId: ++this.#seq,
      target: target.id,
      incarnation: target.incarnation,
      startedAt: this.#now,
      roundEnd: this.#now + (probeTimeoutMs + indirectTimeoutMs) * scale,
      phase: 'direct',
      connecting: false,
      at: this.#now + probeTimeoutMs * scale,
      deferred: false,
      relayers: [],
      nacks: new Set(),
    }
    this.#probes.set(probe.probeId, probe)
    this.#probing.add(target.id)
    this.#probeTimers.push(probe)
    out.effects.push({
      type: 'send-ping',
      to: target.id,
      probeId: probe.probeId,
      updates: this.#piggyback(target),
    })
  }

  /** Round-robin over a shuffled list, reshuffled each round; skips members being probed. */
  #nextTarget(): MemberRecord | undefined {
    let reshuffled = false
    for (;;) {
      if (this.#probeIndex >= this.#probeOrder.length) {
        if (reshuffled) return undefined
        this.#reshuffle()
        reshuffled = true
        if (this.#probeOrder.length === 0) return undefined
      }
      const id = this.#probeOrder[this.#probeIndex++] as string
      const record = this.#members.get(id)
      if (record && isProbeable(record.state) && !this.#probing.has(id)) return record
    }
  }

  #reshuffle(): void {
    const order: string[] = []
    for (const record of this.#members.values()) {
      record.inProbeOrder = isProbeable(record.state)
      if (record.inProbeOrder) order.push(record.id)
    }
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(this.#rng.next() * (i + 1))
      const swap = order[i] as string
      order[i] = order[j] as string
      order[j] = swap
    }
    this.#probeOrder = order
    this.#probeIndex = 0
  }

  #probeDue(probe: Probe, out: Output): void {
    if (this.#overdue(probe.at) && !probe.deferred) {
      probe.deferred = true
      probe.at = this.#now + this.#config.stallToleranceMs
      this.#probeTimers.update(probe)
      return
    }
    if (probe.phase === 'direct') return this.#askOthers(probe, out)
    this.#endProbe(probe)
    // Lifeguard: relays that did not even nack suggest the fault is ours, not the target's.
    const expected = probe.relayers.length
    this.#raiseHealth(expected > 0 ? expected - probe.nacks.size : 1)
    const record = this.#members.get(probe.target)
    if (!record || this.#self.state !== 'alive') return
    const accusation: MemberUpdate = {
      kind: 'suspect',
      id: record.id,
      incarnation: probe.incarnation,
      from: this.#config.id,
    }
    const verdict = judgeUpdate(record, accusation)
    if (verdict === 'apply') {
      this.#transition(record, accusation, out)
      this.#originate(accusation, out)
    } else if (verdict === 'confirm') {
      if (this.#confirm(record, this.#config.id, probe.incarnation)) {
        this.#originate(accusation, out)
      }
    }
  }

  /** The direct ping went unanswered (or could not leave): members are asked to try. */
  #askOthers(probe: Probe, out: Output): void {
    probe.phase = 'indirect'
    probe.connecting = false
    probe.deferred = false
    // Handled late (after a stall), the helpers still get their whole window.
    probe.at = Math.max(probe.roundEnd, this.#now + this.#config.indirectTimeoutMs * this.#scale())
    probe.relayers = this.#randomAlive(this.#config.indirectProbes, probe.target)
    this.#probeTimers.update(probe)
    for (const to of probe.relayers) {
      out.effects.push({ type: 'send-ping-req', to, target: probe.target, probeId: probe.probeId })
    }
  }

  /** Our direct ping waits for a connection: its timeout waits too, up to `connectTimeoutMs`. */
  #pingConnecting(probeId: number): void {
    const probe = this.#probes.get(probeId)
    if (!probe || probe.phase !== 'direct' || probe.connecting) return
    probe.connecting = true
    probe.deferred = false
    probe.at = this.#now + this.#config.connectTimeoutMs
    probe.roundEnd = probe.at + this.#config.indirectTimeoutMs * this.#scale()
    this.#probeTimers.update(probe)
  }

  /** The ping left after its connection opened: the round is timed from now. */
  #pingSent(probeId: number): void {
    const probe = this.#probes.get(probeId)
    if (!probe?.connecting) return
    const scale = this.#scale()
    const { probeTimeoutMs, indirectTimeoutMs } = this.#config
    probe.connecting = false
    probe.at = this.#now + probeTimeoutMs * scale
    probe.roundEnd = this.#now + (probeTimeoutMs + indirectTimeoutMs) * scale
    this.#probeTimers.update(probe)
  }

  /** No connection to the target could be opened: no point waiting for its ack. */
  #pingUnsent(probeId: number, out: Output): void {
    const probe = this.#probes.get(probeId)
    if (!probe || probe.phase !== 'direct') return
    probe.roundEnd = this.#now + this.#config.indirectTimeoutMs * this.#scale()
    this.#askOthers(probe, out)
  }

  #endProbe(probe: Probe): void {
    this.#probes.delete(probe.probeId)
    this.#probing.delete(probe.target)
    this.#probeTimers.remove(probe)
  }

  #acked(from: string, probeId: number, out: Output): void {
    const probe = this.#probes.get(probeId)
    if (probe) {
      this.#endProbe(probe)
      this.#raiseHealth(-1)
      return
    }
    const relay = this.#relays.get(probeId)
    if (relay && relay.target === from) {
      this.#relays.delete(probeId)
      this.#relayTimers.remove(relay)
      out.effects.push({
        type: 'send-ack',
        to: relay.requester,
        probeId: relay.requesterProbeId,
        updates: this.#piggyback(),
      })
    }
    // Otherwise a late answer to a finished probe: its updates were merged, nothing else to do.
  }

  #startRelay(requester: string, target: string, requesterProbeId: number, out: Output): void {
    const window = this.#config.indirectTimeoutMs
    const relay: Relay = {
      probeId: ++this.#seq,
      requester,
      requesterProbeId,
      target,
      expireAt: this.#now + window,
      nacked: false,
      at: this.#now + Math.floor(window * NACK_FRACTION),
      deferred: false,
    }
    this.#relays.set(relay.probeId, relay)
    this.#relayTimers.push(relay)
    out.effects.push({
      type: 'send-ping',
      to: target,
      probeId: relay.probeId,
      updates: this.#piggyback(this.#members.get(target)),
    })
  }

  /** First the nack (Lifeguard), then, at the end of the requester's window, forget the relay. */
  #relayDue(relay: Relay, out: Output): void {
    if (this.#overdue(relay.at) && !relay.deferred) {
      relay.deferred = true
      relay.at = this.#now + this.#config.stallToleranceMs
      this.#relayTimers.update(relay)
      return
    }
    if (!relay.nacked) {
      relay.nacked = true
      out.effects.push({ type: 'send-nack', to: relay.requester, probeId: relay.requesterProbeId })
      if (relay.expireAt > this.#now) {
        relay.at = relay.expireAt
        this.#relayTimers.update(relay)
        return
      }
    }
    this.#relays.delete(relay.probeId)
    this.#relayTimers.remove(relay)
  }

  #suspicionDue(record: MemberRecord, s: Suspicion, out: Output): void {
    if (this.#overdue(s.deadline) && !s.deferred) {
      s.deferred = true
      s.deadline = this.#now + this.#config.stallToleranceMs
      this.#suspicions.update(record)
      return
    }
    const verdict: MemberUpdate = {
      kind: 'dead',
      id: record.id,
      incarnation: record.incarnation,
      from: this.#config.id,
    }
    this.#transition(record, verdict, out)
    this.#originate(verdict, out)
  }

  #reap(record: MemberRecord): void {
    this.#tombstones.remove(record)
    this.#members.delete(record.id)
    this.#queue.drop(record.id)
    if (record.inProbeOrder) {
      const at = this.#probeOrder.indexOf(record.id)
      if (at >= 0) {
        this.#probeOrder.splice(at, 1)
        if (at < this.#probeIndex) this.#probeIndex--
      }
    }
  }

  #joined(): void {
    this.#joinedAt = this.#now
    this.#catchUps = CATCH_UP_SYNCS_MS.length
    this.#nextSyncAt = Math.min(this.#nextSyncAt, this.#catchUpAt())
  }

  #catchUpAt(): number {
    const after = CATCH_UP_SYNCS_MS[CATCH_UP_SYNCS_MS.length - this.#catchUps] as number
    return (this.#joinedAt as number) + Math.floor(after * (0.75 + this.#rng.next() / 2))
  }

  #syncTick(out: Output): void {
    if (this.#catchUps > 0) {
      this.#catchUps--
      const regular = this.#now + this.#config.syncIntervalMs
      this.#nextSyncAt = this.#catchUps > 0 ? Math.min(this.#catchUpAt(), regular) : regular
      const [partner] = this.#randomAlive(1)
      if (partner !== undefined) this.#sendSync(partner, true, out)
      return
    }
    const alive = this.#probeable + 1
    const scale =
      alive <= SYNC_SCALE_THRESHOLD
        ? 1
        : Math.ceil(Math.log2(alive) - Math.log2(SYNC_SCALE_THRESHOLD)) + 1
    this.#nextSyncAt = this.#now + this.#config.syncIntervalMs * scale
    const [partner] = this.#randomAlive(1)
    if (partner !== undefined) this.#sendSync(partner, true, out)
    this.#reconnect(out)
  }

  /**
   * Serf's reconnect: a push-pull with one member we hold dead, with probability dead / alive
   * (so the mesh as a whole tries about one per dead member per interval). A partition heals
   * through it: the far side learns it was declared dead and refutes, and its table comes back
   * in the reply — nothing else would cross, since probes and syncs go to live members only.
   */
  #reconnect(out: Output): void {
    const dead: string[] = []
    for (const m of this.#members.values()) if (m.state === 'dead') dead.push(m.id)
    if (dead.length === 0) return
    if (this.#rng.next() >= dead.length / (this.#probeable + 1)) return
    const target = dead[Math.floor(this.#rng.next() * dead.length)]
    if (target !== undefined) this.#sendSync(target, true, out)
  }

  // ---------------------------------------------------------------- health

  #scale(): number {
    return this.#health + 1
  }

  #raiseHealth(delta: number): void {
    this.#health = Math.min(this.#config.healthMax, Math.max(0, this.#health + delta))
  }

  /**
   * A stall of `lagMs`: one step up, and at least enough that a probe timeout covers it. The
   * core (an overdue deadline) and the shell (`local-health`) often both notice the same stall:
   * a report overlapping one already counted only makes sure of the cover.
   */
  #stalled(lagMs: number): void {
    const needed = Math.ceil(lagMs / this.#config.probeTimeoutMs)
    const sameStall = this.#now - this.#lastStallAt <= lagMs
    this.#lastStallAt = this.#now
    const raised = Math.max(sameStall ? this.#health : this.#health + 1, needed)
    this.#health = Math.min(this.#config.healthMax, raised)
  }

  // ---------------------------------------------------------------- helpers

  /** Probing and push-pull run while we are alive and have someone to probe. */
  #active(): boolean {
    return this.#self.state === 'alive' && this.#probeable > 0
  }

  /** Up to `k` distinct alive members other than `exclude`, chosen at random. */
  #randomAlive(k: number, exclude?: string): string[] {
    if (k <= 0) return []
    const pool: string[] = []
    for (const m of this.#members.values()) {
      if (m.state === 'alive' && m.id !== exclude) pool.push(m.id)
    }
    const n = Math.min(k, pool.length)
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(this.#rng.next() * (pool.length - i))
      const swap = pool[i] as string
      pool[i] = pool[j] as string
      pool[j] = swap
    }
    return pool.slice(0, n)
  }

  /**
   * Updates to ride on a message to `to`. A ping to a suspect carries its suspicion first
   * (Lifeguard's buddy system), so the suspect hears it and can refute at once; an ack to a
   * member we hold dead carries that first — after a partition healed, a peer the other side
   * declared dead long ago (its death no longer gossiped) still pings, and learns it here.
   */
  #piggyback(target?: MemberRecord): MemberUpdate[] {
    const limit = retransmitLimit(this.#config.retransmitMult, this.#probeable + 1)
    const max = this.#config.maxPiggyback
    if (target?.state === 'suspect' || target?.state === 'dead') {
      return [updateOf(target), ...this.#queue.take(max - 1, limit, target.id)]
    }
    return this.#queue.take(max, limit)
  }

  #selfUpdate(): MemberUpdate {
    const { id } = this.#config
    const { incarnation, addrs } = this.#self
    return this.#self.state === 'left'
      ? { kind: 'left', id, incarnation }
      : { kind: 'alive', id, incarnation, addrs: [...addrs] }
  }

  #selfMember(): Member {
    return {
      id: this.#config.id,
      addrs: [...this.#self.addrs],
      state: this.#self.state,
      incarnation: this.#self.incarnation,
      stateChangedAt: this.#self.changedAt,
    }
  }

  #remember(entry: HandledMembershipEvent): void {
    if (this.#recent.length === RECENT_EVENTS_KEPT) this.#recent.shift()
    this.#recent.push(entry)
  }
}

function toMember(r: MemberRecord): Member {
  return {
    id: r.id,
    addrs: [...r.addrs],
    state: r.state,
    incarnation: r.incarnation,
    stateChangedAt: r.stateChangedAt,
  }
}

function updateOf(r: MemberRecord): MemberUpdate {
  switch (r.state) {
    case 'alive':
      return { kind: 'alive', id: r.id, incarnation: r.incarnation, addrs: [...r.addrs] }
    case 'suspect':
    case 'dead':
      return { kind: r.state, id: r.id, incarnation: r.incarnation, from: r.by }
    case 'left':
      return { kind: 'left', id: r.id, incarnation: r.incarnation }
  }
}

/** The configuration given to a membership core is not usable. */
export class InvalidMembershipConfigError extends Error {
  static readonly code = 'ERR_INVALID_MEMBERSHIP_CONFIG'
  readonly code = InvalidMembershipConfigError.code
  constructor(message: string) {
    super(`invalid membership config: ${message}`)
    this.name = 'InvalidMembershipConfigError'
  }
}
