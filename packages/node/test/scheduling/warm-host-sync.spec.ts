/**
 * WarmHostSync with fakes of its channels and pool: evictions go to the worker that has the
 * host, a host gone from the pool goes back to the peer whose scheduler named it, and
 * malformed messages are refused with the method named.
 */
import { describe, expect, it } from 'vitest'
import { asChorusError } from '../../src/errors.js'
import { WarmHostSync, hostLabel, parseHostLabel } from '../../src/scheduling/warm-host-sync.js'
import { WORKER_METHODS } from '../../src/transport/protocols.js'

type Handler = (body: unknown, from: string) => unknown

function setup(selfId = 'me') {
  const handlers = new Map<string, Handler>()
  const sent: { to: string; method: string; body: unknown }[] = []
  const evicted: string[] = []
  const lost: string[] = []
  const sync = new WarmHostSync({
    selfId,
    channels: {
      handle: (method, handler) => void handlers.set(method, handler),
      unhandle: (method) => void handlers.delete(method),
      send: (to, method, body) => void sent.push({ to, method, body }),
    },
    pool: { evict: (id) => evicted.push(id) > 0 },
    hostLost: (guid, hostId, reason) => lost.push(`${guid} ${hostId} ${reason}`),
  })
  sync.start()
  return { sync, handlers, sent, evicted, lost }
}

describe('host labels', () => {
  it('name the host of a scheduler across the mesh and split back at the GUID', () => {
    const label = hostLabel('9f1c-guid', '12D3KooWorker/h7')
    expect(parseHostLabel(label)).toEqual({ guid: '9f1c-guid', hostId: '12D3KooWorker/h7' })
    for (const bad of ['', 'no-slash', '/h1', 'g/']) expect(parseHostLabel(bad)).toBeUndefined()
  })
})

describe('WarmHostSync', () => {
  it('evicts here when the host is here, and tells the worker otherwise', () => {
    const { sync, sent, evicted } = setup()
    sync.evict('me', 'g/me/h1')
    sync.evict('w2', 'g/w2/h1')
    expect(evicted).toEqual(['g/me/h1'])
    expect(sent).toEqual([
      { to: 'w2', method: WORKER_METHODS.evictHost, body: { hostId: 'g/w2/h1' } },
    ])
  })

  it('sends a host that left the pool back to the peer that dispatched to it, once', () => {
    const { sync, sent, lost } = setup()
    sync.ranFor('g1/me/h1', 'scheduler-peer')
    sync.hostGone('g1/me/h1', 'reaped')
    expect(sent).toEqual([
      {
        to: 'scheduler-peer',
        method: WORKER_METHODS.hostGone,
        body: { hostId: 'g1/me/h1', reason: 'reaped' },
      },
    ])
    // Its own schedulers' hosts, and hosts whose sender it forgot, are told here.
    sync.hostGone('g1/me/h1', 'exited')
    sync.ranFor('g2/me/h1', 'me')
    sync.hostGone('g2/me/h1', 'evicted')
    expect(lost).toEqual(['g1 me/h1 exited', 'g2 me/h1 evicted'])
  })

  it('answers the messages of another peer, and refuses malformed ones', () => {
    const { handlers, evicted, lost } = setup()
    expect(handlers.get(WORKER_METHODS.evictHost)?.({ hostId: 'g/me/h1' }, 'p')).toBe(true)
    handlers.get(WORKER_METHODS.hostGone)?.({ hostId: 'g/w/h1', reason: 'reaped' }, 'w')
    expect(evicted).toEqual(['g/me/h1'])
    expect(lost).toEqual(['g w/h1 reaped'])
    for (const [method, body] of [
      [WORKER_METHODS.evictHost, { hostId: 7 }],
      [WORKER_METHODS.hostGone, { hostId: 'g/w/h1', reason: 'bored' }],
      [WORKER_METHODS.hostGone, 'garbage'],
    ] as const) {
      let err: unknown
      try {
        handlers.get(method)?.(body, 'p')
      } catch (e) {
        err = e
      }
      expect(asChorusError(err).message.startsWith(`${method}:`)).toBe(true)
    }
    expect(lost).toHaveLength(1)
  })

  it('stops answering once stopped', () => {
    const { sync, handlers } = setup()
    sync.stop()
    expect(handlers.size).toBe(0)
  })
})
