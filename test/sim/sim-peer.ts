/**
 * One simulated peer: the real pure cores a Chorus peer decides with — SWIM membership, the
 * load view with its publisher, Vivaldi, the directory node, the route state machine with its
 * location cache, owner schedulers with their invocation ledgers — wired to the simulated
 * network the way the peer's shells wire them to libp2p. Everything runs on the world's
 * virtual clock; nothing here reads a real clock or draws its own randomness.
 */
import {
  LoadView,
  Membership,
  normalizeLoadSummary,
  publishIntervals,
  VivaldiClient,
  type LoadSummary,
  type MemberUpdate,
  type MembershipEffect,
  type MembershipEvent,
} from '@chorus/gossip'
import { OwnerScheduler, seededRng, type SchedulerEffect } from '@chorus/scheduler-core'
import {
  DirectoryNode,
  InvocationLedger,
  LocationCache,
  PauseDetector,
  Route,
  directoryPeerFor,
  type DirectoryEntry,
  type LedgerSnapshot,
  type RouteError,
  type RouteStep,
  type TimerHandle,
} from '../../packages/node/src/core/index.js'
import { LoadPublisher } from '../../packages/node/src/mesh/load-publisher.js'
import { schedulerInfo } from '../../packages/node/src/scheduling/scheduler-info.js'
import { heardDirectly } from '../../packages/node/src/mesh/mesh-membership.js'
import { silentLogger } from '../../packages/node/src/observability/logger.js'
import type { SchedulerInfo } from '../../packages/node/src/peer-api.js'
import type { SimWorld } from './world.js'

export const PROVIDER = 'sim'
const WORKER_MB = 4096
const FUNCTION_MB = 64
const CLAIM_TIMEOUT_MS = 1_000
const FORWARD_TIMEOUT_MS = 2_000
const ROUTE_ATTEMPTS = 8
const RECENT_KEPT = 24
/** The heartbeat that lets a peer notice it was paused (as the peer's shell beats). */
const HEARTBEAT_MS = 250
const REREGISTER_RETRY_MS = 300
/** As the directory service does: everything hosted is registered again this often. */
const REREGISTER_EVERY_MS = 5_000

/** A request from a client, or a queued invocation being handed on. */
export interface SimRequest {
  readonly owner: string
  readonly id: string
  readonly idempotencyKey?: string | undefined
}

export type SimAnswer =
  | { readonly ok: true; readonly id: string; readonly hops: number }
  | { readonly ok: false; readonly error: RouteError; readonly hops: number }

type RpcBody =
  | { readonly m: 'claim'; readonly key: string }
  | { readonly m: 'lookup'; readonly key: string }
  | { readonly m: 'register'; readonly entry: DirectoryEntry; readonly yielding?: boolean }
  | {
      readonly m: 'commit'
      readonly key: string
      readonly guid: string
      readonly epoch: number
      readonly peerId: string
      readonly leaving?: string
    }
  | {
      readonly m: 'invoke'
      readonly request: SimRequest
      readonly epoch: number
    }
  | {
      readonly m: 'handover'
      readonly key: string
      readonly owner: string
      readonly guid: string
      readonly epoch: number
      readonly queued: readonly SimRequest[]
      readonly ledger: LedgerSnapshot
      readonly leaving: string
    }

type RpcReply =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: RouteError }

type Wire =
  | { readonly t: 'ping'; readonly probeId: number; readonly updates: readonly MemberUpdate[] }
  | { readonly t: 'ping-req'; readonly target: string; readonly probeId: number }
  | { readonly t: 'ack'; readonly probeId: number; readonly updates: readonly MemberUpdate[] }
  | { readonly t: 'nack'; readonly probeId: number }
  | { readonly t: 'sync'; readonly updates: readonly MemberUpdate[]; readonly reply: boolean }
  | { readonly t: 'members'; readonly updates: readonly MemberUpdate[] }
  | { readonly t: 'load'; readonly summary: LoadSummary }
  | { readonly t: 'req'; readonly rid: number; readonly body: RpcBody }
  | { readonly t: 'res'; readonly rid: number; readonly reply: RpcReply }
  | { readonly t: 'lost'; readonly winner: DirectoryEntry }
  | { readonly t: 'ledger'; readonly key: string; readonly ledger: LedgerSnapshot }
  | { readonly t: 'result'; readonly key: string; readonly id: string }

interface Hosted {
  readonly key: string
  readonly owner: string
  readonly guid: string
  readonly epoch: number
  readonly scheduler: OwnerScheduler
  readonly ledger: InvocationLedger
  accepting: boolean
  /**
   * After a pause: serves nothing until the directory confirms it is still responsible
   * (requests wait in `held`), or names the scheduler that won (then it merges into that).
   */
  fenced: boolean
  readonly held: (() => void)[]
  /** Handed over or merged: results of what still runs here go to this peer. */
  resultsTo: string | undefined
  timer: TimerHandle | undefined
  /** Invocations accepted and not finished, with their idempotency keys. */
  readonly live: Map<string, string | undefined>
}

/** Rough wire sizes, bytes (JSON of the real messages). */
const SIZE = { frame: 60, update: 90, summaryBase: 260, scheduler: 190, rpc: 180 } as const

/**
 * SWIM bytes a peer receives per second in a steady mesh of `n`, where membership is modelled:
 * a ping and an ack every 200 ms probe interval, and per push-pull round (5 s, scaled up past
 * 32 members as the core scales it) the reply to its own sync and one sync from another member,
 * each the whole table.
 */
export function modelledSwimBytesPerSec(n: number): number {
  const probes = (2 * SIZE.frame) / 0.2
  const scale = n <= 32 ? 1 : Math.ceil(Math.log2(n) - Math.log2(32)) + 1
  const syncs = (2 * (SIZE.frame + SIZE.update * n)) / (5 * scale)
  return probes + syncs
}

export class SimPeer {
  readonly id: string
  readonly #world: SimWorld
  /** The real SWIM core; undefined where the world models membership (`membership-model.ts`). */
  readonly membership: Membership | undefined
  readonly load: LoadView
  readonly #vivaldi: VivaldiClient
  readonly #publisher: LoadPublisher
  readonly directory: DirectoryNode
  readonly #locations = new LocationCache()
  readonly hosted = new Map<string, Hosted>()
  readonly #pending = new Map<number, { done: (r: RpcReply) => void; timer: TimerHandle }>()
  readonly #pingSentAt = new Map<number, { to: string; at: number }>()
  readonly #pauses = new PauseDetector()
  #membershipTimer: TimerHandle | undefined
  #rid = 0
  #live: string[] | undefined
  #counter = 0
  leaving = false
  stopped = false
  /** A joiner routes once a member's table reached it (`MeshMembership.ready`). */
  ready = true
  readonly #readyWaiters: (() => void)[] = []
  readonly recent: string[] = []

  constructor(id: string, world: SimWorld) {
    this.id = id
    this.#world = world
    const rng = seededRng(Math.floor(world.rng.next() * 2 ** 32))
    this.membership =
      world.model === undefined
        ? new Membership({ id, addrs: [], syncIntervalMs: 5_000 }, { rng })
        : undefined
    this.load = new LoadView()
    this.#vivaldi = new VivaldiClient({ rng })
    this.directory = new DirectoryNode(id, this.#membersView())
    this.#publisher = new LoadPublisher({
      selfId: id,
      view: this.load,
      localLoad: () => this.#localLoad(),
      aliveMembers: () => this.liveIds().length,
      coordinate: () => this.#vivaldi.coordinate,
      publish: (summary) => {
        // One frozen copy for every receiver, as each view would hold it (see normalizeLoadSummary).
        this.#broadcast(
          { t: 'load', summary: normalizeLoadSummary(summary) },
          SIZE.summaryBase + SIZE.scheduler * summary.schedulers.length,
        )
        return Promise.resolve()
      },
      clock: world.time,
      timers: { after: (ms, fire) => this.#after(ms, fire), sleep: () => Promise.resolve() },
      log: silentLogger(),
    })
  }

  /** Starts, joining through `bootstrap` (discovered, as a `--join` address is). */
  start(bootstrap: readonly string[]): void {
    this.ready = bootstrap.length === 0
    this.#heartbeat()
    this.#reregisterEvery(this.#world.rng.next() * REREGISTER_EVERY_MS)
    this.#publisher.start()
    const model = this.#world.model
    if (model !== undefined) {
      // It sees the mesh once its push-pull with the bootstrap came back.
      const [seed] = bootstrap
      const syncMs = seed === undefined ? 0 : 2 * this.#world.network.latency(this.id, seed) + 1
      model.joined(this, bootstrap, syncMs, () => this.#becameReady())
      return
    }
    this.#handleMembership({ type: 'peer-discovered', id: this.id, addrs: [] })
    for (const other of bootstrap) {
      if (other !== this.id)
        this.#handleMembership({ type: 'peer-discovered', id: other, addrs: [] })
    }
  }

  /**
   * Starts as a member of a mesh that formed already: its table holds every peer alive, as
   * after a push-pull sync with one of them (in batches a sync message may carry).
   */
  startFormed(members: readonly { readonly id: string; readonly incarnation: number }[]): void {
    this.#heartbeat()
    this.#reregisterEvery(this.#world.rng.next() * REREGISTER_EVERY_MS)
    // A mesh that has been running: each publisher in its own phase of the budget's interval.
    const { minMs } = publishIntervals(members.length)
    this.#after(this.#world.rng.next() * minMs, () => this.#publisher.start())
    if (this.membership === undefined) return this.viewChanged() // the model knows them all
    this.#handleMembership({ type: 'peer-discovered', id: this.id, addrs: [] })
    const others = members.filter((m) => m.id !== this.id)
    const from = others[0]?.id
    if (from === undefined) return
    for (let i = 0; i < others.length; i += 1_000) {
      const updates = others
        .slice(i, i + 1_000)
        .map((m) => ({ kind: 'alive' as const, id: m.id, incarnation: m.incarnation, addrs: [] }))
      this.#handleMembership({ type: 'sync-received', from, updates, reply: false })
    }
  }

  /** Members that count for rendezvous (alive, suspect), this peer included. */
  liveIds(): readonly string[] {
    const model = this.#world.model
    if (model !== undefined) return model.liveIds(this.id)
    if (this.#live === undefined) {
      const ids = (this.membership as Membership)
        .members()
        .filter((m) => m.state === 'alive' || m.state === 'suspect')
        .map((m) => m.id)
      if (!ids.includes(this.id)) ids.push(this.id)
      this.#live = ids
    }
    return this.#live
  }

  isLive(id: string): boolean {
    if (id === this.id) return true
    const model = this.#world.model
    if (model !== undefined) return model.isLive(this.id, id)
    const state = (this.membership as Membership).member(id)?.state
    return state === 'alive' || state === 'suspect'
  }

  // ------------------------------------------------------------------ the network

  receive(from: string, wire: Wire): void {
    if (this.stopped) return
    this.#noticePause()
    switch (wire.t) {
      case 'ping':
        return this.#handleMembership({
          type: 'ping-received',
          from,
          probeId: wire.probeId,
          updates: wire.updates,
        })
      case 'ping-req':
        return this.#handleMembership({
          type: 'ping-req-received',
          from,
          target: wire.target,
          probeId: wire.probeId,
        })
      case 'ack': {
        const sent = this.#pingSentAt.get(wire.probeId)
        this.#pingSentAt.delete(wire.probeId)
        const rttMs = sent?.to === from ? this.#world.time.now() - sent.at : undefined
        const remote = this.load.get(from)?.summary.coordinate
        if (rttMs !== undefined && remote !== undefined) this.#vivaldi.update(from, remote, rttMs)
        return this.#handleMembership({
          type: 'ack-received',
          from,
          probeId: wire.probeId,
          updates: wire.updates,
          ...(rttMs === undefined ? {} : { rttMs }),
        })
      }
      case 'nack':
        return this.#handleMembership({ type: 'nack-received', from, probeId: wire.probeId })
      case 'sync':
        return this.#handleMembership({
          type: 'sync-received',
          from,
          updates: wire.updates,
          reply: wire.reply,
        })
      case 'members':
        return this.#handleMembership({ type: 'updates-received', from, updates: wire.updates })
      case 'load':
        this.load.merge(wire.summary, from, this.#world.time.now())
        return
      case 'req':
        return this.#answer(from, wire.rid, wire.body)
      case 'res': {
        const pending = this.#pending.get(wire.rid)
        if (pending === undefined) return
        this.#pending.delete(wire.rid)
        pending.timer.cancel()
        pending.done(wire.reply)
        return
      }
      case 'lost':
        return this.#lost(wire.winner)
      case 'ledger':
        this.hosted.get(wire.key)?.ledger.absorb(wire.ledger)
        return
      case 'result': {
        const result = this.#world.results.get(wire.id)
        const hosted = this.hosted.get(wire.key)
        if (result !== undefined && hosted !== undefined) hosted.ledger.record(result)
        return
      }
    }
  }

  #send(to: string, wire: Wire, bytes: number): void {
    if (to === this.id) {
      this.#after(0, () => this.receive(this.id, wire))
      return
    }
    this.#world.network.send(this.id, to, bytes, () => this.#world.deliver(this.id, to, wire))
  }

  /** gossipsub, modelled: every peer receives it after the hops a mesh of this size takes. */
  #broadcast(wire: Wire, bytes: number): void {
    const hops = this.#world.gossipHops()
    const hopMs = this.#world.meanHopMs
    for (const to of this.#world.peerIds()) {
      if (to === this.id) continue
      const delay = this.#world.network.latency(this.id, to) + (hops - 1) * hopMs
      this.#world.network.send(
        this.id,
        to,
        bytes,
        () => this.#world.deliver(this.id, to, wire),
        delay,
      )
    }
  }

  #rpc(to: string, body: RpcBody, timeoutMs: number, done: (reply: RpcReply) => void): void {
    const rid = ++this.#rid
    const timer = this.#after(timeoutMs, () => {
      if (!this.#pending.delete(rid)) return
      done({
        ok: false,
        error: { code: 'peer-unreachable', message: `${to} did not answer ${body.m}` },
      })
    })
    this.#pending.set(rid, { done, timer })
    this.#send(to, { t: 'req', rid, body }, SIZE.rpc)
  }

  /** A timer that, like everything else, waits while this peer is stalled and dies with it. */
  #after(ms: number, fire: () => void): TimerHandle {
    return this.#world.time.after(ms, () => this.#world.runAt(this.id, fire))
  }

  #note(text: string): void {
    if (this.recent.length === RECENT_KEPT) this.recent.shift()
    this.recent.push(`${this.#world.time.now().toFixed(1)}ms ${this.id} ${text}`)
  }

  // ------------------------------------------------------------------ membership

  /** Alive in this peer's view, itself included: what `full view` counts. */
  aliveCount(): number {
    return this.membership === undefined ? this.liveIds().length : this.membership.aliveCount()
  }

  /** The model changed this peer's view (the real core's `member` effects do this below). */
  viewChanged(): void {
    if (this.stopped) return
    this.#live = undefined
    this.#membersChanged()
  }

  #becameReady(): void {
    if (this.ready) return
    this.ready = true
    for (const go of this.#readyWaiters.splice(0)) go()
  }

  #handleMembership(event: MembershipEvent): void {
    if (this.membership === undefined) return
    const effects = this.membership.handle(event, this.#world.time.now())
    for (const effect of effects) {
      this.#carryOutMembership(effect)
      // As the shell does: a newcomer met directly is announced to the mesh at once.
      if (effect.type === 'member' && effect.kind === 'joined' && heardDirectly(event, effect.id)) {
        const update = {
          kind: 'alive' as const,
          id: effect.id,
          incarnation: effect.incarnation,
          addrs: [],
        }
        this.#broadcast({ t: 'members', updates: [update] }, SIZE.frame + SIZE.update)
      }
    }
    // Ready once the table it got is applied: held requests route with the whole view.
    if (!this.ready && event.type === 'sync-received' && event.from !== this.id) this.#becameReady()
    this.#membershipTimer?.cancel()
    const deadline = this.membership.nextDeadline()
    if (deadline !== undefined && !this.stopped) {
      this.#membershipTimer = this.#after(deadline - this.#world.time.now(), () =>
        this.#handleMembership({ type: 'tick' }),
      )
    }
  }

  #carryOutMembership(effect: MembershipEffect): void {
    const updatesSize = (n: number) => SIZE.frame + SIZE.update * n
    switch (effect.type) {
      case 'send-ping':
        this.#pingSentAt.set(effect.probeId, { to: effect.to, at: this.#world.time.now() })
        return this.#send(
          effect.to,
          { t: 'ping', probeId: effect.probeId, updates: effect.updates },
          updatesSize(effect.updates.length),
        )
      case 'send-ping-req':
        return this.#send(
          effect.to,
          { t: 'ping-req', target: effect.target, probeId: effect.probeId },
          SIZE.frame,
        )
      case 'send-ack':
        return this.#send(
          effect.to,
          { t: 'ack', probeId: effect.probeId, updates: effect.updates },
          updatesSize(effect.updates.length),
        )
      case 'send-nack':
        return this.#send(effect.to, { t: 'nack', probeId: effect.probeId }, SIZE.frame)
      case 'send-sync':
        return this.#send(
          effect.to,
          { t: 'sync', updates: effect.updates, reply: effect.reply },
          updatesSize(effect.updates.length),
        )
      case 'broadcast':
        return this.#broadcast(
          { t: 'members', updates: effect.updates },
          updatesSize(effect.updates.length),
        )
      case 'member':
        if (effect.kind === 'joined' || effect.kind === 'dead' || effect.kind === 'left')
          this.#world.seen(this.id, effect.id, effect.kind === 'joined' ? 'join' : effect.kind)
        if (effect.kind === 'suspect') return
        this.#live = undefined
        this.#membersChanged()
        return
      case 'rejected':
        return
    }
  }

  #membersView() {
    return { live: this.liveIds(), isAlive: (id: string) => this.isLive(id) }
  }

  /** What the peer's onChange does: directory, locations, re-registration, publisher. */
  #membersChanged(): void {
    this.directory.membersChanged(this.#membersView())
    this.#locations.retainLive((id) => this.isLive(id))
    this.#publisher.membersChanged()
    for (const hosted of this.hosted.values()) {
      if (hosted.accepting) this.#register(hosted)
    }
  }

  /**
   * Registers `hosted` with its directory. After a pause (`answered` given: it hears whether
   * the scheduler still stands) a peer that is its own key's directory asks the one the others
   * used while it looked dead, and retries until a directory that sees it alive answers.
   */
  #register(hosted: Hosted, answered?: (stands: boolean) => void): void {
    const entry: DirectoryEntry = {
      key: hosted.key,
      guid: hosted.guid,
      epoch: hosted.epoch,
      peerId: this.id,
    }
    let directory = this.directory.directoryFor(hosted.key)
    if (answered !== undefined && directory === this.id) {
      // As the service's `confirmHosted`: its own table first, then the others' directory.
      const { answer } = this.directory.handle({ type: 'register', entry, yielding: true })
      if (!answer.accepted && !('refused' in answer)) {
        this.#lost(answer.entry)
        return answered(false)
      }
      directory = this.directory.directoryFor(hosted.key, this.id)
    }
    if (directory === undefined) return answered?.(true) // alone in its view: nobody else can
    const outcome = (value: unknown) => {
      const { accepted, entry: winner } = value as { accepted: boolean; entry: DirectoryEntry }
      if (!accepted) this.#lost(winner)
      answered?.(accepted)
    }
    if (directory === this.id) {
      const { answer, effects } = this.directory.handle({ type: 'register', entry })
      for (const e of effects) this.#send(e.to, { t: 'lost', winner: e.winner }, SIZE.rpc)
      return 'refused' in answer ? undefined : outcome(answer)
    }
    const body: RpcBody = { m: 'register', entry, yielding: answered !== undefined }
    this.#rpc(directory, body, CLAIM_TIMEOUT_MS, (reply) => {
      if (reply.ok) return outcome(reply.value)
      if (answered !== undefined)
        this.#after(REREGISTER_RETRY_MS, () => this.#register(hosted, answered))
    })
  }

  // ------------------------------------------------------------------ pauses

  #heartbeat(): void {
    if (this.stopped) return
    this.#noticePause()
    this.#after(HEARTBEAT_MS, () => this.#heartbeat())
  }

  /** Re-registers every few seconds, so conflicts a membership change did not reveal are found. */
  #reregisterEvery(firstInMs: number): void {
    this.#after(firstInMs, () => {
      if (this.stopped) return
      for (const hosted of this.hosted.values()) if (hosted.accepting) this.#register(hosted)
      this.#reregisterEvery(REREGISTER_EVERY_MS)
    })
  }

  /**
   * After a pause long enough for the mesh to have declared this peer dead, its schedulers
   * may have been claimed elsewhere: each serves nothing until its directory confirms it.
   */
  #noticePause(): void {
    if (this.#pauses.observe(this.#world.time.now()) === undefined) return
    if (this.#world.plant === 'no-pause-fence') return
    for (const hosted of this.hosted.values()) {
      if (!hosted.accepting || hosted.fenced) continue
      hosted.fenced = true
      this.#note(`paused: fences ${hosted.guid}@${hosted.epoch} until re-registered`)
      this.#register(hosted, (stands) => {
        hosted.fenced = false
        this.#note(
          `${hosted.guid}@${hosted.epoch} ${stands ? 'still stands' : 'lost'} after the pause`,
        )
        for (const go of hosted.held.splice(0)) go()
      })
    }
  }

  // ------------------------------------------------------------------ the directory role

  #answer(from: string, rid: number, body: RpcBody): void {
    const reply = (r: RpcReply) => this.#send(from, { t: 'res', rid, reply: r }, SIZE.rpc)
    switch (body.m) {
      case 'claim': {
        // As the service does: grant only as the key's directory in a whole view of the mesh.
        const refusal = this.#claimRefusal(body.key)
        if (refusal !== undefined) return reply({ ok: false, error: refusal })
        return this.#claimHere(body.key, from, (entry) => reply({ ok: true, value: entry }))
      }
      case 'register': {
        const { answer, effects } = this.directory.handle({
          type: 'register',
          entry: body.entry,
          yielding: body.yielding === true,
        })
        if ('refused' in answer)
          return reply({ ok: false, error: { code: 'not-responsible', message: answer.refused } })
        for (const e of effects) this.#send(e.to, { t: 'lost', winner: e.winner }, SIZE.rpc)
        return reply({ ok: true, value: answer })
      }
      case 'commit': {
        const { answer } = this.directory.handle({
          type: 'commit',
          key: body.key,
          guid: body.guid,
          epoch: body.epoch,
          peerId: body.peerId,
        })
        if (answer.committed) this.#world.checker.committed(answer.entry.guid, answer.entry.epoch)
        return reply({ ok: true, value: answer })
      }
      case 'lookup':
        return reply({
          ok: true,
          value: this.directory.handle({ type: 'lookup', key: body.key }).answer,
        })
      case 'invoke': {
        const hosted = this.hosted.get(`${body.request.owner}/${PROVIDER}`)
        const serve = () => reply(this.#serveForwarded(body.request, body.epoch))
        if (hosted?.fenced === true) hosted.held.push(serve)
        else serve()
        return
      }
      case 'handover':
        return this.#takeOver(body, reply)
    }
  }

  #claimRefusal(key: string): RouteError | undefined {
    if (!this.ready)
      return { code: 'not-responsible', message: `${this.id} has no view of the mesh yet` }
    const directory = this.directory.directoryFor(key)
    if (directory !== this.id) {
      return {
        code: 'not-responsible',
        message: `the directory for ${key} is ${directory ?? 'nobody'}`,
      }
    }
    return undefined
  }

  /** Lookup-or-become at this directory, after asking the key's previous directory (as the service does). */
  #claimHere(key: string, from: string, done: (entry: DirectoryEntry) => void): void {
    const claim = () => {
      const { answer } = this.directory.handle({
        type: 'claim',
        key,
        from,
        newGuid: this.#world.newGuid(),
      })
      if (answer.created) this.#note(`granted ${key} to ${from} as ${answer.entry.guid}`)
      done(answer.entry)
    }
    const predecessors = this.directory.predecessorsFor(key)
    let outstanding = predecessors.length
    if (outstanding === 0) return claim()
    for (const predecessor of predecessors) {
      this.#rpc(predecessor, { m: 'lookup', key }, 500, (r) => {
        const known = r.ok ? (r.value as DirectoryEntry | undefined) : undefined
        if (known !== undefined && known.key === key && this.isLive(known.peerId)) {
          const { effects } = this.directory.handle({ type: 'register', entry: known })
          for (const e of effects) this.#send(e.to, { t: 'lost', winner: e.winner }, SIZE.rpc)
        }
        if (--outstanding === 0) claim()
      })
    }
  }

  // ------------------------------------------------------------------ routing

  /** Routes a request from a client (or one being handed on) to its responsible. */
  route(request: SimRequest, done: (answer: SimAnswer) => void): void {
    if (!this.ready) {
      // Held until the first view, as the router holds it (5 s at most).
      let went = false
      const go = () => {
        if (went) return
        went = true
        this.route(request, done)
      }
      this.#readyWaiters.push(go)
      this.#after(5_000, () => {
        this.ready = true
        go()
      })
      return
    }
    const key = `${request.owner}/${PROVIDER}`
    const fenced = this.hosted.get(key)
    if (fenced?.fenced === true) {
      fenced.held.push(() => this.route(request, done))
      return
    }
    const route = new Route(key, this.id, this.#locations, { attempts: ROUTE_ATTEMPTS })
    let hops = 0
    const facts = () => ({ hostsKey: this.hosted.get(key)?.accepting === true })
    const step = (s: RouteStep): void => {
      const now = () => this.#world.time.now()
      switch (s.type) {
        case 'serve-here': {
          const hosted = this.hosted.get(key) as Hosted
          const id = this.#submit(hosted, request, false)
          return done({ ok: true, id, hops })
        }
        case 'give-up':
          this.#note(`gave up ${request.id}: ${s.error.code}`)
          return done({ ok: false, error: s.error, hops })
        case 'done':
          return
        case 'back-off':
          this.#after(s.until - now(), () =>
            step(route.handle({ type: 'backed-off' }, now(), facts())),
          )
          return
        case 'become':
          this.#create(request.owner, s.entry.guid, s.entry.epoch, new InvocationLedger())
          return step(route.handle({ type: 'created' }, now(), facts()))
        case 'ask-directory': {
          const directory = this.directory.directoryFor(key)
          if (directory === undefined)
            return step(
              route.handle(
                { type: 'directory-failed', error: { code: 'internal', message: 'no members' } },
                now(),
                facts(),
              ),
            )
          if (directory === this.id) {
            return this.#claimHere(key, this.id, (entry) =>
              step(route.handle({ type: 'directory-answered', entry }, now(), facts())),
            )
          }
          hops++
          this.#rpc(directory, { m: 'claim', key }, CLAIM_TIMEOUT_MS, (r) =>
            step(
              r.ok
                ? route.handle(
                    { type: 'directory-answered', entry: r.value as DirectoryEntry },
                    now(),
                    facts(),
                  )
                : route.handle({ type: 'directory-failed', error: r.error }, now(), facts()),
            ),
          )
          return
        }
        case 'forward': {
          hops++
          const target = s.entry
          this.#rpc(
            target.peerId,
            { m: 'invoke', request, epoch: target.epoch },
            FORWARD_TIMEOUT_MS,
            (r) => {
              if (!r.ok)
                return step(
                  route.handle({ type: 'forward-failed', error: r.error }, now(), facts()),
                )
              const next = route.handle({ type: 'forwarded', final: true }, now(), facts())
              if (next.type === 'done') return done({ ok: true, id: r.value as string, hops })
              step(next)
            },
          )
          return
        }
      }
    }
    step(route.handle({ type: 'begin' }, this.#world.time.now(), facts()))
  }

  /** The router's `invoke/1` handler: serve only at the epoch the sender knows (fencing). */
  #serveForwarded(request: SimRequest, epoch: number): RpcReply {
    const key = `${request.owner}/${PROVIDER}`
    const hosted = this.hosted.get(key)
    const refuse = (code: string, message: string): RpcReply => ({
      ok: false,
      error: { code, message },
    })
    if (hosted === undefined) return refuse('not-responsible', `${this.id} does not host ${key}`)
    if (this.#world.plant !== 'ignore-epochs') {
      if (epoch !== hosted.epoch)
        return refuse('stale-epoch', `${key} is at epoch ${hosted.epoch}, not ${epoch}`)
      if (!hosted.accepting)
        return refuse('not-responsible', `${key} is moving away from ${this.id}`)
    }
    return { ok: true, value: this.#submit(hosted, request, true) }
  }

  /** A new request for this peer's scheduler (the host's `submit`): the id it runs under. */
  #submit(hosted: Hosted, request: SimRequest, forwarded: boolean): string {
    if (hosted.live.has(request.id) || hosted.ledger.result(request.id) !== undefined)
      return request.id
    if (request.idempotencyKey !== undefined) {
      const earlier = hosted.ledger.claimKey(request.idempotencyKey, request.id)
      // A handed-on invocation finds its own key in the ledger that came with it.
      if (earlier !== undefined && earlier !== request.id) return earlier
    }
    this.#world.checker.accepted(hosted.guid, hosted.epoch, this.id, request.id)
    hosted.live.set(request.id, request.idempotencyKey)
    this.#note(
      `accepted ${request.id} into ${hosted.guid}@${hosted.epoch}${hosted.accepting ? '' : ' (not accepting!)'}`,
    )
    this.#handleScheduler(hosted, {
      type: 'invocation-submitted',
      invocation: { id: request.id, fn: 'f', forwarded },
    })
    return request.id
  }

  // ------------------------------------------------------------------ schedulers

  #create(owner: string, guid: string, epoch: number, ledger: InvocationLedger): Hosted {
    const key = `${owner}/${PROVIDER}`
    // Two routes that raced to become it: the second finds it made (as the host's `create`).
    const existing = this.hosted.get(key)
    if (existing?.accepting === true) return existing
    const scheduler = new OwnerScheduler(
      { owner, provider: PROVIDER, capacity: this.#world.options.ownerLimit },
      { rng: seededRng(Math.floor(this.#world.rng.next() * 2 ** 32)) },
    )
    const hosted: Hosted = {
      key,
      owner,
      guid,
      epoch,
      scheduler,
      ledger,
      accepting: true,
      fenced: false,
      held: [],
      resultsTo: undefined,
      timer: undefined,
      live: new Map(),
    }
    const now = this.#world.time.now()
    scheduler.handle({ type: 'worker-joined', workerId: this.id, memoryMb: WORKER_MB }, now)
    scheduler.handle(
      { type: 'function-registered', spec: { name: 'f', memoryMb: FUNCTION_MB, maxRetries: 0 } },
      now,
    )
    this.hosted.set(key, hosted)
    this.#note(`hosts ${guid}@${epoch}`)
    this.#publisher.loadChanged()
    return hosted
  }

  #handleScheduler(hosted: Hosted, event: Parameters<OwnerScheduler['handle']>[0]): void {
    const effects = hosted.scheduler.handle(event, this.#world.time.now())
    for (const effect of effects) this.#carryOutScheduler(hosted, effect)
    hosted.timer?.cancel()
    const deadline = hosted.scheduler.nextDeadline()
    if (deadline !== undefined) {
      hosted.timer = this.#after(deadline - this.#world.time.now(), () =>
        this.#handleScheduler(hosted, { type: 'tick' }),
      )
    }
    this.#publisher.loadChanged()
  }

  #carryOutScheduler(hosted: Hosted, effect: SchedulerEffect): void {
    switch (effect.type) {
      case 'dispatch':
        // The worker runs each invocation for a service time drawn from the world's rng.
        for (const inv of effect.invocations) {
          this.#after(this.#world.serviceTimeMs(), () =>
            this.#handleScheduler(hosted, {
              type: 'invocation-completed',
              invocationId: inv.id,
              attempt: inv.attempt,
              output: null,
            }),
          )
        }
        return
      case 'result': {
        const result = { id: effect.invocationId, status: effect.status, peerId: this.id }
        this.#world.checker.resulted(effect.invocationId, this.id)
        this.#world.results.set(effect.invocationId, result)
        hosted.ledger.record(result)
        hosted.live.delete(effect.invocationId)
        if (hosted.resultsTo !== undefined) {
          this.#send(
            hosted.resultsTo,
            { t: 'result', key: hosted.key, id: effect.invocationId },
            SIZE.rpc,
          )
          if (hosted.live.size === 0) this.#release(hosted)
        }
        return
      }
      case 'cancel':
      case 'evict-host':
      case 'rejected':
        return
    }
  }

  #release(hosted: Hosted): void {
    hosted.timer?.cancel()
    if (this.hosted.get(hosted.key) === hosted) this.hosted.delete(hosted.key)
    this.#note(`released ${hosted.guid}@${hosted.epoch}`)
  }

  /** Takes the queued invocations out of `hosted`: they are handed to its successor. */
  #withdrawQueued(hosted: Hosted): SimRequest[] {
    hosted.accepting = false
    this.#handleScheduler(hosted, { type: 'capacity-changed', capacity: 0 })
    const queued = hosted.scheduler.snapshot().queued.map((q) => ({
      owner: hosted.owner,
      id: q.id,
      idempotencyKey: hosted.live.get(q.id),
    }))
    for (const q of queued) {
      this.#handleScheduler(hosted, { type: 'invocation-withdrawn', invocationId: q.id })
      hosted.live.delete(q.id)
    }
    return queued
  }

  /** Another scheduler won this key (a healed partition): merge into it, losing nothing. */
  #lost(winner: DirectoryEntry): void {
    const hosted = this.hosted.get(winner.key)
    if (hosted === undefined || !hosted.accepting) return
    if (hosted.guid === winner.guid && hosted.epoch === winner.epoch && winner.peerId === this.id)
      return
    this.#note(
      `lost ${hosted.guid}@${hosted.epoch} to ${winner.guid}@${winner.epoch} at ${winner.peerId}`,
    )
    const queued = this.#withdrawQueued(hosted)
    hosted.resultsTo = winner.peerId
    this.#locations.learn(winner, this.#world.time.now())
    this.#send(
      winner.peerId,
      { t: 'ledger', key: hosted.key, ledger: hosted.ledger.snapshot() },
      SIZE.rpc,
    )
    for (const q of queued) this.#world.handOn(this, q)
    if (hosted.live.size === 0) this.#release(hosted)
  }

  // ------------------------------------------------------------------ leaving

  /** A graceful leave: each scheduler handed over whole, then the leave announced. */
  leave(onDone: () => void): void {
    this.leaving = true
    const keys = [...this.hosted.values()].filter((h) => h.accepting)
    let outstanding = keys.length
    const finished = () => {
      if (--outstanding > 0) return
      this.#world.announcedLeave(this.id)
      this.#handleMembership({ type: 'leave' })
      onDone()
    }
    if (outstanding === 0) {
      outstanding = 1
      finished()
    }
    for (const hosted of keys) this.#handOver(hosted, 0, finished)
  }

  #handOver(hosted: Hosted, attempt: number, done: () => void): void {
    const others = this.liveIds().filter((id) => id !== this.id)
    const successor = directoryPeerFor(hosted.key, others)
    if (successor === undefined) return done()
    // Stop taking work and dispatching first; new arrivals are refused and retried until the
    // commit lands, and nothing queued starts here that the successor will also run.
    hosted.accepting = false
    if (attempt === 0) this.#handleScheduler(hosted, { type: 'capacity-changed', capacity: 0 })
    const queued = hosted.scheduler
      .snapshot()
      .queued.map((q) => ({ owner: hosted.owner, id: q.id, idempotencyKey: hosted.live.get(q.id) }))
    const body: RpcBody = {
      m: 'handover',
      key: hosted.key,
      owner: hosted.owner,
      guid: hosted.guid,
      epoch: hosted.epoch,
      queued,
      ledger: hosted.ledger.snapshot(),
      leaving: this.id,
    }
    this.#rpc(successor, body, FORWARD_TIMEOUT_MS, (reply) => {
      if (!reply.ok) {
        if (attempt < 10) this.#after(300, () => this.#handOver(hosted, attempt + 1, done))
        else done()
        return
      }
      this.#note(`handed ${hosted.guid}@${hosted.epoch} to ${successor}`)
      const withdrawn = this.#withdrawQueued(hosted)
      this.#world.checker.handedOn(
        withdrawn.map((q) => q.id),
        successor,
      )
      hosted.resultsTo = successor
      if (hosted.live.size === 0) this.#release(hosted)
      done()
    })
  }

  /** The successor's side of a handover: same GUID at epoch + 1, committed at the directory. */
  #takeOver(body: Extract<RpcBody, { m: 'handover' }>, reply: (r: RpcReply) => void): void {
    const existing = this.hosted.get(body.key)
    const submitAll = (hosted: Hosted) => {
      hosted.ledger.absorb(body.ledger)
      for (const q of body.queued) this.#submit(hosted, q, true)
    }
    if (
      existing !== undefined &&
      existing.guid === body.guid &&
      existing.epoch === body.epoch + 1
    ) {
      return reply({ ok: true, value: true }) // a retry of a handover that already landed
    }
    if (existing !== undefined && existing.accepting) {
      // This peer already runs another scheduler for the key: the queue merges into it.
      submitAll(existing)
      return reply({ ok: true, value: true })
    }
    const directory = this.directory.directoryFor(body.key, body.leaving)
    if (directory === undefined)
      return reply({ ok: false, error: { code: 'internal', message: 'no directory' } })
    const commit: RpcBody = {
      m: 'commit',
      key: body.key,
      guid: body.guid,
      epoch: body.epoch,
      peerId: this.id,
      leaving: body.leaving,
    }
    const committed = (value: unknown) => {
      const outcome = value as { committed: boolean; entry?: DirectoryEntry }
      if (!outcome.committed) {
        return reply({
          ok: false,
          error: { code: 'stale-epoch', message: `${body.guid}@${body.epoch} is not current` },
        })
      }
      const hosted = this.#create(body.owner, body.guid, body.epoch + 1, new InvocationLedger())
      submitAll(hosted)
      reply({ ok: true, value: true })
    }
    if (directory === this.id) {
      const { answer } = this.directory.handle({
        type: 'commit',
        key: body.key,
        guid: body.guid,
        epoch: body.epoch,
        peerId: this.id,
      })
      if (answer.committed) this.#world.checker.committed(answer.entry.guid, answer.entry.epoch)
      return committed(answer)
    }
    this.#rpc(directory, commit, CLAIM_TIMEOUT_MS, (r) => {
      if (!r.ok) return reply(r)
      committed(r.value)
    })
  }

  stop(): void {
    this.stopped = true
    this.#publisher.stop()
    this.#membershipTimer?.cancel()
    for (const hosted of this.hosted.values()) hosted.timer?.cancel()
  }

  /** A fresh invocation id naming its scheduler and this entry peer. */
  newInvocationId(owner: string): string {
    return `${owner}~${PROVIDER}~${this.id}.${(++this.#counter).toString(36)}`
  }

  #localLoad() {
    const schedulers: SchedulerInfo[] = []
    let warm = 0
    for (const h of this.hosted.values()) {
      const s = h.scheduler.summary(this.#world.time.now())
      warm += s.warmHosts
      schedulers.push(schedulerInfo({ ...h, provider: PROVIDER, moving: !h.accepting }, this.id, s))
    }
    return {
      schedulers,
      worker: {
        capacityMb: WORKER_MB,
        freeMb: Math.max(0, WORKER_MB - warm * FUNCTION_MB),
        warmHosts: warm,
      },
    }
  }
}
