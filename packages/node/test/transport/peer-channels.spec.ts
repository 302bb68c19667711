/**
 * PeerChannels against a fake libp2p whose streams close when the test says: the races a
 * real mesh hits under a join storm (a channel that closes between being opened and being
 * written to), made to happen every time.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { PeerChannels } from '../../src/transport/peer-channels.js'
import { captureLog, errMessage } from '../capture-log.js'
import { waitFor } from '../wait-for.js'

/** A stream that closes (as a remote reset would) as soon as someone listens for its close. */
function closingStream(): Stream {
  const events = new EventTarget()
  const stream = {
    addEventListener(type: string, listener: (evt: Event) => void) {
      events.addEventListener(type, listener)
      if (type === 'close') {
        queueMicrotask(() => {
          const evt = new Event('close') as Event & { error?: Error }
          evt.error = new Error('reset by the remote')
          events.dispatchEvent(evt)
        })
      }
    },
    send: () => true,
    close: () => Promise.resolve(),
    abort: () => undefined,
  }
  return stream as unknown as Stream
}

function fakeLibp2p(dial: () => Promise<Stream>): Libp2p {
  return {
    handle: () => Promise.resolve(),
    unhandle: () => Promise.resolve(),
    dialProtocol: dial,
  } as unknown as Libp2p
}

async function somePeerId(): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}

describe('PeerChannels', () => {
  it('logs a one-way message to a channel that closed while it opened, and throws nothing', async () => {
    const { log, records } = captureLog()
    const channels = new PeerChannels(
      fakeLibp2p(() => Promise.resolve(closingStream())),
      { log },
    )
    await channels.start()
    const peer = await somePeerId()
    // Before the fix this write threw inside a fulfil handler: an unhandled rejection,
    // which fails this test run (and took whole peers down in a join storm).
    channels.send(peer, 'members.sync/1', { updates: [] })
    const record = await waitFor('the failed send to be logged', () =>
      records.find((r) => r.msg === 'sending a one-way message failed'),
    )
    expect(record).toMatchObject({
      component: 'transport:channels',
      peer,
      method: 'members.sync/1',
    })
    expect(errMessage(record)).toMatch(/closed/)
    await channels.stop()
  })

  it('logs a one-way message to a peer it cannot dial', async () => {
    const { log, records } = captureLog()
    const channels = new PeerChannels(
      fakeLibp2p(() => Promise.reject(new Error('connection refused'))),
      { log },
    )
    await channels.start()
    channels.send(await somePeerId(), 'members.sync/1', {})
    const record = await waitFor('the failed dial to be logged', () =>
      records.find((r) => r.msg === 'sending a one-way message failed'),
    )
    expect(errMessage(record)).toMatch(/connection refused/)
    await channels.stop()
  })

  it('rejects a request on a channel that closed while it opened with peer-unreachable, never sent', async () => {
    const channels = new PeerChannels(fakeLibp2p(() => Promise.resolve(closingStream())))
    await channels.start()
    await expect(channels.request(await somePeerId(), 'status/1', {}, 1_000)).rejects.toMatchObject(
      { code: 'peer-unreachable', details: { sent: false } },
    )
    await channels.stop()
  })

  it('says a request to a peer it cannot dial was never sent', async () => {
    const channels = new PeerChannels(
      fakeLibp2p(() => Promise.reject(new Error('connection refused'))),
    )
    await channels.start()
    await expect(channels.request(await somePeerId(), 'status/1', {}, 1_000)).rejects.toMatchObject(
      { code: 'peer-unreachable', details: { sent: false } },
    )
    await channels.stop()
  })
})
