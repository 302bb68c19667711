/**
 * The router with fakes of its narrow components: a scripted directory and remote peers,
 * an in-memory scheduler host, a recording sleep, a fixed rng. No network, no real time.
 */
import { describe, expect, it } from 'vitest'
import { Activity } from '../../src/activity.js'
import { ChorusError } from '../../src/errors.js'
import { ROUTER_MESSAGES, Router, type RouterHost } from '../../src/mesh/router.js'
import type { DirectoryEntry } from '../../src/core/directory-table.js'
import { MetricsRegistry } from '../../src/observability/metrics.js'
import { declarePeerMetrics } from '../../src/observability/peer-metrics.js'
import { metricValue } from '../../../../test/support/metrics.js'
import type { InvocationView } from '../../src/peer-api.js'
import type { SubmitRequest } from '../../src/scheduling/scheduler-host.js'
import { ROUTER_METHODS } from '../../src/transport/protocols.js'
import { deferred } from '../deferred.js'

/** Peer ids in libp2p's base58 shape, so invocation ids name them. */
const SELF = `12D3KooW${'A'.repeat(44)}`
const OTHER = `12D3KooW${'B'.repeat(44)}`
const THIRD = `12D3KooW${'C'.repeat(44)}`

type Handler = (body: unknown, from: string) => unknown

class FakeChannels {
  readonly handlers = new Map<string, Handler>()
  readonly sent: { peer: string; method: string; body: unknown }[] = []
  /** How remote peers answer; a throw is their error answer. */
  answer: (peer: string, method: string, body: unknown) => unknown = () => {
    throw new ChorusError('peer-unreachable', 'nobody there')
  }

  handle(method: string, handler: Handler): void {
    this.handlers.set(method, handler)
  }

  unhandle(method: string): void {
    this.handlers.delete(method)
  }

  request(peer: string, method: string, body: unknown): Promise<unknown> {
    this.sent.push({ peer, method, body: structuredClone(body) })
    return Promise.resolve().then(() => this.answer(peer, method, body))
  }

  /** A request arriving from another peer. */
  call(method: string, body: unknown, from = OTHER): Promise<unknown> {
    const handler = this.handlers.get(method)
    if (!handler) return Promise.reject(new Error(`no handler for ${method}`))
    return Promise.resolve().then(() => handler(body, from))
  }
}

class FakeHost implements RouterHost {
  readonly hosted = new Map<string, { guid: string; epoch: number }>()
  readonly submitted: (SubmitRequest & { key: string })[] = []
  readonly recorded: InvocationView[] = []
  readonly statuses = new Map<string, InvocationView>()
  readonly drained: string[] = []
  /** How each submitted invocation ends: at once, by default, with its input echoed. */
  outcome: (request: SubmitRequest) => Promise<InvocationView> = (r) =>
    Promise.resolve({ id: r.id, status: 'succeeded', output: r.input, peerId: SELF })

  has(key: string): boolean {
    return this.hosted.has(key)
  }

  entry(key: string): { guid: string; epoch: number } | undefined {
    return this.hosted.get(key)
  }

  create(owner: string, provider: string, guid: string, epoch: number): void {
    this.hosted.set(`${owner}/${provider}`, { guid, epoch })
  }

  submit(key: string, request: SubmitRequest): { id: string; done: Promise<InvocationView> } {
    if (!this.hosted.has(key)) throw new ChorusError('not-responsible', `not ${key}`)
    this.submitted.push({ key, ...request })
    return { id: request.id, done: this.outcome(request) }
  }

  status(id: string): InvocationView | undefined {
    return this.statuses.get(id)
  }

  record(view: InvocationView): void {
    this.recorded.push(view)
  }

  drainInto(key: string): void {
    this.drained.push(key)
    this.hosted.delete(key)
  }
}

function setup(options: { live?: string[]; attempts?: number } = {}) {
  const channels = new FakeChannels()
  const host = new FakeHost()
  const claims: string[] = []
  const directory = {
    /** Who the directory names; a throw is the directory peer failing. */
    names: (_key: string): DirectoryEntry | Error => ({
      key: 'acme/builtin',
      guid: 'g1',
      peerId: SELF,
      epoch: 1,
    }),
    claim(key: string): Promise<DirectoryEntry> {
      claims.push(key)
      const named = this.names(key)
      return named instanceof Error ? Promise.reject(named) : Promise.resolve(named)
    },
    lookup(key: string): Promise<DirectoryEntry | undefined> {
      const named = this.names(key)
      return named instanceof Error ? Promise.reject(named) : Promise.resolve(named)
    },
  }
  const live = new Set(options.live ?? [SELF, OTHER, THIRD])
  const membership = { isLive: (id: string) => live.has(id), liveIds: () => [...live] }
  const registry = new MetricsRegistry()
  const metrics = declarePeerMetrics(registry, {
    schedulers: () => [],
    worker: () => ({ hosts: [], usedMb: 0 }),
    memberStates: () => [],
  })
  const sleeps: number[] = []
  const work = new Activity()
  let clock = 0
  const router = new Router(
    {
      selfId: SELF,
      channels,
      directory,
      host,
      membership,
      catchUp: { retry: (look) => Promise.resolve().then(look) },
      metrics,
      work,
      now: () => clock,
      sleep: (ms) => {
        sleeps.push(ms)
        clock += ms
        return Promise.resolve()
      },
      rng: () => 0.5,
    },
    options.attempts === undefined ? {} : { attempts: options.attempts },
  )
  router.start()
  return { router, channels, host, directory, claims, live, metrics, registry, sleeps, work }
}

const forwardedBody = (overrides: Record<string, unknown> = {}) => ({
  owner: 'acme',
  provider: 'builtin',
  fn: 'echo',
  id: `${OTHER}.00000001.0`,
  input: 'hi',
  priority: 1,
  wait: true,
  ...overrides,
})

describe('Router: an invocation entering here', () => {
  it('becomes responsible when the directory names this peer, serves it here and counts it', async () => {
    const { router, host, registry, claims } = setup()
    const view = await router.enter({ owner: 'acme', fn: 'echo', input: 'hi' }, 'builtin')
    expect(view).toMatchObject({ status: 'succeeded', output: 'hi', peerId: SELF })
    // Names its scheduler, then this peer, this boot (the rng gave 0.5), the first of it.
    expect(view.id).toBe(`acme~builtin~${SELF}.80000000.0`)
    expect(claims).toEqual(['acme/builtin'])
    expect(host.hosted.get('acme/builtin')).toEqual({ guid: 'g1', epoch: 1 })
    expect(host.submitted).toMatchObject([{ key: 'acme/builtin', fn: 'echo', priority: 1 }])
    expect(host.recorded).toEqual([view])
    expect(await count(registry, 'chorus_invocations_total', { status: 'succeeded' })).toBe(1)
    expect(await count(registry, 'chorus_forwards_total')).toBe(0)
  })

  it('forwards to the responsible the directory names, with its epoch, and remembers where', async () => {
    const { router, channels, directory, claims, registry } = setup()
    directory.names = (key) => ({ key, guid: 'g7', peerId: OTHER, epoch: 3 })
    channels.answer = (_peer, _method, body) => ({
      id: (body as { id: string }).id,
      status: 'succeeded',
      output: 42,
      peerId: OTHER,
    })
    const first = await router.enter({ owner: 'acme', fn: 'echo', input: 1 }, 'builtin')
    expect(first).toMatchObject({ status: 'succeeded', output: 42, peerId: OTHER })
    expect(channels.sent).toMatchObject([
      { peer: OTHER, method: ROUTER_METHODS.invoke, body: { owner: 'acme', epoch: 3, wait: true } },
    ])
    await router.enter({ owner: 'acme', fn: 'echo', input: 2 }, 'builtin')
    expect(claims).toHaveLength(1) // the second went where the first did
    expect(await count(registry, 'chorus_forwards_total')).toBe(2)
  })

  it('looks up again after not-responsible, backing off, and forgets the stale location', async () => {
    const { router, channels, directory, claims, sleeps } = setup()
    let named = OTHER
    directory.names = (key) => ({ key, guid: `g-${named}`, peerId: named, epoch: 1 })
    channels.answer = (peer, _method, body) => {
      if (peer === OTHER) {
        named = THIRD // responsibility moved
        throw new ChorusError('not-responsible', 'not me')
      }
      return { id: (body as { id: string }).id, status: 'succeeded', output: 'there' }
    }
    const view = await router.enter({ owner: 'acme', fn: 'echo' }, 'builtin')
    expect(view.output).toBe('there')
    expect(channels.sent.map((s) => s.peer)).toEqual([OTHER, THIRD])
    expect(claims).toHaveLength(2)
    expect(sleeps).toEqual([10])
  })

  it('follows an invocation its responsible handed off while the caller waited', async () => {
    const { router, channels, directory } = setup()
    let named = OTHER
    directory.names = (key) => ({ key, guid: 'g', peerId: named, epoch: 1 })
    channels.answer = (peer, _method, body) => {
      const id = (body as { id: string }).id
      if (peer === OTHER) {
        named = THIRD
        return { id, status: 'queued', peerId: THIRD }
      }
      return { id, status: 'succeeded', output: 'followed' }
    }
    await expect(router.enter({ owner: 'acme', fn: 'echo' }, 'builtin')).resolves.toMatchObject({
      status: 'succeeded',
      output: 'followed',
    })
  })

  it('passes an error that is not about responsibility straight through, counted as an error', async () => {
    const { router, channels, directory, registry } = setup()
    directory.names = (key) => ({ key, guid: 'g', peerId: OTHER, epoch: 1 })
    channels.answer = () => {
      throw new ChorusError('bad-request', 'sleep wants { ms }')
    }
    await expect(router.enter({ owner: 'acme', fn: 'sleep' }, 'builtin')).rejects.toMatchObject({
      code: 'bad-request',
    })
    expect(channels.sent).toHaveLength(1)
    expect(await count(registry, 'chorus_invocations_total', { status: 'error' })).toBe(1)
  })

  it('refuses with peer-unreachable after its attempts, naming the last failure', async () => {
    const { router, directory, sleeps } = setup({ attempts: 4 })
    directory.names = () => new ChorusError('timeout', 'the directory peer is silent')
    await expect(router.enter({ owner: 'acme', fn: 'echo' }, 'builtin')).rejects.toMatchObject({
      code: 'peer-unreachable',
      message: expect.stringMatching(/the directory peer is silent/) as unknown,
    })
    expect(sleeps).toEqual([10, 20, 40])
  })

  it('rejects an answer that is not an invocation view (and retries)', async () => {
    const { router, channels, directory } = setup({ attempts: 2 })
    directory.names = (key) => ({ key, guid: 'g', peerId: OTHER, epoch: 1 })
    channels.answer = () => ({ status: 'perhaps' })
    await expect(router.enter({ owner: 'acme', fn: 'echo' }, 'builtin')).rejects.toMatchObject({
      code: 'peer-unreachable',
      message: expect.stringMatching(/invoke\/1 answer/) as unknown,
    })
    expect(channels.sent).toHaveLength(2)
  })

  it('queues without waiting, then reports the outcome to the entry peer (and counts it as owed)', async () => {
    const { channels, host, work } = setup()
    host.create('acme', 'builtin', 'g1', 1)
    const done = deferred<InvocationView>()
    host.outcome = () => done.promise
    channels.answer = () => true
    const queued = await channels.call(ROUTER_METHODS.invoke, forwardedBody({ wait: false }))
    expect(queued).toEqual({ id: `${OTHER}.00000001.0`, status: 'queued', peerId: SELF })
    expect(work.pending).toBe(2) // the invocation, and its report
    const idle = work.idle()
    done.resolve({ id: `${OTHER}.00000001.0`, status: 'succeeded', output: 'hi' })
    await idle
    expect(channels.sent).toEqual([
      {
        peer: OTHER,
        method: ROUTER_METHODS.result,
        body: { id: `${OTHER}.00000001.0`, status: 'succeeded', output: 'hi' },
      },
    ])
  })
})

describe('Router: the invoke/1 handler', () => {
  it('serves what this peer hosts at the sender’s epoch', async () => {
    const { channels, host } = setup()
    host.create('acme', 'builtin', 'g1', 2)
    await expect(
      channels.call(ROUTER_METHODS.invoke, forwardedBody({ epoch: 2 })),
    ).resolves.toMatchObject({ status: 'succeeded', output: 'hi' })
  })

  it('refuses what it does not host, and another epoch, and changes nothing', async () => {
    const { channels, host } = setup()
    await expect(channels.call(ROUTER_METHODS.invoke, forwardedBody())).rejects.toMatchObject({
      code: 'not-responsible',
    })
    host.create('acme', 'builtin', 'g1', 2)
    await expect(
      channels.call(ROUTER_METHODS.invoke, forwardedBody({ epoch: 1 })),
    ).rejects.toMatchObject({ code: 'stale-epoch' })
    expect(host.submitted).toEqual([])
  })

  it('refuses an unknown builtin function', async () => {
    const { channels, host } = setup()
    host.create('acme', 'builtin', 'g1', 1)
    await expect(
      channels.call(ROUTER_METHODS.invoke, forwardedBody({ fn: 'rm-rf' })),
    ).rejects.toMatchObject({ code: 'unknown-function' })
    expect(host.submitted).toEqual([])
  })
})

describe('Router: status and results', () => {
  it('keeps a reported result only for invocations this peer named', async () => {
    const { channels, host } = setup()
    const mine = { id: `${SELF}.00000001.0`, status: 'succeeded', output: 1 }
    const theirs = { id: `${OTHER}.00000001.0`, status: 'succeeded', output: 2 }
    await expect(channels.call(ROUTER_METHODS.result, mine)).resolves.toBe(true)
    await expect(channels.call(ROUTER_METHODS.result, theirs)).resolves.toBe(true)
    expect(host.recorded).toEqual([mine])
  })

  it('finds an invocation at the responsible its directory names, asking nobody else', async () => {
    const { router, channels, directory } = setup()
    directory.names = (key) => ({ key, guid: 'g', peerId: OTHER, epoch: 1 })
    channels.answer = (_peer, _method, body) => ({
      id: (body as { id: string }).id,
      status: 'queued',
    })
    const queued = await router.enter({ owner: 'acme', fn: 'sleep', wait: false }, 'builtin')
    const asked: string[] = []
    channels.answer = (peer, method, body) => {
      asked.push(`${peer}:${method}`)
      return method === ROUTER_METHODS.localStatus && peer === OTHER
        ? { id: (body as { id: string }).id, status: 'running', peerId: OTHER }
        : null
    }
    await expect(router.find(queued.id)).resolves.toMatchObject({
      status: 'running',
      peerId: OTHER,
    })
    expect(asked).toEqual([`${OTHER}:${ROUTER_METHODS.localStatus}`])
    // The scheduler moved (a graceful leave): the directory names its new peer, which is asked.
    directory.names = (key) => ({ key, guid: 'g', peerId: THIRD, epoch: 2 })
    asked.length = 0
    channels.answer = (peer, _method, body) => {
      asked.push(peer)
      const { id } = body as { id: string }
      return peer === THIRD && id === queued.id ? { id, status: 'succeeded', output: 3 } : null
    }
    await expect(router.find(queued.id)).resolves.toMatchObject({ status: 'succeeded', output: 3 })
    expect(asked).toEqual([THIRD])
    await expect(router.find(`acme~builtin~${SELF}.ffffffff.9`)).resolves.toBeUndefined()
  })

  it('falls back to the copy the entry peer an id names keeps', async () => {
    const { router, channels, directory } = setup()
    directory.names = () => new Error('no directory peer answers')
    channels.answer = (peer, method, body) =>
      peer === OTHER && method === ROUTER_METHODS.localStatus
        ? { id: (body as { id: string }).id, status: 'succeeded' }
        : null
    await expect(router.find(`acme~builtin~${OTHER}.00000001.5`)).resolves.toMatchObject({
      status: 'succeeded',
    })
  })
})

describe('Router: merging and handing off', () => {
  it('merges a lost key into the winner: drains it and routes there from now on', async () => {
    const { router, channels, host, claims } = setup()
    host.create('acme', 'builtin', 'g1', 1)
    router.mergeInto('acme/builtin', { key: 'acme/builtin', guid: 'g0', peerId: OTHER, epoch: 1 })
    expect(host.drained).toEqual(['acme/builtin'])
    channels.answer = (_peer, _method, body) => ({
      id: (body as { id: string }).id,
      status: 'succeeded',
    })
    await router.enter({ owner: 'acme', fn: 'echo' }, 'builtin')
    expect(claims).toEqual([])
    expect(channels.sent[0]).toMatchObject({ peer: OTHER, method: ROUTER_METHODS.invoke })
  })

  it('hands a queued invocation to another peer with route/1, not waiting', async () => {
    const { router, channels } = setup()
    channels.answer = (_peer, _method, body) => ({
      id: (body as { id: string }).id,
      status: 'queued',
      peerId: THIRD,
    })
    const view = await router.handOff(OTHER, 'team/a/mesh', {
      id: 'i1',
      fn: 'f',
      input: null,
      priority: 0,
    })
    expect(view).toEqual({ id: 'i1', status: 'queued', peerId: THIRD })
    expect(channels.sent).toEqual([
      {
        peer: OTHER,
        method: ROUTER_METHODS.route,
        body: {
          owner: 'team/a',
          provider: 'mesh',
          id: 'i1',
          fn: 'f',
          input: null,
          priority: 0,
          wait: false,
        },
      },
    ])
  })
})

describe('Router: lifecycle', () => {
  it('answers its methods between start() and stop() only', () => {
    const { router, channels } = setup()
    expect([...channels.handlers.keys()].sort()).toEqual(Object.values(ROUTER_METHODS).sort())
    router.stop()
    expect(channels.handlers.size).toBe(0)
    router.start()
    expect(channels.handlers.size).toBe(Object.values(ROUTER_METHODS).length)
  })
})

describe('the router’s messages', () => {
  it.each([
    ['not an object', 'invoke'],
    ['null', null],
    ['no owner', { ...forwardedBody(), owner: undefined }],
    ['a numeric fn', forwardedBody({ fn: 7 })],
    ['priority 2', forwardedBody({ priority: 2 })],
    ['wait as a string', forwardedBody({ wait: 'yes' })],
    ['a string epoch', forwardedBody({ epoch: '3' })],
    ['a numeric idempotency key', forwardedBody({ idempotencyKey: 5 })],
  ])(
    'invoke/1 and route/1 refuse %s with protocol-error, and nothing is served',
    async (_what, body) => {
      const { channels, host } = setup()
      host.create('acme', 'builtin', 'g1', 1)
      for (const method of [ROUTER_METHODS.invoke, ROUTER_METHODS.route]) {
        await expect(channels.call(method, body)).rejects.toMatchObject({ code: 'protocol-error' })
      }
      expect(host.submitted).toEqual([])
    },
  )

  it.each([
    ['no id', { status: 'succeeded' }],
    ['a result that is not final', { id: `${SELF}.1.0`, status: 'running' }],
    ['an error that is a string', { id: `${SELF}.1.0`, status: 'failed', error: 'boom' }],
  ])('result/1 refuses %s with protocol-error, and records nothing', async (_what, body) => {
    const { channels, host } = setup()
    await expect(channels.call(ROUTER_METHODS.result, body)).rejects.toMatchObject({
      code: 'protocol-error',
    })
    expect(host.recorded).toEqual([])
  })

  it.each([
    ['no id', {}],
    ['an empty id', { id: '' }],
    ['a long id', { id: 'x'.repeat(601) }],
    ['a numeric id', { id: 5 }],
  ])('status/1 and status.local/1 refuse %s with bad-request', async (_what, body) => {
    const { channels } = setup()
    for (const method of [ROUTER_METHODS.status, ROUTER_METHODS.localStatus]) {
      await expect(channels.call(method, body)).rejects.toMatchObject({ code: 'bad-request' })
    }
  })

  it('keeps what a valid message carries, and drops fields it does not know', () => {
    const body = { ...forwardedBody({ idempotencyKey: 'k', epoch: 4 }), extra: 'dropped' }
    expect(ROUTER_MESSAGES.forwarded.parse(body)).toEqual(
      forwardedBody({ idempotencyKey: 'k', epoch: 4 }),
    )
  })

  it("carries a view's attempts and preemptions from peer to peer", () => {
    const view = { id: 'i1', status: 'succeeded', output: 1, attempts: 2, preemptions: 1 }
    expect(ROUTER_MESSAGES.view.parse(view)).toEqual(view)
    expect(ROUTER_MESSAGES.result.parse(view)).toEqual(view)
  })
})

async function count(
  registry: MetricsRegistry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return metricValue(await registry.text(), name, labels)
}
