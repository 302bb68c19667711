import { describe, expect, it } from 'vitest'
import { definitionsApi } from '../../src/definitions/definitions-api.js'
import type {
  ChoreographyDefinition,
  FunctionDefinition,
} from '../../src/definitions/definition-log.js'

const FN: FunctionDefinition = {
  owner: 'acme',
  name: 'f',
  version: 2,
  revision: 'r2',
  deployedAt: 1,
  runtime: 'nodejs',
  provider: 'mesh',
  memoryMb: 128,
  timeoutMs: 1000,
  concurrency: 1,
  digest: 'a'.repeat(64),
} as FunctionDefinition

function setup(leaving = false) {
  const calls: string[] = []
  const functions = new Map<string, FunctionDefinition>([['acme/f', FN]])
  const choreographies = new Map<string, ChoreographyDefinition>()
  const api = definitionsApi({
    leaving: () => leaving,
    definitions: {
      deployFunction: (owner, input) => {
        calls.push(`deploy ${owner}/${input.name}`)
        return Promise.resolve({ name: input.name, version: 1, revision: 'r1' })
      },
      deleteFunction: (owner, name) => {
        calls.push(`delete ${owner}/${name}`)
        return Promise.resolve({ name, version: 3 })
      },
      deployChoreography: (owner, name) => {
        calls.push(`deploy choreography ${owner}/${name}`)
        return Promise.resolve({ name, version: 1, revision: 'c1' })
      },
      deleteChoreography: (_owner, name) => Promise.resolve({ name, version: 2 }),
      getFunction: (owner, name) => functions.get(`${owner}/${name}`),
      listFunctions: (owner) => [...functions.values()].filter((f) => f.owner === owner),
      getChoreography: (owner, name) => choreographies.get(`${owner}/${name}`),
      listChoreographies: (owner) => [...choreographies.values()].filter((c) => c.owner === owner),
      owners: () => ['acme'],
    },
  })
  return { api, calls }
}

describe('the definitions API', () => {
  it('lists and shows an owner’s functions as views', async () => {
    const { api } = setup()
    await expect(api.functions('acme')).resolves.toEqual([
      expect.objectContaining({ name: 'f', version: 2, digest: 'a'.repeat(64) }),
    ])
    await expect(api.function('acme', 'f')).resolves.toMatchObject({ revision: 'r2' })
    await expect(api.choreographies('acme')).resolves.toEqual([])
  })

  it('answers unknown-owner, unknown-function and unknown-choreography as rejections', async () => {
    const { api, calls } = setup()
    await expect(api.functions('nobody')).rejects.toMatchObject({ code: 'unknown-owner' })
    await expect(api.function('acme', 'g')).rejects.toMatchObject({ code: 'unknown-function' })
    await expect(api.deleteFunction('acme', 'g')).rejects.toMatchObject({
      code: 'unknown-function',
    })
    await expect(api.choreography('acme', 'c')).rejects.toMatchObject({
      code: 'unknown-choreography',
    })
    await expect(api.deleteChoreography('acme', 'c')).rejects.toMatchObject({
      code: 'unknown-choreography',
    })
    expect(calls).toEqual([])
  })

  it('refuses an invalid choreography with every problem listed, deploying nothing', async () => {
    const { api, calls } = setup()
    const refused = api.deployChoreography({
      owner: 'acme',
      name: 'flow',
      definition: { type: 'sequence', steps: [{ type: 'task', fn: 'missing' }] },
    })
    await expect(refused).rejects.toMatchObject({
      code: 'bad-request',
      details: {
        errors: expect.arrayContaining([
          expect.objectContaining({ path: expect.any(String) as unknown }),
        ]) as unknown,
      },
    })
    expect(calls).toEqual([])
  })

  it('takes no deploys while the peer leaves', async () => {
    const { api, calls } = setup(true)
    await expect(
      api.deployFunction({ owner: 'acme', name: 'g', runtime: 'nodejs' }),
    ).rejects.toMatchObject({ code: 'shutting-down' })
    await expect(
      api.deployChoreography({ owner: 'acme', name: 'c', definition: {} }),
    ).rejects.toMatchObject({ code: 'shutting-down' })
    expect(calls).toEqual([])
  })

  it('deploys and deletes through the replicated definitions', async () => {
    const { api, calls } = setup()
    await expect(
      api.deployFunction({ owner: 'acme', name: 'g', runtime: 'process', command: ['node', 'x'] }),
    ).resolves.toEqual({ name: 'g', version: 1, revision: 'r1' })
    await expect(api.deleteFunction('acme', 'f')).resolves.toEqual({ name: 'f', version: 3 })
    expect(calls).toEqual(['deploy acme/g', 'delete acme/f'])
  })
})
