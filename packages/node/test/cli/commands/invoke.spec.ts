/** `chorus invoke` against a fake peer: what it sends, prints and exits with. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChorusError } from '../../../src/errors.js'
import type { HttpServer } from '../../../src/http/http-api.js'
import type { FakePeerApi } from '../../fake-peer-api.js'
import { SELF } from '../../fake-peer-api.js'
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

describe('chorus invoke', () => {
  it('sends the input and options, waits, and prints the result', async () => {
    const { code, stdout, stderr } = await run([
      'invoke',
      'acme/images/resize',
      '--input',
      '{"width": 640}',
      '--priority',
      '0',
      '--qos',
      'latency',
      '--idempotency-key',
      'k1',
      ...peer,
    ])
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
    expect(api.invokes.at(-1)).toEqual({
      owner: 'acme',
      fn: 'images/resize',
      input: { width: 640 },
      priority: 0,
      qos: 'latency',
      wait: true,
      idempotencyKey: 'k1',
    })
    expect(stdout).toBe(
      `id      inv-1\nstatus  succeeded\npeer    ${SELF}\noutput  {"width":640}\n`,
    )
  })

  it('pretty-prints a long output under its key', async () => {
    const input = { items: Array.from({ length: 12 }, (_, i) => `item-number-${i}`) }
    const { stdout } = await run(['invoke', 'acme/f', '--input', JSON.stringify(input), ...peer])
    expect(stdout).toContain('output  {\n          "items": [\n            "item-number-0",')
  })

  it('does not wait with --no-wait, and says how to follow the invocation', async () => {
    const { code, stdout } = await run(['invoke', 'acme/report', '--no-wait', ...peer])
    expect(code).toBe(0)
    expect(api.invokes.at(-1)).toEqual({ owner: 'acme', fn: 'report', wait: false })
    expect(stdout).toBe('id      inv-1\nstatus  queued\nfollow it with: chorus status inv-1\n')
  })

  it('prints the view as JSON with --json', async () => {
    const { code, stdout } = await run(['invoke', 'acme/f', '--input', '"hi"', '--json', ...peer])
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual({
      id: 'inv-1',
      status: 'succeeded',
      output: 'hi',
      peerId: SELF,
    })
  })

  it('exits 1 when the invocation failed, showing its error', async () => {
    const saved = api.invokeImpl
    api.invokeImpl = () =>
      Promise.resolve({ id: 'i9', status: 'failed', error: { code: 'crash', message: 'boom' } })
    try {
      const { code, stdout } = await run(['invoke', 'acme/f', ...peer])
      expect(code).toBe(1)
      expect(stdout).toBe('id      i9\nstatus  failed\nerror   crash: boom\n')
      expect((await run(['invoke', 'acme/f', '--json', ...peer])).code).toBe(1)
    } finally {
      api.invokeImpl = saved
    }
  })

  it('exits 1 with the error code and status when the peer refuses', async () => {
    const saved = api.invokeImpl
    api.invokeImpl = () => Promise.reject(new ChorusError('unknown-function', 'acme has no f'))
    try {
      const { code, stdout, stderr } = await run(['invoke', 'acme/f', ...peer])
      expect({ code, stdout }).toEqual({ code: 1, stdout: '' })
      expect(stderr).toBe(
        `chorus invoke: acme has no f (unknown-function, HTTP 404 from ${server.url})\n`,
      )
    } finally {
      api.invokeImpl = saved
    }
  })

  it.each([
    [['invoke'], 'chorus invoke: missing <owner>/<function>\n'],
    [['invoke', 'acme'], 'chorus invoke: expected <owner>/<function>, got "acme"\n'],
    [['invoke', 'acme/'], 'chorus invoke: function name must not be empty\n'],
    [['invoke', 'ac me/f'], 'chorus invoke: owner "ac me" may only contain'],
    [['invoke', 'a/f', 'b/g'], 'chorus invoke: unexpected argument "b/g"\n'],
    [['invoke', 'a/f', '--input', '{nope'], 'chorus invoke: --input is not valid JSON'],
    [['invoke', 'a/f', '--priority', '2'], 'chorus invoke: --priority must be 0 (high) or 1 (low)'],
    [
      ['invoke', 'a/f', '--qos', 'fast'],
      'chorus invoke: --qos must be latency or cost, got "fast"',
    ],
    [['invoke', 'a/f', '--wait'], 'chorus invoke: unknown flag --wait (see chorus invoke --help)'],
    [['invoke', 'a/f', '--input'], 'chorus invoke: --input needs a value\n'],
    [['invoke', 'a/f', '--json=yes'], 'chorus invoke: --json takes no value\n'],
    [
      ['invoke', 'a/f', '--peer', 'ftp://x'],
      'chorus invoke: --peer must be an http:// or https://',
    ],
    [['invoke', 'a/f', '--peer', 'nowhere'], 'chorus invoke: --peer must be a URL like'],
  ])('exits 2 on the usage error in %j', async (argv, message) => {
    const before = api.invokes.length
    const { code, stdout, stderr } = await run(argv)
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' })
    expect(stderr.startsWith(message)).toBe(true)
    expect(stderr.split('\n')).toHaveLength(2)
    expect(api.invokes).toHaveLength(before)
  })
})
