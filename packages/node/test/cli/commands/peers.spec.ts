/** `chorus peers` against a fake peer. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HttpServer } from '../../../src/http/http-api.js'
import type { FakePeerApi } from '../../fake-peer-api.js'
import { SELF } from '../../fake-peer-api.js'
import { closedUrl, run, startFakePeer } from '../support.js'

let api: FakePeerApi
let server: HttpServer
let peer: string[]

beforeAll(async () => {
  ;({ api, server, peer } = await startFakePeer())
})

afterAll(async () => {
  await server.close()
})

describe('chorus peers', () => {
  it('prints an aligned table, marking itself', async () => {
    const { code, stdout, stderr } = await run(['peers', ...peer])
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
    expect(stdout).toBe(
      [
        'PEER                 STATE    LAST SEEN  ADDRESSES',
        '12D3KooWSelf (self)  alive          now  /ip4/127.0.0.1/tcp/4001',
        '12D3KooWOther        suspect      1m05s  /ip4/10.0.0.2/tcp/4001 /ip4/10.0.0.2/tcp/4002',
        '',
      ].join('\n'),
    )
  })

  it('prints the JSON answer with --json', async () => {
    const { code, stdout } = await run(['peers', '--json', ...peer])
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual({ self: SELF, peers: api.peerList })
  })

  it('asks the peer named by CHORUS_PEER, and --peer wins over it', async () => {
    const fromEnv = await run(['peers', '--json'], { env: { CHORUS_PEER: server.url } })
    expect(fromEnv.code).toBe(0)
    const dead = await closedUrl()
    const flagWins = await run(['peers', '--json', '--peer', server.url], {
      env: { CHORUS_PEER: dead },
    })
    expect(flagWins.code).toBe(0)
  })
})
