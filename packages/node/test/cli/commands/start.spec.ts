/** `chorus start` with a fake `startPeer`, signals and exit: config, banner, stopping. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main, type CliIo } from '../../../src/cli.js'
import { PEER_CONFIG_OPTIONS, type PeerConfig } from '../../../src/config.js'
import type { StartPeerOptions } from '../../../src/peer.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChorusError } from '../../../src/errors.js'
import type { HttpServer } from '../../../src/http/http-api.js'
import type { FakePeerApi } from '../../fake-peer-api.js'
import { SELF } from '../../fake-peer-api.js'
import { waitFor } from '../../wait-for.js'
import { run, startFakePeer } from '../support.js'

let api: FakePeerApi
let server: HttpServer

beforeAll(async () => {
  ;({ api, server } = await startFakePeer())
})

afterAll(async () => {
  await server.close()
})

/** A fake `startPeer` and signal source; `listening` resolves once `start` awaits a signal. */
function fakeStart(
  stop: () => Promise<void> = () => Promise.resolve(),
  whenStarted: (options: StartPeerOptions | undefined) => void = () => {},
) {
  const state = {
    config: undefined as PeerConfig | undefined,
    stops: 0,
    exits: [] as number[],
    listener: undefined as ((name: 'SIGINT' | 'SIGTERM') => void) | undefined,
  }
  let listening = (): void => {}
  const installed = new Promise<void>((resolve) => (listening = resolve))
  const io: Partial<CliIo> = {
    startPeer: (config, options) => {
      state.config = config
      whenStarted(options)
      return Promise.resolve({
        api,
        httpUrl: 'http://127.0.0.1:7070',
        multiaddrs: ['/ip4/127.0.0.1/tcp/4001/p2p/self', '/ip4/10.0.0.1/tcp/4001/p2p/self'],
        stop: () => {
          state.stops += 1
          return stop()
        },
      })
    },
    onSignal: (listener) => {
      state.listener = listener
      listening()
      return () => (state.listener = undefined)
    },
    exit: (code) => void state.exits.push(code),
  }
  const signal = (name: 'SIGINT' | 'SIGTERM'): void => state.listener?.(name)
  return { state, io, installed, signal }
}

describe('chorus start --help', () => {
  it('lists every start flag with its variable and default', async () => {
    const { code, stdout } = await run(['start', '--help'])
    expect(code).toBe(0)
    for (const option of PEER_CONFIG_OPTIONS) {
      expect(stdout).toContain(`--${option.flag} ${option.value}`)
      expect(stdout).toContain(`env ${option.env}, default ${option.default}`)
    }
    expect(stdout.split('\n').every((line) => line.length <= 100)).toBe(true)
  })

  it('tells of the config file, its keys, and the log flags', async () => {
    const { stdout } = await run(['start', '-h'])
    for (const text of [
      '--config FILE',
      'env CHORUS_CONFIG',
      'keys are the long flags\nin camelCase',
      'a variable over the file, the file over the default',
      '--log-level LEVEL',
      'fatal|error|warn|info|debug|trace|silent',
      'env CHORUS_LOG_LEVEL, default info',
      '--log-format FORMAT',
      'env CHORUS_LOG_FORMAT, default pretty on a terminal, else json',
      'chorus start --config peer.yaml',
    ]) {
      expect(stdout).toContain(text)
    }
  })
})

describe('chorus start', () => {
  it('starts the peer with the parsed config, prints where it is, and stops on a signal', async () => {
    const { state, io, installed, signal } = fakeStart()
    const running = run(['start', '--http', '127.0.0.1:0', '--owner-limit', '3'], {
      ...io,
      env: { CHORUS_DATA_DIR: '/tmp/chorus-test' },
    })
    await installed
    expect(state.config?.http).toEqual({ host: '127.0.0.1', port: 0 })
    expect(state.config?.ownerLimit).toBe(3)
    signal('SIGTERM')
    const { code, stdout, stderr } = await running
    expect(code).toBe(0)
    expect(state.stops).toBe(1)
    expect(state.exits).toEqual([0])
    expect(state.listener).toBeUndefined()
    expect(stdout).toBe(
      [
        `peer id   ${SELF}`,
        'libp2p    /ip4/127.0.0.1/tcp/4001/p2p/self',
        '          /ip4/10.0.0.1/tcp/4001/p2p/self',
        'http      http://127.0.0.1:7070',
        'data dir  /tmp/chorus-test',
        'Press Ctrl+C to stop.',
        '',
      ].join('\n'),
    )
    expect(stderr).toBe('SIGTERM: stopping the peer (send it again to exit at once)\n')
  })

  it('exits at once on a second signal while stopping', async () => {
    let finishStop = (): void => {}
    const { state, io, installed, signal } = fakeStart(
      () => new Promise<void>((resolve) => (finishStop = resolve)),
    )
    const running = run(['start'], io)
    await installed
    signal('SIGINT')
    signal('SIGINT')
    expect(state.exits).toEqual([130])
    expect(state.stops).toBe(1)
    finishStop()
    expect((await running).code).toBe(0)
  })

  it('exits 1 when stopping fails', async () => {
    const { io, installed, signal } = fakeStart(() => Promise.reject(new Error('stuck')))
    const running = run(['start'], io)
    await installed
    signal('SIGINT')
    const { code, stderr } = await running
    expect(code).toBe(1)
    expect(stderr).toContain('chorus start: stopping failed: stuck\n')
  })

  it('exits 2 on a bad flag without starting anything', async () => {
    const { state, io } = fakeStart()
    const { code, stderr } = await run(['start', '--owner-limit', 'many'], io)
    expect(code).toBe(2)
    expect(stderr).toBe('chorus start: --owner-limit must be a positive whole number, got "many"\n')
    expect(state.config).toBeUndefined()
  })

  it('exits 1 when the peer cannot start', async () => {
    const { code, stderr } = await run(['start', '--http', '127.0.0.1:0'], {
      startPeer: () => Promise.reject(new ChorusError('internal', 'cannot serve HTTP on x')),
    })
    expect(code).toBe(1)
    expect(stderr).toBe('chorus start: cannot serve HTTP on x\n')
  })
})

describe('chorus start with a config file', () => {
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chorus-cli-config-'))
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  /** Runs `chorus start argv` to the point it has started, and stops it; its config. */
  async function started(argv: string[], env: Record<string, string> = {}) {
    const { state, io, installed, signal } = fakeStart()
    const running = run(['start', ...argv], { ...io, env })
    await installed
    signal('SIGINT')
    const result = await running
    return { ...result, config: state.config }
  }

  it('takes the settings in the file, under the flags and the variables', async () => {
    const path = join(dir, 'peer.yaml')
    await writeFile(
      path,
      'dataDir: /tmp/from-file\nownerLimit: 8\nworkerMemory: 512\nplacement: openwhisk\n',
    )
    const { code, stdout, config } = await started(['--config', path, '--owner-limit', '3'], {
      CHORUS_WORKER_MEMORY: '1024',
    })
    expect(code).toBe(0)
    expect(config).toMatchObject({
      ownerLimit: 3,
      workerMemoryMb: 1024,
      placement: 'openwhisk',
      dataDir: '/tmp/from-file',
    })
    expect(stdout).toContain('data dir  /tmp/from-file\n')
  })

  it('finds the file through CHORUS_CONFIG, and --config wins over it', async () => {
    const json = join(dir, 'peer.json')
    await writeFile(json, JSON.stringify({ ownerLimit: 9, hostIdle: '2s' }))
    const other = join(dir, 'other.yml')
    await writeFile(other, 'ownerLimit: 4\n')
    expect((await started([], { CHORUS_CONFIG: json })).config).toMatchObject({
      ownerLimit: 9,
      hostIdleMs: 2_000,
    })
    expect((await started(['--config', other], { CHORUS_CONFIG: json })).config).toMatchObject({
      ownerLimit: 4,
      hostIdleMs: 600_000,
    })
  })

  it.each([
    [
      'missing.yaml',
      undefined,
      /^chorus start: cannot read the config file .*missing\.yaml: ENOENT/,
    ],
    [
      'keys.yaml',
      'owner-limit: 3\n',
      /: unknown key "owner-limit" \(did you mean ownerLimit\?\)\n$/,
    ],
    [
      'value.yaml',
      'ownerLimit: many\n',
      /: ownerLimit must be a positive whole number, got "many"\n$/,
    ],
    ['syntax.json', '{"ownerLimit": 3,}', /syntax\.json: bad JSON: /],
    ['peer.ini', 'ownerLimit = 3\n', /peer\.ini: a config file is JSON \(\.json\) or YAML/],
  ])('exits 2 for %s, naming it, and starts nothing', async (name, text, message) => {
    const path = join(dir, name)
    if (text !== undefined) await writeFile(path, text)
    const { state, io } = fakeStart()
    const { code, stdout, stderr } = await run(['start', '--config', path], io)
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' })
    expect(stderr).toMatch(message)
    expect(stderr).toContain(path)
    expect(state.config).toBeUndefined()
  })
})

describe('chorus start logging', () => {
  /**
   * Starts with `argv` and a fake peer that logs one line at each level (and one from a
   * component), stops it, and waits for `until` in what reached stderr (pretty lines go
   * through a stream and arrive a little later).
   */
  async function logs(
    argv: string[],
    extra: Partial<CliIo> = {},
    until: (stderr: string) => boolean = () => true,
  ) {
    let stderr = ''
    let stdout = ''
    const { io, installed, signal } = fakeStart(undefined, (options) => {
      const log = options?.log
      log?.trace('tracing')
      log?.debug('debugging')
      log?.info('peer up')
      log?.child({ component: 'mesh:membership' }).warn({ peer: 'p2' }, 'suspect')
    })
    const running = main(['start', ...argv], {
      env: {},
      ...io,
      ...extra,
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
    })
    await installed
    signal('SIGTERM')
    expect(await running).toBe(0)
    await waitFor('the log lines', () => until(stderr))
    return { stdout, stderr }
  }

  const jsonLines = (stderr: string) =>
    stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)

  it('writes JSON lines from info up on stderr by default; the banner alone is on stdout', async () => {
    const { stdout, stderr } = await logs([])
    expect(stdout.startsWith(`peer id   ${SELF}\n`)).toBe(true)
    expect(stdout).not.toContain('peer up')
    const lines = jsonLines(stderr).map(({ time, ...line }) => {
      expect(new Date(String(time)).toISOString()).toBe(time)
      return line
    })
    expect(lines).toEqual([
      { level: 'info', msg: 'peer up' },
      { level: 'warn', component: 'mesh:membership', peer: 'p2', msg: 'suspect' },
    ])
    // The CLI's own lines stay plain text.
    expect(stderr).toContain('SIGTERM: stopping the peer (send it again to exit at once)\n')
  })

  it('logs what --log-level (or CHORUS_LOG_LEVEL) asks for', async () => {
    const levels = (stderr: string) => jsonLines(stderr).map((line) => line.level)
    expect(levels((await logs(['--log-level', 'trace'])).stderr)).toEqual([
      'trace',
      'debug',
      'info',
      'warn',
    ])
    expect(levels((await logs(['--log-level', 'warn'])).stderr)).toEqual(['warn'])
    expect(levels((await logs(['--log-level', 'silent'])).stderr)).toEqual([])
    const fromEnv = await logs([], { env: { CHORUS_LOG_LEVEL: 'debug' } })
    expect(levels(fromEnv.stderr)).toEqual(['debug', 'info', 'warn'])
  })

  it('writes for people with --log-format pretty, and by default on a terminal', async () => {
    const done = (stderr: string) => stderr.includes('suspect')
    for (const run of [
      () => logs(['--log-format', 'pretty'], {}, done),
      () => logs([], { stderrIsTTY: true }, done),
    ]) {
      const { stderr } = await run()
      expect(stderr).toMatch(/INFO.*: peer up\n/)
      expect(stderr).toMatch(/WARN.*: suspect\n/)
      expect(stderr).toContain('component: "mesh:membership"')
      expect(jsonLines(stderr)).toEqual([])
    }
    // A terminal does not override an explicit format.
    const json = await logs(['--log-format', 'json'], { stderrIsTTY: true })
    expect(jsonLines(json.stderr).map((line) => line.msg)).toEqual(['peer up', 'suspect'])
  })

  it('exits 2 on a bad --log-level or --log-format, starting nothing', async () => {
    for (const [argv, message] of [
      [['--log-level', 'loud'], '--log-level must be fatal, error, warn, info, debug, trace or'],
      [['--log-format', 'xml'], '--log-format must be json or pretty, got "xml"'],
    ] as const) {
      const { state, io } = fakeStart()
      const { code, stderr } = await run(['start', ...argv], io)
      expect(code).toBe(2)
      expect(stderr).toContain(`chorus start: ${message}`)
      expect(state.config).toBeUndefined()
    }
  })
})
