import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseChoreographyText } from '../../src/choreography/index.js'
import { main, type CliIo } from '../../src/cli.js'
import { PEER_CONFIG_OPTIONS, type PeerConfig } from '../../src/config.js'
import { ChorusError } from '../../src/errors.js'
import { extractBundle } from '../../src/function-host/extract-bundle.js'
import { createHttpApi, type HttpServer } from '../../src/http/http-api.js'
import { FakePeerApi, SELF, TRACE } from '../fake-peer-api.js'

interface Run {
  code: number
  stdout: string
  stderr: string
}

async function run(argv: string[], extra: Partial<CliIo> = {}): Promise<Run> {
  let stdout = ''
  let stderr = ''
  const code = await main(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: {},
    ...extra,
  })
  return { code, stdout, stderr }
}

let api: FakePeerApi
let server: HttpServer
let peer: string[]

beforeAll(async () => {
  api = new FakePeerApi()
  server = await createHttpApi(api).listen('127.0.0.1', 0)
  peer = ['--peer', server.url]
})

afterAll(async () => {
  await server.close()
})

/** A URL where nothing listens: a port that was just free. */
async function closedUrl(): Promise<string> {
  const s = await createHttpApi(new FakePeerApi()).listen('127.0.0.1', 0)
  await s.close()
  return s.url
}

describe('chorus peers', () => {
  it('prints an aligned table, marking itself', async () => {
    const { code, stdout, stderr } = await run(['peers', ...peer])
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
    expect(stdout).toBe(
      [
        'PEER                 STATE    LAST SEEN  ADDRESSES',
        '12D3KooWSelf (self)  alive          now  /ip4/127.0.0.1/tcp/4001',
        '12D3KooWOther        suspect      1m05s  /ip4/10.0.0.2/tcp/4001 /ip4/10.0.0.2/tcp/4002',
        '',
      ].join('\n'),
    )
  })

  it('prints the JSON answer with --json', async () => {
    const { code, stdout } = await run(['peers', '--json', ...peer])
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual({ self: SELF, peers: api.peerList })
  })

  it('asks the peer named by CHORUS_PEER, and --peer wins over it', async () => {
    const fromEnv = await run(['peers', '--json'], { env: { CHORUS_PEER: server.url } })
    expect(fromEnv.code).toBe(0)
    const dead = await closedUrl()
    const flagWins = await run(['peers', '--json', '--peer', server.url], {
      env: { CHORUS_PEER: dead },
    })
    expect(flagWins.code).toBe(0)
  })
})

describe('chorus schedulers', () => {
  it('prints schedulers sorted by owner, numbers right-aligned', async () => {
    const { code, stdout } = await run(['schedulers', ...peer])
    expect(code).toBe(0)
    expect(api.schedulerCalls.at(-1)).toBe(false)
    expect(stdout).toBe(
      [
        'OWNER  PROVIDER  PEER           EPOCH  CAPACITY  PENDING  INFLIGHT  GUID',
        'acme   mesh      12D3KooWSelf      12        64        5        10  g-acme',
        'zeta   mesh      12D3KooWOther      3        32        0         1  g-zeta',
        '',
      ].join('\n'),
    )
  })

  it('asks for the local ones only with --local', async () => {
    const { code, stdout } = await run(['schedulers', '--local', '--json', ...peer])
    expect(code).toBe(0)
    expect(api.schedulerCalls.at(-1)).toBe(true)
    expect(JSON.parse(stdout)).toEqual({ schedulers: api.schedulers(true) })
  })

  it('says so when there are none', async () => {
    const saved = api.schedulerList
    api.schedulerList = []
    try {
      expect((await run(['schedulers', ...peer])).stdout).toBe('no schedulers\n')
      expect((await run(['schedulers', '--local', ...peer])).stdout).toBe(
        'no schedulers on this peer\n',
      )
    } finally {
      api.schedulerList = saved
    }
  })
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

describe('chorus status', () => {
  it('prints a known invocation', async () => {
    api.invocations.set('inv 7', { id: 'inv 7', status: 'running', peerId: SELF })
    const { code, stdout } = await run(['status', 'inv 7', ...peer])
    expect(code).toBe(0)
    expect(stdout).toBe(`id      inv 7\nstatus  running\npeer    ${SELF}\n`)
    const json = await run(['status', 'inv 7', '--json', ...peer])
    expect(JSON.parse(json.stdout)).toEqual({ id: 'inv 7', status: 'running', peerId: SELF })
  })

  it('exits 1 for an invocation nobody knows', async () => {
    const { code, stderr } = await run(['status', 'ghost', ...peer])
    expect(code).toBe(1)
    expect(stderr).toBe(
      `chorus status: no peer knows invocation "ghost" (unknown-invocation, HTTP 404 from ${server.url})\n`,
    )
  })

  it('exits 2 without an id', async () => {
    expect(await run(['status', ...peer])).toMatchObject({
      code: 2,
      stderr: 'chorus status: missing <invocation-id>\n',
    })
  })
})

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

describe('usage and help', () => {
  it('prints the overview on --help and exits 0', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const { code, stdout } = await run(argv)
      expect(code).toBe(0)
      expect(stdout).toContain('Usage: chorus <command> [flags]')
      for (const name of ['start', 'peers', 'schedulers', 'invoke', 'status', 'choreography']) {
        expect(stdout).toContain(`\n  ${name} `)
      }
      expect(stdout).toContain('CHORUS_PEER')
    }
  })

  it('prints the overview on stderr and exits 2 with no command', async () => {
    const { code, stdout, stderr } = await run([])
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' })
    expect(stderr).toContain('Usage: chorus <command> [flags]')
  })

  it('exits 2 on an unknown command, naming the known ones', async () => {
    expect(await run(['frobnicate'])).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'chorus: unknown command "frobnicate" (commands: start, peers, schedulers, invoke, deploy, ' +
        'status, choreography; see chorus --help)\n',
    })
    expect((await run(['toString'])).code).toBe(2)
  })

  it('prints each command help with its flags and examples', async () => {
    for (const name of ['peers', 'schedulers', 'invoke', 'status']) {
      const viaFlag = await run([name, '--help'])
      const viaHelp = await run(['help', name])
      expect(viaFlag.code).toBe(0)
      expect(viaFlag.stdout).toBe(viaHelp.stdout)
      expect(viaFlag.stdout).toContain(`Usage: chorus ${name}`)
      expect(viaFlag.stdout).toContain('--peer URL')
      expect(viaFlag.stdout).toContain('Examples:')
    }
    const invoke = (await run(['invoke', '-h'])).stdout
    for (const flag of ['--input', '--priority', '--qos', '--no-wait', '--idempotency-key']) {
      expect(invoke).toContain(flag)
    }
  })

  it('lists every start flag with its variable and default', async () => {
    const { code, stdout } = await run(['start', '--help'])
    expect(code).toBe(0)
    for (const option of PEER_CONFIG_OPTIONS) {
      expect(stdout).toContain(`--${option.flag} ${option.value}`)
      expect(stdout).toContain(`env ${option.env}, default ${option.default}`)
    }
    expect(stdout.split('\n').every((line) => line.length <= 100)).toBe(true)
  })

  it('prints its version', async () => {
    expect(await run(['--version'])).toEqual({ code: 0, stdout: 'chorus 0.1.0\n', stderr: '' })
  })
})

describe('chorus start', () => {
  /** A fake `startPeer` and signal source; `listening` resolves once `start` awaits a signal. */
  function fakeStart(stop: () => Promise<void> = () => Promise.resolve()) {
    const state = {
      config: undefined as PeerConfig | undefined,
      stops: 0,
      exits: [] as number[],
      listener: undefined as ((name: 'SIGINT' | 'SIGTERM') => void) | undefined,
    }
    let listening = (): void => {}
    const installed = new Promise<void>((resolve) => (listening = resolve))
    const io: Partial<CliIo> = {
      startPeer: (config) => {
        state.config = config
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

describe('the chorus program', () => {
  const root = fileURLToPath(new URL('../../../..', import.meta.url))
  const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))
  const exec = promisify(execFile)

  function chorus(args: string[]) {
    return exec(process.execPath, ['--conditions=chorus-source', '--import', 'tsx', cli, ...args], {
      cwd: root,
      env: { ...process.env, CHORUS_PEER: '' },
    })
      .then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }))
      .catch((err: { code: number; stdout: string; stderr: string }) => err)
  }

  it('runs as a program: help exits 0', async () => {
    const { code, stdout } = await chorus(['--help'])
    expect(code).toBe(0)
    expect(stdout).toContain('Usage: chorus <command> [flags]')
  })

  it('runs as a program: an unreachable peer exits 1, a usage error 2', async () => {
    const url = await closedUrl()
    const unreachable = await chorus(['peers', '--peer', url])
    expect(unreachable.code).toBe(1)
    expect(unreachable.stderr).toContain(`cannot reach the peer at ${url}`)
    expect((await chorus(['peers', '--bogus'])).code).toBe(2)
  })
})

describe('chorus deploy', () => {
  it('packs a directory into a bundle, and refuses one with a symlink leading outside it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chorus-cli-dir-'))
    const fn = join(dir, 'fn')
    await mkdir(join(fn, 'lib'), { recursive: true })
    await writeFile(join(fn, 'index.js'), "export { default } from '../lib/impl.js'\n")
    await writeFile(join(fn, 'lib', 'impl.js'), 'export default async (x) => x\n')
    const packed = await run(['deploy', 'acme/dir', fn, ...peer])
    expect({ code: packed.code, stderr: packed.stderr }).toEqual({ code: 0, stderr: '' })
    const sent = api.deploys.at(-1)?.code
    expect(sent?.[0]).toBe(0x1f) // gzip: sent as codeBase64
    const out = join(dir, 'out')
    await mkdir(out)
    await extractBundle(sent ?? new Uint8Array(), out)
    expect(await readFile(join(out, 'lib', 'impl.js'), 'utf8')).toBe(
      'export default async (x) => x\n',
    )

    await symlink('/etc/hostname', join(fn, 'leak'))
    const refused = await run(['deploy', 'acme/dir', fn, ...peer])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/cannot pack .*fn.*outside/)
    await rm(dir, { recursive: true, force: true })
  })

  it('deploys an external endpoint with --url (provider http, no code)', async () => {
    const done = await run([
      'deploy',
      'acme/geo',
      '--url',
      'https://geo.example.com/run',
      '--timeout',
      '5000',
      ...peer,
    ])
    expect({ code: done.code, stderr: done.stderr }).toEqual({ code: 0, stderr: '' })
    expect(api.deploys.at(-1)).toMatchObject({
      owner: 'acme',
      name: 'geo',
      provider: 'http',
      url: 'https://geo.example.com/run',
      timeoutMs: 5000,
    })
    expect(api.deploys.at(-1)?.code).toBeUndefined()
  })

  it('deploys a module file with its settings, and a new version the second time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chorus-cli-deploy-'))
    const file = join(dir, 'double.mjs')
    await writeFile(file, 'export default async (x) => x * 2\n')
    const first = await run([
      'deploy',
      'acme/double',
      file,
      '--memory',
      '256',
      '--timeout',
      '5000',
      ...peer,
    ])
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' })
    expect(first.stdout).toMatch(/function\s+acme\/double\n/)
    expect(first.stdout).toMatch(/version\s+1\n/)
    expect(api.deploys.at(-1)).toMatchObject({
      owner: 'acme',
      name: 'double',
      runtime: 'nodejs',
      memoryMb: 256,
      timeoutMs: 5000,
    })
    const sent = api.deploys.at(-1)?.code
    expect(sent === undefined ? '' : Buffer.from(sent).toString('utf8')).toBe(
      'export default async (x) => x * 2\n',
    )
    const second = await run(['deploy', 'acme/double', file, '--json', ...peer])
    expect(JSON.parse(second.stdout)).toMatchObject({ name: 'double', version: 2 })
    await rm(dir, { recursive: true, force: true })
  })

  it.each([
    [['deploy', 'acme/double'], /expected <owner>\/<function> <file-or-dir>/],
    [['deploy', 'acme/f', 'x.mjs', '--url', 'http://127.0.0.1:1/'], /with --url, expected/],
    [['deploy', 'acme/f', '--url', 'http://x/', '--command', '["a"]'], /--url takes no --command/],
    [['deploy', 'nofunction', 'x.mjs'], /expected <owner>\/<function>/],
    [['deploy', 'acme/f', '/nonexistent/file.mjs'], /cannot read/],
    [['deploy', 'acme/f', '/tmp', '--memory', '0'], /--memory must be a positive integer/],
    [['deploy', 'acme/f', '/tmp', '--runtime', 'python'], /--runtime must be nodejs or process/],
    [['deploy', 'acme/f', '/tmp', '--command', 'ls'], /--command must be a JSON array/],
  ])('refuses %j as a usage error', async (argv, message) => {
    const { code, stderr } = await run([...argv, ...peer])
    expect(code).toBe(2)
    expect(stderr).toMatch(message)
  })
})

describe('chorus choreography', () => {
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chorus-cli-choreography-'))
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  async function file(name: string, text: string): Promise<string> {
    const path = join(dir, name)
    await writeFile(path, text)
    return path
  }

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

  const INGEST_YAML = [
    '# the ingest pipeline',
    'name: ingest',
    'definition:',
    '  sequence:',
    '    - { name: classify, function: classify, retries: 2 }',
    '    - map: { function: resize }',
    '      items: $.images',
    '      maxConcurrency: 8',
    '',
  ].join('\n')
  const INGEST = {
    sequence: [
      { name: 'classify', function: 'classify', retries: 2 },
      { map: { function: 'resize' }, items: '$.images', maxConcurrency: 8 },
    ],
  }

  describe('deploy', () => {
    it('deploys a YAML file and prints the name, version and revision', async () => {
      const path = await file('ingest.yaml', INGEST_YAML)
      const { code, stdout, stderr } = await run(['choreography', 'deploy', 'yaml', path, ...peer])
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
      expect(api.choreographyDeploys.at(-1)).toEqual({
        owner: 'yaml',
        name: 'ingest',
        definition: INGEST,
      })
      expect(stdout).toBe(
        'choreography  yaml/ingest\nversion       1\nrevision      1.00000000000000c0\n',
      )
      const again = await run(['choreography', 'deploy', 'yaml', path, '--json', ...peer])
      expect(JSON.parse(again.stdout)).toEqual({
        name: 'ingest',
        version: 2,
        revision: '2.00000000000000c0',
      })
    })

    it('deploys a JSON file under the name --name gives', async () => {
      const path = await file('ingest.json', JSON.stringify({ name: 'ingest', definition: INGEST }))
      const { code } = await run([
        'choreography',
        'deploy',
        'json',
        path,
        '--name',
        'ingest-canary',
        ...peer,
      ])
      expect(code).toBe(0)
      expect(api.choreographyDeploys.at(-1)).toEqual({
        owner: 'json',
        name: 'ingest-canary',
        definition: INGEST,
      })
    })

    it('exits 1 on a JSON syntax error, naming the file, line and column', async () => {
      const path = await file(
        'broken.json',
        '{\n  "name": "ingest",\n  "definition": { "function": "classify" },,\n}\n',
      )
      const before = api.choreographyDeploys.length
      const { code, stdout, stderr } = await run(['choreography', 'deploy', 'acme', path, ...peer])
      expect({ code, stdout }).toEqual({ code: 1, stdout: '' })
      expect(stderr).toMatch(
        new RegExp(`^chorus choreography deploy: ${path}: bad JSON: .*\\(line 3, column 44\\)\\n$`),
      )
      expect(api.choreographyDeploys).toHaveLength(before)
    })

    it('prints every problem of an invalid definition on its own line, and exits 1', async () => {
      const path = await file('invalid.yaml', INGEST_YAML)
      const errors = [
        { path: '/definition/sequence/0/function', code: 'unknown-function', message: 'no f' },
        { path: '/definition/sequence/1/retires', code: 'unknown-field', message: 'unknown' },
      ]
      const { code, stdout, stderr } = await withImpl(
        'deployChoreographyImpl',
        () => Promise.reject(new ChorusError('bad-request', 'not valid', { errors })),
        ['choreography', 'deploy', 'acme', path, ...peer],
      )
      expect({ code, stdout }).toEqual({ code: 1, stdout: '' })
      expect(stderr).toBe(
        [
          `chorus choreography deploy: ${path}: choreography ingest is not valid, 2 problems ` +
            `(bad-request, HTTP 400 from ${server.url}):`,
          '  /definition/sequence/0/function: no f',
          '  /definition/sequence/1/retires: unknown',
          '',
        ].join('\n'),
      )
    })

    it('prints a 400 without details as any error answer', async () => {
      const path = await file('plain.yaml', INGEST_YAML)
      const { code, stderr } = await withImpl(
        'deployChoreographyImpl',
        () => Promise.reject(new ChorusError('bad-request', 'too many choreographies')),
        ['choreography', 'deploy', 'acme', path, ...peer],
      )
      expect(code).toBe(1)
      expect(stderr).toBe(
        `chorus choreography deploy: too many choreographies (bad-request, HTTP 400 from ${server.url})\n`,
      )
    })

    it.each([
      ['no-name.yaml', 'definition: { function: f }\n', 'has no "name": add one, or give --name'],
      ['list.yaml', '- name: x\n', 'must hold an object with "name" and "definition"'],
      ['extra.yaml', 'name: x\nversion: 2\ndefinition: {}\n', 'unknown field "version"'],
      ['no-def.yaml', 'name: x\n', 'has no "definition"'],
      ['bad-name.yaml', 'name: a/b\ndefinition: {}\n', 'choreography name "a/b" may only'],
      ['number-name.yaml', 'name: 7\ndefinition: {}\n', '"name" must be a string'],
      ['empty.yaml', '\n', 'choreography text is empty'],
      ['tab.yaml', 'name: x\ndefinition:\n\t- a\n', 'bad YAML'],
    ])('exits 1 when %s does not hold a choreography', async (name, text, message) => {
      const path = await file(name, text)
      const before = api.choreographyDeploys.length
      const { code, stderr } = await run(['choreography', 'deploy', 'acme', path, ...peer])
      expect(code).toBe(1)
      expect(stderr).toContain(`chorus choreography deploy: ${path}`)
      expect(stderr).toContain(message)
      expect(stderr.split('\n')).toHaveLength(2)
      expect(api.choreographyDeploys).toHaveLength(before)
    })

    it.each([
      [['acme'], 'expected <owner> <file>, got 1 argument(s)'],
      [
        ['acme/ingest', 'x.yaml'],
        'expected <owner> <file>, got "acme/ingest": the name comes from the file, or from --name',
      ],
      [['ac me', 'x.yaml'], 'owner "ac me" may only contain'],
      [['acme', 'x.yaml', '--name', 'a/b'], '--name: choreography name "a/b" may only'],
      [['acme', '/nonexistent/x.yaml'], 'cannot read /nonexistent/x.yaml'],
      [['acme', '/tmp'], '/tmp is a directory'],
      [['acme', 'x.yaml', '--runtime', 'nodejs'], 'unknown flag --runtime'],
    ])('exits 2 on the usage error in %j', async (argv, message) => {
      const { code, stdout, stderr } = await run(['choreography', 'deploy', ...argv, ...peer])
      expect({ code, stdout }).toEqual({ code: 2, stdout: '' })
      expect(stderr).toContain(`chorus choreography deploy: ${message}`)
    })
  })

  describe('list, show and delete', () => {
    it("lists an owner's choreographies by name, or says it has none", async () => {
      const yaml = await file('b.yaml', 'name: b-second\ndefinition: { function: f }\n')
      const json = await file('a.json', '{"name": "a-first", "definition": {"function": "f"}}')
      await run(['choreography', 'deploy', 'lister', yaml, ...peer])
      await run(['choreography', 'deploy', 'lister', json, ...peer])
      const { code, stdout } = await run(['choreography', 'list', 'lister', ...peer])
      expect(code).toBe(0)
      expect(stdout).toBe(
        [
          'NAME      VERSION  REVISION            DEPLOYED',
          'a-first         1  1.00000000000000c0  2023-11-14T22:13:20.000Z',
          'b-second        1  1.00000000000000c0  2023-11-14T22:13:20.000Z',
          '',
        ].join('\n'),
      )
      const asJson = await run(['choreography', 'list', 'lister', '--json', ...peer])
      expect(JSON.parse(asJson.stdout)).toEqual({
        choreographies: await api.choreographies('lister'),
      })
      const unknown = await run(['choreography', 'list', 'nobody', ...peer])
      expect(unknown.code).toBe(1)
      expect(unknown.stderr).toBe(
        `chorus choreography list: no nobody (unknown-owner, HTTP 404 from ${server.url})\n`,
      )
    })

    it("shows a choreography as YAML that deploys again, or as the peer's JSON", async () => {
      const path = await file('show.yaml', INGEST_YAML)
      await run(['choreography', 'deploy', 'shower', path, ...peer])
      const { code, stdout } = await run(['choreography', 'show', 'shower/ingest', ...peer])
      expect(code).toBe(0)
      expect(stdout.split('\n')[0]).toBe(
        '# shower/ingest: version 1, revision 1.00000000000000c0, deployed 2023-11-14T22:13:20.000Z',
      )
      expect(stdout).toContain('items: $.images\n')
      expect(parseChoreographyText(stdout)).toEqual({ name: 'ingest', definition: INGEST })
      const asJson = await run(['choreography', 'show', 'shower/ingest', '--json', ...peer])
      expect(JSON.parse(asJson.stdout)).toEqual(await api.choreography('shower', 'ingest'))
    })

    it('quotes YAML strings that would read back as something else', async () => {
      const tricky = { function: 'f', name: '123', extra: ['yes', 'null', '#x', 'a: b', ''] }
      const path = await file('tricky.json', JSON.stringify({ name: 't', definition: tricky }))
      await run(['choreography', 'deploy', 'tricky', path, ...peer])
      const { stdout } = await run(['choreography', 'show', 'tricky/t', ...peer])
      expect(parseChoreographyText(stdout)).toEqual({ name: 't', definition: tricky })
    })

    it('deletes a choreography, and exits 1 for one that does not exist', async () => {
      const path = await file('gone.yaml', 'name: gone\ndefinition: { function: f }\n')
      await run(['choreography', 'deploy', 'deleter', path, ...peer])
      const { code, stdout } = await run(['choreography', 'delete', 'deleter/gone', ...peer])
      expect(code).toBe(0)
      expect(stdout).toBe('deleted choreography deleter/gone (version 2)\n')
      const again = await run(['choreography', 'delete', 'deleter/gone', '--json', ...peer])
      expect(again.code).toBe(1)
      expect(again.stderr).toBe(
        `chorus choreography delete: no choreography gone ` +
          `(unknown-choreography, HTTP 404 from ${server.url})\n`,
      )
      const show = await run(['choreography', 'show', 'deleter/gone', ...peer])
      expect(show.code).toBe(1)
    })

    it.each([
      [['list'], 'chorus choreography list: missing <owner>\n'],
      [['list', 'a', 'b'], 'chorus choreography list: unexpected argument "b"\n'],
      [['show', 'acme'], 'chorus choreography show: expected <owner>/<name>, got "acme"\n'],
      [['show', 'acme/a/b'], 'chorus choreography show: choreography name "a/b" may only'],
      [['delete'], 'chorus choreography delete: missing <owner>/<name>\n'],
      [['delete', 'ac me/x'], 'chorus choreography delete: owner "ac me" may only'],
    ])('exits 2 on the usage error in %j', async (argv, message) => {
      const { code, stdout, stderr } = await run(['choreography', ...argv, ...peer])
      expect({ code, stdout }).toEqual({ code: 2, stdout: '' })
      expect(stderr.startsWith(message)).toBe(true)
    })
  })

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

  describe('help', () => {
    const SUBCOMMANDS = ['deploy', 'list', 'show', 'invoke', 'delete']

    it('prints the overview with every subcommand and examples', async () => {
      for (const argv of [
        ['choreography', '--help'],
        ['help', 'choreography'],
      ]) {
        const { code, stdout } = await run(argv)
        expect(code).toBe(0)
        expect(stdout).toContain('Usage: chorus choreography <subcommand>')
        for (const sub of SUBCOMMANDS) expect(stdout).toContain(`\n  ${sub} <owner>`)
        expect(stdout).toContain('Examples:')
      }
    })

    it('prints the overview on stderr and exits 2 with no subcommand', async () => {
      const { code, stdout, stderr } = await run(['choreography'])
      expect({ code, stdout }).toEqual({ code: 2, stdout: '' })
      expect(stderr).toContain('Usage: chorus choreography <subcommand>')
    })

    it('prints each subcommand help, three ways, with examples, within 100 columns', async () => {
      for (const sub of SUBCOMMANDS) {
        const viaFlag = await run(['choreography', sub, '--help'])
        expect(viaFlag.code).toBe(0)
        expect(viaFlag.stdout).toContain(`Usage: chorus choreography ${sub}`)
        expect(viaFlag.stdout).toContain('--peer URL')
        expect(viaFlag.stdout).toContain('Examples:\n  chorus choreography ')
        expect((await run(['choreography', 'help', sub])).stdout).toBe(viaFlag.stdout)
        expect((await run(['help', 'choreography', sub])).stdout).toBe(viaFlag.stdout)
        expect(viaFlag.stdout.split('\n').every((line) => line.length <= 100)).toBe(true)
      }
      const invoke = (await run(['choreography', 'invoke', '-h'])).stdout
      for (const flag of ['--input', '--priority', '--qos', '--no-wait', '--idempotency-key']) {
        expect(invoke).toContain(flag)
      }
      expect((await run(['choreography', 'deploy', '-h'])).stdout).toContain('--name NAME')
      for (const argv of [['--help'], ['choreography', '--help']]) {
        const { stdout } = await run(argv)
        expect(stdout.split('\n').every((line) => line.length <= 100)).toBe(true)
      }
    })
  })

  it('says which URL it could not reach', async () => {
    const url = await closedUrl()
    const path = await file('reach.yaml', INGEST_YAML)
    for (const argv of [
      ['deploy', 'acme', path],
      ['list', 'acme'],
      ['show', 'acme/x'],
      ['invoke', 'acme/x'],
      ['delete', 'acme/x'],
    ]) {
      const { code, stderr } = await run(['choreography', ...argv, '--peer', url])
      expect(code).toBe(1)
      expect(stderr).toMatch(
        new RegExp(`^chorus choreography ${argv[0]}: cannot reach the peer at ${url}: `),
      )
    }
  })

  it('refuses a directory whatever its name', async () => {
    const sub = join(dir, 'looks.yaml')
    await mkdir(sub)
    const { code, stderr } = await run(['choreography', 'deploy', 'acme', sub, ...peer])
    expect(code).toBe(2)
    expect(stderr).toBe(
      `chorus choreography deploy: ${sub} is a directory, not a choreography file\n`,
    )
  })
})
