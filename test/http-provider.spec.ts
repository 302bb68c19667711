/**
 * The provider `http`, for real: functions that are external HTTP endpoints, called by the
 * owner's (owner, http) scheduler, which holds the owner to its concurrency limit.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allSeeAll, startMesh, stopAll, waitFor, type TestPeer } from './support/mesh.js'
import { call } from './support/http.js'

const OWNER_LIMIT = 2

describe('provider http on a mesh of two peers', () => {
  let peers: TestPeer[] = []
  let endpoint: Server
  let base = ''
  let inFlight = 0
  let maxInFlight = 0
  const seenIds: string[] = []

  beforeAll(async () => {
    endpoint = createServer((req, res) => {
      let body = ''
      req.on('data', (chunk: Buffer) => (body += chunk.toString()))
      req.on('end', () => {
        seenIds.push(String(req.headers['x-chorus-invocation-id']))
        if (req.url === '/fail') {
          res.writeHead(500, { 'content-type': 'text/plain' }).end('the database is down')
          return
        }
        if (req.url === '/garbage') {
          res.writeHead(200, { 'content-type': 'text/plain' }).end('<html>')
          return
        }
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        const { value } = JSON.parse(body) as { value: number }
        // Held a while, so that invocations overlap if the scheduler lets them.
        setTimeout(() => {
          inFlight--
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ doubled: value * 2 }))
        }, 60)
      })
    })
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}`
    peers = await startMesh(2, { ownerLimit: OWNER_LIMIT })
    await waitFor('both peers to see each other', () => allSeeAll(peers), 15_000)
  }, 30_000)

  afterAll(async () => {
    await stopAll(peers)
    await new Promise((resolve) => endpoint.close(resolve))
  })

  async function deploy(name: string, path: string): Promise<void> {
    const a = peers[0] as TestPeer
    const answer = await call(a, 'POST', '/v1/owners/ext/functions', {
      name,
      provider: 'http',
      url: `${base}${path}`,
      timeoutMs: 5_000,
    })
    expect(answer.status, JSON.stringify(answer.body)).toBe(201)
    await waitFor(`${name} on both peers`, async () => {
      const seen = await Promise.all(
        peers.map((p) => call(p, 'GET', `/v1/owners/ext/functions/${name}`)),
      )
      return seen.every((s) => s.body.revision === answer.body.revision)
    })
  }

  it('calls the endpoint with { value }, holding the owner to its limit of concurrent calls', async () => {
    await deploy('double', '/double')
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        call(peers[i % 2] as TestPeer, 'POST', '/v1/owners/ext/functions/double/invocations', {
          input: i,
        }),
      ),
    )
    answers.forEach((answer, i) => {
      expect(answer.body, JSON.stringify(answer.body)).toMatchObject({
        status: 'succeeded',
        output: { doubled: i * 2 },
      })
    })
    expect(maxInFlight).toBe(OWNER_LIMIT)
    expect(new Set(answers.map((a) => a.body.id))).toEqual(new Set(seenIds))

    // One scheduler for the provider the owner uses, and none for the others.
    const schedulers = (await call(peers[0] as TestPeer, 'GET', '/v1/mesh/schedulers')).body
      .schedulers as { owner: string; provider: string }[]
    const ours = schedulers.filter((s) => s.owner === 'ext').map((s) => s.provider)
    expect(ours).toEqual(['http'])
  }, 30_000)

  it('fails an invocation clearly when the endpoint answers an error or not JSON', async () => {
    await deploy('broken', '/fail')
    await deploy('garbled', '/garbage')
    const a = peers[1] as TestPeer
    const failed = await call(a, 'POST', '/v1/owners/ext/functions/broken/invocations', {})
    expect(failed.body.status).toBe('failed')
    expect((failed.body.error as { message: string }).message).toMatch(/500: the database is down/)
    const garbled = await call(a, 'POST', '/v1/owners/ext/functions/garbled/invocations', {})
    expect((garbled.body.error as { message: string }).message).toMatch(/not JSON/)
  }, 30_000)

  it('refuses an http function without a url, and a url on a mesh function', async () => {
    const a = peers[0] as TestPeer
    const noUrl = await call(a, 'POST', '/v1/owners/ext/functions', {
      name: 'nourl',
      provider: 'http',
    })
    expect(noUrl.status).toBe(400)
    expect(JSON.stringify(noUrl.body)).toMatch(/url/)
    const urlOnMesh = await call(a, 'POST', '/v1/owners/ext/functions', {
      name: 'meshurl',
      runtime: 'nodejs',
      code: 'export default async () => 1',
      url: `${base}/double`,
    })
    expect(urlOnMesh.status).toBe(400)
    const notHttp = await call(a, 'POST', '/v1/owners/ext/functions', {
      name: 'ftp',
      provider: 'http',
      url: 'ftp://example.com/x',
    })
    expect(notHttp.status).toBe(400)
    const list = await call(a, 'GET', '/v1/owners/ext/functions')
    const names = (list.body.functions as { name: string }[]).map((f) => f.name)
    expect(names.sort()).toEqual(['broken', 'double', 'garbled'])
  }, 30_000)
})
