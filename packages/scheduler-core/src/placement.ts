/**
 * Placement decisions over a read-only view of the workers. Deciding never changes
 * anything: the scheduler reserves the chosen worker as a separate step.
 */
import { randomUsableWorker, walkForWorker } from './openwhisk-placement.js'
import type { Rng } from './rng.js'

/**
 * `warm-bounded`: warm-aware with bounded load (default). `openwhisk`: the plain hash
 * walk. `random` and `least-loaded`: baselines the placement simulation compares against.
 */
export type PlacementPolicy = 'warm-bounded' | 'openwhisk' | 'random' | 'least-loaded'

export const PLACEMENT_POLICIES: readonly PlacementPolicy[] = [
  'warm-bounded',
  'openwhisk',
  'random',
  'least-loaded',
]

/** What placement may ask about the workers, by stable position. */
export interface PlacementView {
  readonly workerCount: number
  /** Workers that are Healthy and not backing off after a refusal. */
  readonly eligibleCount: number
  /** Invocations in flight on all workers. */
  readonly totalLoad: number
  isEligible(position: number): boolean
  /** Has a host of this function version with a free concurrency slot. */
  hasWarmSlot(position: number, fnKey: string): boolean
  /** Memory no host holds. */
  freeMb(position: number): number
  /** Memory free or held by idle hosts that could be evicted. */
  roomMb(position: number): number
  /** Invocations in flight there. */
  load(position: number): number
  /** How many workers have a free warm slot for this function version. */
  warmWorkerCount(fnKey: string): number
}

export interface PlacementRequest {
  readonly fnKey: string
  readonly memoryMb: number
  readonly home: number
  readonly step: number
}

export interface PlacementDecision {
  readonly position: number
  /** A warm host with a free slot is there: no cold start. */
  readonly warm: boolean
  /** Nothing fitted: placed by the fallback, the worker may go over its memory. */
  readonly overloaded: boolean
}

/** OpenWhisk's walk: the first eligible worker that fits, else a random eligible one. */
export function placeOpenWhisk(
  view: PlacementView,
  request: PlacementRequest,
  rng: Rng,
): PlacementDecision | undefined {
  const { fnKey, memoryMb } = request
  let warm = false
  const found = walkForWorker(view.workerCount, request.home, request.step, (i) => {
    if (!view.isEligible(i)) return false
    warm = view.hasWarmSlot(i, fnKey)
    return warm || view.roomMb(i) >= memoryMb
  })
  if (found >= 0) return { position: found, warm, overloaded: false }
  const random = randomUsableWorker(view.workerCount, (i) => view.isEligible(i), rng)
  if (random < 0) return undefined
  return { position: random, warm: view.hasWarmSlot(random, fnKey), overloaded: true }
}

/** The most invocations any worker may hold after this placement: ⌈(1+ε) × mean⌉. */
export function loadBound(view: PlacementView, epsilon: number): number {
  return Math.ceil(((1 + epsilon) * (view.totalLoad + 1)) / Math.max(1, view.eligibleCount))
}

/**
 * Warm-aware with bounded load, along the function's walk and never onto a worker already
 * at the load bound:
 * 1. a worker with a free slot on a warm host of the function (no cold start);
 * 2. a worker with free memory for a new host (a cold start that evicts nothing);
 * 3. a worker with room once idle hosts are evicted (a cold start that costs others' warmth);
 * 4. if nothing fits, the under-bound eligible worker with the most room (forced).
 */
export function placeWarmBounded(
  view: PlacementView,
  request: PlacementRequest,
  epsilon: number,
): PlacementDecision | undefined {
  if (view.eligibleCount === 0) return undefined
  const { fnKey, memoryMb, home, step } = request
  const count = view.workerCount
  const bound = loadBound(view, epsilon)
  // One pass, no closures: this runs once per dispatch.
  const lookForWarm = view.warmWorkerCount(fnKey) > 0
  let firstFree = -1
  let firstEvicting = -1
  let forced = -1
  let forcedRoom = Number.NEGATIVE_INFINITY
  for (let probe = 0, i = home; probe < count; probe++, i = (i + step) % count) {
    if (!view.isEligible(i) || view.load(i) >= bound) continue
    if (lookForWarm && view.hasWarmSlot(i, fnKey))
      return { position: i, warm: true, overloaded: false }
    if (view.freeMb(i) >= memoryMb) {
      // Nothing warm to look for: the first worker with free memory is the answer.
      if (!lookForWarm) return { position: i, warm: false, overloaded: false }
      if (firstFree < 0) firstFree = i
    } else {
      const room = view.roomMb(i)
      if (room >= memoryMb) {
        if (firstEvicting < 0) firstEvicting = i
      } else if (room > forcedRoom) {
        forced = i
        forcedRoom = room
      }
    }
  }
  if (firstFree >= 0) return { position: firstFree, warm: false, overloaded: false }
  if (firstEvicting >= 0) return { position: firstEvicting, warm: false, overloaded: false }
  if (forced >= 0) return { position: forced, warm: false, overloaded: true }
  return undefined
}

/** Baseline: a random eligible worker that fits (warm slot or room), else any eligible one. */
export function placeRandom(
  view: PlacementView,
  request: PlacementRequest,
  rng: Rng,
): PlacementDecision | undefined {
  const { fnKey, memoryMb } = request
  const fits = (i: number): boolean =>
    view.isEligible(i) && (view.hasWarmSlot(i, fnKey) || view.roomMb(i) >= memoryMb)
  let position = randomUsableWorker(view.workerCount, fits, rng)
  const overloaded = position < 0
  if (overloaded) position = randomUsableWorker(view.workerCount, (i) => view.isEligible(i), rng)
  if (position < 0) return undefined
  return { position, warm: view.hasWarmSlot(position, fnKey), overloaded }
}

/** Baseline: the eligible worker with the fewest invocations that fits, else the least loaded. */
export function placeLeastLoaded(
  view: PlacementView,
  request: PlacementRequest,
): PlacementDecision | undefined {
  const { fnKey, memoryMb } = request
  let fitting = -1
  let any = -1
  for (let i = 0; i < view.workerCount; i++) {
    if (!view.isEligible(i)) continue
    if (any < 0 || view.load(i) < view.load(any)) any = i
    const fits = view.hasWarmSlot(i, fnKey) || view.roomMb(i) >= memoryMb
    if (fits && (fitting < 0 || view.load(i) < view.load(fitting))) fitting = i
  }
  const position = fitting >= 0 ? fitting : any
  if (position < 0) return undefined
  return { position, warm: view.hasWarmSlot(position, fnKey), overloaded: fitting < 0 }
}
