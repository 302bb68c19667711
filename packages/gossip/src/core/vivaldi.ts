/**
 * Vivaldi network coordinates as HashiCorp Serf implements them (`serf/coordinate`): an
 * 8-dimensional Euclidean position plus a height (the access link), an error estimate, an
 * adjustment term averaged over a window of samples, a median filter on RTT samples per peer,
 * and a small gravity towards the origin against drift.
 *
 * Serf works in seconds; here every length is in milliseconds, and the constants are Serf's
 * converted (HeightMin 10 µs = 0.01 ms, GravityRho 150 s = 150 000 ms, max RTT 10 s).
 *
 * References (as cited by Serf): [1] Dabek et al., "Vivaldi: A decentralized network
 * coordinate system", SIGCOMM 2004. [2] Ledlie, Gardner, Seltzer, "Network Coordinates in the
 * Wild", NSDI 2007. [3] Lee et al., "On suitability of Euclidean embedding for host-based
 * network coordinate systems", IEEE/ACM ToN 2010.
 */
import type { Rng } from '@chorus/scheduler-core'

/** A network coordinate. Lengths in ms; `error` is dimensionless. Plain JSON, gossiped as is. */
export interface Coordinate {
  readonly vec: readonly number[]
  readonly error: number
  readonly adjustment: number
  readonly height: number
}

export interface VivaldiConfig {
  /** Dimensions of the Euclidean part: 8, as Serf ([2]: no gain beyond ~7). */
  readonly dimensionality: number
  /** Error of a fresh coordinate, and the cap on error. Serf: 1.5. */
  readonly errorMax: number
  /** Tuning factor c_e: the most an observation moves the error [1]. Serf: 0.25. */
  readonly ce: number
  /** Tuning factor c_c: the most an observation moves the coordinate [1]. Serf: 0.25. */
  readonly cc: number
  /** Samples averaged for the adjustment term [3]; 0 turns it off. Serf: 20. */
  readonly adjustmentWindow: number
  /** The least height (ms). Serf: 10 µs. */
  readonly heightMinMs: number
  /** RTT samples per peer whose median is used [2]. Serf: 3. */
  readonly latencyFilterSize: number
  /** Gravity's ρ (ms): larger is weaker. Serf: 150 s. */
  readonly gravityRhoMs: number
  /** RTTs above this (or negative, or not finite) are refused. Serf: 10 s. */
  readonly maxRttMs: number
}

export const VIVALDI_DEFAULTS: VivaldiConfig = {
  dimensionality: 8,
  errorMax: 1.5,
  ce: 0.25,
  cc: 0.25,
  adjustmentWindow: 20,
  heightMinMs: 0.01,
  latencyFilterSize: 3,
  gravityRhoMs: 150_000,
  maxRttMs: 10_000,
}

/** Components beyond this (ms, ~17 minutes) cannot come from RTTs of at most 10 s: refused. */
export const MAX_COORDINATE_MS = 1_000_000

/** Serf's zero threshold, 1 µs, in ms: closer positions coincide; a smaller RTT counts as it. */
const ZERO_THRESHOLD_MS = 1e-3
/** Serf applies gravity in seconds: force = −(d/ρ)² s, which is 1000·(d/ρ)² ms. */
const MS_PER_SECOND = 1000

/** A fresh coordinate at the origin with the largest error. */
export function newCoordinate(config: Partial<VivaldiConfig> = {}): Coordinate {
  const c = { ...VIVALDI_DEFAULTS, ...config }
  return {
    vec: new Array<number>(c.dimensionality).fill(0),
    error: c.errorMax,
    adjustment: 0,
    height: c.heightMinMs,
  }
}

function isBounded(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && Math.abs(x) <= MAX_COORDINATE_MS
}

/** A well-formed coordinate of `dimensionality` dimensions with finite, bounded parts. */
export function isValidCoordinate(
  c: unknown,
  dimensionality = VIVALDI_DEFAULTS.dimensionality,
): c is Coordinate {
  if (typeof c !== 'object' || c === null) return false
  const x = c as Record<string, unknown>
  return (
    Array.isArray(x.vec) &&
    x.vec.length === dimensionality &&
    x.vec.every(isBounded) &&
    isBounded(x.error) &&
    x.error >= 0 &&
    isBounded(x.adjustment) &&
    isBounded(x.height) &&
    x.height >= 0
  )
}

/** A copy holding only a coordinate's fields. */
export function normalizeCoordinate(c: Coordinate): Coordinate {
  return { vec: [...c.vec], error: c.error, adjustment: c.adjustment, height: c.height }
}

function magnitude(vec: readonly number[]): number {
  let sum = 0
  for (const v of vec) sum += v * v
  return Math.sqrt(sum)
}

/** The Vivaldi distance without adjustments: |a − b| + both heights. */
function rawDistance(a: Coordinate, b: Coordinate): number {
  let sum = 0
  for (let i = 0; i < a.vec.length; i++) {
    const d = (a.vec[i] as number) - (b.vec[i] as number)
    sum += d * d
  }
  return Math.sqrt(sum) + a.height + b.height
}

/**
 * The estimated RTT between two coordinates, in ms: the Vivaldi distance plus both adjustment
 * terms, unless that would not be positive (then without them), as Serf's `DistanceTo`.
 * Throws a RangeError if their dimensions differ.
 */
export function distance(a: Coordinate, b: Coordinate): number {
  if (a.vec.length !== b.vec.length) {
    throw new RangeError(
      `coordinate dimensionality does not match: ${a.vec.length} vs ${b.vec.length}`,
    )
  }
  const raw = rawDistance(a, b)
  const adjusted = raw + a.adjustment + b.adjustment
  return adjusted > 0 ? adjusted : raw
}

/** A unit vector at `from` pointing away from `to` (random if they coincide), and the distance. */
function unitVectorAt(
  from: readonly number[],
  to: readonly number[],
  rng: Rng,
): { unit: number[]; mag: number } {
  const diff = from.map((v, i) => v - (to[i] as number))
  const mag = magnitude(diff)
  if (mag > ZERO_THRESHOLD_MS) return { unit: diff.map((v) => v / mag), mag }
  const random = diff.map(() => rng.next() - 0.5)
  const rmag = magnitude(random)
  if (rmag > 1e-6) return { unit: random.map((v) => v / rmag), mag: 0 }
  const axis = new Array<number>(from.length).fill(0)
  axis[0] = 1
  return { unit: axis, mag: 0 }
}

/** Moves `c` by `force` ms along the line from `other` (Serf's ApplyForce). */
function applyForce(
  c: Coordinate,
  force: number,
  other: Coordinate,
  config: VivaldiConfig,
  rng: Rng,
): Coordinate {
  const { unit, mag } = unitVectorAt(c.vec, other.vec, rng)
  let height = c.height
  if (mag > ZERO_THRESHOLD_MS) {
    height = Math.max(((c.height + other.height) * force) / mag + c.height, config.heightMinMs)
  }
  return {
    vec: c.vec.map((v, i) => v + (unit[i] as number) * force),
    error: c.error,
    adjustment: c.adjustment,
    height,
  }
}

/** The Vivaldi step proper: error update and spring force ([1], Serf's updateVivaldi). */
function vivaldiStep(
  local: Coordinate,
  remote: Coordinate,
  rttMs: number,
  config: VivaldiConfig,
  rng: Rng,
): Coordinate {
  const rtt = Math.max(rttMs, ZERO_THRESHOLD_MS)
  const dist = distance(local, remote)
  const wrongness = Math.abs(dist - rtt) / rtt
  const totalError = Math.max(local.error + remote.error, ZERO_THRESHOLD_MS)
  const weight = local.error / totalError
  const error = Math.min(
    config.ce * weight * wrongness + local.error * (1 - config.ce * weight),
    config.errorMax,
  )
  const force = config.cc * weight * (rtt - dist)
  return applyForce({ ...local, error }, force, remote, config, rng)
}

/** A small pull towards the origin, so the whole system does not drift ([2]). */
function gravity(c: Coordinate, config: VivaldiConfig, rng: Rng): Coordinate {
  const origin = newCoordinate(config)
  const ratio = distance(origin, c) / config.gravityRhoMs
  return applyForce(c, -MS_PER_SECOND * ratio * ratio, origin, config, rng)
}

function isUsableRtt(rttMs: unknown, config: VivaldiConfig): rttMs is number {
  return (
    typeof rttMs === 'number' && Number.isFinite(rttMs) && rttMs >= 0 && rttMs <= config.maxRttMs
  )
}

/**
 * One observation: `local` moves given `remote`'s coordinate and a measured RTT (ms). This is
 * Serf's update without the per-peer latency filter and the adjustment window (which need
 * memory across observations: `VivaldiClient` has both); `local.adjustment` is kept.
 * Invalid input — a malformed coordinate, a dimension mismatch, an RTT that is NaN, negative
 * or above `maxRttMs` — returns `local` itself, unchanged. `rng` is used only when two
 * coordinates coincide (at the start, all of them), to pick a direction.
 */
export function update(
  local: Coordinate,
  remote: Coordinate,
  rttMs: number,
  rng: Rng,
  config: Partial<VivaldiConfig> = {},
): Coordinate {
  const c = { ...VIVALDI_DEFAULTS, ...config }
  if (
    !isValidCoordinate(local, c.dimensionality) ||
    !isValidCoordinate(remote, c.dimensionality) ||
    !isUsableRtt(rttMs, c)
  ) {
    return local
  }
  const next = gravity(vivaldiStep(local, remote, rttMs, c, rng), c, rng)
  return isFinite(next) ? next : newCoordinate(c)
}

function isFinite(c: Coordinate): boolean {
  return (
    c.vec.every(Number.isFinite) &&
    Number.isFinite(c.error) &&
    Number.isFinite(c.adjustment) &&
    Number.isFinite(c.height)
  )
}

export interface VivaldiClientDeps {
  readonly rng: Rng
}

/**
 * The local peer's coordinate and what Serf's `Client` remembers to maintain it: the RTT
 * samples of each peer (median filter) and the adjustment window. Deterministic: the rng is
 * injected. Keeps samples for at most `maxPeers` peers, forgetting the longest unseen.
 */
export class VivaldiClient {
  readonly #config: VivaldiConfig
  readonly #rng: Rng
  readonly #maxPeers: number
  readonly #samples = new Map<string, number[]>()
  readonly #adjustments: number[]
  #adjustmentIndex = 0
  #coordinate: Coordinate
  #resets = 0

  constructor(
    deps: VivaldiClientDeps,
    config: Partial<VivaldiConfig> = {},
    options: { maxPeers?: number } = {},
  ) {
    this.#config = { ...VIVALDI_DEFAULTS, ...config }
    if (!Number.isInteger(this.#config.dimensionality) || this.#config.dimensionality < 1) {
      throw new RangeError('dimensionality must be a positive integer')
    }
    this.#rng = deps.rng
    this.#maxPeers = options.maxPeers ?? 10_000
    this.#adjustments = new Array<number>(this.#config.adjustmentWindow).fill(0)
    this.#coordinate = newCoordinate(this.#config)
  }

  get coordinate(): Coordinate {
    return this.#coordinate
  }

  get config(): Readonly<VivaldiConfig> {
    return this.#config
  }

  /** How many times the coordinate went invalid and was reset to the origin. */
  get resets(): number {
    return this.#resets
  }

  /** Forces the coordinate (e.g. restored after a restart); refuses an invalid one. */
  setCoordinate(c: Coordinate): boolean {
    if (!isValidCoordinate(c, this.#config.dimensionality)) return false
    this.#coordinate = normalizeCoordinate(c)
    return true
  }

  /**
   * Takes an RTT observation to `peerId`, whose coordinate is `remote`, and returns the new
   * local coordinate. Invalid input leaves the coordinate unchanged (and is not sampled).
   */
  update(peerId: string, remote: Coordinate, rttMs: number): Coordinate {
    const c = this.#config
    if (!isValidCoordinate(remote, c.dimensionality) || !isUsableRtt(rttMs, c)) {
      return this.#coordinate
    }
    const rtt = this.#filter(peerId, rttMs)
    let next = vivaldiStep(this.#coordinate, remote, rtt, c, this.#rng)
    next = this.#adjust(next, remote, rtt)
    next = gravity(next, c, this.#rng)
    if (!isFinite(next)) {
      this.#resets++
      next = newCoordinate(c)
    }
    this.#coordinate = next
    return next
  }

  /** Estimated RTT (ms) from the local coordinate to `remote`. */
  distanceTo(remote: Coordinate): number {
    return distance(this.#coordinate, remote)
  }

  /** Drops what is remembered about a peer (it left or died). */
  forget(peerId: string): void {
    this.#samples.delete(peerId)
  }

  /** The median of the peer's last `latencyFilterSize` samples, this one included. */
  #filter(peerId: string, rttMs: number): number {
    const samples = this.#samples.get(peerId) ?? []
    samples.push(rttMs)
    if (samples.length > this.#config.latencyFilterSize) samples.shift()
    this.#samples.delete(peerId)
    this.#samples.set(peerId, samples)
    if (this.#samples.size > this.#maxPeers) {
      const oldest = this.#samples.keys().next().value
      if (oldest !== undefined) this.#samples.delete(oldest)
    }
    const sorted = [...samples].sort((a, b) => a - b)
    return sorted[Math.floor(sorted.length / 2)] as number
  }

  /** The adjustment term: half the mean of the last samples of (rtt − raw distance) [3]. */
  #adjust(c: Coordinate, remote: Coordinate, rtt: number): Coordinate {
    const window = this.#config.adjustmentWindow
    if (window === 0) return c
    this.#adjustments[this.#adjustmentIndex] = rtt - rawDistance(c, remote)
    this.#adjustmentIndex = (this.#adjustmentIndex + 1) % window
    let sum = 0
    for (const sample of this.#adjustments) sum += sample
    return { ...c, adjustment: sum / (2 * window) }
  }
}
