/** `chorus choreography invoke`: the input, the flags, and the step trace. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HttpServer } from '../../../../src/http/http-api.js'
import type { FakePeerApi } from '../../../fake-peer-api.js'
import { SELF, TRACE } from '../../../fake-peer-api.js'
import { run, startFakePeer, type Run } from '../../support.js'

let api: FakePeerApi
let server: HttpServer
let peer: string[]

beforeAll(async () => {
  ;({ api, server, peer } = await startFakePeer())
})

afterAll(async () => {
  await server.close()
})

/** Runs with `api.<impl>` replaced for the one run. */
async function withImpl<K extends 'deployChoreographyImpl' | 'invokeChoreographyImpl'>(
  key: K,
  impl: FakePeerApi[K],
  argv: string[],
): Promise<Run> {
  const saved = api[key]
  api[key] = impl
  try {
    return await run(argv)
  } finally {
    api[key] = saved
  }
}

describe('chorus choreography', () => {
  describe('invoke', () => {
    const TRACE_TABLE = [
      'STEP                 STATUS                   MS  PEER',
      '/definition          succeeded               250',
      '  classify           succeeded                40  12D3KooWSelf',
      '  sequence/1         succeeded               210',
      '    map[0] (resize)  succeeded                60  12D3…Id9x7Q',
      '    map[1] (resize)  succeeded (2 attempts)  210  12D3…Id9x7Q',
      '',
    ].join('\n')

    it('sends the input argument and flags, waits, and prints the output and the trace', async () => {
      const { code, stdout, stderr } = await withImpl(
        'invokeChoreographyImpl',
        (request) =>
          Promise.resolve({
            id: 'run-1',
            status: 'succeeded',
            output: request.input,
            peerId: SELF,
            trace: TRACE,
          }),
        [
          'choreography',
          'invoke',
          'acme/ingest',
          '{"images": ["a.png"]}',
          '--priority',
          '0',
          '--qos',
          'cost',
          '--idempotency-key',
          'k2',
          ...peer,
        ],
      )
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
      expect(api.choreographyInvokes.at(-1)).toEqual({
        owner: 'acme',
        fn: 'ingest',
        input: { images: ['a.png'] },
        priority: 0,
        qos: 'cost',
        wait: true,
        idempotencyKey: 'k2',
      })
      expect(stdout).toBe(
        `id      run-1\nstatus  succeeded\npeer    ${SELF}\noutput  {"images":["a.png"]}\n\n` +
          TRACE_TABLE,
      )
    })

    it('takes --input, and prints no trace when the answer has none', async () => {
      const { code, stdout } = await run([
        'choreography',
        'invoke',
        'acme/ingest',
        '--input',
        '"x"',
        ...peer,
      ])
      expect(code).toBe(0)
      expect(api.choreographyInvokes.at(-1)?.input).toBe('x')
      expect(stdout).toBe(`id      run-1\nstatus  succeeded\npeer    ${SELF}\noutput  "x"\n`)
    })

    it('does not wait with --no-wait, and says how to follow the run', async () => {
      const { code, stdout } = await run([
        'choreography',
        'invoke',
        'acme/nightly',
        '--no-wait',
        ...peer,
      ])
      expect(code).toBe(0)
      expect(api.choreographyInvokes.at(-1)).toEqual({ owner: 'acme', fn: 'nightly', wait: false })
      expect(stdout).toBe('id      run-1\nstatus  queued\nfollow it with: chorus status run-1\n')
    })

    it('exits 1 when the run failed, showing the failed step', async () => {
      const failed = {
        ...TRACE,
        status: 'failed',
        root: {
          path: '/definition',
          kind: 'task',
          fn: 'classify',
          status: 'failed',
          attempts: 1,
          startedAt: 0,
          endedAt: 5,
          error: { code: 'timeout', message: 'took too long', step: '/definition' },
        },
      } as const
      const { code, stdout } = await withImpl(
        'invokeChoreographyImpl',
        () =>
          Promise.resolve({
            id: 'run-2',
            status: 'failed',
            error: { code: 'timeout', message: 'took too long' },
            trace: failed,
          }),
        ['choreography', 'invoke', 'acme/ingest', ...peer],
      )
      expect(code).toBe(1)
      expect(stdout).toBe(
        [
          'id      run-2',
          'status  failed',
          'error   timeout: took too long',
          '',
          'STEP                    STATUS            MS  PEER',
          '/definition (classify)  failed (timeout)   5',
          '',
        ].join('\n'),
      )
    })

    it('prints the view with its trace as JSON with --json', async () => {
      const view = { id: 'run-1', status: 'succeeded', output: 1, trace: TRACE } as const
      const { code, stdout } = await withImpl(
        'invokeChoreographyImpl',
        () => Promise.resolve(view),
        ['choreography', 'invoke', 'acme/ingest', '--json', ...peer],
      )
      expect(code).toBe(0)
      expect(JSON.parse(stdout)).toEqual(view)
    })

    it.each([
      [['invoke'], 'chorus choreography invoke: missing <owner>/<name>\n'],
      [['invoke', 'acme'], 'chorus choreography invoke: expected <owner>/<name>, got "acme"\n'],
      [['invoke', 'acme/x', '{nope'], 'chorus choreography invoke: the input is not valid JSON'],
      [['invoke', 'acme/x', '1', '2'], 'chorus choreography invoke: unexpected argument "2"\n'],
      [
        ['invoke', 'acme/x', '1', '--input', '2'],
        'chorus choreography invoke: give the input as an argument or with --input, not both\n',
      ],
      [['invoke', 'acme/x', '--qos', 'fast'], 'chorus choreography invoke: --qos must be'],
      [['frobnicate'], 'chorus choreography: unknown subcommand "frobnicate" (subcommands: '],
    ])('exits 2 on the usage error in %j', async (argv, message) => {
      const before = api.choreographyInvokes.length
      const { code, stdout, stderr } = await run(['choreography', ...argv, ...peer])
      expect({ code, stdout }).toEqual({ code: 2, stdout: '' })
      expect(stderr.startsWith(message)).toBe(true)
      expect(api.choreographyInvokes).toHaveLength(before)
    })

    it("chorus status prints a run's trace too", async () => {
      api.invocations.set('run-9', { id: 'run-9', status: 'succeeded', output: 3, trace: TRACE })
      const { code, stdout } = await run(['status', 'run-9', ...peer])
      expect(code).toBe(0)
      expect(stdout).toBe(`id      run-9\nstatus  succeeded\noutput  3\n\n${TRACE_TABLE}`)
    })
  })
})
