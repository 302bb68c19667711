/**
 * The worker side of one peer: the function hosts it runs, within the memory it offers
 * (`--worker-memory`). `acquire` admits an invocation onto a warm host of the same function
 * version with a free slot, or cold-starts one — evicting the least recently used idle hosts
 * when memory is needed — or answers `busy`, so that the scheduler can try the next worker
 * (late binding). Hosts idle for `idleTtlMs` are reaped; hosts that die leave the pool.
 *
 * A scheduler that keeps its own table of warm hosts names the host it chose (`hostId`, a
 * label unique in the mesh): the dispatch then runs on that host — started under that
 * label if it is not here — never on another; the scheduler's evictions are carried out
 * (`evict`), and the pool tells it (`onHostGone`) when a named host is reaped, exits or is
 * evicted for memory, so that the scheduler's table stays the pool's truth.
 *
 * @example
 * ```ts
 * const pool = new WorkerHostPool({ memoryMb: 2048 })
 * const got = await pool.acquire('acme/resize@3', spec)
 * if (got.type === 'busy') return refuse(got.reason) // the scheduler walks on
 * try {
 *   return await got.host.run(input, { invocationId, timeoutMs })
 * } finally {
 *   pool.release(got.host)
 * }
 * ```
 */
import { background } from '../background.js'
import { DeadlineTimer } from '../deadline-timer.js'
import { ChorusError } from '../errors.js'
import { FunctionHost, type FunctionHostOptions, type HostExit } from './function-host.js'
import { validateHostSpec, type FunctionHostSpec } from './host-spec.js'
import type { Logger } from '../observability/logger.js'

/** Idle time after which a host is stopped by default: 10 minutes, as OpenWhisk. */
export const DEFAULT_IDLE_TTL_MS = 600_000

export interface WorkerHostPoolInit {
  /** Memory the worker offers, in MB: the sum of its hosts' `memoryMb` never exceeds it. */
  readonly memoryMb: number
  /** Idle time after which a host is stopped. Default 600 000 ms. */
  readonly idleTtlMs?: number
  /** Options for every host it starts (output limit, start timeout, temp dir, output). */
  readonly hostOptions?: Omit<FunctionHostOptions, 'signal'>
  /** A monotonic clock in ms, for idle times. Default `performance.now`. */
  readonly now?: () => number
  readonly log?: Logger
  /** A named host left the pool on its own account (not by `evict` or `stop`). */
  readonly onHostGone?: (hostId: string, reason: HostGoneReason) => void
}

/** Why a named host left the pool. */
export type HostGoneReason = 'reaped' | 'exited' | 'evicted'

export type BusyReason =
  /** Not enough memory, even after evicting every idle host. */
  | 'no-memory'
  /** The function needs more memory than the whole worker offers. */
  | 'too-large'
  /** The pool is stopping. */
  | 'stopped'
  /** The named host has no free slot. */
  | 'host-busy'

export type AcquireResult =
  | { readonly type: 'acquired'; readonly host: FunctionHost; readonly cold: boolean }
  | { readonly type: 'busy'; readonly reason: BusyReason; readonly message: string }

export interface PooledHostStats {
  readonly fnKey: string
  /** The label its scheduler gave it, if one did. */
  readonly hostId: string | undefined
  readonly pid: number | undefined
  readonly memoryMb: number
  /** Invocations holding it (acquired, not released yet). */
  readonly busy: number
  /** Still cold-starting. */
  readonly starting: boolean
  /** How long it has been idle, in ms; null while it is busy or starting. */
  readonly idleSinceMs: number | null
}

export interface WorkerHostPoolStats {
  readonly memoryMb: number
  readonly usedMb: number
  readonly hosts: readonly PooledHostStats[]
}

interface Entry {
  readonly fnKey: string
  readonly hostId: string | undefined
  readonly spec: FunctionHostSpec
  readonly abort: AbortController
  /** Settles when the cold start does; every awaiter handles its rejection. */
  readonly started: Promise<FunctionHost>
  host: FunctionHost | undefined
  /** Invocations holding the host. */
  leases: number
  /** When the last lease was released; undefined while leased or starting. */
  idleSince: number | undefined
  lastUsed: number
}

export class WorkerHostPool {
  readonly memoryMb: number
  readonly idleTtlMs: number
  readonly #init: WorkerHostPoolInit
  readonly #now: () => number
  readonly #entries = new Set<Entry>()
  readonly #byHost = new Map<FunctionHost, Entry>()
  readonly #byId = new Map<string, Entry>()
  readonly #stopping = new Set<Promise<void>>()
  /** Armed when the first idle host expires. */
  readonly #reaper = new DeadlineTimer(() => this.reap())
  #stopped = false

  constructor(init: WorkerHostPoolInit) {
    if (!(init.memoryMb >= 0)) throw new ChorusError('bad-request', 'memoryMb must be ≥ 0')
    this.memoryMb = init.memoryMb
    this.idleTtlMs = init.idleTtlMs ?? DEFAULT_IDLE_TTL_MS
    this.#init = init
    this.#now = init.now ?? (() => performance.now())
  }

  /** Memory held by live and starting hosts, in MB. */
  get usedMb(): number {
    let used = 0
    for (const entry of this.#entries) used += entry.spec.memoryMb
    return used
  }

  /**
   * A host of `fnKey` (one function version: hosts are shared only within a key) with a slot
   * for one invocation, held until `release(host)`. Warm when one has a free slot (`cold:
   * false`); otherwise a new host is cold-started, or one that is starting is joined (`cold:
   * true`). `busy` when the memory is not there even after evicting idle hosts. Rejects only
   * for a bad spec (`bad-request`) or a host that cannot start (`start-failed`, `init-failed`).
   * With `hostId`, only the host of that name is used (or started under it).
   */
  async acquire(fnKey: string, spec: FunctionHostSpec, hostId?: string): Promise<AcquireResult> {
    validateHostSpec(spec) // before its memoryMb decides anything
    if (this.#stopped) return busy('stopped', 'the worker is stopping')
    if (hostId !== undefined) return this.#acquireNamed(fnKey, spec, hostId)
    const warm = this.#warm(fnKey)
    if (warm?.host !== undefined) {
      this.#lease(warm)
      return { type: 'acquired', host: warm.host, cold: false }
    }
    const starting = this.#starting(fnKey)
    if (starting !== undefined) {
      this.#lease(starting)
      return this.#awaitStart(starting)
    }
    return this.#coldStart(fnKey, spec, undefined)
  }

  /** The host its scheduler named: warm, joined while it starts, or started under the name. */
  async #acquireNamed(
    fnKey: string,
    spec: FunctionHostSpec,
    hostId: string,
  ): Promise<AcquireResult> {
    const named = this.#byId.get(hostId)
    // A host that died (timed out, crashed) and is not forgotten yet is no host to run on.
    const usable = named !== undefined && named.fnKey === fnKey && named.host?.alive !== false
    if (named !== undefined && usable) {
      if (named.leases >= named.spec.concurrency) {
        return busy('host-busy', `host ${hostId} runs ${named.leases} of ${named.spec.concurrency}`)
      }
      this.#lease(named)
      if (named.host !== undefined) return { type: 'acquired', host: named.host, cold: false }
      return this.#awaitStart(named)
    }
    // A dead host, or a name reused for another version: the old one goes, the name is the new one's.
    if (named !== undefined) this.#evictInBackground(named, 'replaced')
    return this.#coldStart(fnKey, spec, hostId)
  }

  async #coldStart(
    fnKey: string,
    spec: FunctionHostSpec,
    hostId: string | undefined,
  ): Promise<AcquireResult> {
    if (spec.memoryMb > this.memoryMb) {
      return busy(
        'too-large',
        `${fnKey} needs ${spec.memoryMb} MB; this worker has ${this.memoryMb}`,
      )
    }
    const evicted = this.#makeRoom(spec.memoryMb)
    if (evicted === undefined) {
      return busy(
        'no-memory',
        `${fnKey} needs ${spec.memoryMb} MB; ${this.memoryMb - this.usedMb} of ${this.memoryMb} MB are free and no idle host can make room`,
      )
    }
    return this.#awaitStart(this.#start(fnKey, spec, evicted, hostId))
  }

  /**
   * Stops the named host, as its scheduler decided (idle there, or room needed): unless an
   * invocation holds it, which the scheduler will learn of when it is released and reaped.
   * Returns whether it went.
   */
  evict(hostId: string): boolean {
    const entry = this.#byId.get(hostId)
    if (entry === undefined || entry.leases > 0) return false
    this.#evictInBackground(entry, 'evicted by its scheduler')
    return true
  }

  /** Gives back the slot `acquire` gave. The host stays warm, or leaves if it died. */
  release(host: FunctionHost): void {
    const entry = this.#byHost.get(host)
    if (entry === undefined || entry.leases === 0) return
    entry.leases--
    entry.lastUsed = this.#now()
    if (entry.leases === 0) {
      entry.idleSince = entry.lastUsed
      this.#armReaper()
    }
  }

  /** Stops every host idle for `idleTtlMs` or longer; returns how many. Runs on a timer too. */
  reap(): number {
    const now = this.#now()
    let reaped = 0
    for (const entry of [...this.#entries]) {
      if (entry.idleSince !== undefined && now - entry.idleSince >= this.idleTtlMs) {
        this.#evictInBackground(entry, 'reaped')
        this.#gone(entry, 'reaped')
        reaped++
      }
    }
    this.#armReaper()
    return reaped
  }

  /** What the worker holds, in the three numbers its load summary publishes. */
  load(): { capacityMb: number; freeMb: number; warmHosts: number } {
    let usedMb = 0
    let warmHosts = 0
    for (const entry of this.#entries) {
      usedMb += entry.spec.memoryMb
      if (entry.host !== undefined) warmHosts++
    }
    return { capacityMb: this.memoryMb, freeMb: Math.max(0, this.memoryMb - usedMb), warmHosts }
  }

  stats(): WorkerHostPoolStats {
    const now = this.#now()
    return {
      memoryMb: this.memoryMb,
      usedMb: this.usedMb,
      hosts: [...this.#entries].map((entry) => ({
        fnKey: entry.fnKey,
        hostId: entry.hostId,
        pid: entry.host?.pid,
        memoryMb: entry.spec.memoryMb,
        busy: entry.leases,
        starting: entry.host === undefined,
        idleSinceMs: entry.idleSince === undefined ? null : now - entry.idleSince,
      })),
    }
  }

  /** Stops every host (starting ones too); `acquire` answers `busy` from now on. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#reaper.clear()
    const starts: Promise<unknown>[] = []
    for (const entry of [...this.#entries]) {
      if (entry.host === undefined) {
        entry.abort.abort(new ChorusError('shutting-down', 'the worker is stopping'))
        // A start that won the race against the abort still yields a host: stop that too.
        starts.push(entry.started.then((host) => host.stop()))
      } else {
        this.#evictInBackground(entry, 'stopped')
      }
    }
    await Promise.allSettled([...starts, ...this.#stopping])
  }

  /** The most recently used live unnamed host of `fnKey` with a free slot. */
  #warm(fnKey: string): Entry | undefined {
    let best: Entry | undefined
    for (const entry of this.#entries) {
      if (entry.fnKey !== fnKey || entry.hostId !== undefined || entry.host?.alive !== true) {
        continue
      }
      if (entry.leases >= entry.spec.concurrency) continue
      if (best === undefined || entry.lastUsed > best.lastUsed) best = entry
    }
    return best
  }

  /** An unnamed host of `fnKey` still cold-starting, with a slot left. */
  #starting(fnKey: string): Entry | undefined {
    for (const entry of this.#entries) {
      if (entry.fnKey === fnKey && entry.hostId === undefined && entry.host === undefined) {
        if (entry.leases < entry.spec.concurrency) return entry
      }
    }
    return undefined
  }

  #lease(entry: Entry): void {
    entry.leases++
    entry.idleSince = undefined
    entry.lastUsed = this.#now()
  }

  /**
   * Frees `needMb`, evicting idle hosts least recently used first, and returns their stops;
   * undefined (evicting nothing) when even all idle hosts would not make room.
   */
  #makeRoom(needMb: number): Promise<void>[] | undefined {
    let free = this.memoryMb - this.usedMb
    if (free >= needMb) return []
    const idle = [...this.#entries]
      .filter((entry) => entry.idleSince !== undefined)
      .sort((a, b) => (a.idleSince ?? 0) - (b.idleSince ?? 0))
    const victims: Entry[] = []
    for (const entry of idle) {
      if (free >= needMb) break
      victims.push(entry)
      free += entry.spec.memoryMb
    }
    if (free < needMb) return undefined
    return victims.map((entry) => {
      this.#gone(entry, 'evicted')
      return this.#evict(entry, 'evicted for memory')
    })
  }

  /** Reserves the memory now, starts once the evicted hosts are gone. */
  #start(
    fnKey: string,
    spec: FunctionHostSpec,
    evicted: Promise<void>[],
    hostId: string | undefined,
  ): Entry {
    const abort = new AbortController()
    const start = async (): Promise<FunctionHost> => {
      await Promise.all(evicted)
      return FunctionHost.start(spec, { ...this.#init.hostOptions, signal: abort.signal })
    }
    const entry: Entry = {
      fnKey,
      hostId,
      spec,
      abort,
      started: start()
        .catch((err: unknown) => {
          this.#forget(entry)
          throw err
        })
        .then((host) => {
          entry.host = host
          this.#byHost.set(host, entry)
          background(
            host.exited.then((exit) => this.#exited(entry, exit)),
            (err) =>
              this.#init.log?.error(
                { err, pid: host.pid },
                'bug: handling the exit of a host threw',
              ),
          )
          return host
        }),
      host: undefined,
      leases: 1,
      idleSince: undefined,
      lastUsed: this.#now(),
    }
    this.#entries.add(entry)
    if (hostId !== undefined) this.#byId.set(hostId, entry)
    return entry
  }

  async #awaitStart(entry: Entry): Promise<AcquireResult> {
    try {
      const host = await entry.started
      if (!this.#stopped) return { type: 'acquired', host, cold: true }
      this.#evictInBackground(entry, 'stopped')
      return busy('stopped', 'the worker is stopping')
    } catch (err) {
      if (this.#stopped) return busy('stopped', 'the worker is stopping')
      throw err
    }
  }

  /** Takes the host out of the pool now (its memory with it) and stops it. */
  #evict(entry: Entry, why: string): Promise<void> {
    this.#forget(entry)
    const host = entry.host
    if (host === undefined) return Promise.resolve()
    this.#init.log?.info({ pid: host.pid, fn: entry.fnKey, why }, 'stopping a function host')
    const stopped = host.stop().finally(() => this.#stopping.delete(stopped))
    this.#stopping.add(stopped)
    return stopped
  }

  #evictInBackground(entry: Entry, why: string): void {
    background(this.#evict(entry, why), (err) =>
      this.#init.log?.warn({ err, fn: entry.fnKey, why }, 'stopping a function host failed'),
    )
  }

  #exited(entry: Entry, exit: HostExit): void {
    if (!this.#entries.has(entry)) return
    this.#forget(entry)
    this.#gone(entry, 'exited')
    this.#init.log?.warn(
      { pid: entry.host?.pid, fn: entry.fnKey, exit: exit.message },
      'a function host is gone',
    )
    this.#armReaper()
  }

  #forget(entry: Entry): void {
    this.#entries.delete(entry)
    if (entry.host !== undefined) this.#byHost.delete(entry.host)
    if (entry.hostId !== undefined && this.#byId.get(entry.hostId) === entry) {
      this.#byId.delete(entry.hostId)
    }
  }

  /** Tells the scheduler that named the host that it is gone (the pool's own decision). */
  #gone(entry: Entry, reason: HostGoneReason): void {
    if (entry.hostId === undefined || this.#stopped) return
    const { onHostGone } = this.#init
    if (onHostGone === undefined) return
    try {
      onHostGone(entry.hostId, reason)
    } catch (err) {
      this.#init.log?.error({ err, hostId: entry.hostId }, 'bug: onHostGone threw')
    }
  }

  /** One timer, for the first idle host to expire. */
  #armReaper(): void {
    if (this.#stopped) {
      this.#reaper.clear()
      return
    }
    let next: number | undefined
    for (const { idleSince } of this.#entries) {
      if (idleSince !== undefined) next = Math.min(next ?? Infinity, idleSince + this.idleTtlMs)
    }
    this.#reaper.arm(next, this.#now())
  }
}

function busy(reason: BusyReason, message: string): AcquireResult {
  return { type: 'busy', reason, message }
}
