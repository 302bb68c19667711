/**
 * OpenWhisk's hash-affinity placement (ShardingContainerPoolBalancer), reimplemented:
 * each function has a home worker and a coprime step derived from a hash of its
 * name, so every scheduler probes workers in the same order and a function keeps
 * landing where its warm hosts are. See ../../../../shared/reference/openwhisk-placement.md.
 */
import type { Rng } from './rng.js'

/** Worker health as OpenWhisk's invoker supervision reports it. Only `healthy` is probed. */
export type WorkerHealth = 'healthy' | 'unhealthy' | 'unresponsive' | 'offline'

export const WORKER_HEALTH_STATES: readonly WorkerHealth[] = [
  'healthy',
  'unhealthy',
  'unresponsive',
  'offline',
]

/** Java's `String.hashCode`: signed 32-bit, over UTF-16 code units. */
export function javaHash(s: string): number {
  let h = 0
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0
  return h
}

/**
 * `abs(javaHash(namespace) XOR javaHash(action))`. Where the XOR is -2^31, whose absolute
 * value does not fit in 32 bits (OpenWhisk crashes there), the result is 2^31: a
 * non-negative number that works with `mod n` like any other.
 */
export function invocationHash(namespace: string, action: string): number {
  return Math.abs(javaHash(namespace) ^ javaHash(action))
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}

/**
 * Step sizes for `x` workers: c in 1..x kept if coprime with x and with every step
 * kept so far. Any of them visits all x positions in x steps.
 */
export function pairwiseCoprimeNumbersUntil(x: number): number[] {
  const kept: number[] = []
  for (let c = 1; c <= x; c++) {
    if (gcd(c, x) === 1 && kept.every((k) => gcd(k, c) === 1)) kept.push(c)
  }
  return kept
}

/** Home position and probe step of a hash among `count` workers. */
export function homeAndStep(
  hash: number,
  count: number,
  steps: readonly number[],
): { home: number; step: number } {
  if (count === 0 || steps.length === 0) return { home: 0, step: 1 }
  return { home: hash % count, step: steps[hash % steps.length] as number }
}

/**
 * The probe walk: home, home+step, home+2·step, … (mod count), `count + 2` probes as in
 * OpenWhisk. Returns the first position for which `fits` holds, or -1.
 */
export function walkForWorker(
  count: number,
  home: number,
  step: number,
  fits: (position: number) => boolean,
): number {
  let position = home
  for (let probe = 0; probe < count + 2; probe++) {
    if (fits(position)) return position
    position = (position + step) % count
  }
  return -1
}

/** A uniformly random position among those that are `usable`, or -1 if none is. */
export function randomUsableWorker(
  count: number,
  usable: (position: number) => boolean,
  rng: Rng,
): number {
  let usableCount = 0
  for (let i = 0; i < count; i++) if (usable(i)) usableCount++
  if (usableCount === 0) return -1
  let pick = Math.floor(rng.next() * usableCount)
  for (let i = 0; i < count; i++) {
    if (!usable(i)) continue
    if (pick === 0) return i
    pick--
  }
  return -1
}

/**
 * A worker's memory permits (1 permit = 1 MB) with per-function concurrency slots, as
 * OpenWhisk's NestedSemaphore: the first invocation of a function with concurrency N
 * takes the memory of a new host and leaves N−1 free slots; the memory comes back when
 * all N slots of a host are free again.
 */
export class WorkerPermits {
  #free: number
  readonly #freeSlots = new Map<string, number>()

  constructor(memoryMb: number) {
    this.#free = memoryMb
  }

  get freeMemoryMb(): number {
    return this.#free
  }

  tryAcquire(action: string, concurrency: number, memoryMb: number): boolean {
    if (concurrency <= 1) return this.#tryMemory(memoryMb)
    const slots = this.#freeSlots.get(action) ?? 0
    if (slots > 0) {
      this.#freeSlots.set(action, slots - 1)
      return true
    }
    if (!this.#tryMemory(memoryMb)) return false
    this.#freeSlots.set(action, concurrency - 1)
    return true
  }

  /** Always succeeds; free memory may go negative. */
  forceAcquire(action: string, concurrency: number, memoryMb: number): void {
    if (this.tryAcquire(action, concurrency, memoryMb)) return
    this.#free -= memoryMb
    if (concurrency > 1) this.#freeSlots.set(action, concurrency - 1)
  }

  release(action: string, concurrency: number, memoryMb: number): void {
    if (concurrency <= 1) {
      this.#free += memoryMb
      return
    }
    const slots = (this.#freeSlots.get(action) ?? 0) + 1
    if (slots === concurrency) {
      this.#freeSlots.delete(action)
      this.#free += memoryMb
    } else {
      this.#freeSlots.set(action, slots)
    }
  }

  #tryMemory(memoryMb: number): boolean {
    if (this.#free - memoryMb < 0) return false
    this.#free -= memoryMb
    return true
  }
}

export interface OpenWhiskWorker {
  readonly health: WorkerHealth
  readonly permits: WorkerPermits
}

export interface OpenWhiskRequest {
  readonly action: string
  readonly memoryMb: number
  readonly concurrency: number
  readonly home: number
  readonly step: number
}

/**
 * OpenWhisk's `schedule`: walk from home by step over Healthy workers, acquiring memory
 * (or a concurrency slot) on the first that has it; after `n + 2` probes, force-acquire
 * on a random Healthy worker (`forced: true`). Undefined when no worker is Healthy.
 */
export function schedule(
  workers: readonly OpenWhiskWorker[],
  request: OpenWhiskRequest,
  rng: Rng,
): { position: number; forced: boolean } | undefined {
  const { action, memoryMb, concurrency } = request
  const healthy = (i: number): boolean => workers[i]?.health === 'healthy'
  const found = walkForWorker(
    workers.length,
    request.home,
    request.step,
    (i) =>
      healthy(i) &&
      (workers[i] as OpenWhiskWorker).permits.tryAcquire(action, concurrency, memoryMb),
  )
  if (found >= 0) return { position: found, forced: false }
  const random = randomUsableWorker(workers.length, healthy, rng)
  if (random < 0) return undefined
  ;(workers[random] as OpenWhiskWorker).permits.forceAcquire(action, concurrency, memoryMb)
  return { position: random, forced: true }
}
