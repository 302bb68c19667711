/** `chorus choreography`: list, show and delete; the subcommands' help; an unreachable peer. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseChoreographyText } from '../../../../src/choreography/index.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HttpServer } from '../../../../src/http/http-api.js'
import type { FakePeerApi } from '../../../fake-peer-api.js'
import { closedUrl, run, startFakePeer } from '../../support.js'
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

describe('chorus choreography', () => {
  describe('list, show and delete', () => {
    it("lists an owner's choreographies by name, or says it has none", async () => {
      const yaml = await file('b.yaml', 'name: b-second\ndefinition: { function: f }\n')
      const json = await file('a.json', '{"name": "a-first", "definition": {"function": "f"}}')
      await run(['choreography', 'deploy', 'lister', yaml, ...peer])
      await run(['choreography', 'deploy', 'lister', json, ...peer])
      const { code, stdout } = await run(['choreography', 'list', 'lister', ...peer])
      expect(code).toBe(0)
      expect(stdout).toBe(
        [
          'NAME      VERSION  REVISION            DEPLOYED',
          'a-first         1  1.00000000000000c0  2023-11-14T22:13:20.000Z',
          'b-second        1  1.00000000000000c0  2023-11-14T22:13:20.000Z',
          '',
        ].join('\n'),
      )
      const asJson = await run(['choreography', 'list', 'lister', '--json', ...peer])
      expect(JSON.parse(asJson.stdout)).toEqual({
        choreographies: await api.choreographies('lister'),
      })
      const unknown = await run(['choreography', 'list', 'nobody', ...peer])
      expect(unknown.code).toBe(1)
      expect(unknown.stderr).toBe(
        `chorus choreography list: no nobody (unknown-owner, HTTP 404 from ${server.url})\n`,
      )
    })

    it("shows a choreography as YAML that deploys again, or as the peer's JSON", async () => {
      const path = await file('show.yaml', INGEST_YAML)
      await run(['choreography', 'deploy', 'shower', path, ...peer])
      const { code, stdout } = await run(['choreography', 'show', 'shower/ingest', ...peer])
      expect(code).toBe(0)
      expect(stdout.split('\n')[0]).toBe(
        '# shower/ingest: version 1, revision 1.00000000000000c0, deployed 2023-11-14T22:13:20.000Z',
      )
      expect(stdout).toContain('items: $.images\n')
      expect(parseChoreographyText(stdout)).toEqual({ name: 'ingest', definition: INGEST })
      const asJson = await run(['choreography', 'show', 'shower/ingest', '--json', ...peer])
      expect(JSON.parse(asJson.stdout)).toEqual(await api.choreography('shower', 'ingest'))
    })

    it('quotes YAML strings that would read back as something else', async () => {
      const tricky = { function: 'f', name: '123', extra: ['yes', 'null', '#x', 'a: b', ''] }
      const path = await file('tricky.json', JSON.stringify({ name: 't', definition: tricky }))
      await run(['choreography', 'deploy', 'tricky', path, ...peer])
      const { stdout } = await run(['choreography', 'show', 'tricky/t', ...peer])
      expect(parseChoreographyText(stdout)).toEqual({ name: 't', definition: tricky })
    })

    it('deletes a choreography, and exits 1 for one that does not exist', async () => {
      const path = await file('gone.yaml', 'name: gone\ndefinition: { function: f }\n')
      await run(['choreography', 'deploy', 'deleter', path, ...peer])
      const { code, stdout } = await run(['choreography', 'delete', 'deleter/gone', ...peer])
      expect(code).toBe(0)
      expect(stdout).toBe('deleted choreography deleter/gone (version 2)\n')
      const again = await run(['choreography', 'delete', 'deleter/gone', '--json', ...peer])
      expect(again.code).toBe(1)
      expect(again.stderr).toBe(
        `chorus choreography delete: no choreography gone ` +
          `(unknown-choreography, HTTP 404 from ${server.url})\n`,
      )
      const show = await run(['choreography', 'show', 'deleter/gone', ...peer])
      expect(show.code).toBe(1)
    })

    it.each([
      [['list'], 'chorus choreography list: missing <owner>\n'],
      [['list', 'a', 'b'], 'chorus choreography list: unexpected argument "b"\n'],
      [['show', 'acme'], 'chorus choreography show: expected <owner>/<name>, got "acme"\n'],
      [['show', 'acme/a/b'], 'chorus choreography show: choreography name "a/b" may only'],
      [['delete'], 'chorus choreography delete: missing <owner>/<name>\n'],
      [['delete', 'ac me/x'], 'chorus choreography delete: owner "ac me" may only'],
    ])('exits 2 on the usage error in %j', async (argv, message) => {
      const { code, stdout, stderr } = await run(['choreography', ...argv, ...peer])
      expect({ code, stdout }).toEqual({ code: 2, stdout: '' })
      expect(stderr.startsWith(message)).toBe(true)
    })
  })

  describe('help', () => {
    const SUBCOMMANDS = ['deploy', 'list', 'show', 'invoke', 'delete']

    it('prints the overview with every subcommand and examples', async () => {
      for (const argv of [
        ['choreography', '--help'],
        ['help', 'choreography'],
      ]) {
        const { code, stdout } = await run(argv)
        expect(code).toBe(0)
        expect(stdout).toContain('Usage: chorus choreography <subcommand>')
        for (const sub of SUBCOMMANDS) expect(stdout).toContain(`\n  ${sub} <owner>`)
        expect(stdout).toContain('Examples:')
      }
    })

    it('prints the overview on stderr and exits 2 with no subcommand', async () => {
      const { code, stdout, stderr } = await run(['choreography'])
      expect({ code, stdout }).toEqual({ code: 2, stdout: '' })
      expect(stderr).toContain('Usage: chorus choreography <subcommand>')
    })

    it('prints each subcommand help, three ways, with examples, within 100 columns', async () => {
      for (const sub of SUBCOMMANDS) {
        const viaFlag = await run(['choreography', sub, '--help'])
        expect(viaFlag.code).toBe(0)
        expect(viaFlag.stdout).toContain(`Usage: chorus choreography ${sub}`)
        expect(viaFlag.stdout).toContain('--peer URL')
        expect(viaFlag.stdout).toContain('Examples:\n  chorus choreography ')
        expect((await run(['choreography', 'help', sub])).stdout).toBe(viaFlag.stdout)
        expect((await run(['help', 'choreography', sub])).stdout).toBe(viaFlag.stdout)
        expect(viaFlag.stdout.split('\n').every((line) => line.length <= 100)).toBe(true)
      }
      const invoke = (await run(['choreography', 'invoke', '-h'])).stdout
      for (const flag of ['--input', '--priority', '--qos', '--no-wait', '--idempotency-key']) {
        expect(invoke).toContain(flag)
      }
      expect((await run(['choreography', 'deploy', '-h'])).stdout).toContain('--name NAME')
      for (const argv of [['--help'], ['choreography', '--help']]) {
        const { stdout } = await run(argv)
        expect(stdout.split('\n').every((line) => line.length <= 100)).toBe(true)
      }
    })
  })

  it('says which URL it could not reach', async () => {
    const url = await closedUrl()
    const path = await file('reach.yaml', INGEST_YAML)
    for (const argv of [
      ['deploy', 'acme', path],
      ['list', 'acme'],
      ['show', 'acme/x'],
      ['invoke', 'acme/x'],
      ['delete', 'acme/x'],
    ]) {
      const { code, stderr } = await run(['choreography', ...argv, '--peer', url])
      expect(code).toBe(1)
      expect(stderr).toMatch(
        new RegExp(`^chorus choreography ${argv[0]}: cannot reach the peer at ${url}: `),
      )
    }
  })
})
