import { describe, expect, it } from 'vitest'
import { ResponseParser, type ParseResult } from '../../src/function-host/response-parser.js'

/** Feeds `text` to a parser in pieces of `step` bytes; the last result. */
function feed(text: string, step = text.length, maxBytes = 1024): ParseResult {
  const parser = new ResponseParser(maxBytes)
  const bytes = Buffer.from(text, 'latin1')
  let result: ParseResult = { type: 'more' }
  for (let at = 0; at < bytes.length; at += step) {
    result = parser.push(bytes.subarray(at, at + step))
    if (result.type !== 'more') return result
  }
  return result
}

function body(result: ParseResult): string {
  if (result.type !== 'done') throw new Error(`not done: ${JSON.stringify(result)}`)
  return result.response.body.toString('latin1')
}

const OK = 'HTTP/1.1 200 OK\r\n'

describe('ResponseParser', () => {
  it('reads a Content-Length answer in one piece or byte by byte', () => {
    const text = `${OK}Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}`
    for (const step of [text.length, 1, 3]) {
      const result = feed(text, step)
      expect(body(result)).toBe('{"a":1}')
      expect(result).toMatchObject({ response: { status: 200, keepAlive: true } })
    }
  })

  it('reads a chunked answer, with extensions and trailers, in any pieces', () => {
    const text = `${OK}Transfer-Encoding: chunked\r\n\r\n4;x=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n`
    for (const step of [text.length, 1, 2, 7]) expect(body(feed(text, step))).toBe('Wikipedia')
  })

  it('reads to the end of the connection without a length, and does not keep it', () => {
    const parser = new ResponseParser(100)
    expect(parser.push(Buffer.from(`${OK}\r\nhello `))).toEqual({ type: 'more' })
    expect(parser.push(Buffer.from('world'))).toEqual({ type: 'more' })
    const result = parser.end()
    expect(body(result)).toBe('hello world')
    expect(result).toMatchObject({ response: { keepAlive: false } })
  })

  it('fails an answer cut short by the end of the connection', () => {
    const parser = new ResponseParser(100)
    parser.push(Buffer.from(`${OK}Content-Length: 10\r\n\r\nabc`))
    expect(parser.end()).toMatchObject({ type: 'malformed' })
  })

  it('skips 100 Continue, and reads 204 as empty', () => {
    expect(body(feed(`HTTP/1.1 100 Continue\r\n\r\n${OK}Content-Length: 2\r\n\r\nok`, 5))).toBe(
      'ok',
    )
    expect(body(feed('HTTP/1.1 204 No Content\r\n\r\n'))).toBe('')
  })

  it('refuses a declared length over the limit before reading the body, and a streamed one as it passes it', () => {
    expect(feed(`${OK}Content-Length: 2000\r\n\r\n`, 1000, 1024)).toEqual({
      type: 'too-large',
      bytes: 2000,
    })
    const chunk = `400\r\n${'x'.repeat(1024)}\r\n`
    expect(feed(`${OK}Transfer-Encoding: chunked\r\n\r\n${chunk}1\r\ny\r\n0\r\n\r\n`, 64)).toEqual({
      type: 'too-large',
      bytes: undefined,
    })
    expect(body(feed(`${OK}Content-Length: 1024\r\n\r\n${'x'.repeat(1024)}`))).toHaveLength(1024)
  })

  it('says when the connection may not carry another request', () => {
    const closing = feed(`${OK}Connection: close\r\nContent-Length: 0\r\n\r\n`)
    expect(closing).toMatchObject({ response: { keepAlive: false } })
    const http10 = feed('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n')
    expect(http10).toMatchObject({ response: { keepAlive: false } })
    const http10Kept = feed(
      'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n',
    )
    expect(http10Kept).toMatchObject({ response: { keepAlive: true } })
    // Bytes beyond the answer: the connection is out of step.
    const extra = feed(`${OK}Content-Length: 2\r\n\r\nokGARBAGE`)
    expect(body(extra)).toBe('ok')
    expect(extra).toMatchObject({ response: { keepAlive: false } })
  })

  it('refuses what is not HTTP', () => {
    expect(feed('SSH-2.0-OpenSSH\r\n\r\n')).toMatchObject({ type: 'malformed' })
    expect(feed(`${OK}Content-Length: ten\r\n\r\n`)).toMatchObject({ type: 'malformed' })
    expect(feed(`${OK}no colon here\r\n\r\n`)).toMatchObject({ type: 'malformed' })
    expect(feed(`${OK}Transfer-Encoding: chunked\r\n\r\nzz\r\n`)).toMatchObject({
      type: 'malformed',
    })
    expect(feed(`${OK}Transfer-Encoding: chunked\r\n\r\n2\r\nokXX`)).toMatchObject({
      type: 'malformed',
    })
    expect(feed(`${OK}X: ${'y'.repeat(70 * 1024)}`)).toMatchObject({ type: 'malformed' })
  })
})
