/**
 * The client SDK (`@chorus/node/client`) against a real peer on 127.0.0.1: deploy from files
 * and directories, call, submit and await functions and choreographies, and failures as
 * `ChorusClientError`.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChorusClientError, connect, type Mesh } from '../packages/node/src/client/index.js'
import { startMesh, stopAll, tempDir, waitFor, type TestPeer } from './support/mesh.js'

async function rejection(promise: Promise<unknown>): Promise<ChorusClientError> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(ChorusClientError)
    return err as ChorusClientError
  }
  throw new Error('expected a rejection')
}

describe('the client SDK against a real peer', () => {
  let peers: TestPeer[] = []
  let mesh: Mesh
  let dir: string

  beforeAll(async () => {
    peers = await startMesh(1)
    mesh = connect((peers[0] as TestPeer).httpUrl, { owner: 'sdk', poll: { initialMs: 5 } })
    dir = await tempDir('chorus-client-')
  }, 30_000)

  afterAll(async () => {
    await stopAll(peers)
  })

  it('deploys a module from a file, calls it, and submits and awaits it', async () => {
    const file = join(dir, 'double.mjs')
    await writeFile(
      file,
      'export default async (input, context) => ({ doubled: input.n * 2, id: context.invocationId })\n',
    )
    const deployed = await mesh.deploy('double', file, { timeoutMs: 10_000 })
    expect(deployed).toMatchObject({ name: 'double', version: 1 })
    expect(deployed.digest).toMatch(/^[0-9a-f]{64}$/)

    const double = mesh.fn<{ n: number }, { doubled: number; id: string }>('double')
    expect(await double({ n: 21 })).toMatchObject({ doubled: 42 })

    const job = await double.submit({ n: 5 })
    const result = await job.result({ timeoutMs: 15_000 })
    expect(result).toEqual({ doubled: 10, id: job.id })
    expect(await job.status()).toMatchObject({ id: job.id, status: 'succeeded' })
    // Any handle on the id sees the same invocation.
    expect(await mesh.invocation(job.id).result()).toEqual(result)

    expect(await mesh.functions()).toEqual([
      expect.objectContaining({ name: 'double', runtime: 'nodejs', timeoutMs: 10_000 }),
    ])
  }, 30_000)

  it('deploys a directory, packed on the way, with a package.json main', async () => {
    const app = join(dir, 'shout')
    await mkdir(join(app, 'lib'), { recursive: true })
    await writeFile(join(app, 'package.json'), JSON.stringify({ main: 'lib/index.mjs' }))
    await writeFile(
      join(app, 'lib', 'index.mjs'),
      "import { shout } from './shout.mjs'\nexport default async (input) => shout(input)\n",
    )
    await writeFile(join(app, 'lib', 'shout.mjs'), 'export const shout = (s) => `${s}!`\n')
    await mesh.deploy('shout', app)
    expect(await mesh.fn('shout')('hello')).toBe('hello!')
  }, 30_000)

  it("throws a ChorusClientError with the function's message when it fails", async () => {
    await mesh.deploy('boom', {
      code: "export default async () => { throw new Error('boom: no such widget') }",
    })
    const boom = mesh.fn('boom')
    const failed = await rejection(boom({}))
    expect(failed.message).toContain('boom: no such widget')
    expect(failed.status).toBeUndefined()
    expect(failed.invocationId).toEqual(expect.any(String))
    expect(failed.invocation).toMatchObject({ status: 'failed' })

    const job = await boom.submit({})
    const viaHandle = await rejection(job.result({ timeoutMs: 15_000 }))
    expect(viaHandle).toMatchObject({ invocationId: job.id })
    expect(viaHandle.message).toContain('boom: no such widget')

    // Errors the peer answers carry its code and status.
    const unknown = await rejection(mesh.fn('never-deployed')(1))
    expect(unknown).toMatchObject({ code: 'unknown-function', status: 404 })
    const invalid = await rejection(mesh.deploy('bad name!', { code: 'export default 1' }))
    expect(invalid).toMatchObject({ code: 'bad-request', status: 400 })
  }, 30_000)

  it('deploys a choreography, calls it, and shows where each step ran', async () => {
    await mesh.deploy('words', { code: "export default async (s) => s.split(' ')" })
    await mesh.deploy('len', { code: 'export default async (w) => w.length' })
    await mesh.deploy('total', {
      code: 'export default async (ns) => ns.reduce((a, b) => a + b, 0)',
    })
    await mesh.deploy('fail', { code: "export default async () => { throw new Error('no way') }" })
    const deployed = await mesh.deployChoreography('lengths', {
      sequence: [
        { name: 'split', function: 'words' },
        { map: { function: 'len' } },
        { parallel: [{ function: 'total' }, { function: 'len' }] },
      ],
    })
    expect(deployed).toMatchObject({ name: 'lengths', version: 1 })
    const lengths = mesh.choreography<string, [number, number]>('lengths')
    expect(await lengths('a bb ccc')).toEqual([6, 3])

    const run = await lengths.submit('dddd e')
    expect(await run.result({ timeoutMs: 15_000 })).toEqual([5, 2])
    const { trace } = await run.status()
    expect(trace).toMatchObject({ status: 'succeeded', root: { kind: 'sequence' } })
    const split = trace?.root.children?.[0]
    expect(split).toMatchObject({ name: 'split', fn: 'words', status: 'succeeded' })
    expect(split?.tasks?.[0]?.peerId).toBe((peers[0] as TestPeer).peerId)
    expect(await mesh.choreographies()).toEqual([
      expect.objectContaining({ name: 'lengths', version: 1 }),
    ])

    // A step that fails fails the run, with the function's message.
    await mesh.deployChoreography('doomed', {
      sequence: [{ function: 'words' }, { function: 'fail' }],
    })
    const failed = await rejection(mesh.choreography('doomed')('x y'))
    expect(failed.message).toContain('no way')
    expect(failed.invocation?.trace?.status).toBe('failed')

    // An invalid definition is refused with every problem listed.
    const invalid = await rejection(
      mesh.deployChoreography('broken', { sequence: [{ function: 'nope' }, { retries: 2 }] }),
    )
    expect(invalid).toMatchObject({ code: 'bad-request', status: 400 })
    expect(invalid.details?.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ code: 'unknown-function' })]),
    )
  }, 30_000)

  it('says which peer it could not reach', async () => {
    const closed = connect('http://127.0.0.1:1', { owner: 'sdk', timeoutMs: 5_000 })
    const unreachable = await rejection(closed.functions())
    expect(unreachable.code).toBe('peer-unreachable')
    expect(unreachable.message).toMatch(/^cannot reach http:\/\/127\.0\.0\.1:1\//)
  })

  it('sees the mesh', async () => {
    const seen = await waitFor('the peer to list itself', async () => {
      const { self, peers: members } = await mesh.peers()
      return members.some((m) => m.peerId === self) && self
    })
    expect(seen).toBe((peers[0] as TestPeer).peerId)
  })
})
