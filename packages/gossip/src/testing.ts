/**
 * Shared helpers for tests and simulations of the gossip cores: a deterministic mesh of
 * membership cores on a virtual clock, wired through a seeded simulated network (delay, loss,
 * isolation), with peers that can be killed, restarted, made to leave, or made to stall the
 * way a blocked event loop does. Same seed, same run.
 */
import { IndexedHeap, seededRng, type Rng } from '@chorus/scheduler-core'
import type { MemberEventKind, MembershipEffect } from './core/membership-effects.js'
import type { MembershipEvent } from './core/membership-events.js'
import type { MembershipConfig } from './core/membership-config.js'
import { Membership } from './core/membership.js'
import type { MemberState } from './core/member-update.js'

export { seededRng }
export type { SeededRng } from '@chorus/scheduler-core'

export interface SimulatedMeshOptions {
  readonly seed: number
  /** Number of peers, `p00`, `p01`, …; `p00` is the bootstrap peer the others dial at start. */
  readonly size: number
  /** Settings for every core (the id is the sim's). */
  readonly config?: Omit<MembershipConfig, 'id'>
  /** One-way delay of a direct message, uniform in [min, max] ms. Default [0.2, 2]. */
  readonly delayMs?: readonly [number, number]
  /** Delay of a broadcast to each receiver, uniform in [min, max] ms. Default [1, 5]. */
  readonly broadcastDelayMs?: readonly [number, number]
  /** Probability that a direct message is lost. Default 0. */
  readonly lossRate?: number
  /** Probability that a broadcast misses one receiver. Default 0. */
  readonly broadcastLossRate?: number
  /** Peers start at random times in [0, startSpreadMs). Default 0. */
  readonly startSpreadMs?: number
  /** Time to open a connection after a peer learns another's address. Default 2. */
  readonly connectDelayMs?: number
}

/** A member event as one peer reported it. */
export interface ObservedMemberEvent {
  readonly at: number
  readonly observer: string
  /** How many times the observer had restarted: a restarted peer's events start afresh. */
  readonly generation: number
  readonly kind: MemberEventKind
  readonly id: string
  readonly incarnation: number
}

/** The event loop of a peer blocks for `durationMs` every `periodMs`, from `offsetMs` on. */
export interface StallPattern {
  readonly periodMs: number
  readonly durationMs: number
  readonly offsetMs: number
}

interface SimPeer {
  readonly id: string
  core: Membership
  up: boolean
  generation: number
  stall: StallPattern | undefined
  readonly inbox: MembershipEvent[]
  isolatedUntil: number
}

interface Scheduled {
  readonly at: number
  readonly seq: number
  readonly run: () => void
}

export class SimulatedMesh {
  now = 0
  readonly peers = new Map<string, SimPeer>()
  readonly events: ObservedMemberEvent[] = []
  readonly rejections: { at: number; peer: string; effect: MembershipEffect }[] = []
  /** Direct messages and broadcast deliveries scheduled, for cost accounting. */
  messages = 0
  /** Messages that reached a stalled peer and waited for its loop to run again. */
  stalledDeliveries = 0

  readonly #options: SimulatedMeshOptions
  readonly #net: Rng
  readonly #queue = new IndexedHeap<Scheduled>((a, b) =>
    a.at !== b.at ? a.at < b.at : a.seq < b.seq,
  )
  readonly #links = new Set<string>()
  #seq = 0

  constructor(options: SimulatedMeshOptions) {
    this.#options = options
    this.#net = seededRng(options.seed)
    const ids = Array.from({ length: options.size }, (_, i) => `p${String(i).padStart(2, '0')}`)
    for (const id of ids) {
      this.peers.set(id, {
        id,
        core: this.#newCore(id, 0),
        up: false,
        generation: 0,
        stall: undefined,
        inbox: [],
        isolatedUntil: 0,
      })
    }
    const spread = options.startSpreadMs ?? 0
    const bootstrap = ids[0] as string
    for (const id of ids) {
      const at = id === bootstrap ? 0 : this.#net.next() * spread
      this.#at(at, () => this.#boot(id, bootstrap))
    }
  }

  static readonly ADDR_PREFIX = '/ip4/127.0.0.1/tcp/'

  get ids(): string[] {
    return [...this.peers.keys()]
  }

  peer(id: string): SimPeer {
    const peer = this.peers.get(id)
    if (!peer) throw new Error(`no peer ${id}`)
    return peer
  }

  /** Runs the mesh until virtual time `t`. */
  runUntil(t: number): void {
    let guard = 0
    let lastAt = -1
    for (;;) {
      const next = this.#queue.peek()
      let tickAt = Number.POSITIVE_INFINITY
      let ticking: SimPeer | undefined
      for (const peer of this.peers.values()) {
        if (!peer.up) continue
        const d = peer.core.nextDeadline()
        if (d === undefined || d >= tickAt || this.#stalledAt(peer, d)) continue
        tickAt = d
        ticking = peer
      }
      const at = Math.min(tickAt, next?.at ?? Number.POSITIVE_INFINITY)
      if (at > t) break
      guard = at === lastAt ? guard + 1 : 0
      lastAt = at
      if (guard > 100_000) throw new Error(`simulation stuck at ${at}`)
      this.now = Math.max(this.now, at)
      if (ticking && tickAt <= (next?.at ?? Number.POSITIVE_INFINITY)) {
        this.#handle(ticking, { type: 'tick' })
      } else {
        this.#queue.pop()?.run()
      }
    }
    this.now = Math.max(this.now, t)
  }

  runFor(ms: number): void {
    this.runUntil(this.now + ms)
  }

  /** The peer stops answering and sending, as after `kill -9`; its connections drop. */
  kill(id: string): void {
    const peer = this.peer(id)
    peer.up = false
    peer.inbox.length = 0
    for (const link of [...this.#links]) {
      if (link.split('|').includes(id)) this.#links.delete(link)
    }
  }

  /** The peer starts again with the same id and a fresh core, and dials `via`. */
  restart(id: string, via: string, incarnation = 0): void {
    const peer = this.peer(id)
    this.kill(id)
    peer.generation++
    peer.core = this.#newCore(id, incarnation)
    this.#boot(id, via)
  }

  /** The peer's event loop blocks for `durationMs` every `periodMs`, first at `offsetMs`. */
  stall(id: string, pattern: StallPattern): void {
    const peer = this.peer(id)
    peer.stall = pattern
    const first = pattern.offsetMs + pattern.durationMs
    this.#at(Math.max(first, this.now), () => this.#unstall(peer))
  }

  /** Every message to or from the peer is lost for `durationMs`. */
  isolate(id: string, durationMs: number): void {
    this.peer(id).isolatedUntil = this.now + durationMs
  }

  /** Hands the peer's core an event now, as its shell would. */
  inject(id: string, event: MembershipEvent): MembershipEffect[] {
    return this.#handle(this.peer(id), event)
  }

  /** How `observer` sees `id` now. */
  stateOf(observer: string, id: string): MemberState | undefined {
    return this.peer(observer).core.member(id)?.state
  }

  /** Live peers other than `except`. */
  livePeers(except: readonly string[] = []): SimPeer[] {
    return [...this.peers.values()].filter((p) => p.up && !except.includes(p.id))
  }

  /** When `observer` first reported `kind` for `id` at or after `since`. */
  firstEvent(observer: string, kind: MemberEventKind, id: string, since = 0): number | undefined {
    return this.events.find(
      (e) => e.observer === observer && e.kind === kind && e.id === id && e.at >= since,
    )?.at
  }

  /** A one-line account of what each live peer thinks of `id`, for failure messages. */
  describe(id: string): string {
    return this.livePeers([id])
      .map((p) => {
        const m = p.core.member(id)
        return `${p.id}:${m ? `${m.state}@${m.incarnation}` : 'unknown'}`
      })
      .join(' ')
  }

  #newCore(id: string, incarnation: number): Membership {
    const seed = Math.floor(this.#net.next() * 2 ** 32)
    return new Membership(
      { ...this.#options.config, id, addrs: [SimulatedMesh.ADDR_PREFIX + id], incarnation },
      { rng: seededRng(seed) },
    )
  }

  #boot(id: string, via: string): void {
    const peer = this.peer(id)
    peer.up = true
    this.#handle(peer, { type: 'tick' })
    if (via !== id) this.#connect(id, via)
  }

  #at(at: number, run: () => void): void {
    this.#queue.push({ at, seq: ++this.#seq, run })
  }

  #uniform([min, max]: readonly [number, number]): number {
    return min + this.#net.next() * (max - min)
  }

  #stalledAt(peer: SimPeer, t: number): boolean {
    const s = peer.stall
    if (!s || t < s.offsetMs) return false
    return (t - s.offsetMs) % s.periodMs < s.durationMs
  }

  /** The end of a stall: timers first (as Node's loop runs them), then what queued up. */
  #unstall(peer: SimPeer): void {
    const s = peer.stall
    if (!s) return
    this.#at(this.now + s.periodMs, () => this.#unstall(peer))
    if (!peer.up) return
    this.#handle(peer, { type: 'tick' })
    this.#handle(peer, { type: 'local-health', lagMs: s.durationMs })
    const queued = peer.inbox.splice(0)
    for (const event of queued) if (peer.up) this.#handle(peer, event)
  }

  #isolated(id: string): boolean {
    return this.peer(id).isolatedUntil > this.now
  }

  #deliver(to: string, event: MembershipEvent, generation: number): void {
    const peer = this.peers.get(to)
    if (!peer?.up || peer.generation !== generation || this.#isolated(to)) return
    if (this.#stalledAt(peer, this.now)) {
      this.stalledDeliveries++
      peer.inbox.push(event)
    } else {
      this.#handle(peer, event)
    }
  }

  #send(from: string, to: string, event: MembershipEvent): void {
    this.messages++
    const target = this.peers.get(to)
    if (!target || this.#isolated(from) || this.#isolated(to)) return
    if (this.#net.next() < (this.#options.lossRate ?? 0)) return
    const generation = target.generation
    this.#at(this.now + this.#uniform(this.#options.delayMs ?? [0.2, 2]), () =>
      this.#deliver(to, event, generation),
    )
  }

  #broadcast(from: string, event: MembershipEvent): void {
    if (this.#isolated(from)) return
    for (const id of this.#component(from)) {
      if (id === from) continue
      this.messages++
      if (this.#net.next() < (this.#options.broadcastLossRate ?? 0)) continue
      const generation = this.peer(id).generation
      this.#at(this.now + this.#uniform(this.#options.broadcastDelayMs ?? [1, 5]), () =>
        this.#deliver(id, event, generation),
      )
    }
  }

  /** Peers reachable from `from` over open connections: where gossipsub floods. */
  #component(from: string): Set<string> {
    const seen = new Set([from])
    const todo = [from]
    while (todo.length > 0) {
      const at = todo.pop() as string
      for (const link of this.#links) {
        const [a, b] = link.split('|') as [string, string]
        const other = a === at ? b : b === at ? a : undefined
        if (other !== undefined && !seen.has(other)) {
          seen.add(other)
          todo.push(other)
        }
      }
    }
    return seen
  }

  #connect(a: string, b: string): void {
    const link = a < b ? `${a}|${b}` : `${b}|${a}`
    if (this.#links.has(link)) return
    this.#links.add(link)
    const ga = this.peer(a).generation
    const gb = this.peer(b).generation
    this.#at(this.now + (this.#options.connectDelayMs ?? 2), () => {
      if (!this.peer(a).up || !this.peer(b).up) {
        this.#links.delete(link)
        return
      }
      this.#deliver(
        a,
        { type: 'peer-discovered', id: b, addrs: [SimulatedMesh.ADDR_PREFIX + b] },
        ga,
      )
      this.#deliver(
        b,
        { type: 'peer-discovered', id: a, addrs: [SimulatedMesh.ADDR_PREFIX + a] },
        gb,
      )
    })
  }

  #handle(peer: SimPeer, event: MembershipEvent): MembershipEffect[] {
    const effects = peer.core.handle(event, this.now)
    const from = peer.id
    for (const e of effects) {
      switch (e.type) {
        case 'send-ping':
          this.#send(from, e.to, {
            type: 'ping-received',
            from,
            probeId: e.probeId,
            updates: e.updates,
          })
          break
        case 'send-ping-req':
          this.#send(from, e.to, {
            type: 'ping-req-received',
            from,
            target: e.target,
            probeId: e.probeId,
          })
          break
        case 'send-ack':
          this.#send(from, e.to, {
            type: 'ack-received',
            from,
            probeId: e.probeId,
            updates: e.updates,
          })
          break
        case 'send-nack':
          this.#send(from, e.to, { type: 'nack-received', from, probeId: e.probeId })
          break
        case 'send-sync':
          this.#send(from, e.to, {
            type: 'sync-received',
            from,
            updates: e.updates,
            reply: e.reply,
          })
          break
        case 'broadcast':
          this.#broadcast(from, { type: 'updates-received', from, updates: e.updates })
          break
        case 'member':
          this.events.push({
            at: this.now,
            observer: from,
            generation: peer.generation,
            kind: e.kind,
            id: e.id,
            incarnation: e.incarnation,
          })
          if ((e.kind === 'joined' || e.kind === 'alive') && this.peers.get(e.id)?.up) {
            this.#connect(from, e.id)
          }
          break
        case 'rejected':
          this.rejections.push({ at: this.now, peer: from, effect: e })
          break
      }
    }
    return effects
  }
}
