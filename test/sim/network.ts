/**
 * The simulated network: every peer gets a synthetic position, so a pair's one-way latency is
 * their distance plus seeded jitter; messages may be lost, cut by a partition (one-way too),
 * dropped at a crashed peer, or held at a stalled one until it resumes. Delivery runs on the
 * virtual clock, in a deterministic order for a given seed.
 */
import type { Rng } from '@chorus/scheduler-core'
import type { VirtualTime } from '../../packages/node/src/core/virtual-time.js'

export interface NetworkOptions {
  /** Share of messages lost, in [0, 1). */
  readonly lossRate: number
  /** Mean of the exponential jitter added to each message, ms. */
  readonly jitterMs: number
  /** Side of the square peers are placed in, ms of latency. */
  readonly spreadMs: number
}

export const NETWORK_DEFAULTS: NetworkOptions = { lossRate: 0.001, jitterMs: 1, spreadMs: 60 }

interface Place {
  readonly x: number
  readonly y: number
  /** Access-link latency, ms. */
  readonly height: number
}

export class SimNetwork {
  readonly #time: VirtualTime
  readonly #rng: Rng
  readonly #options: NetworkOptions
  readonly #places = new Map<string, Place>()
  readonly #crashed = new Set<string>()
  readonly #stalled = new Map<string, (() => void)[]>()
  /** Peer → its side while a partition stands. */
  #sides: Map<string, number> | undefined
  /** Only messages from side 0 to side 1 are cut (a one-way partition). */
  #oneWay = false
  readonly #bytesIn = new Map<string, number>()
  readonly #bytesOut = new Map<string, number>()
  messages = 0
  dropped = 0

  constructor(time: VirtualTime, rng: Rng, options: NetworkOptions = NETWORK_DEFAULTS) {
    this.#time = time
    this.#rng = rng
    this.#options = options
  }

  place(peerId: string): void {
    const r = this.#rng
    const s = this.#options.spreadMs
    this.#places.set(peerId, { x: r.next() * s, y: r.next() * s, height: 0.2 + r.next() * 2 })
  }

  /** One-way latency from `a` to `b` without jitter, ms. */
  baseLatency(a: string, b: string): number {
    const pa = this.#places.get(a)
    const pb = this.#places.get(b)
    if (pa === undefined || pb === undefined) return this.#options.spreadMs
    return Math.hypot(pa.x - pb.x, pa.y - pb.y) / 2 + pa.height + pb.height
  }

  latency(a: string, b: string): number {
    return this.baseLatency(a, b) - Math.log(1 - this.#rng.next()) * this.#options.jitterMs
  }

  /** Whether a message from `a` to `b` would be cut now (crash or partition, not loss). */
  cut(a: string, b: string): boolean {
    if (this.#crashed.has(a) || this.#crashed.has(b)) return true
    const sides = this.#sides
    if (sides === undefined) return false
    const sa = sides.get(a) ?? 0
    const sb = sides.get(b) ?? 0
    if (sa === sb) return false
    return this.#oneWay ? sa === 0 && sb === 1 : true
  }

  /** Sends `bytes` from `a` to `b`, arriving after `delayMs` (default: the pair's latency). */
  send(a: string, b: string, bytes: number, deliver: () => void, delayMs?: number): void {
    this.messages++
    this.#count(this.#bytesOut, a, bytes)
    if (this.cut(a, b) || this.#rng.next() < this.#options.lossRate) {
      this.dropped++
      return
    }
    this.#time.after(delayMs ?? this.latency(a, b), () => {
      if (this.#crashed.has(b)) return
      this.#count(this.#bytesIn, b, bytes)
      const held = this.#stalled.get(b)
      if (held !== undefined) held.push(deliver)
      else deliver()
    })
  }

  crash(peerId: string): void {
    this.#crashed.add(peerId)
    this.#stalled.delete(peerId)
  }

  isCrashed(peerId: string): boolean {
    return this.#crashed.has(peerId)
  }

  /** The peer stops handling anything (a long GC pause, SIGSTOP) until `resume`. */
  stall(peerId: string): void {
    if (!this.#stalled.has(peerId)) this.#stalled.set(peerId, [])
  }

  /** Holds `fire` until the peer resumes, if it is stalled: false if it runs now. */
  deferIfStalled(peerId: string, fire: () => void): boolean {
    const held = this.#stalled.get(peerId)
    if (held === undefined) return false
    held.push(fire)
    return true
  }

  isStalled(peerId: string): boolean {
    return this.#stalled.has(peerId)
  }

  resume(peerId: string): void {
    const held = this.#stalled.get(peerId)
    this.#stalled.delete(peerId)
    for (const deliver of held ?? []) deliver()
  }

  /** Cuts the mesh in two sides (`side1` and everyone else); one-way cuts only 0 → 1. */
  partition(side1: Iterable<string>, oneWay = false): void {
    this.#sides = new Map([...side1].map((id) => [id, 1]))
    this.#oneWay = oneWay
  }

  heal(): void {
    this.#sides = undefined
  }

  bytesIn(peerId: string): number {
    return this.#bytesIn.get(peerId) ?? 0
  }

  bytesOut(peerId: string): number {
    return this.#bytesOut.get(peerId) ?? 0
  }

  #count(counts: Map<string, number>, peerId: string, bytes: number): void {
    counts.set(peerId, (counts.get(peerId) ?? 0) + bytes)
  }
}
