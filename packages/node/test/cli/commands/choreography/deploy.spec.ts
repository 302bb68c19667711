/** `chorus choreography deploy`: files, their problems, and the peer's refusals. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChorusError } from '../../../../src/errors.js'
import type { HttpServer } from '../../../../src/http/http-api.js'
import type { FakePeerApi } from '../../../fake-peer-api.js'
import { run, startFakePeer, type Run } from '../../support.js'
import { INGEST, INGEST_YAML } from './fixtures.js'

let api: FakePeerApi
let server: HttpServer
let peer: string[]

beforeAll(async () => {
  ;({ api, server, peer } = await startFakePeer())
})

afterAll(async () => {
  await server.close()
})

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chorus-cli-choreography-'))
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, text)
  return path
}

/** Runs with `api.<impl>` replaced for the one run. */
async function withImpl<K extends 'deployChoreographyImpl' | 'invokeChoreographyImpl'>(
  key: K,
  impl: FakePeerApi[K],
  argv: string[],
): Promise<Run> {
  const saved = api[key]
  api[key] = impl
  try {
    return await run(argv)
  } finally {
    api[key] = saved
  }
}

describe('chorus choreography', () => {
  describe('deploy', () => {
    it('deploys a YAML file and prints the name, version and revision', async () => {
      const path = await file('ingest.yaml', INGEST_YAML)
      const { code, stdout, stderr } = await run(['choreography', 'deploy', 'yaml', path, ...peer])
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
      expect(api.choreographyDeploys.at(-1)).toEqual({
        owner: 'yaml',
        name: 'ingest',
        definition: INGEST,
      })
      expect(stdout).toBe(
        'choreography  yaml/ingest\nversion       1\nrevision      1.00000000000000c0\n',
      )
      const again = await run(['choreography', 'deploy', 'yaml', path, '--json', ...peer])
      expect(JSON.parse(again.stdout)).toEqual({
        name: 'ingest',
        version: 2,
        revision: '2.00000000000000c0',
      })
    })

    it('deploys a JSON file under the name --name gives', async () => {
      const path = await file('ingest.json', JSON.stringify({ name: 'ingest', definition: INGEST }))
      const { code } = await run([
        'choreography',
        'deploy',
        'json',
        path,
        '--name',
        'ingest-canary',
        ...peer,
      ])
      expect(code).toBe(0)
      expect(api.choreographyDeploys.at(-1)).toEqual({
        owner: 'json',
        name: 'ingest-canary',
        definition: INGEST,
      })
    })

    it('exits 1 on a JSON syntax error, naming the file, line and column', async () => {
      const path = await file(
        'broken.json',
        '{\n  "name": "ingest",\n  "definition": { "function": "classify" },,\n}\n',
      )
      const before = api.choreographyDeploys.length
      const { code, stdout, stderr } = await run(['choreography', 'deploy', 'acme', path, ...peer])
      expect({ code, stdout }).toEqual({ code: 1, stdout: '' })
      expect(stderr).toMatch(
        new RegExp(`^chorus choreography deploy: ${path}: bad JSON: .*\\(line 3, column 44\\)\\n$`),
      )
      expect(api.choreographyDeploys).toHaveLength(before)
    })

    it('prints every problem of an invalid definition on its own line, and exits 1', async () => {
      const path = await file('invalid.yaml', INGEST_YAML)
      const errors = [
        { path: '/definition/sequence/0/function', code: 'unknown-function', message: 'no f' },
        { path: '/definition/sequence/1/retires', code: 'unknown-field', message: 'unknown' },
      ]
      const { code, stdout, stderr } = await withImpl(
        'deployChoreographyImpl',
        () => Promise.reject(new ChorusError('bad-request', 'not valid', { errors })),
        ['choreography', 'deploy', 'acme', path, ...peer],
      )
      expect({ code, stdout }).toEqual({ code: 1, stdout: '' })
      expect(stderr).toBe(
        [
          `chorus choreography deploy: ${path}: choreography ingest is not valid, 2 problems ` +
            `(bad-request, HTTP 400 from ${server.url}):`,
          '  /definition/sequence/0/function: no f',
          '  /definition/sequence/1/retires: unknown',
          '',
        ].join('\n'),
      )
    })

    it('prints a 400 without details as any error answer', async () => {
      const path = await file('plain.yaml', INGEST_YAML)
      const { code, stderr } = await withImpl(
        'deployChoreographyImpl',
        () => Promise.reject(new ChorusError('bad-request', 'too many choreographies')),
        ['choreography', 'deploy', 'acme', path, ...peer],
      )
      expect(code).toBe(1)
      expect(stderr).toBe(
        `chorus choreography deploy: too many choreographies (bad-request, HTTP 400 from ${server.url})\n`,
      )
    })

    it.each([
      ['no-name.yaml', 'definition: { function: f }\n', 'has no "name": add one, or give --name'],
      ['list.yaml', '- name: x\n', 'must hold an object with "name" and "definition"'],
      ['extra.yaml', 'name: x\nversion: 2\ndefinition: {}\n', 'unknown field "version"'],
      ['no-def.yaml', 'name: x\n', 'has no "definition"'],
      ['bad-name.yaml', 'name: a/b\ndefinition: {}\n', 'choreography name "a/b" may only'],
      ['number-name.yaml', 'name: 7\ndefinition: {}\n', '"name" must be a string'],
      ['empty.yaml', '\n', 'choreography text is empty'],
      ['tab.yaml', 'name: x\ndefinition:\n\t- a\n', 'bad YAML'],
    ])('exits 1 when %s does not hold a choreography', async (name, text, message) => {
      const path = await file(name, text)
      const before = api.choreographyDeploys.length
      const { code, stderr } = await run(['choreography', 'deploy', 'acme', path, ...peer])
      expect(code).toBe(1)
      expect(stderr).toContain(`chorus choreography deploy: ${path}`)
      expect(stderr).toContain(message)
      expect(stderr.split('\n')).toHaveLength(2)
      expect(api.choreographyDeploys).toHaveLength(before)
    })

    it.each([
      [['acme'], 'expected <owner> <file>, got 1 argument(s)'],
      [
        ['acme/ingest', 'x.yaml'],
        'expected <owner> <file>, got "acme/ingest": the name comes from the file, or from --name',
      ],
      [['ac me', 'x.yaml'], 'owner "ac me" may only contain'],
      [['acme', 'x.yaml', '--name', 'a/b'], '--name: choreography name "a/b" may only'],
      [['acme', '/nonexistent/x.yaml'], 'cannot read /nonexistent/x.yaml'],
      [['acme', '/tmp'], '/tmp is a directory'],
      [['acme', 'x.yaml', '--runtime', 'nodejs'], 'unknown flag --runtime'],
    ])('exits 2 on the usage error in %j', async (argv, message) => {
      const { code, stdout, stderr } = await run(['choreography', 'deploy', ...argv, ...peer])
      expect({ code, stdout }).toEqual({ code: 2, stdout: '' })
      expect(stderr).toContain(`chorus choreography deploy: ${message}`)
    })
  })

  it('refuses a directory whatever its name', async () => {
    const sub = join(dir, 'looks.yaml')
    await mkdir(sub)
    const { code, stderr } = await run(['choreography', 'deploy', 'acme', sub, ...peer])
    expect(code).toBe(2)
    expect(stderr).toBe(
      `chorus choreography deploy: ${sub} is a directory, not a choreography file\n`,
    )
  })
})
