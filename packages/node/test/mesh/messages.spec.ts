/**
 * Every RPC message the mesh accepts is checked by its schema before anything reads it:
 * a malformed one is refused with a typed error (the sender's answer, or for a one-way
 * SWIM message, a refusal the channel logs) and changes nothing.
 */
import { describe, expect, it } from 'vitest'
import { DirectoryService } from '../../src/mesh/directory-service.js'
import { MeshMembership } from '../../src/mesh/mesh-membership.js'
import { MetricsRegistry } from '../../src/observability/metrics.js'
import type { ChorusLibp2p } from '../../src/transport/libp2p-host.js'
import {
  DIRECTORY_METHODS,
  RPC_METHODS,
  SWIM_METHODS,
  parseMethod,
} from '../../src/transport/protocols.js'

type Handler = (body: unknown, from: string) => unknown

class FakeChannels {
  readonly handlers = new Map<string, Handler>()
  readonly sent: { peer: string; method: string; body: unknown }[] = []
  handle(method: string, handler: Handler): void {
    this.handlers.set(method, handler)
  }
  unhandle(method: string): void {
    this.handlers.delete(method)
  }
  send(peer: string, method: string, body: unknown): void {
    this.sent.push({ peer, method, body })
  }
  sendTelling(peer: string, method: string, body: unknown): void {
    this.send(peer, method, body)
  }
  request(): Promise<unknown> {
    return Promise.reject(new Error('no network here'))
  }
  call(method: string, body: unknown, from = 'p1'): Promise<unknown> {
    const handler = this.handlers.get(method)
    if (!handler) return Promise.reject(new Error(`no handler for ${method}`))
    return Promise.resolve().then(() => handler(body, from))
  }
}

describe('protocol names', () => {
  it('every RPC method is <name>/<version>, and each is spoken by one protocol', () => {
    for (const method of RPC_METHODS) expect(parseMethod(method), method).toBeDefined()
    expect(new Set(RPC_METHODS).size).toBe(RPC_METHODS.length)
  })

  it.each(['invoke', 'invoke/', 'invoke/0', 'invoke/v1', '/chorus/invoke/1.0.0', 'Invoke/1'])(
    '%s is not a versioned method',
    (method) => expect(parseMethod(method)).toBeUndefined(),
  )

  it('splits a method into its name and version', () => {
    expect(parseMethod('status.local/12')).toEqual({ name: 'status.local', version: 12 })
  })
})

describe('the directory’s messages', () => {
  function directory() {
    const channels = new FakeChannels()
    const lost: string[] = []
    const service = new DirectoryService({
      channels,
      members: { selfId: 'self', liveIds: () => ['self'], isAlive: () => true },
      hosted: () => [{ key: 'acme/mesh', guid: 'g-mine', epoch: 1 }],
      onLost: (key) => lost.push(key),
      newGuid: () => 'g-new',
    })
    service.start()
    return { service, channels, lost }
  }
  const entry = { key: 'acme/mesh', guid: 'g-other', peerId: 'p1', epoch: 2 }

  it.each([
    ['not an object', 'acme/mesh'],
    ['no key', {}],
    ['an empty key', { key: '' }],
    ['a numeric key', { key: 7 }],
    ['a key over 300 characters', { key: 'k'.repeat(301) }],
  ])('dir.claim/1 refuses %s with bad-request, and claims nothing', async (_what, body) => {
    const { service, channels } = directory()
    await expect(channels.call(DIRECTORY_METHODS.claim, body)).rejects.toMatchObject({
      code: 'bad-request',
    })
    expect(service.entries()).toEqual([])
  })

  it.each([
    ['null', null],
    ['no guid', { ...entry, guid: undefined }],
    ['epoch 0', { ...entry, epoch: 0 }],
    ['a fractional epoch', { ...entry, epoch: 1.5 }],
    ['a numeric peer id', { ...entry, peerId: 3 }],
  ])(
    'dir.register/1, dir.release/1 and dir.lost/1 refuse %s with protocol-error',
    async (_what, body) => {
      const { service, channels, lost } = directory()
      for (const method of [
        DIRECTORY_METHODS.register,
        DIRECTORY_METHODS.release,
        DIRECTORY_METHODS.lost,
      ]) {
        await expect(channels.call(method, body)).rejects.toMatchObject({ code: 'protocol-error' })
      }
      expect(service.entries()).toEqual([])
      expect(lost).toEqual([])
    },
  )

  it('accepts the valid messages the malformed ones are made from', async () => {
    const { service, channels, lost } = directory()
    await expect(channels.call(DIRECTORY_METHODS.claim, { key: 'acme/mesh' })).resolves.toEqual({
      key: 'acme/mesh',
      guid: 'g-new',
      peerId: 'p1',
      epoch: 1,
    })
    await expect(channels.call(DIRECTORY_METHODS.register, entry)).resolves.toMatchObject({
      accepted: true,
    })
    expect(service.entries()).toEqual([entry])
    await expect(channels.call(DIRECTORY_METHODS.lost, entry)).resolves.toBe(true)
    expect(lost).toEqual(['acme/mesh'])
  })

  it('answers its methods between start() and stop() only', () => {
    const { service, channels } = directory()
    expect([...channels.handlers.keys()].sort()).toEqual(Object.values(DIRECTORY_METHODS).sort())
    service.stop()
    expect(channels.handlers.size).toBe(0)
  })
})

/** Just enough of a libp2p host for membership to start and stop. */
function fakeLibp2p(): ChorusLibp2p {
  const pubsub = {
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
    subscribe: () => undefined,
    unsubscribe: () => undefined,
    publish: () => Promise.resolve({ recipients: [] }),
  }
  return {
    peerId: { toString: () => 'self' },
    getMultiaddrs: () => [],
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
    services: { pubsub },
    peerStore: { merge: () => Promise.resolve() },
  } as unknown as ChorusLibp2p
}

describe('the SWIM messages', () => {
  async function membership() {
    const channels = new FakeChannels()
    const registry = new MetricsRegistry()
    const changes: string[] = []
    const m = new MeshMembership({
      libp2p: fakeLibp2p(),
      channels,
      metrics: {
        gossipBytes: registry.counter('gossip_bytes', 'bytes', {
          labelNames: ['direction', 'topic'],
        }),
      },
      emit: (event) => changes.push(event.type),
      onChange: () => changes.push('changed'),
      localLoad: () => ({ schedulers: [], worker: { capacityMb: 0, freeMb: 0, warmHosts: 0 } }),
      rng: () => 0.5,
    })
    await m.start()
    return { m, channels, changes }
  }
  const update = { kind: 'alive', id: 'p1', incarnation: 1, addrs: [] }

  it.each([
    [SWIM_METHODS.ping, { updates: [update] }],
    [SWIM_METHODS.ping, { probeId: -1, updates: [] }],
    [SWIM_METHODS.ping, { probeId: 1.5, updates: [] }],
    [SWIM_METHODS.ping, { probeId: 1, updates: 'all of them' }],
    [SWIM_METHODS.pingReq, { probeId: 1 }],
    [SWIM_METHODS.pingReq, { probeId: 1, target: '' }],
    [SWIM_METHODS.ack, { probeId: '1', updates: [] }],
    [SWIM_METHODS.nack, {}],
    [SWIM_METHODS.sync, { updates: [update] }],
    [SWIM_METHODS.sync, { updates: [update], reply: 'yes' }],
    [SWIM_METHODS.sync, null],
  ])('%s refuses %j with protocol-error, and the core hears nothing', async (method, body) => {
    const { m, channels, changes } = await membership()
    await expect(channels.call(method, body)).rejects.toMatchObject({ code: 'protocol-error' })
    expect(channels.sent).toEqual([])
    expect(changes).toEqual([])
    expect(m.peers().map((p) => p.peerId)).toEqual(['self'])
    await m.stop()
  })

  it('hands a valid ping to the core, which learns the member and acks', async () => {
    const { m, channels, changes } = await membership()
    await channels.call(SWIM_METHODS.ping, { probeId: 7, updates: [update] })
    expect(changes).toContain('member-joined')
    expect(
      m
        .peers()
        .map((p) => p.peerId)
        .sort(),
    ).toEqual(['p1', 'self'])
    expect(channels.sent).toContainEqual(
      expect.objectContaining({ peer: 'p1', method: SWIM_METHODS.ack }),
    )
    await m.stop()
  })

  it('answers the SWIM methods between start() and stop() only', async () => {
    const { m, channels } = await membership()
    expect([...channels.handlers.keys()].sort()).toEqual(Object.values(SWIM_METHODS).sort())
    await m.stop()
    expect(channels.handlers.size).toBe(0)
  })
})
