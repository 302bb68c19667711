/**
 * The network shell around @chorus/gossip's pure cores: SWIM probes travel as one-way
 * frames on the peer channels (`swim.ping/1` and its kin), membership updates and load summaries as
 * gossipsub messages, and the cores' deadlines run on one timer. Peers learn each
 * other's addresses from membership updates and probe everyone, so a mesh joined
 * through one bootstrap peer becomes a real mesh, not a star.
 *
 * Each SWIM message's envelope is checked by its schema here (a malformed one is refused
 * and reaches no core); the member updates inside are checked by the core itself.
 */
import { performance } from 'node:perf_hooks'
import {
  LoadView,
  Membership,
  VivaldiClient,
  type MemberUpdate,
  type MembershipEffect,
  type MembershipEvent,
} from '@chorus/gossip'
import type { Message } from '@libp2p/gossipsub'
import type { IdentifyResult } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import { background } from '../background.js'
import type { ChorusLibp2p } from '../transport/libp2p-host.js'
import { silentLogger, type Logger } from '../observability/logger.js'
import type { Counter } from '../observability/metrics.js'
import type { PeerEvent } from '../observability/events.js'
import type { PeerInfo, SchedulerInfo } from '../peer-api.js'
import type { PeerChannels } from '../transport/peer-channels.js'
import { RPC_PROTOCOL, SWIM_METHODS as SWIM, TOPICS } from '../transport/protocols.js'
import { parseMessage } from '../transport/rpc-message.js'
import { DeadlineTimer } from '../deadline-timer.js'
import { systemTimers } from '../environment.js'
import { LoadPublisher, type LocalLoad } from './load-publisher.js'

export const MEMBERS_TOPIC = TOPICS.members
export const LOAD_TOPIC = TOPICS.load

const probeId = z.int().nonnegative()
/** Member updates ride along as they came: the core checks each one (`checkUpdate`). */
const updates = z.array(z.unknown())

const pingMessage = z.object({ probeId, updates })
const pingReqMessage = z.object({ probeId, target: z.string().min(1).max(256) })
const nackMessage = z.object({ probeId })
const syncMessage = z.object({ updates, reply: z.boolean() })

/** The SWIM messages (one-way frames on the peer channels), by method. */
export const SWIM_MESSAGES = {
  [SWIM.ping]: pingMessage,
  [SWIM.pingReq]: pingReqMessage,
  [SWIM.ack]: pingMessage,
  [SWIM.nack]: nackMessage,
  [SWIM.sync]: syncMessage,
} as const

/** A `chorus/members/1` gossip message. */
export const MEMBERS_GOSSIP = z.object({ updates })

/** How often the event loop's own lateness is sampled (Lifeguard's local health). */
const LAG_SAMPLE_MS = 100

export interface MeshMembershipInit {
  libp2p: ChorusLibp2p
  channels: Pick<PeerChannels, 'handle' | 'unhandle' | 'send' | 'sendTelling'>
  metrics: { readonly gossipBytes: Counter }
  log?: Logger
  /** Uniform in [0, 1): the cores' probe order and Vivaldi's jitter. Default Math.random. */
  rng?: () => number
  emit: (event: PeerEvent) => void
  /** The set of live members changed (someone joined, died or left). */
  onChange: () => void
  /** What this peer's load summary says about it, as measured now. */
  localLoad: () => LocalLoad
  /**
   * It joins through `--join` addresses: it is not ready to route until a member's table
   * reached it (a push-pull sync), since with a partial view it would pick the wrong
   * directories — even itself — and become responsible for keys others hold.
   */
  joining?: boolean
}

/** How a member's worker stands: `left` finishes what it runs and takes nothing new. */
export type WorkerState = 'alive' | 'suspect' | 'left'

export class MeshMembership {
  readonly #init: MeshMembershipInit
  readonly #selfId: string
  readonly #core: Membership
  readonly #load: LoadView
  readonly #vivaldi: VivaldiClient
  readonly #log: Logger
  readonly #publisher: LoadPublisher
  readonly #lastHeard = new Map<string, number>()
  readonly #pingSentAt = new Map<number, { to: string; at: number }>()
  readonly #timer = new DeadlineTimer(() => this.#handle({ type: 'tick' }))
  #lagTimer: ReturnType<typeof setInterval> | undefined
  #running = false
  #ready: boolean
  readonly #readyWaiters = new Set<() => void>()
  readonly #gossipBytes: Counter
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
      this.#log.warn({ peer: from, topic: message.topic }, 'dropping gossip that is not JSON')
      return
    }
    if (message.topic === MEMBERS_TOPIC) {
      const parsed = MEMBERS_GOSSIP.safeParse(body)
      if (!parsed.success) {
        this.#log.warn({ peer: from, topic: message.topic }, 'dropping malformed member updates')
        return
      }
      this.#handle({ type: 'updates-received', from, updates: asUpdates(parsed.data.updates) })
    } else if (message.topic === LOAD_TOPIC) {
      // Signed by its origin: a peer can only speak for itself.
      const outcome = this.#load.merge(body, from, performance.now())
      if (outcome.type === 'rejected') {
        this.#log.warn({ peer: from, reason: outcome.message }, 'dropping a load summary')
      }
    }
  }

  constructor(init: MeshMembershipInit) {
    this.#init = init
    this.#ready = init.joining !== true
    this.#log = (init.log ?? silentLogger()).child({ component: 'mesh:membership' })
    this.#selfId = init.libp2p.peerId.toString()
    const rng = { next: init.rng ?? Math.random }
    this.#core = new Membership(
      // A full-table exchange every 5 s (not 30): a mesh that started in a storm of joins,
      // where some peers missed others, heals in seconds. The table is small.
      { id: this.#selfId, addrs: [], syncIntervalMs: 5_000 },
      { rng },
    )
    this.#vivaldi = new VivaldiClient({ rng })
    this.#load = new LoadView()
    this.#gossipBytes = init.metrics.gossipBytes
    this.#publisher = new LoadPublisher({
      selfId: this.#selfId,
      view: this.#load,
      localLoad: init.localLoad,
      aliveMembers: () => this.liveIds().length,
      coordinate: () => this.#vivaldi.coordinate,
      publish: (summary) => this.#publish(LOAD_TOPIC, summary),
      clock: performance,
      timers: systemTimers,
      log: this.#log,
    })
  }

  /** What each SWIM message becomes: an event for the core. */
  readonly #handlers: {
    readonly [M in keyof typeof SWIM_MESSAGES]: (body: unknown, from: string) => void
  } = {
    [SWIM.ping]: (body, from) => {
      const m = parseMessage(pingMessage, body, SWIM.ping)
      this.#handle({
        type: 'ping-received',
        from,
        probeId: m.probeId,
        updates: asUpdates(m.updates),
      })
    },
    [SWIM.pingReq]: (body, from) => {
      const m = parseMessage(pingReqMessage, body, SWIM.pingReq)
      this.#handle({ type: 'ping-req-received', from, target: m.target, probeId: m.probeId })
    },
    [SWIM.ack]: (body, from) => {
      const m = parseMessage(pingMessage, body, SWIM.ack)
      const sent = this.#pingSentAt.get(m.probeId)
      const rttMs = sent?.to === from ? performance.now() - sent.at : undefined
      this.#pingSentAt.delete(m.probeId)
      const remote = this.#load.get(from)?.summary.coordinate
      if (rttMs !== undefined && remote) this.#vivaldi.update(from, remote, rttMs)
      this.#handle({
        type: 'ack-received',
        from,
        probeId: m.probeId,
        updates: asUpdates(m.updates),
        ...(rttMs === undefined ? {} : { rttMs }),
      })
    },
    [SWIM.nack]: (body, from) => {
      const m = parseMessage(nackMessage, body, SWIM.nack)
      this.#handle({ type: 'nack-received', from, probeId: m.probeId })
    },
    [SWIM.sync]: (body, from) => {
      const m = parseMessage(syncMessage, body, SWIM.sync)
      this.#handle({ type: 'sync-received', from, updates: asUpdates(m.updates), reply: m.reply })
    },
  }

  async start(): Promise<void> {
    const { libp2p, channels } = this.#init
    this.#running = true
    for (const [method, handler] of Object.entries(this.#handlers)) channels.handle(method, handler)
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
    this.#publisher.start()
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
    if (!this.#running) return
    this.#running = false
    this.#timer.clear()
    clearInterval(this.#lagTimer)
    this.#publisher.stop()
    const { libp2p, channels } = this.#init
    for (const method of Object.keys(this.#handlers)) channels.unhandle(method)
    libp2p.removeEventListener('peer:identify', this.#onIdentify)
    const pubsub = libp2p.services.pubsub
    pubsub.removeEventListener('message', this.#onGossip)
    try {
      pubsub.unsubscribe(MEMBERS_TOPIC)
      pubsub.unsubscribe(LOAD_TOPIC)
    } catch (err) {
      this.#log.debug({ err }, 'unsubscribing from the membership topics failed')
    }
    await Promise.resolve()
  }

  /** Members that count for rendezvous hashing: alive or suspect, this peer included. */
  /** This peer's load changed: its summary may be worth publishing before the regular interval. */
  loadChanged(): void {
    this.#publisher.loadChanged()
  }

  /** Whether this peer has the mesh's view to route with (see `joining`). */
  get ready(): boolean {
    return this.#ready
  }

  /** Settles once ready, or after `timeoutMs`: a bootstrap that never answers stalls nobody for good. */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.#ready) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.#readyWaiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      timer.unref()
      this.#readyWaiters.add(done)
    })
  }

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
        addrs: m.addrs.map((addr) => joinable(addr, m.id)),
        state: m.state,
        lastSeenMs: m.id === this.#selfId ? 0 : heard === undefined ? -1 : Math.round(now - heard),
        ...(load ? { load } : {}),
      }
    })
  }

  /** `local` schedulers, then those other peers host (as their summaries say) that are not. */
  schedulers(local: readonly SchedulerInfo[]): SchedulerInfo[] {
    const seen = new Set(local.map((s) => s.guid))
    return [...local, ...this.remoteSchedulers().filter((s) => !seen.has(s.guid))]
  }

  /** Schedulers other peers host, as their latest summaries say. */
  remoteSchedulers(): SchedulerInfo[] {
    return this.#load
      .entries(performance.now())
      .map((e) => e.summary)
      .filter((s) => s.peerId !== this.#selfId && this.isLive(s.peerId))
      .flatMap((s) =>
        s.schedulers.map(({ migrating, ...sch }) => ({
          ...sch,
          peerId: s.peerId,
          state: migrating ? ('migrating' as const) : ('active' as const),
        })),
      )
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
    if (!this.#ready && event.type === 'sync-received' && event.from !== this.#selfId) {
      this.#ready = true
      for (const done of [...this.#readyWaiters]) done()
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
        channels.sendTelling(
          effect.to,
          SWIM.ping,
          { probeId: effect.probeId, updates: effect.updates },
          (outcome) => this.#pingWaited(effect.probeId, outcome),
        )
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
        this.#log.warn(
          { event: effect.event, reason: effect.reason, message: effect.message },
          'membership refused an event',
        )
        return
    }
  }

  /**
   * A ping that had to wait for a connection: the core times the probe from when it left.
   * Told after the current event is handled (the core takes one event at a time).
   */
  #pingWaited(probeId: number, outcome: 'connecting' | 'sent' | 'unsent'): void {
    const sent = this.#pingSentAt.get(probeId)
    // The round trip Vivaldi learns from starts when the ping left, not with the dial.
    if (outcome === 'sent' && sent) sent.at = performance.now()
    queueMicrotask(() => this.#handle({ type: `ping-${outcome}`, probeId }))
  }

  #memberChanged(effect: Extract<MembershipEffect, { type: 'member' }>): void {
    if (effect.id === this.#selfId) return
    if (effect.kind === 'joined' || effect.kind === 'alive')
      this.#learnAddresses(effect.id, effect.addrs)
    this.#init.emit({
      type: MEMBER_EVENT[effect.kind],
      at: Date.now(),
      peerId: this.#selfId,
      member: effect.id,
      incarnation: effect.incarnation,
    })
    if (effect.kind === 'suspect') return
    this.#publisher.membersChanged()
    this.#init.onChange()
  }

  /** Lets libp2p dial a member it has only heard of. */
  #learnAddresses(id: string, addrs: readonly string[]): void {
    if (addrs.length === 0) return
    try {
      const peerId = peerIdFromString(id)
      const multiaddrs = addrs.map((a) => multiaddr(a))
      background(this.#init.libp2p.peerStore.merge(peerId, { multiaddrs }), (err) =>
        this.#log.debug({ err, member: id }, 'storing addresses failed'),
      )
    } catch (err) {
      this.#log.warn({ err, member: id }, 'ignoring bad addresses')
    }
  }

  #arm(): void {
    if (!this.#running) return
    this.#timer.arm(this.#core.nextDeadline(), performance.now())
  }

  #publishInBackground(topic: string, body: unknown): void {
    background(this.#publish(topic, body), (err) =>
      this.#log.error({ err, topic }, 'bug: publishing threw'),
    )
  }

  async #publish(topic: string, body: unknown): Promise<void> {
    const data = new TextEncoder().encode(JSON.stringify(body))
    this.#gossipBytes.inc(data.byteLength, { direction: 'out', topic })
    try {
      await this.#init.libp2p.services.pubsub.publish(topic, data)
    } catch (err) {
      this.#log.warn({ err, topic }, 'publishing failed')
    }
  }
}

/** An address in the form `--join` takes: ending in `/p2p/<id>`. */
function joinable(addr: string, id: string): string {
  return addr.includes('/p2p/') ? addr : `${addr}/p2p/${id}`
}

/** Whether `event` came from member `id` itself (not relayed by someone else). */
export function heardDirectly(event: MembershipEvent, id: string): boolean {
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

/** Updates as they came off the wire, typed for the core, which checks each one. */
function asUpdates(updates: readonly unknown[]): readonly MemberUpdate[] {
  return updates as readonly MemberUpdate[]
}

const MEMBER_EVENT = {
  joined: 'member-joined',
  alive: 'member-alive',
  suspect: 'member-suspect',
  dead: 'member-dead',
  left: 'member-left',
} as const
