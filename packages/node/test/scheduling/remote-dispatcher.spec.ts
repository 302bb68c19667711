/**
 * The remote worker as a dispatcher: its `execute` answer becomes a lease, so a remote
 * dispatch is answered like a local one.
 */
import { describe, expect, it } from 'vitest'
import { ChorusError } from '../../src/errors.js'
import type { ProviderLease } from '../../src/scheduling/provider.js'
import {
  answerLease,
  remoteDispatcher,
  type RemoteDispatch,
} from '../../src/scheduling/remote-dispatcher.js'
import type { ExecuteAnswer } from '../../src/scheduling/remote-worker.js'
import { NOT_SENT } from '../../src/transport/peer-channels.js'
import { dispatchOf } from './dispatch-of.js'

const DISPATCH = dispatchOf([1, 2])

function fakeRemote(answer: () => Promise<ExecuteAnswer>) {
  const sent: unknown[][] = []
  const remote: RemoteDispatch = {
    dispatch: (...args) => {
      sent.push(args)
      return answer()
    },
  }
  return { remote, sent }
}

async function runAll(lease: ProviderLease, count: number): Promise<unknown[]> {
  if (lease.type !== 'ready') throw new Error(`not ready: ${lease.message}`)
  const signal = new AbortController().signal
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      lease.run(i, `i${i + 1}`, undefined, signal).catch((err: Error) => `error: ${err.message}`),
    ),
  )
}

describe('remoteDispatcher', () => {
  it('sends the dispatch to its worker with the signals and the function deadline', async () => {
    const { remote, sent } = fakeRemote(() =>
      Promise.resolve({ type: 'done', outcomes: [{ status: 'succeeded', output: 'x' }] }),
    )
    const signals = [new AbortController().signal, new AbortController().signal]
    const dispatcher = remoteDispatcher(remote, 'acme', 'mesh', (fn) =>
      fn === 'resize' ? 1234 : 0,
    )
    await dispatcher(DISPATCH, signals)
    expect(sent).toEqual([['peer-w', 'acme', 'mesh', DISPATCH, signals, 1234]])
  })

  it('makes the answer a lease whose runs give each outcome', async () => {
    const { remote } = fakeRemote(() =>
      Promise.resolve({
        type: 'done',
        outcomes: [
          { status: 'succeeded', output: { w: 1 } },
          { status: 'failed', error: 'it threw' },
        ],
      }),
    )
    const lease = await remoteDispatcher(remote, 'acme', 'mesh', () => 1)(DISPATCH, [])
    expect(await runAll(lease, 2)).toEqual([{ w: 1 }, 'error: it threw'])
  })

  it('passes a busy answer on as busy', async () => {
    const { remote } = fakeRemote(() => Promise.resolve({ type: 'busy', message: 'full' }))
    expect(await remoteDispatcher(remote, 'acme', 'mesh', () => 1)(DISPATCH, [])).toEqual({
      type: 'busy',
      message: 'full',
    })
  })

  it('fails as peer-unreachable, with the worker named, when it may have started and no answer came', async () => {
    const { remote } = fakeRemote(() => Promise.reject(new Error('stream reset')))
    const failure = remoteDispatcher(remote, 'acme', 'mesh', () => 1)(DISPATCH, [])
    await expect(failure).rejects.toThrow('worker peer-w did not answer: stream reset')
    await expect(failure).rejects.toMatchObject({ code: 'peer-unreachable' })
    const late = fakeRemote(() => Promise.reject(new ChorusError('timeout', 'no answer in 1 ms')))
    await expect(
      remoteDispatcher(late.remote, 'acme', 'mesh', () => 1)(DISPATCH, []),
    ).rejects.toMatchObject({ code: 'timeout' })
    await expect(
      remoteDispatcher(undefined, 'acme', 'mesh', () => 1)(DISPATCH, []),
    ).rejects.toThrow('worker peer-w did not answer: this peer cannot dispatch to other peers')
  })

  it('walks on, like a busy worker, when the dispatch never left or the worker is stopping', async () => {
    for (const err of [
      new ChorusError('peer-unreachable', 'cannot reach peer-w: dial failed', NOT_SENT),
      new ChorusError('shutting-down', 'the peer is stopping'),
    ]) {
      const { remote } = fakeRemote(() => Promise.reject(err))
      expect(await remoteDispatcher(remote, 'acme', 'mesh', () => 1)(DISPATCH, [])).toEqual({
        type: 'busy',
        message: `worker peer-w did not answer: ${err.message}`,
      })
    }
  })

  it('fails a run that has no outcome in the answer', async () => {
    const lease = answerLease({ type: 'done', outcomes: [] })
    expect(await runAll(lease, 1)).toEqual(['error: no outcome'])
  })
})
