/** `chorus status` against a fake peer. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HttpServer } from '../../../src/http/http-api.js'
import type { FakePeerApi } from '../../fake-peer-api.js'
import { SELF } from '../../fake-peer-api.js'
import { run, startFakePeer } from '../support.js'

let api: FakePeerApi
let server: HttpServer
let peer: string[]

beforeAll(async () => {
  ;({ api, server, peer } = await startFakePeer())
})

afterAll(async () => {
  await server.close()
})

describe('chorus status', () => {
  it('prints a known invocation', async () => {
    api.invocations.set('inv 7', { id: 'inv 7', status: 'running', peerId: SELF })
    const { code, stdout } = await run(['status', 'inv 7', ...peer])
    expect(code).toBe(0)
    expect(stdout).toBe(`id      inv 7\nstatus  running\npeer    ${SELF}\n`)
    const json = await run(['status', 'inv 7', '--json', ...peer])
    expect(JSON.parse(json.stdout)).toEqual({ id: 'inv 7', status: 'running', peerId: SELF })
  })

  it('says how often an invocation was started and preempted', async () => {
    api.invocations.set('inv 8', {
      id: 'inv 8',
      status: 'queued',
      peerId: SELF,
      attempts: 1,
      preemptions: 1,
    })
    const { code, stdout } = await run(['status', 'inv 8', ...peer])
    expect(code).toBe(0)
    expect(stdout).toBe(
      `id           inv 8\nstatus       queued\npeer         ${SELF}\nattempts     1\npreemptions  1\n`,
    )
  })

  it('exits 1 for an invocation nobody knows', async () => {
    const { code, stderr } = await run(['status', 'ghost', ...peer])
    expect(code).toBe(1)
    expect(stderr).toBe(
      `chorus status: no peer knows invocation "ghost" (unknown-invocation, HTTP 404 from ${server.url})\n`,
    )
  })

  it('exits 2 without an id', async () => {
    expect(await run(['status', ...peer])).toMatchObject({
      code: 2,
      stderr: 'chorus status: missing <invocation-id>\n',
    })
  })
})
