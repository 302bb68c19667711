/**
 * The simulated world: N peers (`sim-peer.ts`) on one virtual clock over a seeded network, a
 * client workload (Zipf owners, Poisson arrivals, idempotent retries), the scenario's faults,
 * the invariant checker, and the figures the table reports. One seed, one run: the same
 * arguments replay it exactly.
 */
import type { LedgerResult } from '../../packages/node/src/core/index.js'
import { VirtualTime } from '../../packages/node/src/core/virtual-time.js'
import { seededRng, type SeededRng } from '@chorus/scheduler-core'
import { InvariantChecker } from './checker.js'
import { NETWORK_DEFAULTS, SimNetwork } from './network.js'
import { SimPeer, modelledSwimBytesPerSec, type SimRequest } from './sim-peer.js'
import { MembershipModel, type ChangeKind, type MembershipDelays } from './membership-model.js'

/**
 * A bug planted on purpose, to show the checks catch it: a router that ignores epochs, or a
 * peer that serves what reached it during a pause without asking its directory first.
 */
export const PLANTS = ['ignore-epochs', 'no-pause-fence'] as const
export type Plant = (typeof PLANTS)[number]

export interface SimOptions {
  readonly peers: number
  readonly seed: number
  readonly seconds: number
  /** Client requests per second, mesh-wide. Default 2 per peer. */
  readonly ratePerSec: number
  /** Distinct owners (Zipf, s = 1.1). Default max(50, peers). */
  readonly owners: number
  readonly ownerLimit: number
  readonly serviceMeanMs: number
  /** Share of requests a client retries with the same idempotency key. */
  readonly retryShare: number
  readonly plant?: Plant | undefined
  /** Model membership from these delays instead of running the real core (`membership-model.ts`). */
  readonly membershipDelays?: MembershipDelays | undefined
  /** Record the delays the real cores show into `membership-delays.json`, noting this command. */
  readonly recordDelays?: string | undefined
}

export interface Sample {
  readonly at: number
  readonly livePeers: number
  /** Share of peers whose membership holds every live peer alive. */
  readonly fullViews: number
  readonly viewAgesMs: readonly number[]
  readonly viewShares: readonly number[]
}

/** Percentile `p` (0–1) of sorted `xs`. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return 0
  return xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] as number
}

export class SimWorld {
  readonly time = new VirtualTime(0)
  readonly rng: SeededRng
  readonly network: SimNetwork
  readonly checker: InvariantChecker
  readonly results = new Map<string, LedgerResult>()
  readonly options: SimOptions
  readonly plant: Plant | undefined
  readonly meanHopMs: number
  readonly model: MembershipModel | undefined
  /** When each peer started, crashed or left: what the recorded delays are measured from. */
  readonly #changedAt = new Map<string, { kind: ChangeKind; at: number }>()
  /** Delays (ms) until a peer's real core showed a change, by kind (`--record-delays`). */
  readonly seenAfter: Record<ChangeKind, number[]> = { join: [], dead: [], left: [] }
  readonly #peers = new Map<string, SimPeer>()
  #ids: string[] | undefined
  #guids = 0
  #keys = 0
  #zipf: Float64Array
  /**
   * From a partition until its duplicate schedulers have merged, idempotency is not judged and
   * an invocation may run on each side (each side acts alone, DESIGN.md §4.1).
   */
  partitioned = false
  /** How long after the heal the last duplicate scheduler merged (ms), once it has. */
  mergedAfterHealMs: number | undefined
  readonly hops: number[] = []
  failedRequests = 0
  readonly samples: Sample[] = []
  #nextPeer = 0
  /** When each peer last stalled. */
  readonly #stalledAt = new Map<string, number>()

  constructor(options: SimOptions) {
    this.options = options
    this.plant = options.plant
    this.rng = seededRng(options.seed)
    this.network = new SimNetwork(this.time, this.rng, NETWORK_DEFAULTS)
    this.meanHopMs = NETWORK_DEFAULTS.spreadMs / 4
    this.model =
      options.membershipDelays === undefined
        ? undefined
        : new MembershipModel(this.time, options.membershipDelays)
    this.checker = new InvariantChecker(
      () => this.time.now(),
      (peers) => this.recentOf(peers),
      () => this.partitioned,
    )
    this.#zipf = zipfTable(options.owners, 1.1)
  }

  // ------------------------------------------------------------------ peers

  /** Adds a peer that joins through `bootstrap`. */
  addPeer(bootstrap: readonly string[]): SimPeer {
    const peer = this.#create()
    this.#changedAt.set(peer.id, { kind: 'join', at: this.time.now() })
    peer.start(bootstrap)
    return peer
  }

  /** `n` peers that form a mesh at once: each starts with all of them in its table. */
  addFormedMesh(n: number): void {
    const peers: SimPeer[] = []
    for (let i = 0; i < n; i++) peers.push(this.#create())
    const members = peers.map((p) => ({ id: p.id, incarnation: p.membership?.incarnation ?? 0 }))
    this.model?.formed(peers)
    for (const p of peers) p.startFormed(members)
  }

  #create(): SimPeer {
    const id = `p${(this.#nextPeer++).toString().padStart(5, '0')}`
    this.network.place(id)
    const peer = new SimPeer(id, this)
    this.#peers.set(id, peer)
    this.#ids = undefined
    return peer
  }

  peer(id: string): SimPeer | undefined {
    return this.#peers.get(id)
  }

  /** Peers running now (not crashed, not gone). */
  peerIds(): readonly string[] {
    this.#ids ??= [...this.#peers.keys()].filter((id) => !this.network.isCrashed(id))
    return this.#ids
  }

  /** Stalls a peer for `ms` (SIGSTOP, then SIGCONT): it handles nothing meanwhile. */
  stall(id: string, ms: number): void {
    this.network.stall(id)
    this.#stalledAt.set(id, this.time.now())
    this.time.after(ms, () => this.network.resume(id))
  }

  /** Whether `peer` crashed, or stalled after `since` (the mesh cannot tell a pause from a crash). */
  wasUnavailable(peer: string, since: number): boolean {
    return this.network.isCrashed(peer) || (this.#stalledAt.get(peer) ?? -1) >= since
  }

  /** Cuts `ids` off from the rest, both ways. */
  partition(ids: readonly string[]): void {
    this.partitioned = true
    this.network.partition(ids)
  }

  /** Heals the cut; the mesh is split until no key has two accepting schedulers. */
  heal(): void {
    this.network.heal()
    const healedAt = this.time.now()
    const check = () => {
      if (this.#duplicateSchedulers() > 0) return this.time.after(100, check)
      this.partitioned = false
      this.mergedAfterHealMs = this.time.now() - healedAt
    }
    check()
  }

  /** Keys with more than one scheduler accepting work on running peers. */
  #duplicateSchedulers(): number {
    const seen = new Set<string>()
    let duplicates = 0
    for (const id of this.peerIds()) {
      for (const hosted of (this.#peers.get(id) as SimPeer).hosted.values()) {
        if (!hosted.accepting) continue
        if (seen.has(hosted.key)) duplicates++
        else seen.add(hosted.key)
      }
    }
    return duplicates
  }

  /** `observer`'s real core showed `member`'s change: how long after it happened. */
  seen(observer: string, member: string, kind: ChangeKind): void {
    const change = this.#changedAt.get(member)
    if (change?.kind !== kind) return
    // A peer that started after the change learned it with the whole table, not by its spread.
    const started = this.#changedAt.get(observer)
    if (started?.kind === 'join' && started.at > change.at) return
    this.seenAfter[kind].push(this.time.now() - change.at)
  }

  /** A peer announced its leave (its handovers done). */
  announcedLeave(id: string): void {
    this.#changedAt.set(id, { kind: 'left', at: this.time.now() })
    this.model?.went(id, 'left')
  }

  crash(id: string): void {
    this.#changedAt.set(id, { kind: 'dead', at: this.time.now() })
    this.model?.went(id, 'dead')
    this.network.crash(id)
    this.#peers.get(id)?.stop()
    this.#ids = undefined
  }

  /** A graceful leave: hand over, announce, then stop after the drain. */
  leave(id: string): void {
    const peer = this.#peers.get(id)
    if (peer === undefined || peer.leaving) return
    peer.leave(() => {
      this.time.after(2_000, () => {
        peer.stop()
        this.network.crash(id) // gone: it answers nothing more
        this.#ids = undefined
      })
    })
  }

  deliver(from: string, to: string, wire: Parameters<SimPeer['receive']>[1]): void {
    this.#peers.get(to)?.receive(from, wire)
  }

  /** Runs a peer's timer, unless it crashed; a stalled peer runs it when it resumes. */
  runAt(id: string, fire: () => void): void {
    if (this.network.isCrashed(id)) return
    if (this.network.deferIfStalled(id, fire)) return
    fire()
  }

  gossipHops(): number {
    return Math.max(1, Math.ceil(Math.log(Math.max(2, this.peerIds().length)) / Math.log(6)))
  }

  newGuid(): string {
    return `g${(++this.#guids).toString(36)}`
  }

  serviceTimeMs(): number {
    return -Math.log(1 - this.rng.next()) * this.options.serviceMeanMs
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rng.next() * xs.length)] as T
  }

  /** A queued invocation of a merged scheduler, routed on from `from` with its key. */
  handOn(from: SimPeer, request: SimRequest): void {
    from.route(request, (answer) => {
      if (!answer.ok) this.checker.handOnFailed(request.id, from.id, answer.error.message)
    })
  }

  // ------------------------------------------------------------------ clients

  /** Poisson arrivals at `ratePerSec` from `from` until `until` (virtual ms). */
  startClients(from: number, until: number): void {
    const next = (): void => {
      const gap = (-Math.log(1 - this.rng.next()) * 1000) / this.options.ratePerSec
      this.time.after(gap, () => {
        if (this.time.now() >= until) return
        this.request(`k${(++this.#keys).toString(36)}`, this.#owner(), 0)
        next()
      })
    }
    this.time.after(Math.max(0, from - this.time.now()), next)
  }

  /** One client request through a random running peer; retried on failure, sometimes twice on purpose. */
  request(key: string, owner: string, attempt: number, trustworthy = !this.partitioned): void {
    const entry = this.#entryPeer()
    if (entry === undefined) return
    const request: SimRequest = { owner, id: entry.newInvocationId(owner), idempotencyKey: key }
    entry.route(request, (answer) => {
      this.hops.push(answer.hops)
      const stillTrustworthy = trustworthy && !this.partitioned
      if (!answer.ok) {
        this.failedRequests++
        if (attempt < 2)
          this.time.after(200, () => this.request(key, owner, attempt + 1, stillTrustworthy))
        return
      }
      this.checker.clientAnswered(key, answer.id, stillTrustworthy, (peer, since) =>
        this.wasUnavailable(peer, since),
      )
      if (attempt === 0 && this.rng.next() < this.options.retryShare) {
        // The client did not trust the answer and retries with the same key: same invocation.
        this.time.after(100 + this.rng.next() * 900, () =>
          this.request(key, owner, 1, stillTrustworthy),
        )
      }
    })
  }

  /**
   * A random running peer that is not leaving or stalled: drawn until one is (nearly all are;
   * filtering 10,000 peers for each request was most of a 10,000-peer run), else filtered.
   */
  #entryPeer(): SimPeer | undefined {
    const usable = (id: string) => {
      const p = this.#peers.get(id)
      return p !== undefined && !p.leaving && !this.network.isStalled(id) ? p : undefined
    }
    const ids = this.peerIds()
    for (let i = 0; i < 8 && ids.length > 0; i++) {
      const p = usable(this.pick(ids))
      if (p !== undefined) return p
    }
    const rest = ids.filter((id) => usable(id) !== undefined)
    return rest.length === 0 ? undefined : usable(this.pick(rest))
  }

  #owner(): string {
    const u = this.rng.next()
    let lo = 0
    let hi = this.#zipf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((this.#zipf[mid] as number) < u) lo = mid + 1
      else hi = mid
    }
    return `o${lo}`
  }

  // ------------------------------------------------------------------ figures

  /** Every `everyMs`: full views, and the load-view ages and shares of up to 50 peers. */
  startSampling(everyMs: number): void {
    const sample = (): void => {
      const ids = this.peerIds()
      const live = ids.length
      let full = 0
      for (const id of ids) if ((this.#peers.get(id) as SimPeer).aliveCount() >= live) full++
      const ages: number[] = []
      const shares: number[] = []
      const now = this.time.now()
      const step = Math.max(1, Math.floor(ids.length / 50))
      for (let i = 0; i < ids.length; i += step) {
        const peer = this.#peers.get(ids[i] as string) as SimPeer
        ages.push(...peer.load.ages(now))
        shares.push(peer.load.entries(now).length / live)
      }
      this.samples.push({
        at: now,
        livePeers: live,
        fullViews: full / Math.max(1, live),
        viewAgesMs: ages,
        viewShares: shares,
      })
      this.time.after(everyMs, sample)
    }
    this.time.after(everyMs, sample)
  }

  /** Gossip and SWIM bytes each running peer received per simulated second (mean, max). */
  bytesPerPeerPerSec(): { mean: number; max: number } {
    const seconds = Math.max(1, this.time.now() / 1000)
    // Where membership is modelled, its SWIM traffic is too (from the core's message rates).
    const swim = this.model === undefined ? 0 : modelledSwimBytesPerSec(this.peerIds().length)
    let sum = 0
    let max = 0
    for (const id of this.#peers.keys()) {
      const rate = this.network.bytesIn(id) / seconds + swim
      sum += rate
      if (rate > max) max = rate
    }
    return { mean: sum / Math.max(1, this.#peers.size), max }
  }

  /** The last events of `peers`, for a violation's report. */
  recentOf(peers: readonly string[]): string[] {
    return peers.flatMap((id) => this.#peers.get(id)?.recent ?? [])
  }
}

function zipfTable(n: number, s: number): Float64Array {
  const cdf = new Float64Array(n)
  let total = 0
  for (let i = 0; i < n; i++) total += 1 / (i + 1) ** s
  let acc = 0
  for (let i = 0; i < n; i++) {
    acc += 1 / (i + 1) ** s / total
    cdf[i] = acc
  }
  return cdf
}
