import { describe, expect, it } from 'vitest'
import { syncWorkers, type KnownWorker } from '../../src/scheduling/worker-sync.js'

describe('syncWorkers', () => {
  it('tells of new workers, their health and their memory', () => {
    const known = new Map<string, KnownWorker>()
    const events = syncWorkers(known, [
      { id: 'a', memoryMb: 512, state: 'alive' },
      { id: 'b', memoryMb: 256, state: 'suspect' },
    ])
    expect(events).toEqual([
      { type: 'worker-joined', workerId: 'a', memoryMb: 512 },
      { type: 'worker-joined', workerId: 'b', memoryMb: 256 },
      { type: 'worker-health', workerId: 'b', health: 'unresponsive' },
    ])
    expect(Object.fromEntries(known)).toEqual({
      a: { health: 'healthy', memoryMb: 512 },
      b: { health: 'unresponsive', memoryMb: 256 },
    })
  })

  it('says nothing when nothing changed', () => {
    const known = new Map<string, KnownWorker>()
    const offers = [{ id: 'a', memoryMb: 512, state: 'alive' as const }]
    syncWorkers(known, offers)
    expect(syncWorkers(known, offers)).toEqual([])
  })

  it('joins a worker again when its memory changed, then restores its health', () => {
    const known = new Map<string, KnownWorker>([['a', { health: 'unhealthy', memoryMb: 256 }]])
    expect(syncWorkers(known, [{ id: 'a', memoryMb: 1024, state: 'left' }])).toEqual([
      { type: 'worker-joined', workerId: 'a', memoryMb: 1024 },
      { type: 'worker-health', workerId: 'a', health: 'unhealthy' },
    ])
  })

  it('takes a worker no longer offered offline once, and revives it when it comes back', () => {
    const known = new Map<string, KnownWorker>()
    syncWorkers(known, [
      { id: 'a', memoryMb: 512, state: 'alive' },
      { id: 'b', memoryMb: 512, state: 'alive' },
    ])
    const gone = [{ id: 'a', memoryMb: 512, state: 'alive' as const }]
    expect(syncWorkers(known, gone)).toEqual([
      { type: 'worker-health', workerId: 'b', health: 'offline' },
    ])
    expect(syncWorkers(known, gone)).toEqual([])
    expect(
      syncWorkers(known, [...gone, { id: 'b', memoryMb: 512, state: 'alive' as const }]),
    ).toEqual([{ type: 'worker-joined', workerId: 'b', memoryMb: 512 }])
  })
})
