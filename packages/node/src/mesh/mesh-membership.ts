/**
 * The network shell around @chorus/gossip's pure cores: SWIM probes travel as one-way
 * frames on the peer channels (`swim.*`), membership updates and load summaries as
 * gossipsub messages, and the cores' deadlines run on one timer. Peers learn each
 * other's addresses from membership updates and probe everyone, so a mesh joined
 * through one bootstrap peer becomes a real mesh, not a star.
 */
import { performance } from 'node:perf_hooks'
import {
  LoadView,
  Membership,
  PUBLISH_POLICY_DEFAULTS,
  VivaldiClient,
  decidePublish,
  type LoadSummary,
  type MemberUpdate,
  type MembershipEffect,
  type MembershipEvent,
  type PublishedLoad,
} from '@chorus/gossip'
import type { Message } from '@libp2p/gossipsub'
import type { IdentifyResult } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { background } from '../background.js'
import type { ChorusLibp2p } from '../transport/libp2p-host.js'
import type { MetricsRegistry } from '../observability/metrics.js'
import type { MemberStateName, PeerEvent, PeerInfo, SchedulerInfo } from '../peer-api.js'
import { RPC_PROTOCOL, type PeerChannels } from '../transport/peer-channels.js'

export const MEMBERS_TOPIC = 'chorus/members/1'
export const LOAD_TOPIC = 'chorus/load/1'

const SWIM = {
  ping: 'swim.ping',
  pingReq: 'swim.ping-req',
  ack: 'swim.ack',
  nack: 'swim.nack',
  sync: 'swim.sync',
} as const

/** How often the event loop's own lateness is sampled (Lifeguard's local health). */
const LAG_SAMPLE_MS = 100

export interface MeshMembershipInit {
  libp2p: ChorusLibp2p
  channels: PeerChannels
  metrics: MetricsRegistry
  log: (line: string) => void
  emit: (event: PeerEvent) => void
  /** The set of live members changed (someone joined, died or left). */
  onChange: () => void
  /** What this peer's load summary says about it. */
  localLoad: () => { schedulers: SchedulerInfo[]; workerMemoryMb: number }
}

/** How a member's worker stands: `left` finishes what it runs and takes nothing new. */
export type WorkerState = 'alive' | 'suspect' | 'left'

export class MeshMembership {
  readonly #init: MeshMembershipInit
  readonly #selfId: string
  readonly #core: Membership
  readonly #load: LoadView
  readonly #vivaldi = new VivaldiClient({ rng: { next: Math.random } })
  #lastPublished: { at: number; load: PublishedLoad } | undefined
  readonly #lastHeard = new Map<string, number>()
  readonly #pingSentAt = new Map<number, { to: string; at: number }>()
  #timer: ReturnType<typeof setTimeout> | undefined
  #timerAt = Number.POSITIVE_INFINITY
  #lagTimer: ReturnType<typeof setInterval> | undefined
  #publishTimer: ReturnType<typeof setTimeout> | undefined
  /** Starts at the wall clock, so summaries after a restart supersede older ones. */
  #loadSeq = Date.now()
  #running = false
  readonly #gossipBytes
  readonly #onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    // Only peers that speak Chorus are members: any libp2p node may connect.
    if (!evt.detail.protocols.includes(RPC_PROTOCOL)) return
    const id = evt.detail.peerId.toString()
    const addrs = evt.detail.listenAddrs.map((a) => a.toString())
    this.#handle({ type: 'peer-discovered', id, addrs })
  }
  readonly #onGossip = (evt: CustomEvent<Message>): void => {
    const message = evt.detail
    if (message.type !== 'signed') return
    const from = message.from.toString()
    this.#gossipBytes.inc(message.data.byteLength, { direction: 'in', topic: message.topic })
    this.#lastHeard.set(from, performance.now())
    let body: unknown
    try {
      body = JSON.parse(new TextDecoder().decode(message.data))
    } catch {
      this.#init.log(`dropping gossip from ${from}: not JSON`)
      return
    }
    if (message.topic === MEMBERS_TOPIC) {
      this.#handle({ type: 'updates-received', from, updates: updatesOf(body) })
    } else if (message.topic === LOAD_TOPIC) {
      // Signed by its origin: a peer can only speak for itself.
      const outcome = this.#load.merge(body, from, performance.now())
      if (outcome.type === 'rejected') {
        this.#init.log(`dropping load summary from ${from}: ${outcome.message}`)
      }
    }
  }

  constructor(init: MeshMembershipInit) {
    this.#init = init
    this.#selfId = init.libp2p.peerId.toString()
    this.#core = new Membership(
      // A full-table exchange every 5 s (not 30): a mesh that started in a storm of joins,
      // where some peers missed others, heals in seconds. The table is small.
      { id: this.#selfId, addrs: [], syncIntervalMs: 5_000 },
      { rng: { next: Math.random } },
    )
    this.#load = new LoadView()
    this.#gossipBytes = init.metrics.counter('chorus_gossip_bytes_total', 'Gossip payload bytes', {
      labelNames: ['direction', 'topic'],
    })
    const peersByState = init.metrics.gauge(
      'chorus_peers',
      'Members of the mesh by state, as seen here',
      {
        labelNames: ['state'],
      },
    )
    init.metrics.onCollect(() => {
      const counts: Record<MemberStateName, number> = { alive: 0, suspect: 0, dead: 0, left: 0 }
      for (const m of this.#core.members()) counts[m.state]++
      for (const [state, n] of Object.entries(counts)) peersByState.set(n, { state })
    })
    const { channels } = init
    channels.handle(SWIM.ping, (b, from) => {
      const body = b as { probeId?: unknown; updates?: unknown }
      this.#handle({
        type: 'ping-received',
        from,
        probeId: Number(body?.probeId),
        updates: updatesOf(body),
      })
    })
    channels.handle(SWIM.pingReq, (b, from) => {
      const body = b as { probeId?: unknown; target?: unknown }
      this.#handle({
        type: 'ping-req-received',
        from,
        target: String(body?.target),
        probeId: Number(body?.probeId),
      })
    })
    channels.handle(SWIM.ack, (b, from) => {
      const body = b as { probeId?: unknown; updates?: unknown }
      const probeId = Number(body?.probeId)
      const sent = this.#pingSentAt.get(probeId)
      const rttMs = sent?.to === from ? performance.now() - sent.at : undefined
      this.#pingSentAt.delete(probeId)
      const remote = this.#load.get(from)?.summary.coordinate
      if (rttMs !== undefined && remote) this.#vivaldi.update(from, remote, rttMs)
      this.#handle({
        type: 'ack-received',
        from,
        probeId,
        updates: updatesOf(body),
        ...(rttMs === undefined ? {} : { rttMs }),
      })
    })
    channels.handle(SWIM.nack, (b, from) => {
      this.#handle({
        type: 'nack-received',
        from,
        probeId: Number((b as { probeId?: unknown })?.probeId),
      })
    })
    channels.handle(SWIM.sync, (b, from) => {
      const body = b as { updates?: unknown; reply?: unknown }
      this.#handle({
        type: 'sync-received',
        from,
        updates: updatesOf(body),
        reply: body?.reply === true,
      })
    })
  }

  async start(): Promise<void> {
    const { libp2p } = this.#init
    this.#running = true
    // The core learns our addresses now that the host listens.
    this.#handle({ type: 'peer-discovered', id: this.#selfId, addrs: this.#selfAddrs() })
    libp2p.addEventListener('peer:identify', this.#onIdentify)
    const pubsub = libp2p.services.pubsub
    pubsub.addEventListener('message', this.#onGossip)
    pubsub.subscribe(MEMBERS_TOPIC)
    pubsub.subscribe(LOAD_TOPIC)
    let expected = performance.now() + LAG_SAMPLE_MS
    this.#lagTimer = setInterval(() => {
      const now = performance.now()
      const lagMs = Math.max(0, now - expected)
      expected = now + LAG_SAMPLE_MS
      if (lagMs > 20) this.#handle({ type: 'local-health', lagMs })
    }, LAG_SAMPLE_MS)
    this.#lagTimer.unref()
    this.#schedulePublish(0)
    await Promise.resolve()
  }

  /** Tells everyone this peer is leaving (so they mark it left, not dead). */
  async leave(): Promise<void> {
    if (!this.#running) return
    const effects = this.#core.handle({ type: 'leave' }, performance.now())
    const broadcasts = effects.filter((e) => e.type === 'broadcast')
    await Promise.all(broadcasts.map((e) => this.#publish(MEMBERS_TOPIC, { updates: e.updates })))
  }

  async stop(): Promise<void> {
    this.#running = false
    clearTimeout(this.#timer)
    clearInterval(this.#lagTimer)
    clearTimeout(this.#publishTimer)
    const { libp2p } = this.#init
    libp2p.removeEventListener('peer:identify', this.#onIdentify)
    libp2p.services.pubsub.removeEventListener('message', this.#onGossip)
    await Promise.resolve()
  }

  /** Members that count for rendezvous hashing: alive or suspect, this peer included. */
  liveIds(): string[] {
    const ids = this.#core
      .members()
      .filter((m) => m.state === 'alive' || m.state === 'suspect')
      .map((m) => m.id)
    if (!ids.includes(this.#selfId)) ids.push(this.#selfId)
    return ids
  }

  isLive(id: string): boolean {
    if (id === this.#selfId) return true
    const state = this.#core.member(id)?.state
    return state === 'alive' || state === 'suspect'
  }

  /**
   * Members with a worker (this peer included): alive, suspect, or left (a leaving peer
   * finishes what it runs but takes nothing new), with the worker memory each offers as its
   * latest load summary says (`fallbackMb` until one arrived).
   */
  workers(fallbackMb: number): { id: string; memoryMb: number; state: WorkerState }[] {
    const now = performance.now()
    const workers = this.#core
      .members()
      .filter(
        (m): m is typeof m & { state: WorkerState } =>
          m.state === 'alive' || m.state === 'suspect' || m.state === 'left',
      )
      .map((m) => ({
        id: m.id,
        memoryMb: this.#load.get(m.id, now)?.summary.workerCapacityMb ?? fallbackMb,
        state: m.state,
      }))
    if (!workers.some((w) => w.id === this.#selfId)) {
      workers.push({ id: this.#selfId, memoryMb: fallbackMb, state: 'alive' })
    }
    return workers
  }

  peers(): PeerInfo[] {
    const now = performance.now()
    return this.#core.members().map((m) => {
      const heard = this.#lastHeard.get(m.id)
      const load = this.#load.get(m.id, now)?.summary
      return {
        peerId: m.id,
        addrs: m.addrs,
        state: m.state,
        lastSeenMs: m.id === this.#selfId ? 0 : heard === undefined ? -1 : Math.round(now - heard),
        ...(load ? { load } : {}),
      }
    })
  }

  /** Schedulers other peers host, as their latest summaries say. */
  remoteSchedulers(): SchedulerInfo[] {
    return this.#load
      .entries(performance.now())
      .map((e) => e.summary)
      .filter((s) => s.peerId !== this.#selfId && this.isLive(s.peerId))
      .flatMap((s) => s.schedulers.map((sch) => ({ ...sch, peerId: s.peerId })))
  }

  // ----------------------------------------------------------------------------

  #selfAddrs(): string[] {
    return this.#init.libp2p.getMultiaddrs().map((a) => a.toString())
  }

  #handle(event: MembershipEvent): void {
    if (!this.#running) return
    const effects = this.#core.handle(event, performance.now())
    for (const effect of effects) {
      this.#carryOut(effect)
      if (effect.type === 'member' && effect.kind === 'joined' && heardDirectly(event, effect.id)) {
        // We met a newcomer ourselves: tell the whole mesh now rather than let it spread
        // one piggybacked ping at a time (joins are rare; gossipsub relays it in ms).
        const update: MemberUpdate = {
          kind: 'alive',
          id: effect.id,
          incarnation: effect.incarnation,
          addrs: effect.addrs,
        }
        this.#publishInBackground(MEMBERS_TOPIC, { updates: [update] })
      }
    }
    this.#arm()
  }

  #carryOut(effect: MembershipEffect): void {
    const { channels } = this.#init
    switch (effect.type) {
      case 'send-ping':
        this.#pingSentAt.set(effect.probeId, { to: effect.to, at: performance.now() })
        if (this.#pingSentAt.size > 1024)
          this.#pingSentAt.delete(this.#pingSentAt.keys().next().value as number)
        channels.send(effect.to, SWIM.ping, { probeId: effect.probeId, updates: effect.updates })
        return
      case 'send-ping-req':
        channels.send(effect.to, SWIM.pingReq, { probeId: effect.probeId, target: effect.target })
        return
      case 'send-ack':
        channels.send(effect.to, SWIM.ack, { probeId: effect.probeId, updates: effect.updates })
        return
      case 'send-nack':
        channels.send(effect.to, SWIM.nack, { probeId: effect.probeId })
        return
      case 'send-sync':
        channels.send(effect.to, SWIM.sync, { updates: effect.updates, reply: effect.reply })
        return
      case 'broadcast':
        this.#publishInBackground(MEMBERS_TOPIC, { updates: effect.updates })
        return
      case 'member':
        this.#memberChanged(effect)
        return
      case 'rejected':
        this.#init.log(`membership refused ${effect.event}: ${effect.message}`)
        return
    }
  }

  #memberChanged(effect: Extract<MembershipEffect, { type: 'member' }>): void {
    if (effect.id === this.#selfId) return
    if (effect.kind === 'joined' || effect.kind === 'alive')
      this.#learnAddresses(effect.id, effect.addrs)
    this.#init.emit({
      type: `member-${effect.kind}`,
      at: Date.now(),
      peerId: this.#selfId,
      member: effect.id,
      incarnation: effect.incarnation,
    })
    if (effect.kind !== 'suspect') this.#init.onChange()
  }

  /** Lets libp2p dial a member it has only heard of. */
  #learnAddresses(id: string, addrs: readonly string[]): void {
    if (addrs.length === 0) return
    try {
      const peerId = peerIdFromString(id)
      const multiaddrs = addrs.map((a) => multiaddr(a))
      void this.#init.libp2p.peerStore.merge(peerId, { multiaddrs }).catch(() => undefined)
    } catch (err) {
      this.#init.log(`ignoring bad addresses for ${id}: ${(err as Error).message}`)
    }
  }

  #arm(): void {
    const at = this.#core.nextDeadline()
    if (at === undefined || !this.#running) return
    if (this.#timer !== undefined && this.#timerAt <= at) return
    clearTimeout(this.#timer)
    this.#timerAt = at
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined
        this.#timerAt = Number.POSITIVE_INFINITY
        this.#handle({ type: 'tick' })
      },
      Math.max(0, at - performance.now()),
    )
    this.#timer.unref()
  }

  #schedulePublish(delayMs: number): void {
    if (!this.#running) return
    this.#publishTimer = setTimeout(() => {
      background(this.#publishLoad(), (err) =>
        this.#init.log(`bug: publishing the load summary threw: ${String(err)}`),
      )
    }, delayMs)
    this.#publishTimer.unref()
  }

  /** Publishes this peer's load summary when the policy says so, and checks again soon. */
  async #publishLoad(): Promise<void> {
    const now = performance.now()
    this.#load.expire(now)
    const local = this.#init.localLoad()
    const current: PublishedLoad = {
      schedulers: local.schedulers.map(({ peerId: _peerId, ...s }) => s),
      workerCapacityMb: local.workerMemoryMb,
      freeMemoryMb: local.workerMemoryMb,
    }
    const decision = decidePublish({
      now,
      aliveMembers: this.liveIds().length,
      last: this.#lastPublished,
      current,
    })
    if (decision.publish) {
      const summary: LoadSummary = {
        peerId: this.#selfId,
        seq: ++this.#loadSeq,
        ...current,
        warmFunctions: 0,
        coordinate: this.#vivaldi.coordinate,
        sentAt: Date.now(),
      }
      this.#lastPublished = { at: now, load: current }
      this.#load.merge(summary, this.#selfId, now)
      await this.#publish(LOAD_TOPIC, summary)
    }
    this.#schedulePublish(PUBLISH_POLICY_DEFAULTS.minIntervalMs)
  }

  #publishInBackground(topic: string, body: unknown): void {
    background(this.#publish(topic, body), (err) =>
      this.#init.log(`bug: publishing on ${topic} threw: ${String(err)}`),
    )
  }

  async #publish(topic: string, body: unknown): Promise<void> {
    const data = new TextEncoder().encode(JSON.stringify(body))
    this.#gossipBytes.inc(data.byteLength, { direction: 'out', topic })
    try {
      await this.#init.libp2p.services.pubsub.publish(topic, data)
    } catch (err) {
      this.#init.log(`publishing on ${topic} failed: ${(err as Error).message}`)
    }
  }
}

/** Whether `event` came from member `id` itself (not relayed by someone else). */
function heardDirectly(event: MembershipEvent, id: string): boolean {
  switch (event.type) {
    case 'peer-discovered':
      return event.id === id
    case 'sync-received':
    case 'ping-received':
      return event.from === id
    default:
      return false
  }
}

/** The updates field of a gossip body, as the core will check it. */
function updatesOf(body: unknown): readonly MemberUpdate[] {
  const updates = (body as { updates?: unknown } | null)?.updates
  return (Array.isArray(updates) ? updates : []) as readonly MemberUpdate[]
}
