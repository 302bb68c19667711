/** How every client command words a request that failed (`peer-session.ts`). */
import { createServer } from 'node:http'
import { describe, expect, it } from 'vitest'
import { ChorusClientError } from '../../src/client/index.js'
import { UsageError } from '../../src/cli/io.js'
import { peerFailure } from '../../src/cli/peer-session.js'
import { closedUrl, run } from './support.js'

describe('failures talking to a peer', () => {
  it('says which URL it could not reach, on one line, and exits 1', async () => {
    const url = await closedUrl()
    for (const argv of [['peers'], ['schedulers'], ['invoke', 'a/f'], ['status', 'x']]) {
      const { code, stdout, stderr } = await run([...argv, '--peer', url])
      expect({ code, stdout }).toEqual({ code: 1, stdout: '' })
      expect(stderr).toMatch(
        new RegExp(`^chorus ${argv[0]}: cannot reach the peer at ${url}: connection refused \\(`),
      )
      expect(stderr.split('\n')).toHaveLength(2)
    }
  })

  it('says so when the URL answers but is no Chorus peer', async () => {
    const other = createServer((_req, res) => res.end('<html>hello</html>'))
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
    const address = other.address() as { port: number }
    try {
      const url = `http://127.0.0.1:${address.port}`
      const { code, stderr } = await run(['peers', '--peer', url])
      expect(code).toBe(1)
      expect(stderr).toBe(
        `chorus peers: ${url} did not answer like a Chorus peer (HTTP 200, no content type)\n`,
      )
    } finally {
      other.closeAllConnections()
      await new Promise((resolve) => other.close(resolve))
    }
  })
})

describe("answers that are not the API's", () => {
  /** Runs `chorus peers` against a server that answers `status`, `type` and `body`. */
  async function peersAgainst(status: number, type: string | undefined, body: string) {
    const other = createServer((_req, res) => {
      res.writeHead(status, type === undefined ? {} : { 'content-type': type })
      res.end(body)
    })
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(other.address() as { port: number }).port}`
    try {
      return { url, ...(await run(['peers', '--peer', url])) }
    } finally {
      other.closeAllConnections()
      await new Promise((resolve) => other.close(resolve))
    }
  }

  it.each([
    [
      502,
      'text/html',
      '<html>Bad Gateway</html>',
      'did not answer like a Chorus peer (HTTP 502, text/html)',
    ],
    [200, 'application/json', '', 'did not answer like a Chorus peer (HTTP 200, application/json)'],
    [404, 'application/json', '{"error": {"message": "gone"}}', 'gone (HTTP 404 from URL)'],
    [500, 'application/json', '{"oops": true}', 'no message (HTTP 500 from URL)'],
    [503, 'application/json', '{"error": "busy"}', 'no message (HTTP 503 from URL)'],
  ])('says what HTTP %i %s %j was, on one line, and exits 1', async (status, type, body, said) => {
    const { url, code, stdout, stderr } = await peersAgainst(status, type, body)
    expect({ code, stdout }).toEqual({ code: 1, stdout: '' })
    const expected = said.startsWith('did not') ? `${url} ${said}` : said.replace('URL', url)
    expect(stderr).toBe(`chorus peers: ${expected}\n`)
  })
})

describe('peerFailure', () => {
  const URL = 'http://127.0.0.1:7070'

  it("words the peer's error answers with their code, status and the peer's URL", () => {
    const err = new ChorusClientError('unknown-function', 'acme has no f', { status: 404 })
    const failure = peerFailure(err, URL) as Error
    expect(failure).not.toBeInstanceOf(UsageError)
    expect(failure.message).toBe(`acme has no f (unknown-function, HTTP 404 from ${URL})`)
    expect(failure.cause).toBe(err)
  })

  it('makes what the SDK refused before sending a usage error, in its words', () => {
    const err = new ChorusClientError('bad-request', 'cannot read x.mjs: ENOENT')
    const failure = peerFailure(err, URL)
    expect(failure).toBeInstanceOf(UsageError)
    expect((failure as Error).message).toBe('cannot read x.mjs: ENOENT')
  })

  it('names the reason no answer came', () => {
    const refused = (code: string) =>
      new ChorusClientError('peer-unreachable', 'cannot reach …', {
        cause: new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) }),
      })
    for (const [code, reason] of [
      ['ECONNREFUSED', 'connection refused'],
      ['ENOTFOUND', 'host not found'],
      ['UND_ERR_CONNECT_TIMEOUT', 'connection timed out'],
      ['ECONNRESET', 'connection closed before an answer'],
    ]) {
      const failure = peerFailure(refused(code ?? ''), URL) as Error
      expect(failure.message).toMatch(new RegExp(`^cannot reach the peer at ${URL}: ${reason} \\(`))
    }
  })

  it("keeps the SDK's words for a request that got no answer in time, and leaves other errors be", () => {
    const slow = new ChorusClientError('timeout', `no answer from ${URL}/v1/mesh/peers within 5 ms`)
    expect((peerFailure(slow, URL) as Error).message).toBe(slow.message)
    const bug = new RangeError('bug')
    expect(peerFailure(bug, URL)).toBe(bug)
  })
})
