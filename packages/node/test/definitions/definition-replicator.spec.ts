import { randomBytes } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { sha256Hex } from '../../src/definitions/code-store.js'
import {
  CODE_FETCH_METHOD,
  DEFINITIONS_TOPIC,
  DEFS_SYNC_METHOD,
  definitionReplicator,
  type DefinitionChange,
  type DefinitionReplicator,
  type DefinitionReplicatorInit,
} from '../../src/definitions/definition-replicator.js'
import {
  CodeIntegrityError,
  CodeUnavailableError,
  DefinitionRejectedError,
} from '../../src/definitions/errors.js'
import { FakeBus } from './fake-bus.js'
import { tempDir, waitFor } from './support.js'
import { captureLines } from '../capture-log.js'

interface TestPeer {
  readonly id: string
  readonly dir: string
  readonly defs: DefinitionReplicator
  readonly lines: string[]
  readonly changes: DefinitionChange[]
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Quiet by default: anti-entropy runs only when a test asks for it. */
const QUIET: DefinitionReplicatorInit = { syncIntervalMs: 3_600_000 }

async function startPeer(
  bus: FakeBus,
  id: string,
  init: DefinitionReplicatorInit = QUIET,
  dir?: string,
): Promise<TestPeer> {
  let dataDir = dir
  if (!dataDir) {
    const temp = await tempDir()
    cleanups.push(temp.remove)
    dataDir = temp.dir
  }
  const { gossip, rpc } = bus.node(id)
  const { log, lines } = captureLines()
  const changes: DefinitionChange[] = []
  const defs = definitionReplicator(init)({
    peerId: id,
    dataDir,
    gossip,
    rpc,
    livePeers: () => bus.live(),
    log,
    onChange: (change) => changes.push(change),
  })
  await defs.start()
  cleanups.push(() => defs.stop())
  return { id, dir: dataDir, defs, lines, changes }
}

async function startPeers(
  bus: FakeBus,
  count: number,
  init: DefinitionReplicatorInit = QUIET,
): Promise<TestPeer[]> {
  const peers: TestPeer[] = []
  for (let i = 0; i < count; i++) peers.push(await startPeer(bus, `peer${'ABCDEFGH'[i]}`, init))
  await settle(peers)
  return peers
}

const js = (source: string): Uint8Array => new TextEncoder().encode(source)
const CODE = js('export default async (input) => ({ doubled: input * 2 })\n')

/** Everything a peer's definitions say, comparable across peers. */
function view(peer: TestPeer): unknown {
  return peer.defs.owners().map((owner) => ({
    owner,
    functions: peer.defs.listFunctions(owner),
    choreographies: peer.defs.listChoreographies(owner),
  }))
}

/** Lets the syncs peers start with finish: afterwards only what a test does sends requests. */
async function settle(peers: readonly TestPeer[]): Promise<void> {
  for (const p of peers) for (const q of peers) if (p !== q) await p.defs.syncWith(q.id)
}

async function allAgree(peers: readonly TestPeer[]): Promise<void> {
  await waitFor('every peer to hold the same definitions', () =>
    peers.every((p) => JSON.stringify(view(p)) === JSON.stringify(view(peers[0]!))),
  )
}

describe('DefinitionReplicator over an in-memory bus', () => {
  it('spreads a deploy to every peer by gossip', async () => {
    const bus = new FakeBus()
    const [a, b, c] = await startPeers(bus, 3)
    const syncsBefore = bus.requests.filter((r) => r.method === DEFS_SYNC_METHOD).length
    const result = await a!.defs.deployFunction(
      'acme',
      { name: 'images/double', runtime: 'nodejs', memoryMb: 256 },
      CODE,
    )
    expect(result).toEqual({
      name: 'images/double',
      version: 1,
      revision: expect.stringMatching(/^1\.[0-9a-f]{16}$/) as unknown,
      digest: sha256Hex(CODE),
    })
    for (const peer of [b!, c!]) {
      const fn = await waitFor(`${peer.id} to learn of the deploy`, () =>
        peer.defs.getFunction('acme', 'images/double'),
      )
      expect(fn).toEqual(a!.defs.getFunction('acme', 'images/double'))
      expect(fn).toMatchObject({
        version: 1,
        memoryMb: 256,
        origin: 'peerA',
        revision: result.revision,
      })
    }
    expect(bus.requests.filter((r) => r.method === DEFS_SYNC_METHOD)).toHaveLength(syncsBefore)
    expect(a!.changes.map((c) => c.source)).toEqual(['local'])
    // onChange follows the write to disk, a moment after the state changed.
    await waitFor('b to report the change', () => b!.changes.length > 0)
    expect(b!.changes.map((c) => c.source)).toEqual(['gossip'])
  })

  it('makes a new version on each deploy, and spreads deletes and choreographies', async () => {
    const bus = new FakeBus()
    const peers = await startPeers(bus, 3)
    const [a, b, c] = peers as [TestPeer, TestPeer, TestPeer]
    await a.defs.deployFunction('acme', { name: 'f', runtime: 'nodejs' }, CODE)
    await allAgree(peers)
    // Deploying at another peer continues the numbering.
    const second = await b.defs.deployFunction('acme', { name: 'f', runtime: 'nodejs' }, js('x'))
    expect(second.version).toBe(2)
    await waitFor('c to see version 2', () => c.defs.getFunction('acme', 'f')?.version === 2)
    await c.defs.deployChoreography('acme', 'pipe', { sequence: ['f', 'f'] })
    await waitFor('a to see the choreography', () => a.defs.getChoreography('acme', 'pipe'))
    const deleted = await a.defs.deleteFunction('acme', 'f')
    expect(deleted).toEqual({ name: 'f', version: 3 })
    await waitFor('b to see the delete', () => b.defs.getFunction('acme', 'f') === undefined)
    await allAgree(peers)
    expect(c.defs.listFunctions('acme')).toEqual([])
    expect(c.defs.listChoreographies('acme')).toMatchObject([
      { name: 'pipe', version: 1, definition: { sequence: ['f', 'f'] } },
    ])
    await c.defs.deleteChoreography('acme', 'pipe')
    await waitFor('a to see it gone', () => a.defs.owners().length === 0)
  })

  it('resolves concurrent deploys of one name to the same winner everywhere', async () => {
    const bus = new FakeBus()
    const peers = await startPeers(bus, 3)
    const [a, b, c] = peers as [TestPeer, TestPeer, TestPeer]
    await a.defs.deployFunction('acme', { name: 'f', runtime: 'nodejs' }, CODE)
    await allAgree(peers)
    bus.dropGossip = true
    const [fromA, fromB] = await Promise.all([
      a.defs.deployFunction('acme', { name: 'f', runtime: 'nodejs', memoryMb: 512 }, js('a')),
      b.defs.deployFunction('acme', { name: 'f', runtime: 'nodejs', memoryMb: 1024 }, js('b')),
    ])
    // Neither knew of the other: the same version number, told apart by revision.
    expect(fromA.version).toBe(2)
    expect(fromB.version).toBe(2)
    expect(fromA.revision).not.toBe(fromB.revision)
    bus.dropGossip = false
    for (const [x, y] of [
      [a, b],
      [b, a],
      [c, a],
      [c, b],
    ] as const) {
      await x.defs.syncWith(y.id)
    }
    await allAgree(peers)
    const winner = a.defs.getFunction('acme', 'f')!
    expect([fromA.revision, fromB.revision]).toContain(winner.revision)
    // The next deploy anywhere follows the winner.
    const third = await c.defs.deployFunction('acme', { name: 'f', runtime: 'nodejs' }, js('c'))
    expect(third.version).toBe(3)
  })

  it('brings a peer that missed the gossip up to date by anti-entropy', async () => {
    const bus = new FakeBus()
    const peers = await startPeers(bus, 3)
    const [a, , c] = peers as [TestPeer, TestPeer, TestPeer]
    bus.dropGossip = true
    for (const name of ['f1', 'f2', 'f3']) {
      await a.defs.deployFunction('acme', { name, runtime: 'process', command: ['./run'] })
    }
    await a.defs.deployChoreography('globex', 'c', { steps: [] })
    expect(c.defs.owners()).toEqual([])
    const report = await c.defs.syncWith(a.id)
    expect(report).toEqual({ peer: a.id, rounds: 1, applied: 4, complete: true })
    expect(view(c)).toEqual(view(a))
    expect(c.changes.map((change) => change.source)).toEqual(['sync', 'sync', 'sync', 'sync'])
    // Nothing more to learn: one round, nothing applied.
    expect(await c.defs.syncWith(a.id)).toMatchObject({ rounds: 1, applied: 0 })
  })

  it('runs anti-entropy on its own every few seconds', async () => {
    const bus = new FakeBus()
    bus.dropGossip = true
    const peers = await startPeers(bus, 3, { syncIntervalMs: 40 })
    await peers[0]!.defs.deployFunction('acme', { name: 'f', runtime: 'process', command: ['x'] })
    await peers[2]!.defs.deployChoreography('acme', 'c', { sequence: [] })
    await allAgree(peers)
    expect(peers[1]!.defs.getFunction('acme', 'f')).toBeDefined()
    expect(peers[1]!.defs.getChoreography('acme', 'c')).toBeDefined()
  })

  it('catches up a peer that joins late, within tight bounds on every message', async () => {
    const bus = new FakeBus()
    const tight: DefinitionReplicatorInit = {
      ...QUIET,
      maxSyncRounds: 100,
      sync: { maxOps: 2, maxBytes: 4096, maxDiffer: 1, maxKeys: 3 },
    }
    const [a, b] = (await startPeers(bus, 2, tight)) as [TestPeer, TestPeer]
    for (const owner of ['acme', 'globex', 'initech']) {
      for (const name of ['f1', 'f2', 'f3', 'f4', 'f5']) {
        await a.defs.deployFunction(owner, { name, runtime: 'process', command: [name] })
      }
    }
    await b.defs.deployChoreography('umbrella', 'c', [1, 2, 3])
    await allAgree([a, b])
    // A third peer starts: it syncs with one of them at once.
    const c = await startPeer(bus, 'peerC', tight)
    await allAgree([a, b, c])
    const syncs = bus.requests.filter((r) => r.method === DEFS_SYNC_METHOD && r.from === 'peerC')
    expect(syncs.length).toBeGreaterThan(5)
    // And the others notice it joined, and pull from it.
    await c.defs.deployChoreography('hooli', 'late', 1)
    bus.dropGossip = true
    await c.defs.deployChoreography('hooli', 'later', 2)
    a.defs.peersChanged()
    await waitFor('a to pull from the newcomer', () => a.defs.getChoreography('hooli', 'later'))
  })

  it('pulls from at most two of many peers that appear at once (a join storm dials nobody twice)', async () => {
    const bus = new FakeBus()
    const a = await startPeer(bus, 'peerA')
    const newcomers = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6']
    for (const id of newcomers) bus.node(id)
    const before = bus.requests.length
    a.defs.peersChanged()
    const pulls = bus.requests
      .slice(before)
      .filter((r) => r.method === DEFS_SYNC_METHOD && r.from === 'peerA')
    expect(pulls.length).toBe(2)
    expect(newcomers).toEqual(expect.arrayContaining(pulls.map((r) => r.to)))
    expect(new Set(pulls.map((r) => r.to)).size).toBe(2)
    // They are known now: the same set again pulls from nobody.
    a.defs.peersChanged()
    expect(bus.requests.length).toBe(before + 2)
  })

  it('keeps its definitions and code across a restart', async () => {
    const bus = new FakeBus()
    const a = await startPeer(bus, 'peerA')
    const { digest } = await a.defs.deployFunction('acme', { name: 'f', runtime: 'nodejs' }, CODE)
    await a.defs.deployChoreography('acme', 'c', { x: 1 })
    await a.defs.deleteChoreography('acme', 'c')
    const before = view(a)
    await a.defs.stop()
    const again = await startPeer(new FakeBus(), 'peerA', QUIET, a.dir)
    expect(view(again)).toEqual(before)
    expect(await again.defs.readCode(digest!)).toEqual(new Uint8Array(CODE))
    // The tombstone came back too: the next deploy of c is version 3.
    expect((await again.defs.deployChoreography('acme', 'c', 2)).version).toBe(3)
  })

  it('fetches code in chunks from the deploying peer first, and checks it', async () => {
    const bus = new FakeBus()
    const peers = await startPeers(bus, 4, { ...QUIET, chunkBytes: 1000 })
    const [, b, , d] = peers as [TestPeer, TestPeer, TestPeer, TestPeer]
    const code = randomBytes(10_500)
    const { digest } = await b.defs.deployFunction('acme', { name: 'big', runtime: 'nodejs' }, code)
    await allAgree(peers)
    const [path, again] = await Promise.all([d.defs.fetchCode(digest!), d.defs.fetchCode(digest!)])
    expect(again).toBe(path)
    expect(path).toBe(join(d.dir, 'code', 'sha256', digest!))
    expect((await readFile(path)).equals(code)).toBe(true)
    const fetches = bus.requests.filter((r) => r.method === CODE_FETCH_METHOD)
    expect(fetches).toHaveLength(11)
    expect(fetches.every((r) => r.from === d.id && r.to === b.id)).toBe(true)
    // Now it is here: no more requests.
    await d.defs.fetchCode(digest!)
    expect(bus.requests.filter((r) => r.method === CODE_FETCH_METHOD)).toHaveLength(11)
  })

  it('refuses tampered code and gets it from an honest peer', async () => {
    const bus = new FakeBus()
    const peers = await startPeers(bus, 3, { ...QUIET, chunkBytes: 100 })
    const [a, b, c] = peers as [TestPeer, TestPeer, TestPeer]
    const { digest } = await a.defs.deployFunction('acme', { name: 'f', runtime: 'nodejs' }, CODE)
    await b.defs.fetchCode(digest!)
    // From now on, whatever a serves is changed on the way.
    bus.tamper = (answer, request) => {
      if (request.method !== CODE_FETCH_METHOD || request.to !== a.id) return answer
      const chunk = answer as { data: string }
      const bytes = Buffer.from(chunk.data, 'base64')
      bytes[0] = bytes[0]! ^ 0xff
      return { ...chunk, data: bytes.toString('base64') }
    }
    const path = await c.defs.fetchCode(digest!, [a.id])
    expect(await readFile(path)).toEqual(Buffer.from(CODE))
    expect(c.lines.join('\n')).toMatch(
      /refused code from peerA: its sha256 is [0-9a-f]{64}, not the expected/,
    )
  })

  it('stores nothing when every peer serves tampered code, and says why', async () => {
    const bus = new FakeBus()
    const [a, b] = (await startPeers(bus, 2)) as [TestPeer, TestPeer]
    const { digest } = await a.defs.deployFunction('acme', { name: 'f', runtime: 'nodejs' }, CODE)
    bus.tamper = (answer, request) =>
      request.method === CODE_FETCH_METHOD
        ? { ...(answer as object), data: Buffer.from('evil').toString('base64'), size: 4 }
        : answer
    const err = await b.defs.fetchCode(digest!).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CodeUnavailableError)
    expect(err).toMatchObject({ code: 'not-found', digest, tried: ['peerA'] })
    expect((err as Error).message).toMatch(/refused code from peerA: its sha256 is/)
    expect(await b.defs.readCode(digest!)).toBeUndefined()
    expect(await readdir(join(b.dir, 'code', 'sha256'))).toEqual([])
    expect(await readdir(join(b.dir, 'code', 'tmp'))).toEqual([])
  })

  it('refuses code over its size limit, whoever offers it', async () => {
    const bus = new FakeBus()
    const a = await startPeer(bus, 'peerA')
    const b = await startPeer(bus, 'peerB', { ...QUIET, maxCodeBytes: 1000 })
    const { digest } = await a.defs.deployFunction(
      'acme',
      { name: 'f', runtime: 'nodejs' },
      randomBytes(5000),
    )
    await expect(b.defs.fetchCode(digest!)).rejects.toThrow(/exceeds the limit of 1000 bytes/)
    await expect(
      b.defs.deployFunction('acme', { name: 'g', runtime: 'nodejs' }, randomBytes(1001)),
    ).rejects.toMatchObject({ code: 'body-too-large' })
    expect(b.defs.getFunction('acme', 'g')).toBeUndefined()
  })

  it('says so when no peer has the code', async () => {
    const bus = new FakeBus()
    const [, b] = (await startPeers(bus, 2)) as [TestPeer, TestPeer]
    const err = await b.defs.fetchCode('c'.repeat(64)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CodeUnavailableError)
    expect((err as Error).message).toMatch(/peerA: no code c+ here/)
    await expect(b.defs.fetchCode('not-a-digest')).rejects.toMatchObject({ code: 'bad-request' })
  })

  it('deploys by digest code stored at another peer, and refuses a digest nobody has', async () => {
    const bus = new FakeBus()
    const [a, b] = (await startPeers(bus, 2)) as [TestPeer, TestPeer]
    const digest = await a.defs.putCode(CODE)
    const result = await b.defs.deployFunction('acme', { name: 'f', runtime: 'nodejs', digest })
    expect(result).toMatchObject({ version: 1, digest })
    expect(await b.defs.readCode(digest)).toEqual(new Uint8Array(CODE))
    await expect(
      b.defs.deployFunction('acme', { name: 'g', runtime: 'nodejs', digest: 'd'.repeat(64) }),
    ).rejects.toBeInstanceOf(CodeUnavailableError)
    expect(b.defs.getFunction('acme', 'g')).toBeUndefined()
  })

  describe('bad input changes nothing', () => {
    it.each([
      ['a bad name', { name: 'a//b', runtime: 'nodejs' }, 'bad-request', 'bad-name'],
      ['a bad owner', { name: 'f', runtime: 'nodejs', owner: '../x' }, 'bad-request', 'bad-name'],
      ['no runtime', { name: 'f' }, 'bad-request', 'malformed'],
      ['zero memory', { name: 'f', runtime: 'nodejs', memoryMb: 0 }, 'bad-request', 'malformed'],
    ])(
      'a deploy with %s is refused, and its code is not kept',
      async (_what, input, code, reason) => {
        const bus = new FakeBus()
        const [a, b] = (await startPeers(bus, 2)) as [TestPeer, TestPeer]
        const { owner = 'acme', ...fields } = input as { owner?: string; name: string }
        const err = await a.defs
          .deployFunction(
            owner,
            fields as Parameters<DefinitionReplicator['deployFunction']>[1],
            CODE,
          )
          .catch((e: unknown) => e)
        expect(err).toBeInstanceOf(DefinitionRejectedError)
        expect(err).toMatchObject({ code, reason })
        expect(await a.defs.readCode(sha256Hex(CODE))).toBeUndefined()
        expect(a.defs.owners()).toEqual([])
        await b.defs.syncWith(a.id)
        expect(b.defs.owners()).toEqual([])
      },
    )

    it('code that does not match the digest it came with is refused', async () => {
      const bus = new FakeBus()
      const a = await startPeer(bus, 'peerA')
      await expect(
        a.defs.deployFunction(
          'acme',
          { name: 'f', runtime: 'nodejs', digest: 'e'.repeat(64) },
          CODE,
        ),
      ).rejects.toBeInstanceOf(CodeIntegrityError)
      expect(a.defs.owners()).toEqual([])
    })

    it('deleting what does not exist is a not-found error', async () => {
      const a = await startPeer(new FakeBus(), 'peerA')
      await expect(a.defs.deleteFunction('acme', 'nope')).rejects.toMatchObject({
        code: 'unknown-function',
      })
      await expect(a.defs.deleteChoreography('acme', 'nope')).rejects.toMatchObject({
        code: 'unknown-choreography',
      })
    })

    it('garbage gossip is dropped', async () => {
      const bus = new FakeBus()
      const [a, b] = (await startPeers(bus, 2)) as [TestPeer, TestPeer]
      await a.defs.deployFunction('acme', { name: 'f', runtime: 'nodejs' }, CODE)
      await allAgree([a, b])
      const before = view(b)
      const rogue = bus.node('rogue')
      const enc = (v: unknown): Uint8Array => js(typeof v === 'string' ? v : JSON.stringify(v))
      for (const message of [
        'not json',
        { v: 2, ops: [] },
        { v: 1, ops: 'nope' },
        { v: 1, ops: Array.from({ length: 65 }, () => ({})) },
        { v: 1, ops: [{ kind: 'function', action: 'delete', owner: 'acme', name: 'f' }] },
        {
          v: 1,
          ops: [
            {
              kind: 'function',
              action: 'delete',
              owner: 'acme',
              name: 'f',
              version: 9,
              hlc: { wall: Date.now() + 3_600_000, counter: 0 },
              origin: 'rogue',
            },
          ],
        },
      ]) {
        await rogue.gossip.publish(DEFINITIONS_TOPIC, enc(message))
      }
      await waitFor('b to drop all six', () => b.lines.length >= 6)
      expect(view(b)).toEqual(before)
      expect(b.lines.join('\n')).toMatch(/not JSON[\s\S]*not a v1 message[\s\S]*clock-skew/)
    })

    it('garbage requests get error answers', async () => {
      const bus = new FakeBus()
      const a = await startPeer(bus, 'peerA')
      await a.defs.deployFunction('acme', { name: 'f', runtime: 'nodejs' }, CODE)
      const before = view(a)
      const rogue = bus.node('rogue')
      await expect(rogue.rpc.request('peerA', DEFS_SYNC_METHOD, 'hello')).rejects.toMatchObject({
        code: 'bad-request',
      })
      await expect(
        rogue.rpc.request('peerA', DEFS_SYNC_METHOD, { from: '', owners: { acme: 7 } }),
      ).rejects.toMatchObject({ code: 'bad-request' })
      for (const body of [
        null,
        { digest: '../../etc/passwd', offset: 0, length: 10 },
        { digest: sha256Hex(CODE), offset: -1, length: 10 },
        { digest: sha256Hex(CODE), offset: 0, length: 0 },
      ]) {
        await expect(rogue.rpc.request('peerA', CODE_FETCH_METHOD, body)).rejects.toMatchObject({
          code: 'bad-request',
        })
      }
      await expect(
        rogue.rpc.request('peerA', CODE_FETCH_METHOD, {
          digest: 'f'.repeat(64),
          offset: 0,
          length: 1,
        }),
      ).rejects.toMatchObject({ code: 'not-found' })
      // A huge length is served as at most one chunk.
      const chunk = (await rogue.rpc.request('peerA', CODE_FETCH_METHOD, {
        digest: sha256Hex(CODE),
        offset: 0,
        length: 1e12,
      })) as { size: number; data: string }
      expect(Buffer.from(chunk.data, 'base64')).toEqual(Buffer.from(CODE))
      expect(view(a)).toEqual(before)
    })

    it('a malformed sync answer fails the sync and changes nothing', async () => {
      const bus = new FakeBus()
      const [a, b] = (await startPeers(bus, 2)) as [TestPeer, TestPeer]
      bus.dropGossip = true
      await a.defs.deployFunction('acme', { name: 'f', runtime: 'nodejs' }, CODE)
      bus.tamper = (answer, request) =>
        request.method === DEFS_SYNC_METHOD
          ? { ...(answer as object), differ: ['../evil'] }
          : answer
      await expect(b.defs.syncWith(a.id)).rejects.toMatchObject({ code: 'protocol-error' })
      expect(b.defs.owners()).toEqual([])
    })
  })

  it('answers nothing once stopped', async () => {
    const bus = new FakeBus()
    const [a, b] = (await startPeers(bus, 2)) as [TestPeer, TestPeer]
    await a.defs.stop()
    await expect(b.defs.syncWith(a.id)).rejects.toMatchObject({ code: 'shutting-down' })
    await expect(
      a.defs.deployFunction('acme', { name: 'f', runtime: 'nodejs' }, CODE),
    ).rejects.toMatchObject({ code: 'shutting-down' })
  })
})
