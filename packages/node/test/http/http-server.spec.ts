import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ChorusError } from '../../src/errors.js'
import { createHttpApi, type HttpApiInit, type HttpServer } from '../../src/http/http-api.js'
import type { InvocationView } from '../../src/peer-api.js'
import { FakePeerApi, SELF, event } from '../fake-peer-api.js'
import { deferred } from '../deferred.js'

const servers: HttpServer[] = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function serve(init: HttpApiInit = {}) {
  const api = new FakePeerApi()
  const server = await createHttpApi(api, init).listen('127.0.0.1', 0)
  servers.push(server)
  return { api, server, url: server.url }
}

/** Reads a streamed body until `done(text so far)` holds; the test's timeout is the deadline. */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  done: (text: string) => boolean,
  seen = '',
): Promise<string> {
  const decoder = new TextDecoder()
  let text = seen
  while (!done(text)) {
    const { value, done: ended } = await reader.read()
    if (ended) throw new Error(`stream ended before the expected text; got ${JSON.stringify(text)}`)
    text += decoder.decode(value, { stream: true })
  }
  return text
}

async function openEvents(url: string) {
  const abort = new AbortController()
  const res = await fetch(`${url}/v1/events`, { signal: abort.signal })
  const reader = res.body!.getReader()
  const opening = await readUntil(reader, (t) => t.includes('\n\n'))
  return { res, reader, abort, opening }
}

describe('listen()', () => {
  it('serves on a free port and answers JSON with a Content-Length', async () => {
    const { url } = await serve()
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(url).not.toBe('http://127.0.0.1:0')
    const res = await fetch(`${url}/v1/health`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe(String((await res.clone().text()).length))
    expect(await res.json()).toEqual({ ok: true, peerId: SELF, version: '0.1.0-test' })
  })

  it('answers malformed JSON 400 over a socket and keeps the connection', async () => {
    const { url } = await serve()
    const res = await fetch(`${url}/v1/owners/acme/functions/f/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"input":',
    })
    expect(res.status).toBe(400)
    expect(res.headers.get('connection')).not.toBe('close')
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid-json')
  })

  it('answers 413 to a declared oversized body without reading it, and closes', async () => {
    const { api, url } = await serve({ maxBodyBytes: 1024 })
    const res = await fetch(`${url}/v1/owners/acme/functions/f/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'x'.repeat(2048) }),
    })
    expect(res.status).toBe(413)
    expect(res.headers.get('connection')).toBe('close')
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('body-too-large')
    expect(api.invokes).toEqual([])
  })

  it('stops reading a chunked body at the limit and answers 413', async () => {
    const { api, url } = await serve({ maxBodyBytes: 64 * 1024 })
    const chunk = new Uint8Array(16 * 1024).fill(0x20)
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        // Up to 64 MiB, far beyond anything the server should take.
        if (sent >= 64 * 1024 * 1024) return controller.close()
        sent += chunk.length
        controller.enqueue(chunk)
      },
    })
    const res = await fetch(`${url}/v1/owners/acme/functions/f/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    })
    expect(res.status).toBe(413)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('body-too-large')
    expect(sent).toBeLessThan(64 * 1024 * 1024)
    expect(api.invokes).toEqual([])
  })

  it('rejects with a ChorusError when the port is taken', async () => {
    const { url } = await serve()
    const port = Number(new URL(url).port)
    const second = createHttpApi(new FakePeerApi()).listen('127.0.0.1', port)
    await expect(second).rejects.toThrow(ChorusError)
    await expect(second).rejects.toThrow(`cannot serve HTTP on 127.0.0.1:${port}`)
  })
})

describe('GET /v1/events over a socket', () => {
  it('streams events as SSE and unsubscribes when the client disconnects', async () => {
    const { api, url } = await serve()
    expect(api.listenerCount).toBe(0)
    const { res, reader, abort, opening } = await openEvents(url)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(opening).toBe(`: connected to ${SELF}\n\n`)
    expect(api.listenerCount).toBe(1)

    api.emit(event('member-joined'))
    api.emit(event('scheduler-ownership-changed', { owner: 'acme', epoch: 4 }))
    const text = await readUntil(
      reader,
      (t) => t.includes('scheduler-ownership-changed\n'),
      opening,
    )
    const events = text
      .split('\n\n')
      .filter((block) => block.startsWith('event: '))
      .map((block) => {
        const [type, data] = block.split('\n')
        return { type: type?.slice('event: '.length), data: JSON.parse(data!.slice(6)) as unknown }
      })
    expect(events.slice(0, 1)).toEqual([{ type: 'member-joined', data: event('member-joined') }])
    await readUntil(reader, (t) => t.endsWith('\n\n'), text)

    abort.abort()
    await api.whenListeners(0)
    expect(api.listenerCount).toBe(0)
  })

  it('shares one subscription among clients and holds it until the last one leaves', async () => {
    const { api, url } = await serve()
    const first = await openEvents(url)
    const second = await openEvents(url)
    expect(api.subscriptions).toBe(1)
    api.emit(event('member-dead'))
    for (const client of [first, second]) {
      await readUntil(client.reader, (t) => t.includes('event: member-dead\n'), client.opening)
    }
    first.abort.abort()
    await second.reader.cancel()
    await api.whenListeners(0)
    expect(api.subscriptions).toBe(1)
  })

  it('drops a client that stops reading, and unsubscribes', async () => {
    const { api, url } = await serve()
    const socket = connect(Number(new URL(url).port), '127.0.0.1')
    socket.write('GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n')
    await api.whenListeners(1)
    await new Promise<void>((resolve) => socket.once('data', () => resolve()))
    socket.pause()
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
    // Far more than the socket buffers hold, sent while the client reads nothing.
    const payload = 'x'.repeat(64 * 1024)
    for (let i = 0; i < 400 && api.listenerCount > 0; i++)
      api.emit(event('member-alive', { payload }))
    await api.whenListeners(0)
    socket.resume()
    await closed
  })

  it('sends heartbeat comments while connected', async () => {
    const { url } = await serve({ heartbeatMs: 20 })
    const { reader, abort, opening } = await openEvents(url)
    const text = await readUntil(reader, (t) => t.includes(': heartbeat\n\n'), opening)
    expect(text).toContain(': heartbeat\n\n')
    abort.abort()
  })
})

describe('close()', () => {
  it('ends event streams, answers waiting requests 503 and closes keep-alive sockets', async () => {
    const { api, server, url } = await serve()
    const invoked = deferred<void>()
    api.invokeImpl = () => {
      invoked.resolve()
      return new Promise<InvocationView>(() => {})
    }
    // An idle keep-alive connection, an event stream, and a request waiting for the peer.
    expect((await fetch(`${url}/v1/health`)).status).toBe(200)
    const stream = await openEvents(url)
    const waiting = fetch(`${url}/v1/owners/acme/functions/f/invocations`, { method: 'POST' })
    await invoked.promise

    await server.close()

    const answer = await waiting
    expect(answer.status).toBe(503)
    expect(answer.headers.get('connection')).toBe('close')
    expect(await answer.json()).toEqual({
      error: { code: 'shutting-down', message: 'this peer is shutting down; try another one' },
    })
    expect(await stream.reader.read()).toEqual({ done: true, value: undefined })
    expect(api.listenerCount).toBe(0)
    await expect(fetch(`${url}/v1/health`)).rejects.toThrow()
    await server.close() // twice is fine
  })

  it('closes an idle keep-alive connection, so the process can exit', async () => {
    const { server, url } = await serve()
    const socket = connect(Number(new URL(url).port), '127.0.0.1')
    socket.write('GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n')
    let received = ''
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()))
    const socketClosed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
    await new Promise<void>((resolve) => socket.once('data', () => resolve()))
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(received.toLowerCase()).toContain('connection: keep-alive')

    await server.close()
    await socketClosed
    expect(socket.destroyed).toBe(true)
  })
})
