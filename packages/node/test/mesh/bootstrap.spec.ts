import { describe, expect, it } from 'vitest'
import { Bootstrap } from '../../src/mesh/bootstrap.js'
import { captureLog } from '../capture-log.js'
import { waitFor } from '../wait-for.js'

const ADDRESS = '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'

describe('Bootstrap', () => {
  it('retries a bootstrap peer that does not answer, jittered, until it does', async () => {
    const { log, records } = captureLog()
    let dials = 0
    const bootstrap = new Bootstrap(
      {
        libp2p: {
          dial: () => (++dials < 3 ? Promise.reject(new Error('refused')) : Promise.resolve()),
        },
        rng: () => 0,
        log,
      },
      { addresses: [ADDRESS], firstRetryMs: 2 },
    )
    bootstrap.start()
    await waitFor('the third dial to get through', () =>
      records.find((r) => r.msg === 'joined through a bootstrap peer'),
    )
    const retries = records.filter((r) => r.msg.startsWith('could not join'))
    // rng 0 halves each delay: 2 ms then 4 ms, halved.
    expect(retries.map((r) => r.retryInMs)).toEqual([1, 2])
    expect(retries[0]).toMatchObject({
      component: 'mesh:bootstrap',
      address: ADDRESS,
      err: 'refused',
    })
    bootstrap.stop()
  })

  it('stop() ends every dial and retry at once', async () => {
    let dials = 0
    const bootstrap = new Bootstrap(
      { libp2p: { dial: () => (dials++, Promise.reject(new Error('refused'))) }, rng: () => 0.5 },
      { addresses: [ADDRESS], firstRetryMs: 3_600_000 },
    )
    bootstrap.start()
    await waitFor('the first dial', () => dials === 1)
    bootstrap.stop()
    await new Promise((resolve) => setImmediate(resolve))
    expect(dials).toBe(1)
  })

  it('ignores an address that is not a multiaddr, and logs it', async () => {
    const { log, records } = captureLog()
    let dials = 0
    const bootstrap = new Bootstrap(
      { libp2p: { dial: () => (dials++, Promise.resolve()) }, rng: Math.random, log },
      { addresses: ['not a multiaddr'] },
    )
    bootstrap.start()
    await waitFor('the warning', () => records.find((r) => r.level === 'warn'))
    expect(dials).toBe(0)
    bootstrap.stop()
  })
})
