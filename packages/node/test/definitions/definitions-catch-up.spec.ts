import { describe, expect, it } from 'vitest'
import { DefinitionsCatchUp } from '../../src/definitions/definitions-catch-up.js'
import { ChorusError } from '../../src/errors.js'

/** A peer's definitions that arrive only when it syncs with `holder`. */
function setup(options: { peers?: string[]; holder?: string; timeoutMs?: number } = {}) {
  const peers = options.peers ?? ['p1', 'p2']
  const holder = options.holder ?? 'p2'
  let clock = 0
  let known = false
  const synced: string[] = []
  const pending: (() => void)[] = []
  let hold = false
  const catchUp = new DefinitionsCatchUp({
    peers: () => peers,
    syncWith: (peer) => {
      synced.push(peer)
      const deliver = () => {
        if (peer === holder) known = true
      }
      if (peer === 'dead') return Promise.reject(new Error('unreachable'))
      if (peer === 'silent') return new Promise(() => {})
      if (hold) return new Promise<void>((resolve) => pending.push(() => (deliver(), resolve())))
      deliver()
      return Promise.resolve()
    },
    now: () => clock,
    everyMs: 1_000,
    timeoutMs: options.timeoutMs ?? 2_000,
  })
  catchUp.start()
  const look = () => {
    if (!known) throw new ChorusError('unknown-function', 'no function f for acme')
    return 'found'
  }
  return {
    catchUp,
    look,
    synced,
    pending,
    holdSyncs: () => (hold = true),
    advance: (ms: number) => (clock += ms),
    forget: () => (known = false),
  }
}

describe('DefinitionsCatchUp', () => {
  it('pulls the definitions from every other peer once, then looks again', async () => {
    const { catchUp, look, synced } = setup()
    await expect(catchUp.retry(look, 'unknown-function')).resolves.toBe('found')
    expect(synced).toEqual(['p1', 'p2'])
    await expect(catchUp.retry(look, 'unknown-function')).resolves.toBe('found')
    expect(synced).toHaveLength(2) // found at once: no catch-up
  })

  it('passes other failures through without syncing', async () => {
    const { catchUp, synced } = setup()
    const other = () => {
      throw new ChorusError('bad-request', 'bad input')
    }
    await expect(catchUp.retry(other, 'unknown-function')).rejects.toMatchObject({
      code: 'bad-request',
    })
    await expect(
      catchUp.retry(() => Promise.reject(new Error('boom')), 'unknown-function'),
    ).rejects.toThrow('boom')
    expect(synced).toEqual([])
  })

  it('answers unknown when the name is not anywhere, and catches up at most once a second', async () => {
    const { catchUp, synced, advance } = setup({ holder: 'nobody' })
    const missing = () => {
      throw new ChorusError('unknown-function', 'no function ghost for acme')
    }
    await expect(catchUp.retry(missing, 'unknown-function')).rejects.toThrow('ghost')
    expect(synced).toEqual(['p1', 'p2'])
    advance(999)
    await expect(catchUp.retry(missing, 'unknown-function')).rejects.toThrow('ghost')
    expect(synced).toHaveLength(2)
    advance(1)
    await expect(catchUp.retry(missing, 'unknown-function')).rejects.toThrow('ghost')
    expect(synced).toHaveLength(4)
  })

  it('shares one catch-up between concurrent misses', async () => {
    const { catchUp, look, synced, pending, holdSyncs } = setup()
    holdSyncs()
    const first = catchUp.retry(look, 'unknown-function')
    const second = catchUp.retry(look, 'unknown-function')
    // Let both misses reach the catch-up before the syncs answer.
    await new Promise((resolve) => setImmediate(resolve))
    expect(synced).toEqual(['p1', 'p2'])
    for (const answer of pending) answer()
    await expect(Promise.all([first, second])).resolves.toEqual(['found', 'found'])
    expect(synced).toHaveLength(2)
  })

  it('does not wait past its timeout for a silent peer, nor fail for a dead one', async () => {
    const { catchUp, look, synced } = setup({ peers: ['silent', 'dead', 'p2'], timeoutMs: 30 })
    await expect(catchUp.retry(look, 'unknown-function')).resolves.toBe('found')
    expect(synced).toEqual(['silent', 'dead', 'p2'])
  })

  it('catches up nothing once stopped: a miss is final', async () => {
    const { catchUp, look, synced } = setup()
    catchUp.stop()
    await expect(catchUp.retry(look, 'unknown-function')).rejects.toMatchObject({
      code: 'unknown-function',
    })
    expect(synced).toEqual([])
  })

  it('stopping ends a catch-up that waits for a silent peer at once', async () => {
    // A timeout no test would outlive: only stop() can end this wait.
    const { catchUp, look } = setup({ peers: ['silent'], timeoutMs: 3_600_000 })
    const waiting = catchUp.retry(look, 'unknown-function')
    await new Promise((resolve) => setImmediate(resolve))
    catchUp.stop()
    await expect(waiting).rejects.toMatchObject({ code: 'unknown-function' })
  })
})
