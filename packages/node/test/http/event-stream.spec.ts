import { afterEach, describe, expect, it } from 'vitest'
import { EventHub, eventStream, type StreamSink } from '../../src/http/event-stream.js'
import { FakePeerApi, SELF, event } from '../fake-peer-api.js'
import { captureLogger } from './capture-logger.js'

const open: StreamSink[] = []

afterEach(() => {
  for (const sink of open.splice(0)) sink.end()
})

function connect(hub: EventHub, signals: (AbortSignal | undefined)[] = []) {
  const stream = eventStream(undefined, signals)
  hub.connect(stream.sink)
  open.push(stream.sink)
  return stream
}

const BIG = { payload: 'x'.repeat(64 * 1024) }

describe('EventHub', () => {
  it('holds no subscription and no timer until a client connects, and none after it leaves', () => {
    const api = new FakePeerApi()
    const hub = new EventHub(api, 15_000, captureLogger().log)
    expect(api.subscriptions).toBe(0)
    const { sink } = connect(hub)
    expect(api.listenerCount).toBe(1)
    expect(hub.size).toBe(1)
    sink.end()
    expect(api.listenerCount).toBe(0)
    expect(hub.size).toBe(0)
  })

  it('drops a client that lets more than 1 MiB pile up unread, and unsubscribes', async () => {
    const api = new FakePeerApi()
    const { log, records } = captureLogger()
    const hub = new EventHub(api, 15_000, log)
    const { response } = connect(hub)
    let sent = 0
    while (api.listenerCount > 0 && sent < 100) {
      api.emit(event('member-alive', BIG))
      sent += 1
    }
    expect(api.listenerCount).toBe(0)
    // 16 events of just over 64 KiB make more than 1 MiB; the 17th finds the client behind.
    expect(sent).toBe(17)
    await expect(response.text()).rejects.toThrow('does not keep up')
    expect(records.map((r) => r.msg)).toEqual([
      'dropped an event stream client that does not keep up',
    ])
  })

  it('keeps a client that reads as fast as events come, however many', async () => {
    const api = new FakePeerApi()
    const hub = new EventHub(api, 15_000, captureLogger().log)
    const { response } = connect(hub)
    const reader = response.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>
    await reader.read() // the opening comment
    for (let i = 0; i < 40; i++) {
      api.emit(event('member-alive', BIG))
      const { value } = await reader.read()
      expect(value?.byteLength).toBeGreaterThan(64 * 1024)
    }
    expect(api.listenerCount).toBe(1)
    await reader.cancel()
    expect(api.listenerCount).toBe(0)
  })

  it('formats each event once and gives every client the same bytes', async () => {
    const api = new FakePeerApi()
    const hub = new EventHub(api, 15_000, captureLogger().log)
    const done = new AbortController()
    const first = connect(hub, [done.signal])
    const second = connect(hub, [done.signal])
    api.emit(event('member-joined'))
    done.abort()
    const texts = await Promise.all([first.response.text(), second.response.text()])
    const expected = `: connected to ${SELF}\n\nevent: member-joined\ndata: ${JSON.stringify(event('member-joined'))}\n\n`
    expect(texts).toEqual([expected, expected])
    expect(api.subscriptions).toBe(1)
    expect(api.listenerCount).toBe(0)
  })

  it('ends a stream whose signal has already aborted right after its opening comment', async () => {
    const api = new FakePeerApi()
    const hub = new EventHub(api, 15_000, captureLogger().log)
    const { response } = connect(hub, [AbortSignal.abort()])
    expect(await response.text()).toBe(`: connected to ${SELF}\n\n`)
    expect(api.listenerCount).toBe(0)
  })
})
