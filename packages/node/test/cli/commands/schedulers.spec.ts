/** `chorus schedulers` against a fake peer. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HttpServer } from '../../../src/http/http-api.js'
import type { FakePeerApi } from '../../fake-peer-api.js'
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

describe('chorus schedulers', () => {
  it('prints schedulers sorted by owner, numbers right-aligned', async () => {
    const { code, stdout } = await run(['schedulers', ...peer])
    expect(code).toBe(0)
    expect(api.schedulerCalls.at(-1)).toBe(false)
    expect(stdout).toBe(
      [
        'OWNER  PROVIDER  PEER           EPOCH  CAPACITY  PENDING  INFLIGHT  GUID',
        'acme   mesh      12D3KooWSelf      12        64        5        10  g-acme',
        'zeta   mesh      12D3KooWOther      3        32        0         1  g-zeta',
        '',
      ].join('\n'),
    )
  })

  it('asks for the local ones only with --local', async () => {
    const { code, stdout } = await run(['schedulers', '--local', '--json', ...peer])
    expect(code).toBe(0)
    expect(api.schedulerCalls.at(-1)).toBe(true)
    expect(JSON.parse(stdout)).toEqual({ schedulers: api.schedulers(true) })
  })

  it('says so when there are none', async () => {
    const saved = api.schedulerList
    api.schedulerList = []
    try {
      expect((await run(['schedulers', ...peer])).stdout).toBe('no schedulers\n')
      expect((await run(['schedulers', '--local', ...peer])).stdout).toBe(
        'no schedulers on this peer\n',
      )
    } finally {
      api.schedulerList = saved
    }
  })
})
