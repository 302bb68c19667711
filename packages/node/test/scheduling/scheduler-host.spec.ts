/**
 * SchedulerHost in-process: builtin and a fake provider on this peer's worker, a fake
 * remote for other peers' workers, the real OwnerScheduler and real (short) timers.
 */
import { performance } from 'node:perf_hooks'
import { afterEach, describe, expect, it } from 'vitest'
import { asChorusError } from '../../src/errors.js'
import type { InvocationView, PeerEvent } from '../../src/peer-api.js'
import type {
  DispatchEffect,
  ProviderLease,
  ProviderRuntime,
} from '../../src/scheduling/provider.js'
import type { ExecuteAnswer } from '../../src/scheduling/remote-worker.js'
import {
  SchedulerHost,
  schedulerKey,
  type SchedulerHostInit,
  type SubmitRequest,
  type WorkerOffer,
} from '../../src/scheduling/scheduler-host.js'
import { deferred, type Deferred } from '../deferred.js'
import { waitFor } from '../wait-for.js'

const SELF = 'peer-self'
const OTHER = 'peer-other'
const OWNER = 'acme'

/** A provider whose next acquires answer busy `busyTimes` times, then run `answer`. */
class FakeProvider implements ProviderRuntime {
  busyTimes = 0
  answer: (input: unknown) => unknown = (input) => input
  readonly acquired: DispatchEffect[] = []

  spec(_owner: string, fn: string) {
    return fn === 'missing' ? undefined : { name: fn, version: 'v1', memoryMb: 64 }
  }

  acquire(_owner: string, dispatch: DispatchEffect): Promise<ProviderLease> {
    this.acquired.push(dispatch)
    if (this.busyTimes > 0) {
      this.busyTimes--
      return Promise.resolve({ type: 'busy', message: 'no slot' })
    }
    return Promise.resolve({
      type: 'ready',
      run: (_index, _id, input) => Promise.resolve().then(() => this.answer(input)),
    })
  }
}

interface Setup {
  readonly host: SchedulerHost
  readonly provider: FakeProvider
  readonly events: PeerEvent[]
  readonly refused: string[]
  readonly executed: string[]
  readonly deallocated: string[]
  readonly sent: { worker: string; dispatch: DispatchEffect; answer: Deferred<ExecuteAnswer> }[]
  offers: WorkerOffer[]
}

const hosts: SchedulerHost[] = []
afterEach(() => {
  for (const host of hosts.splice(0)) host.stop()
})

function setup(init: Partial<SchedulerHostInit> = {}): Setup {
  const provider = new FakeProvider()
  const s: Setup = {
    provider,
    events: [],
    refused: [],
    executed: [],
    deallocated: [],
    sent: [],
    offers: [{ id: SELF, memoryMb: 1024, state: 'alive' }],
    host: undefined as never,
  }
  const host = new SchedulerHost({
    selfId: SELF,
    workerMemoryMb: 1024,
    ownerLimit: 10,
    placement: 'warm-bounded',
    schedulerIdleMs: 600_000,
    now: () => performance.now(),
    emit: (event) => s.events.push(event),
    onExecute: (fn) => s.executed.push(fn),
    onRefused: (worker) => s.refused.push(worker),
    onDeallocated: (key) => s.deallocated.push(key),
    providers: { fake: provider },
    meshWide: new Set(['fake']),
    workers: () => s.offers,
    remote: {
      dispatch: (worker, _owner, _provider, dispatch) => {
        const answer = deferred<ExecuteAnswer>()
        s.sent.push({ worker, dispatch, answer })
        return answer.promise
      },
    },
    ...init,
  })
  hosts.push(host)
  return Object.assign(s, { host })
}

const submit = (host: SchedulerHost, provider: string, fn: string, id: string, input?: unknown) =>
  host.submit(schedulerKey(OWNER, provider), { id, fn, input, priority: 0 })

describe('SchedulerHost', () => {
  it('runs builtin echo through the same path as every provider', async () => {
    const { host, events, executed } = setup()
    host.create(OWNER, 'builtin', 'g1', 1)
    expect(host.has('acme/builtin')).toBe(true)
    expect(host.entries()).toEqual([{ key: 'acme/builtin', guid: 'g1', epoch: 1 }])
    const { id, done } = submit(host, 'builtin', 'echo', 'i1', { hello: 'world' })
    expect(id).toBe('i1')
    expect(await done).toEqual({
      id: 'i1',
      status: 'succeeded',
      output: { hello: 'world' },
      peerId: SELF,
      attempts: 1,
      preemptions: 0,
    })
    expect(host.status('i1')).toEqual(await done)
    expect(executed).toEqual(['echo'])
    expect(events.map((e) => e.type)).toEqual(['scheduler-created'])
  })

  it('refuses a key it is not responsible for, and a function its provider does not have', () => {
    const { host } = setup()
    expect(codeOf(() => submit(host, 'builtin', 'echo', 'i1'))).toBe('not-responsible')
    host.create(OWNER, 'builtin', 'g1', 1)
    host.create(OWNER, 'fake', 'g2', 1)
    expect(codeOf(() => submit(host, 'builtin', 'resize', 'i2'))).toBe('unknown-function')
    expect(codeOf(() => submit(host, 'fake', 'missing', 'i3'))).toBe('unknown-function')
    expect(host.status('i2')).toBeUndefined()
  })

  it('gives the earlier invocation for an idempotency key or an id seen before', async () => {
    const { host, executed } = setup()
    host.create(OWNER, 'builtin', 'g1', 1)
    const key = schedulerKey(OWNER, 'builtin')
    const first = host.submit(key, {
      id: 'i1',
      fn: 'echo',
      input: 1,
      priority: 0,
      idempotencyKey: 'k',
    })
    const again = host.submit(key, {
      id: 'i2',
      fn: 'echo',
      input: 2,
      priority: 0,
      idempotencyKey: 'k',
    })
    expect(again.id).toBe('i1')
    expect(await again.done).toMatchObject({ id: 'i1', output: 1 })
    const sameId = host.submit(key, { id: 'i1', fn: 'echo', input: 3, priority: 0 })
    expect(await sameId.done).toEqual(await first.done)
    expect(executed).toEqual(['echo'])
  })

  it('walks on after a busy refusal: the backoff deadline fires and the retry runs', async () => {
    const { host, provider, refused } = setup({ meshWide: new Set() })
    provider.busyTimes = 1
    host.create(OWNER, 'fake', 'g1', 1)
    const view = await submit(host, 'fake', 'resize', 'i1', 'x').done
    expect(view).toMatchObject({ status: 'succeeded', output: 'x', peerId: SELF })
    expect(refused).toEqual([SELF])
    expect(provider.acquired).toHaveLength(2)
  })

  it('answers a remote dispatch like a local one, and counts no execution here', async () => {
    const s = setup()
    const { host, sent, executed, provider } = s
    provider.busyTimes = 1
    host.create(OWNER, 'fake', 'g1', 1)
    offerOther(s)
    const { done } = submit(host, 'fake', 'resize', 'i1', 'x')
    // This worker is busy: the walk goes on to the other peer's.
    await waitFor('a dispatch to the other peer', () => sent.length === 1)
    expect(sent[0]?.worker).toBe(OTHER)
    expect(host.status('i1')).toMatchObject({ status: 'running', peerId: OTHER })
    sent[0]?.answer.resolve({ type: 'done', outcomes: [{ status: 'succeeded', output: 'X' }] })
    expect(await done).toMatchObject({ status: 'succeeded', output: 'X', peerId: OTHER })
    expect(executed).toEqual([])
  })

  it('shows a preempted invocation going back to the queue: its attempts and preemptions', async () => {
    const { host, provider } = setup({ ownerLimit: 1, meshWide: new Set() })
    const gates = new Map<unknown, Deferred<unknown>>()
    provider.answer = (input) => {
      const gate = deferred<unknown>()
      gates.set(input, gate)
      return gate.promise
    }
    host.create(OWNER, 'fake', 'g1', 1)
    const key = schedulerKey(OWNER, 'fake')
    const low = host.submit(key, { id: 'low', fn: 'resize', input: 'low', priority: 1 })
    await waitFor('the low one to run', () => gates.has('low'))
    expect(host.status('low')).toMatchObject({ status: 'running', attempts: 1, preemptions: 0 })
    const high = host.submit(key, { id: 'high', fn: 'resize', input: 'high', priority: 0 })
    expect(host.status('low')).toMatchObject({ status: 'queued', attempts: 1, preemptions: 1 })
    await waitFor('the high one to run', () => gates.has('high'))
    gates.get('high')?.resolve('H')
    expect(await high.done).toMatchObject({ status: 'succeeded', attempts: 1, preemptions: 0 })
    // The low one starts over: its first attempt's gate is left hanging, a second one opens.
    gates.delete('low')
    await waitFor('the low one to run again', () => gates.has('low'))
    expect(host.status('low')).toMatchObject({ status: 'running', attempts: 2, preemptions: 1 })
    gates.get('low')?.resolve('L')
    expect(await low.done).toMatchObject({
      status: 'succeeded',
      output: 'L',
      attempts: 2,
      preemptions: 1,
    })
    expect(host.status('low')).toMatchObject({ attempts: 2, preemptions: 1 })
  })

  it('fails what ran on a worker that went offline as worker-lost', async () => {
    const s = setup()
    s.provider.busyTimes = 1
    s.host.create(OWNER, 'fake', 'g1', 1)
    offerOther(s)
    const { done } = submit(s.host, 'fake', 'resize', 'i1')
    await waitFor('a dispatch to the other peer', () => s.sent.length === 1)
    s.offers = [{ id: SELF, memoryMb: 1024, state: 'alive' }]
    s.host.workersChanged()
    expect(await done).toMatchObject({ status: 'failed', error: { code: 'worker-lost' } })
  })

  it('hands queued invocations to the new responsible when it drains, and then goes', async () => {
    const { host, events } = setup()
    host.create(OWNER, 'builtin', 'g1', 1)
    const running = submit(host, 'builtin', 'sleep', 'i1', { ms: 50 })
    const forwarded: string[] = []
    // The owner limit is 10: fill it so that one more waits in the queue.
    for (let i = 2; i <= 10; i++) submit(host, 'builtin', 'sleep', `i${i}`, { ms: 50 })
    const queued = submit(host, 'builtin', 'echo', 'i11', 'q')
    host.drainInto('acme/builtin', (request) => {
      forwarded.push(request.id)
      return Promise.resolve({ id: request.id, status: 'succeeded', output: 'there' })
    })
    expect(host.has('acme/builtin')).toBe(false)
    expect(forwarded).toEqual(['i11'])
    expect(await queued.done).toMatchObject({ id: 'i11', output: 'there' })
    expect(await running.done).toMatchObject({ status: 'succeeded' })
    await waitFor('the drained scheduler to go', () =>
      events.some((e) => e.type === 'scheduler-deallocated'),
    )
    expect(events.find((e) => e.type === 'scheduler-deallocated')).toMatchObject({
      reason: 'merged',
    })
  })

  it('frees a scheduler idle for schedulerIdleMs and tells the directory', async () => {
    const { host, deallocated, events } = setup({ schedulerIdleMs: 1 })
    host.create(OWNER, 'builtin', 'g1', 1)
    await submit(host, 'builtin', 'echo', 'i1').done
    await waitFor('the idle scheduler to be freed', () => deallocated.length === 1)
    expect(deallocated).toEqual(['acme/builtin'])
    expect(host.has('acme/builtin')).toBe(false)
    expect(events.at(-1)).toMatchObject({ type: 'scheduler-deallocated', reason: 'idle' })
    // Its results stay.
    expect(host.status('i1')).toMatchObject({ status: 'succeeded' })
  })

  it('fails every waiter when it stops', async () => {
    const { host } = setup()
    host.create(OWNER, 'builtin', 'g1', 1)
    const { done } = submit(host, 'builtin', 'sleep', 'i1', { ms: 60_000 })
    const other = host.wait('elsewhere')
    host.stop()
    const stopped = {
      status: 'failed',
      error: { code: 'shutting-down', message: 'the peer stopped' },
    }
    expect(await done).toEqual({ id: 'i1', ...stopped })
    expect(await other).toEqual({ id: 'elsewhere', ...stopped })
  })

  describe('handing a scheduler over under its GUID (graceful leave)', () => {
    const KEY = schedulerKey(OWNER, 'builtin')
    const PEER_A = '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
    const PEER_B = '12D3KooWBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'
    /** An id in the real format: it names its scheduler, so any ledger holding it is found. */
    const idOf = (n: number) => `${OWNER}~builtin~${PEER_A}.b.${n.toString(36)}`
    const peerHost = (selfId: string, init: Partial<SchedulerHostInit> = {}) =>
      setup({ selfId, workers: () => [{ id: selfId, memoryMb: 1024, state: 'alive' }], ...init })

    /** Fills the owner limit (10) with sleeps at `host`, then queues one keyed echo. */
    const fillAndQueue = (host: SchedulerHost) => {
      const running = Array.from({ length: 10 }, (_, i) =>
        host.submit(KEY, { id: idOf(i + 1), fn: 'sleep', input: { ms: 80 }, priority: 0 }),
      )
      const queued = host.submit(KEY, {
        id: idOf(11),
        fn: 'echo',
        input: 'q',
        priority: 0,
        idempotencyKey: 'k',
      })
      return { running, queued }
    }

    it('packages the queue with its keys, and the successor continues the same scheduler', async () => {
      const results: [string, string, string][] = []
      const a = peerHost(PEER_A, {
        onResultAfterHandover: (to, key, result) => results.push([to, key, result.id]),
      })
      const b = peerHost(PEER_B)
      a.host.create(OWNER, 'builtin', 'g1', 1)
      const { running, queued } = fillAndQueue(a.host)

      const pkg = a.host.beginHandover(KEY)
      expect(pkg).toMatchObject({
        key: KEY,
        owner: OWNER,
        provider: 'builtin',
        guid: 'g1',
        epoch: 1,
      })
      expect(pkg?.queued).toEqual([
        { id: idOf(11), fn: 'echo', input: 'q', priority: 0, idempotencyKey: 'k' },
      ])
      expect([...(pkg?.running ?? [])].sort()).toEqual(running.map((r) => r.id).sort())
      expect(pkg?.ledger.keys).toEqual([['k', idOf(11)]])
      if (pkg === undefined) return

      b.host.adopt(pkg, 2, PEER_A)
      expect(b.host.entries()).toEqual([{ key: KEY, guid: 'g1', epoch: 2 }])
      // A retry with the same key, through the successor, is the same invocation.
      const retry = b.host.submit(KEY, {
        id: idOf(99),
        fn: 'echo',
        input: 'again',
        priority: 0,
        idempotencyKey: 'k',
      })
      expect(retry.id).toBe(idOf(11))
      expect(await retry.done).toMatchObject({ id: idOf(11), status: 'succeeded', output: 'q' })
      // What runs at the source is known at the successor as running there.
      expect(b.host.status(idOf(1))).toEqual({ id: idOf(1), status: 'running', peerId: PEER_A })

      a.host.completeHandover(KEY, pkg, PEER_B, () => {
        throw new Error('nothing was queued since the package was made')
      })
      expect(a.host.has(KEY)).toBe(false)
      expect(await queued.done).toEqual({ id: idOf(11), status: 'queued', peerId: PEER_B })
      for (const r of running) expect(await r.done).toMatchObject({ status: 'succeeded' })
      // Each result that landed at the source follows to the successor's ledger, once.
      await waitFor('every running result to follow', () => results.length === 10)
      expect(new Set(results.map(([to, key]) => `${to} ${key}`))).toEqual(
        new Set([`${PEER_B} ${KEY}`]),
      )
      for (const r of running) {
        b.host.recordHandedOver(KEY, { id: r.id, status: 'succeeded', output: 'from-a' })
        b.host.recordHandedOver(KEY, {
          id: r.id,
          status: 'failed',
          error: { code: 'x', message: 'late' },
        })
        expect(b.host.status(r.id)).toEqual({ id: r.id, status: 'succeeded', output: 'from-a' })
      }
      expect(b.host.ledgerOf(KEY)?.results).toHaveLength(11)
    })

    it('dispatches nothing while handing over, and again when the handover is abandoned', async () => {
      const { host, executed } = peerHost(PEER_A)
      host.create(OWNER, 'builtin', 'g1', 1)
      const pkg = host.beginHandover(KEY)
      expect(pkg?.queued).toEqual([])
      const held = host.submit(KEY, { id: idOf(1), fn: 'echo', input: 1, priority: 0 })
      expect(host.status(idOf(1))).toMatchObject({ status: 'queued' })
      expect(executed).toEqual([])
      host.abortHandover(KEY)
      expect(await held.done).toMatchObject({ status: 'succeeded', output: 1 })
      expect(host.entries()).toEqual([{ key: KEY, guid: 'g1', epoch: 1 }])
    })

    it('refuses to adopt a key it hosts under another GUID', () => {
      const a = peerHost(PEER_A)
      const b = peerHost(PEER_B)
      a.host.create(OWNER, 'builtin', 'g1', 1)
      b.host.create(OWNER, 'builtin', 'g2', 1)
      const pkg = a.host.beginHandover(KEY)
      if (pkg === undefined) throw new Error('no package')
      expect(codeOf(() => b.host.adopt(pkg, 2, PEER_A))).toBe('stale-epoch')
      expect(b.host.entries()).toEqual([{ key: KEY, guid: 'g2', epoch: 1 }])
    })

    it('a drain hands queued invocations on with their idempotency keys', async () => {
      const { host } = peerHost(PEER_A)
      host.create(OWNER, 'builtin', 'g1', 1)
      const { queued } = fillAndQueue(host)
      const forwarded: SubmitRequest[] = []
      host.drainInto(KEY, (request) => {
        forwarded.push(request)
        return Promise.resolve({ id: request.id, status: 'succeeded', output: 'there' })
      })
      expect(forwarded).toEqual([
        { id: idOf(11), fn: 'echo', input: 'q', priority: 0, idempotencyKey: 'k' },
      ])
      expect(await queued.done).toMatchObject({ output: 'there' })
    })

    it('absorbs the ledger of a scheduler that lost a merge', async () => {
      const a = peerHost(PEER_A)
      const b = peerHost(PEER_B)
      a.host.create(OWNER, 'builtin', 'loser', 1)
      b.host.create(OWNER, 'builtin', 'winner', 1)
      await a.host.submit(KEY, {
        id: idOf(1),
        fn: 'echo',
        input: 1,
        priority: 0,
        idempotencyKey: 'k',
      }).done
      const ledger = a.host.ledgerOf(KEY)
      if (ledger === undefined) throw new Error('no ledger')
      expect(b.host.absorbLedger(KEY, ledger)).toBe(true)
      expect(
        b.host.submit(KEY, { id: idOf(2), fn: 'echo', input: 2, priority: 0, idempotencyKey: 'k' })
          .id,
      ).toBe(idOf(1))
      expect(b.host.status(idOf(1))).toMatchObject({ status: 'succeeded', output: 1 })
      expect(b.host.absorbLedger('nobody/builtin', ledger)).toBe(false)
    })

    it('runs a handed-on invocation whose key came ahead of it in an absorbed ledger', async () => {
      // A merge loser sends its ledger and forwards its queue separately: the ledger may
      // arrive first, naming the very invocation that follows. (Found by the simulator.)
      const a = peerHost(PEER_A)
      const b = peerHost(PEER_B)
      a.host.create(OWNER, 'builtin', 'loser', 1)
      b.host.create(OWNER, 'builtin', 'winner', 1)
      const { queued } = fillAndQueue(a.host)
      const ledger = a.host.ledgerOf(KEY)
      if (ledger === undefined) throw new Error('no ledger')
      b.host.absorbLedger(KEY, ledger)
      const handedOn = b.host.submit(KEY, {
        id: idOf(11),
        fn: 'echo',
        input: 'q',
        priority: 0,
        idempotencyKey: 'k',
      })
      expect(handedOn.id).toBe(idOf(11))
      expect(await handedOn.done).toMatchObject({ status: 'succeeded', output: 'q' })
      void queued.done.catch(() => undefined)
    })
  })

  it('records an outcome learned elsewhere, and only a final one', async () => {
    const { host } = setup()
    const view: InvocationView = { id: 'far', status: 'succeeded', output: 1, peerId: OTHER }
    host.record({ id: 'near', status: 'queued' })
    host.record(view)
    expect(await host.wait('far')).toEqual(view)
    expect(host.status('near')).toBeUndefined()
  })
})

/** The code of the ChorusError `fn` throws. */
function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return asChorusError(err).code
  }
  return undefined
}

/** Offers another peer's worker beside this one's. */
function offerOther(s: Setup): void {
  s.offers = [
    { id: SELF, memoryMb: 1024, state: 'alive' },
    { id: OTHER, memoryMb: 1024, state: 'alive' },
  ]
  s.host.workersChanged()
}
