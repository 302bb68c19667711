import { describe, expect, it } from 'vitest'
import { hostFailureReason } from '../../src/function-host/index.js'
import type { AcquireResult, FunctionHost, WorkerHostPool } from '../../src/function-host/index.js'
import { SLOW, makePool, nodejs, pidAlive, rejection, waitFor } from './helpers.js'

const ECHO = 'export default async (input) => ({ echo: input, pid: process.pid })'
const SLEEP =
  'export default async (ms) => { await new Promise((r) => setTimeout(r, ms)); return ms }'
const CRASH =
  'export default async () => { setTimeout(() => process.exit(9), 5); return new Promise(() => {}) }'

function acquired(result: AcquireResult): { host: FunctionHost; cold: boolean } {
  if (result.type !== 'acquired') throw new Error(`expected a host, got busy: ${result.message}`)
  return result
}

function pids(pool: WorkerHostPool): (number | undefined)[] {
  return pool.stats().hosts.map((h) => h.pid)
}

describe('WorkerHostPool', SLOW, () => {
  it('cold-starts a host, then reuses it warm for the same function version', async () => {
    const pool = makePool({ memoryMb: 512 })
    const first = acquired(await pool.acquire('acme/echo@1', nodejs(ECHO)))
    expect(first.cold).toBe(true)
    expect(await first.host.run('a', { invocationId: 'i1', timeoutMs: 5_000 })).toEqual({
      echo: 'a',
      pid: first.host.pid,
    })
    expect(pool.stats().hosts).toEqual([
      expect.objectContaining({
        fnKey: 'acme/echo@1',
        busy: 1,
        starting: false,
        idleSinceMs: null,
      }),
    ])
    pool.release(first.host)
    expect(pool.stats().hosts[0]?.idleSinceMs).toBeGreaterThanOrEqual(0)

    const second = acquired(await pool.acquire('acme/echo@1', nodejs(ECHO)))
    expect(second).toEqual({ type: 'acquired', host: first.host, cold: false })
    pool.release(second.host)

    // another version of the function is another host
    const v2 = acquired(await pool.acquire('acme/echo@2', nodejs(ECHO)))
    expect(v2.cold).toBe(true)
    expect(v2.host).not.toBe(first.host)
    expect(pool.stats()).toMatchObject({ memoryMb: 512, usedMb: 256 })
  })

  it('gives each held slot of a concurrency-1 function its own host', async () => {
    const pool = makePool({ memoryMb: 512 })
    const a = acquired(await pool.acquire('f@1', nodejs(ECHO)))
    const b = acquired(await pool.acquire('f@1', nodejs(ECHO)))
    expect(b.cold).toBe(true)
    expect(b.host).not.toBe(a.host)
    expect(pool.stats().usedMb).toBe(256)
  })

  it('shares one starting host between concurrent acquires, up to its concurrency', async () => {
    const pool = makePool({ memoryMb: 512 })
    const spec = nodejs(SLEEP, { concurrency: 2 })
    const [a, b] = await Promise.all([pool.acquire('s@1', spec), pool.acquire('s@1', spec)])
    expect(acquired(a).host).toBe(acquired(b).host)
    expect(acquired(a).cold).toBe(true)
    expect(acquired(b).cold).toBe(true)
    expect(pool.stats().hosts).toEqual([expect.objectContaining({ busy: 2 })])
    const host = acquired(a).host
    const runs = [1, 2].map((i) => host.run(50, { invocationId: `s${i}`, timeoutMs: 5_000 }))
    expect(await Promise.all(runs)).toEqual([50, 50])
  })

  it('evicts the least recently used idle host when memory is needed', async () => {
    const pool = makePool({ memoryMb: 256 })
    const a = acquired(await pool.acquire('a@1', nodejs(ECHO)))
    pool.release(a.host)
    const b = acquired(await pool.acquire('b@1', nodejs(ECHO)))
    pool.release(b.host)
    // a is used again: b is now the least recently used
    pool.release(acquired(await pool.acquire('a@1', nodejs(ECHO))).host)

    const c = acquired(await pool.acquire('c@1', nodejs(ECHO)))
    expect(c.cold).toBe(true)
    expect(
      pool
        .stats()
        .hosts.map((h) => h.fnKey)
        .sort(),
    ).toEqual(['a@1', 'c@1'])
    expect(pool.stats().usedMb).toBe(256)
    expect(pidAlive(b.host.pid)).toBe(false)
    expect(b.host.alive).toBe(false)
    expect(a.host.alive).toBe(true)
  })

  it('answers busy, evicting nothing, when even idle hosts would not make room', async () => {
    const pool = makePool({ memoryMb: 300 })
    const held = acquired(await pool.acquire('held@1', nodejs(ECHO)))
    const idle = acquired(await pool.acquire('idle@1', nodejs(ECHO, { memoryMb: 64 })))
    pool.release(idle.host)

    const result = await pool.acquire('big@1', nodejs(ECHO, { memoryMb: 256 }))
    expect(result).toMatchObject({ type: 'busy', reason: 'no-memory' })
    expect(idle.host.alive).toBe(true) // not evicted for nothing
    expect(held.host.alive).toBe(true)
    expect(await pool.acquire('huge@1', nodejs(ECHO, { memoryMb: 4096 }))).toMatchObject({
      type: 'busy',
      reason: 'too-large',
    })

    pool.release(held.host)
    expect(acquired(await pool.acquire('big@1', nodejs(ECHO, { memoryMb: 256 }))).cold).toBe(true)
    expect(held.host.alive).toBe(false)
  })

  it('reaps hosts idle for idleTtlMs', async () => {
    const pool = makePool({ memoryMb: 256, idleTtlMs: 300 })
    const { host } = acquired(await pool.acquire('r@1', nodejs(ECHO)))
    pool.release(host)
    await waitFor('the idle host to be reaped', () => pool.stats().hosts.length === 0)
    await host.exited
    expect(pidAlive(host.pid)).toBe(false)
    expect(pool.stats().usedMb).toBe(0)
  })

  it('reaps on its injected clock', async () => {
    let now = 0
    const pool = makePool({ memoryMb: 256, idleTtlMs: 600_000, now: () => now })
    const { host } = acquired(await pool.acquire('r@1', nodejs(ECHO)))
    pool.release(host)
    now = 599_999
    expect(pool.reap()).toBe(0)
    expect(pool.stats().hosts).toEqual([expect.objectContaining({ idleSinceMs: 599_999 })])
    now = 600_000
    expect(pool.reap()).toBe(1)
    expect(pool.stats().hosts).toEqual([])
    await host.exited
  })

  it('forgets a host that crashed, and frees its memory', async () => {
    const pool = makePool({ memoryMb: 128 })
    const { host } = acquired(await pool.acquire('crash@1', nodejs(CRASH)))
    const err = await rejection(host.run(null, { invocationId: 'c1', timeoutMs: 5_000 }))
    expect(hostFailureReason(err)).toBe('host-crashed')
    pool.release(host)
    await waitFor('the pool to forget it', () => pool.stats().usedMb === 0)
    expect(acquired(await pool.acquire('crash@1', nodejs(CRASH))).host).not.toBe(host)
  })

  describe('hosts named by their scheduler', () => {
    it('runs a named dispatch on that host only, starting it under the name if it is not here', async () => {
      const pool = makePool({ memoryMb: 512 })
      const unnamed = acquired(await pool.acquire('n@1', nodejs(ECHO)))
      pool.release(unnamed.host)
      // A warm unnamed host of the same version is there, but the scheduler named another.
      const named = acquired(await pool.acquire('n@1', nodejs(ECHO), 'g1/h1'))
      expect(named.cold).toBe(true)
      expect(named.host).not.toBe(unnamed.host)
      pool.release(named.host)
      const again = acquired(await pool.acquire('n@1', nodejs(ECHO), 'g1/h1'))
      expect(again).toEqual({ type: 'acquired', host: named.host, cold: false })
      // Its slot is taken (concurrency 1): the named host answers busy, not another host.
      expect(await pool.acquire('n@1', nodejs(ECHO), 'g1/h1')).toMatchObject({
        type: 'busy',
        reason: 'host-busy',
      })
      // Unnamed acquires never take a named host.
      pool.release(again.host)
      const plain = acquired(await pool.acquire('n@1', nodejs(ECHO)))
      expect(plain.host).toBe(unnamed.host)
      expect(
        pool
          .stats()
          .hosts.map((h) => h.hostId)
          .sort(),
      ).toEqual(['g1/h1', undefined])
    })

    it('carries out the eviction its scheduler decided, unless an invocation holds the host', async () => {
      const gone: string[] = []
      const pool = makePool({ memoryMb: 512, onHostGone: (id) => gone.push(id) })
      const { host } = acquired(await pool.acquire('e@1', nodejs(ECHO), 'g1/h1'))
      expect(pool.evict('g1/h1')).toBe(false)
      pool.release(host)
      expect(pool.evict('g1/h1')).toBe(true)
      await host.exited
      expect(pool.stats().hosts).toEqual([])
      expect(pool.evict('g1/h1')).toBe(false)
      // The scheduler decided it: it is not told again.
      expect(gone).toEqual([])
    })

    it('tells the scheduler when a named host is reaped, exits, or is evicted for memory', async () => {
      const gone: [string, string][] = []
      let now = 0
      const pool = makePool({
        memoryMb: 256,
        idleTtlMs: 1_000,
        now: () => now,
        onHostGone: (id, reason) => gone.push([id, reason]),
      })
      const reaped = acquired(await pool.acquire('r@1', nodejs(ECHO), 'g1/h1'))
      pool.release(reaped.host)
      now = 1_000
      expect(pool.reap()).toBe(1)
      expect(gone).toEqual([['g1/h1', 'reaped']])

      const crashed = acquired(await pool.acquire('c@1', nodejs(CRASH), 'g1/h2'))
      await rejection(crashed.host.run(null, { invocationId: 'c1', timeoutMs: 5_000 }))
      pool.release(crashed.host)
      await waitFor('the crash to be told', () => gone.length === 2)
      expect(gone[1]).toEqual(['g1/h2', 'exited'])

      const idle = acquired(await pool.acquire('a@1', nodejs(ECHO), 'g2/h1'))
      pool.release(idle.host)
      acquired(await pool.acquire('b@1', { ...nodejs(ECHO), memoryMb: 256 }, 'g2/h2'))
      expect(gone[2]).toEqual(['g2/h1', 'evicted'])
      await pool.stop()
      expect(gone).toHaveLength(3)
    })
  })

  it('refuses a bad spec before it evicts anything', async () => {
    const pool = makePool({ memoryMb: 128 })
    const idle = acquired(await pool.acquire('idle@1', nodejs(ECHO)))
    pool.release(idle.host)
    const err = await rejection(pool.acquire('nan@1', nodejs(ECHO, { memoryMb: Number.NaN })))
    expect(err.message).toBe('function host spec: memoryMb must be an integer from 1 to 1048576')
    expect(idle.host.alive).toBe(true)
  })

  it('passes on a failed start, with its memory freed', async () => {
    const pool = makePool({ memoryMb: 128 })
    const err = await rejection(pool.acquire('bad@1', nodejs('export default {')))
    expect(hostFailureReason(err)).toBe('init-failed')
    expect(pool.stats()).toEqual({ memoryMb: 128, usedMb: 0, hosts: [] })
  })

  it('stops every host, and answers busy afterwards', async () => {
    const pool = makePool({ memoryMb: 512 })
    const a = acquired(await pool.acquire('a@1', nodejs(ECHO)))
    const b = acquired(await pool.acquire('b@1', nodejs(ECHO)))
    pool.release(b.host)
    const starting = pool.acquire('c@1', nodejs(ECHO))
    await pool.stop()
    expect(await starting).toMatchObject({ type: 'busy', reason: 'stopped' })
    expect(a.host.alive).toBe(false)
    expect(pidAlive(a.host.pid)).toBe(false)
    expect(pidAlive(b.host.pid)).toBe(false)
    expect(pids(pool)).toEqual([])
    expect(await pool.acquire('a@1', nodejs(ECHO))).toMatchObject({
      type: 'busy',
      reason: 'stopped',
    })
  })
})
