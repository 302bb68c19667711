/**
 * SchedulerHandover between two real SchedulerHosts (builtin provider), over an in-process
 * channel pair that copies every body as the wire would, with one DirectoryTable as the
 * key's directory: the scheduler moves under its GUID, at epoch + 1, with its queue and
 * ledger; a refused commit leaves it where it was; garbage is refused with the method named.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { DirectoryTable } from '../../src/core/directory-table.js'
import { asChorusError, ChorusError } from '../../src/errors.js'
import { SchedulerHandover } from '../../src/mesh/scheduler-handover.js'
import type { InvocationView } from '../../src/peer-api.js'
import { SchedulerHost, schedulerKey } from '../../src/scheduling/scheduler-host.js'
import { HANDOVER_METHODS } from '../../src/transport/protocols.js'
import { waitFor } from '../wait-for.js'

const OWNER = 'acme'
const KEY = schedulerKey(OWNER, 'builtin')
const A = '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const B = '12D3KooWBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'
const idOf = (n: number) => `${OWNER}~builtin~${A}.b.${n.toString(36)}`

type Handler = (body: unknown, from: string) => unknown

/** Peers' handlers by peer id; a request is answered by the other peer's handler. */
class Wire {
  readonly handlers = new Map<string, Map<string, Handler>>()
  readonly sent: { from: string; to: string; method: string }[] = []

  channels(self: string) {
    const mine = new Map<string, Handler>()
    this.handlers.set(self, mine)
    const deliver = async (to: string, method: string, body: unknown) => {
      this.sent.push({ from: self, to, method })
      const handler = this.handlers.get(to)?.get(method)
      if (!handler) throw new ChorusError('peer-unreachable', `${to} does not answer ${method}`)
      return JSON.parse(
        JSON.stringify(await handler(JSON.parse(JSON.stringify(body)) as unknown, self)),
      ) as unknown
    }
    return {
      handle: (method: string, handler: Handler) => void mine.set(method, handler),
      unhandle: (method: string) => void mine.delete(method),
      request: (to: string, method: string, body: unknown) => deliver(to, method, body),
      send: (to: string, method: string, body: unknown) => {
        deliver(to, method, body).catch(() => undefined)
      },
    }
  }
}

const stops: (() => void)[] = []
afterEach(() => {
  for (const stop of stops.splice(0)) stop()
})

/** Whom each commit was told is leaving (so not a directory any more). */
const commitsExcluding: string[] = []

function peer(self: string, wire: Wire, directory: DirectoryTable, refuseCommit = false) {
  const events: string[] = []
  const later: { handover?: SchedulerHandover } = {}
  const host = new SchedulerHost({
    selfId: self,
    workerMemoryMb: 1024,
    ownerLimit: 10,
    placement: 'warm-bounded',
    schedulerIdleMs: 600_000,
    now: () => performance.now(),
    emit: (event) => events.push(event.type),
    onDeallocated: () => undefined,
    workers: () => [{ id: self, memoryMb: 1024, state: 'alive' }],
    onResultAfterHandover: (to, key, result) => later.handover?.sendResult(to, key, result),
  })
  const handover = new SchedulerHandover({
    selfId: self,
    channels: wire.channels(self),
    directory: {
      commit: (entry, _timeoutMs, leaving) =>
        Promise.resolve(
          commitsExcluding.push(leaving ?? '-') && refuseCommit
            ? { committed: false as const, entry: directory.lookup(entry.key) }
            : directory.commit(entry.key, entry.guid, entry.epoch, entry.peerId),
        ),
    },
    host,
    catchUp: { retry: (look) => Promise.resolve(look()) },
  })
  later.handover = handover
  handover.start()
  stops.push(() => {
    handover.stop()
    host.stop()
  })
  return { host, handover, events }
}

const unused = (): Promise<InvocationView> => Promise.reject(new Error('no late invocations'))

function fill(host: SchedulerHost) {
  const running = Array.from({ length: 10 }, (_, i) =>
    host.submit(KEY, { id: idOf(i + 1), fn: 'sleep', input: { ms: 60 }, priority: 0 }),
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

describe('SchedulerHandover', () => {
  it('moves the scheduler under its GUID at epoch + 1, with its queue, keys and results', async () => {
    const wire = new Wire()
    const directory = new DirectoryTable()
    const a = peer(A, wire, directory)
    const b = peer(B, wire, directory)
    const { entry } = directory.claim(KEY, A, 'g1', () => true)
    a.host.create(OWNER, 'builtin', entry.guid, entry.epoch)
    const { running } = fill(a.host)

    commitsExcluding.length = 0
    expect(await a.handover.handOver(KEY, B, unused)).toBe(true)
    // A hands over as it leaves: B commits at the directory chosen without A.
    expect(commitsExcluding).toEqual([A])
    expect(directory.lookup(KEY)).toEqual({ key: KEY, guid: 'g1', peerId: B, epoch: 2 })
    expect(b.host.entries()).toEqual([{ key: KEY, guid: 'g1', epoch: 2 }])
    expect(a.host.has(KEY)).toBe(false)

    const retry = b.host.submit(KEY, {
      id: idOf(50),
      fn: 'echo',
      input: 'again',
      priority: 0,
      idempotencyKey: 'k',
    })
    expect(retry.id).toBe(idOf(11))
    expect(await retry.done).toMatchObject({ status: 'succeeded', output: 'q', peerId: B })
    // What ran at A finished there, and each result landed once in the moved ledger at B.
    for (const r of running) expect(await r.done).toMatchObject({ status: 'succeeded' })
    await waitFor('the results to follow', () =>
      running.every((r) => b.host.status(r.id)?.status === 'succeeded'),
    )
    expect(wire.sent.filter((s) => s.method === HANDOVER_METHODS.result)).toHaveLength(10)
    expect(b.host.ledgerOf(KEY)?.results).toHaveLength(11)
  })

  it('keeps the scheduler, dispatching again, when the directory refuses the commit', async () => {
    const wire = new Wire()
    const directory = new DirectoryTable()
    const a = peer(A, wire, directory)
    const b = peer(B, wire, directory, true)
    a.host.create(OWNER, 'builtin', 'g1', 1)
    const { queued } = fill(a.host)
    expect(await a.handover.handOver(KEY, B, unused)).toBe(false)
    expect(a.host.entries()).toEqual([{ key: KEY, guid: 'g1', epoch: 1 }])
    expect(b.host.entries()).toEqual([])
    expect(await queued.done).toMatchObject({ status: 'succeeded', output: 'q', peerId: A })
  })

  it('keeps the scheduler when the successor is gone', async () => {
    const wire = new Wire()
    const a = peer(A, wire, new DirectoryTable())
    a.host.create(OWNER, 'builtin', 'g1', 1)
    expect(await a.handover.handOver(KEY, 'nobody', unused)).toBe(false)
    expect(
      await a.host.submit(KEY, { id: idOf(1), fn: 'echo', input: 1, priority: 0 }).done,
    ).toMatchObject({ status: 'succeeded', peerId: A })
  })

  it('refuses malformed messages with the method named, and changes nothing', async () => {
    const wire = new Wire()
    const b = peer(B, wire, new DirectoryTable())
    const handlers = wire.handlers.get(B)
    const call = async (method: string, body: unknown) => {
      try {
        await handlers?.get(method)?.(body, A)
      } catch (err) {
        return asChorusError(err)
      }
      return undefined
    }
    for (const [method, body] of [
      [HANDOVER_METHODS.handover, { key: KEY }],
      [HANDOVER_METHODS.handover, 'garbage'],
      [HANDOVER_METHODS.result, { key: KEY, result: { id: 'x', status: 'maybe' } }],
      [
        HANDOVER_METHODS.absorb,
        { key: KEY, ledger: { format: 'chorus.ledger/0', keys: [], results: [] } },
      ],
    ] as const) {
      const err = await call(method, body)
      expect(err?.code).toBe('protocol-error')
      expect(err?.message.startsWith(`${method}:`)).toBe(true)
    }
    expect(b.host.entries()).toEqual([])
  })
})
