/**
 * Keeping a scheduler's view of the workers current: the mesh offers workers (each alive,
 * suspect or left, with its memory), the scheduler knows the ones it was told of; the
 * difference is the events that bring it up to date. A worker no longer offered is
 * offline, and what it ran fails as `worker-lost`.
 */
import type { SchedulerEvent, WorkerHealth } from '@chorus/scheduler-core'

/** A peer's worker as the mesh sees it. */
export interface WorkerOffer {
  readonly id: string
  readonly memoryMb: number
  /**
   * `suspect` (maybe dead) and `left` (leaving gracefully) workers keep what they run but
   * get no new work; a worker no longer offered is offline: what it ran fails.
   */
  readonly state: 'alive' | 'suspect' | 'left'
}

/** A worker as a scheduler was last told of it. */
export interface KnownWorker {
  readonly health: WorkerHealth
  readonly memoryMb: number
}

const HEALTH_OF: Readonly<Record<WorkerOffer['state'], WorkerHealth>> = {
  alive: 'healthy',
  suspect: 'unresponsive',
  left: 'unhealthy',
}

/**
 * The events that tell a scheduler which knows `known` of `offers`, in order; `known` is
 * updated to what they tell it.
 */
export function syncWorkers(
  known: Map<string, KnownWorker>,
  offers: readonly WorkerOffer[],
): SchedulerEvent[] {
  const events: SchedulerEvent[] = []
  const seen = new Set<string>()
  for (const offer of offers) {
    seen.add(offer.id)
    const was = known.get(offer.id)
    let health: WorkerHealth = was?.health ?? 'offline'
    if (health === 'offline' || was?.memoryMb !== offer.memoryMb) {
      // Joining again updates the memory of a worker the scheduler knows, and revives it.
      events.push({ type: 'worker-joined', workerId: offer.id, memoryMb: offer.memoryMb })
      health = 'healthy'
    }
    const wanted = HEALTH_OF[offer.state]
    if (health !== wanted)
      events.push({ type: 'worker-health', workerId: offer.id, health: wanted })
    known.set(offer.id, { health: wanted, memoryMb: offer.memoryMb })
  }
  for (const [id, was] of known) {
    if (seen.has(id) || was.health === 'offline') continue
    events.push({ type: 'worker-health', workerId: id, health: 'offline' })
    known.set(id, { ...was, health: 'offline' })
  }
  return events
}
