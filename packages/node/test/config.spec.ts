import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  PEER_CONFIG_OPTIONS,
  configFilePath,
  parseDuration,
  parsePeerConfig,
  parseStartFlags,
  peerSettingsSchema,
  readPeerConfigFile,
  type PeerConfigFile,
} from '../src/config.js'
import { ChorusError } from '../src/errors.js'

function badRequest(
  argv: string[],
  env: Record<string, string> = {},
  file?: PeerConfigFile,
): string {
  try {
    parsePeerConfig(argv, env, file === undefined ? {} : { file })
  } catch (err) {
    expect(err).toBeInstanceOf(ChorusError)
    expect((err as ChorusError).code).toBe('bad-request')
    return (err as ChorusError).message
  }
  throw new Error(`expected ${JSON.stringify(argv)} ${JSON.stringify(env)} to be refused`)
}

describe('parsePeerConfig', () => {
  it('has defaults for everything', () => {
    expect(parsePeerConfig([], {})).toEqual({
      dataDir: './.chorus',
      listen: ['/ip4/127.0.0.1/tcp/0'],
      join: [],
      http: { host: '127.0.0.1', port: 7070 },
      workerMemoryMb: 2048,
      schedulerIdleMs: 600_000,
      hostIdleMs: 600_000,
      ownerLimit: 64,
      placement: 'warm-bounded',
      logLevel: 'info',
      logFormat: 'json',
    })
  })

  it('reads every flag', () => {
    const config = parsePeerConfig(
      [
        '--data-dir',
        '/var/lib/chorus',
        '--listen',
        '/ip4/0.0.0.0/tcp/4001',
        '--listen=/ip6/::/tcp/4001',
        '--join',
        '/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWA',
        '--http',
        '0.0.0.0:0',
        '--worker-memory',
        '4096',
        '--psk',
        'mesh.key',
        '--scheduler-idle',
        '30s',
        '--host-idle',
        '1.5s',
        '--owner-limit',
        '8',
        '--placement',
        'openwhisk',
        '--log-level',
        'debug',
        '--log-format',
        'pretty',
      ],
      {},
    )
    expect(config).toEqual({
      dataDir: '/var/lib/chorus',
      listen: ['/ip4/0.0.0.0/tcp/4001', '/ip6/::/tcp/4001'],
      join: ['/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWA'],
      http: { host: '0.0.0.0', port: 0 },
      workerMemoryMb: 4096,
      pskFile: 'mesh.key',
      schedulerIdleMs: 30_000,
      hostIdleMs: 1_500,
      ownerLimit: 8,
      placement: 'openwhisk',
      logLevel: 'debug',
      logFormat: 'pretty',
    })
  })

  it('reads every environment variable, lists comma-separated', () => {
    const config = parsePeerConfig([], {
      CHORUS_DATA_DIR: '/data',
      CHORUS_LISTEN: '/ip4/0.0.0.0/tcp/4001, /ip4/0.0.0.0/tcp/4002,',
      CHORUS_JOIN: '/dns4/seed.example/tcp/4001,/ip4/10.0.0.9/tcp/4001',
      CHORUS_HTTP: '[::1]:8080',
      CHORUS_WORKER_MEMORY: '512',
      CHORUS_PSK: '/etc/chorus/psk',
      CHORUS_SCHEDULER_IDLE: '90000',
      CHORUS_HOST_IDLE: '2m',
      CHORUS_OWNER_LIMIT: '100',
      CHORUS_PLACEMENT: 'openwhisk',
      CHORUS_LOG_LEVEL: 'warn',
      CHORUS_LOG_FORMAT: 'json',
    })
    expect(config).toEqual({
      dataDir: '/data',
      listen: ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002'],
      join: ['/dns4/seed.example/tcp/4001', '/ip4/10.0.0.9/tcp/4001'],
      http: { host: '::1', port: 8080 },
      workerMemoryMb: 512,
      pskFile: '/etc/chorus/psk',
      schedulerIdleMs: 90_000,
      hostIdleMs: 120_000,
      ownerLimit: 100,
      placement: 'openwhisk',
      logLevel: 'warn',
      logFormat: 'json',
    })
  })

  it('lets a flag win over its variable, and a variable over the default', () => {
    const env = {
      CHORUS_HTTP: '10.0.0.1:9000',
      CHORUS_OWNER_LIMIT: '5',
      CHORUS_JOIN: '/ip4/10.0.0.1/tcp/1',
      CHORUS_WORKER_MEMORY: '1024',
    }
    const config = parsePeerConfig(['--http', '127.0.0.1:1', '--join', '/ip4/10.0.0.2/tcp/2'], env)
    expect(config.http).toEqual({ host: '127.0.0.1', port: 1 })
    expect(config.join).toEqual(['/ip4/10.0.0.2/tcp/2'])
    expect(config.ownerLimit).toBe(5)
    expect(config.workerMemoryMb).toBe(1024)
    expect(config.dataDir).toBe('./.chorus')
  })

  it('takes the last of a repeated single-valued flag, and commas in a repeated one', () => {
    const config = parsePeerConfig(
      [
        '--owner-limit',
        '1',
        '--owner-limit',
        '2',
        '--join',
        '/ip4/1.1.1.1/tcp/1,/ip4/2.2.2.2/tcp/2',
      ],
      {},
    )
    expect(config.ownerLimit).toBe(2)
    expect(config.join).toEqual(['/ip4/1.1.1.1/tcp/1', '/ip4/2.2.2.2/tcp/2'])
  })

  it('counts a variable set to the empty string as unset', () => {
    const empty = Object.fromEntries(PEER_CONFIG_OPTIONS.map((o) => [o.env, '']))
    expect(parsePeerConfig([], empty)).toEqual(parsePeerConfig([], {}))
  })

  it.each([
    [['--data-dir', ''], '--data-dir must not be empty'],
    [
      ['--listen', 'ip4/127.0.0.1/tcp/0'],
      '--listen: "ip4/127.0.0.1/tcp/0" is not a multiaddr: it must start with \'/\'',
    ],
    [['--listen', '/'], '--listen: "/" is not a multiaddr: it has an empty component'],
    [['--listen', '/ip4//tcp/1'], 'it has an empty component'],
    [['--listen', '/ip4/1.2.3.4/tcp/1/'], 'it has an empty component'],
    [['--listen', '/ip4/1.2.3.4/tcp/ 1'], 'it contains whitespace'],
    [['--listen', ','], '--listen needs at least one multiaddr'],
    [
      ['--join', '10.0.0.1:4001'],
      '--join: "10.0.0.1:4001" is not a multiaddr: it must start with \'/\'',
    ],
    [
      ['--http', '7070'],
      '--http must be HOST:PORT (like 127.0.0.1:7070 or [::1]:7070), got "7070"',
    ],
    [['--http', ':7070'], '--http must be HOST:PORT'],
    [['--http', 'localhost:'], '--http must be HOST:PORT'],
    [['--http', '::1:7070'], '--http must be HOST:PORT'],
    [['--http', 'localhost:http'], '--http must be HOST:PORT'],
    [['--http=localhost:-1'], '--http must be HOST:PORT'],
    [['--http', 'localhost:65536'], '--http: port must be 0 to 65535, got 65536'],
    [['--worker-memory', '0'], '--worker-memory must be a positive whole number, got "0"'],
    [['--worker-memory=-5'], '--worker-memory must be a positive whole number, got "-5"'],
    [['--worker-memory', '1.5'], '--worker-memory must be a positive whole number'],
    [['--worker-memory', '1e3'], '--worker-memory must be a positive whole number'],
    [['--worker-memory', 'lots'], '--worker-memory must be a positive whole number'],
    [
      ['--worker-memory', '99999999999999999999'],
      '--worker-memory must be a positive whole number',
    ],
    [['--owner-limit', '0'], '--owner-limit must be a positive whole number, got "0"'],
    [['--owner-limit', ' '], '--owner-limit must not be empty'],
    [['--psk', ''], '--psk must not be empty'],
    [['--scheduler-idle', '0'], '--scheduler-idle must be at least 1 ms and finite, got "0"'],
    [['--scheduler-idle', '0.1ms'], '--scheduler-idle must be at least 1 ms'],
    [
      ['--scheduler-idle', '10x'],
      '--scheduler-idle must be a duration like 600000, 30s, 10m or 1h',
    ],
    [['--scheduler-idle', '1.5'], '--scheduler-idle must be a duration'],
    [['--scheduler-idle=-1s'], '--scheduler-idle must be a duration'],
    [['--scheduler-idle', '1d'], '--scheduler-idle must be a duration'],
    [['--host-idle', '0'], '--host-idle must be at least 1 ms and finite, got "0"'],
    [['--host-idle', '5 minutes'], '--host-idle must be a duration like 600000, 30s, 10m or 1h'],
    [['--host-idle', ''], '--host-idle must not be empty'],
    [['--placement', 'random'], '--placement must be warm-bounded or openwhisk, got "random"'],
    [['--placement', 'OpenWhisk'], '--placement must be warm-bounded or openwhisk'],
    [
      ['--log-level', 'INFO'],
      '--log-level must be fatal, error, warn, info, debug, trace or silent',
    ],
    [['--log-level', ''], '--log-level must not be empty'],
    [['--log-format', 'yaml'], '--log-format must be json or pretty, got "yaml"'],
    [['--config', ''], '--config must not be empty'],
    [['--nope'], 'unknown flag --nope (see chorus start --help)'],
    [['-x'], 'unknown flag -x'],
    [['start'], 'unexpected argument "start" (see chorus start --help)'],
    [['--listen'], '--listen needs a value'],
    [
      ['--owner-limit', '-5'],
      "--owner-limit needs a value; write --owner-limit=VALUE for one that starts with '-'",
    ],
  ])('refuses %j: %s', (argv, message) => {
    expect(badRequest(argv)).toContain(message)
  })

  it.each([
    ['CHORUS_DATA_DIR', ' ', 'CHORUS_DATA_DIR must not be empty'],
    ['CHORUS_LISTEN', 'tcp/4001', 'CHORUS_LISTEN: "tcp/4001" is not a multiaddr'],
    ['CHORUS_LISTEN', ' , ', 'CHORUS_LISTEN needs at least one multiaddr'],
    ['CHORUS_JOIN', '/ip4/1.1.1.1/tcp/1,nope', 'CHORUS_JOIN: "nope" is not a multiaddr'],
    ['CHORUS_HTTP', 'localhost', 'CHORUS_HTTP must be HOST:PORT'],
    ['CHORUS_HTTP', 'localhost:70000', 'CHORUS_HTTP: port must be 0 to 65535'],
    [
      'CHORUS_WORKER_MEMORY',
      'abc',
      'CHORUS_WORKER_MEMORY must be a positive whole number, got "abc"',
    ],
    ['CHORUS_SCHEDULER_IDLE', 'soon', 'CHORUS_SCHEDULER_IDLE must be a duration'],
    ['CHORUS_HOST_IDLE', '-1s', 'CHORUS_HOST_IDLE must be a duration'],
    ['CHORUS_OWNER_LIMIT', '-1', 'CHORUS_OWNER_LIMIT must be a positive whole number'],
    ['CHORUS_PLACEMENT', 'least-loaded', 'CHORUS_PLACEMENT must be warm-bounded or openwhisk'],
    [
      'CHORUS_LOG_LEVEL',
      'verbose',
      'CHORUS_LOG_LEVEL must be fatal, error, warn, info, debug, trace or silent, got "verbose"',
    ],
    ['CHORUS_LOG_FORMAT', 'text', 'CHORUS_LOG_FORMAT must be json or pretty, got "text"'],
  ])('refuses %s=%j, naming the variable', (name, value, message) => {
    expect(badRequest([], { [name]: value })).toContain(message)
  })

  it('reads --host-idle apart from --scheduler-idle, a flag winning over CHORUS_HOST_IDLE', () => {
    const env = { CHORUS_HOST_IDLE: '45s', CHORUS_SCHEDULER_IDLE: '1h' }
    expect(parsePeerConfig([], env)).toMatchObject({
      hostIdleMs: 45_000,
      schedulerIdleMs: 3_600_000,
    })
    expect(parsePeerConfig(['--host-idle', '250ms'], env)).toMatchObject({
      hostIdleMs: 250,
      schedulerIdleMs: 3_600_000,
    })
    expect(parsePeerConfig(['--scheduler-idle', '5s'], {}).hostIdleMs).toBe(600_000)
  })

  it('checks the variable only when no flag overrides it', () => {
    expect(parsePeerConfig(['--owner-limit', '3'], { CHORUS_OWNER_LIMIT: 'junk' }).ownerLimit).toBe(
      3,
    )
  })
})

describe('parseDuration', () => {
  it.each([
    ['1', 1],
    ['250', 250],
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1_500],
    ['10m', 600_000],
    ['1.5m', 90_000],
    ['2h', 7_200_000],
    [' 5s ', 5_000],
  ])('reads %j as %d ms', (text, ms) => {
    expect(parseDuration('--x', text)).toBe(ms)
  })
})

describe('the log flags', () => {
  it('log info, as JSON, unless told otherwise; pretty by default on a terminal', () => {
    expect(parsePeerConfig([], {})).toMatchObject({ logLevel: 'info', logFormat: 'json' })
    expect(parsePeerConfig([], {}, { stderrIsTTY: true }).logFormat).toBe('pretty')
    expect(parsePeerConfig(['--log-format', 'json'], {}, { stderrIsTTY: true }).logFormat).toBe(
      'json',
    )
    expect(
      parsePeerConfig([], { CHORUS_LOG_FORMAT: 'json' }, { stderrIsTTY: true }).logFormat,
    ).toBe('json')
  })

  it.each(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])(
    'takes --log-level %s',
    (level) => {
      expect(parsePeerConfig(['--log-level', level], {}).logLevel).toBe(level)
    },
  )
})

describe('the settings', () => {
  it('are named after their key: the flag is its kebab-case, the variable CHORUS_ and its snake-case', () => {
    const keys = Object.keys(peerSettingsSchema.shape)
    expect(PEER_CONFIG_OPTIONS.map((o) => o.key)).toEqual(keys)
    for (const option of PEER_CONFIG_OPTIONS) {
      const kebab = option.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
      expect(option.flag).toBe(kebab)
      expect(option.env).toBe(`CHORUS_${kebab.toUpperCase().replace(/-/g, '_')}`)
    }
  })
})

describe('a config file', () => {
  const YAML = [
    '# a peer of the staging mesh',
    'dataDir: /var/lib/chorus',
    'listen: [/ip4/0.0.0.0/tcp/4001, /ip4/0.0.0.0/tcp/4002]',
    'join: /ip4/10.0.0.1/tcp/4001/p2p/12D3KooWA',
    'http: 0.0.0.0:7070',
    'workerMemory: 4096',
    'psk: /etc/chorus/psk',
    'schedulerIdle: 30s',
    'hostIdle: 90000',
    'ownerLimit: 8',
    'placement: openwhisk',
    'logLevel: debug',
    'logFormat: pretty',
    '',
  ].join('\n')
  const FROM_FILE = {
    dataDir: '/var/lib/chorus',
    listen: ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002'],
    join: ['/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWA'],
    http: { host: '0.0.0.0', port: 7070 },
    workerMemoryMb: 4096,
    pskFile: '/etc/chorus/psk',
    schedulerIdleMs: 30_000,
    hostIdleMs: 90_000,
    ownerLimit: 8,
    placement: 'openwhisk',
    logLevel: 'debug',
    logFormat: 'pretty',
  }

  it('in YAML sets every setting, by the long flags in camelCase', () => {
    const file = { path: 'peer.yaml', text: YAML }
    expect(parsePeerConfig(['--config', 'peer.yaml'], {}, { file })).toEqual(FROM_FILE)
    expect(parsePeerConfig([], { CHORUS_CONFIG: 'peer.yaml' }, { file })).toEqual(FROM_FILE)
  })

  it('in JSON sets them the same, numbers and lists as such or as the flags write them', () => {
    const json = {
      dataDir: '/var/lib/chorus',
      listen: '/ip4/0.0.0.0/tcp/4001,/ip4/0.0.0.0/tcp/4002',
      join: ['/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWA'],
      http: '0.0.0.0:7070',
      workerMemory: '4096',
      psk: '/etc/chorus/psk',
      schedulerIdle: 30_000,
      hostIdle: '90s',
      ownerLimit: 8,
      placement: 'openwhisk',
      logLevel: 'debug',
      logFormat: 'pretty',
    }
    const file = { path: 'peer.json', text: JSON.stringify(json, null, 2) }
    expect(parsePeerConfig([], {}, { file })).toEqual(FROM_FILE)
  })

  it('loses to the variables, which lose to the flags; the file wins over the defaults', () => {
    const file = {
      path: 'peer.yml',
      text: 'ownerLimit: 8\nworkerMemory: 512\nplacement: openwhisk\njoin: [/ip4/10.0.0.1/tcp/1]\n',
    }
    const env = { CHORUS_OWNER_LIMIT: '5', CHORUS_WORKER_MEMORY: '1024', CHORUS_JOIN: '' }
    const config = parsePeerConfig(['--owner-limit', '3'], env, { file })
    expect(config).toMatchObject({
      ownerLimit: 3, // flag > env > file
      workerMemoryMb: 1024, // env > file
      placement: 'openwhisk', // file > default
      join: ['/ip4/10.0.0.1/tcp/1'], // an empty variable is unset: the file's
      hostIdleMs: 600_000, // the default
    })
  })

  it('is checked only where it wins, like a variable', () => {
    const file = { path: 'peer.yaml', text: 'ownerLimit: many\n' }
    expect(parsePeerConfig(['--owner-limit', '2'], {}, { file }).ownerLimit).toBe(2)
    expect(badRequest([], {}, file)).toBe(
      'peer.yaml: ownerLimit must be a positive whole number, got "many"',
    )
  })

  it.each([
    ['ownerLimit: 0\n', 'peer.yaml: ownerLimit must be a positive whole number, got "0"'],
    ['ownerLimit: 1.5\n', 'peer.yaml: ownerLimit must be a positive whole number, got "1.5"'],
    ['ownerLimit: [1]\n', 'peer.yaml: ownerLimit must be a positive whole number, got a list'],
    ['http: 7070\n', 'peer.yaml: http must be a string, got 7070'],
    ['http: "localhost:70000"\n', 'peer.yaml: http: port must be 0 to 65535, got 70000'],
    ['listen: [ip4/1.2.3.4/tcp/1]\n', 'peer.yaml: listen: "ip4/1.2.3.4/tcp/1" is not a multiaddr'],
    ['listen: []\n', 'peer.yaml: listen needs at least one multiaddr'],
    ['join: { a: 1 }\n', 'peer.yaml: join must be a multiaddr or a list of them, got an object'],
    ['dataDir: ""\n', 'peer.yaml: dataDir must not be empty'],
    ['psk:\n', 'peer.yaml: psk must be a string, got null'],
    ['schedulerIdle: soon\n', 'peer.yaml: schedulerIdle must be a duration like 600000'],
    ['schedulerIdle: true\n', 'peer.yaml: schedulerIdle must be a duration like 600000, 30s'],
    ['placement: random\n', 'peer.yaml: placement must be warm-bounded or openwhisk, got "random"'],
    ['logLevel: loud\n', 'peer.yaml: logLevel must be fatal, error, warn, info, debug, trace or'],
    ['logFormat: 1\n', 'peer.yaml: logFormat must be a string, got 1'],
  ])('refuses %j, naming the file and the key', (text, message) => {
    expect(badRequest([], {}, { path: 'peer.yaml', text })).toContain(message)
  })

  it.each([
    ['owner-limit: 3\n', 'peer.yaml: unknown key "owner-limit" (did you mean ownerLimit?)'],
    ['CHORUS_HTTP: 0.0.0.0:1\n', 'peer.yaml: unknown key "CHORUS_HTTP" (did you mean http?)'],
    ['config: other.yaml\n', 'peer.yaml: unknown key "config" (the keys are dataDir, listen,'],
    ['pskFile: x\n', 'peer.yaml: unknown key "pskFile" (the keys are dataDir'],
  ])('refuses the unknown key in %j', (text, message) => {
    expect(badRequest([], {}, { path: 'peer.yaml', text })).toContain(message)
  })

  it('lists every problem it has, one a line', () => {
    const text = 'ownerLimit: 0\nplacement: random\ncolour: blue\n'
    expect(badRequest([], {}, { path: 'peer.yaml', text })).toBe(
      [
        '3 problems:',
        '  peer.yaml: ownerLimit must be a positive whole number, got "0"',
        '  peer.yaml: placement must be warm-bounded or openwhisk, got "random"',
        '  peer.yaml: unknown key "colour" (the keys are dataDir, listen, join, http, ' +
          'workerMemory, psk, schedulerIdle, hostIdle, ownerLimit, placement, logLevel, logFormat)',
      ].join('\n'),
    )
  })

  it.each([
    ['peer.json', '{"ownerLimit": 3,}', 'peer.json: bad JSON: '],
    ['peer.yaml', 'ownerLimit: 3\nownerLimit: 4\n', 'peer.yaml: bad YAML: Map keys must be unique'],
    ['peer.yaml', 'a: [\n', 'peer.yaml: bad YAML: '],
    ['peer.yaml', '- ownerLimit: 3\n', 'peer.yaml must hold an object of settings'],
    ['peer.json', '"ownerLimit"', 'peer.json must hold an object of settings'],
    [
      'peer.toml',
      'ownerLimit = 3',
      'peer.toml: a config file is JSON (.json) or YAML (.yaml, .yml)',
    ],
  ])('refuses %s holding %j', (path, text, message) => {
    expect(badRequest([], {}, { path, text })).toContain(message)
  })

  it('of comments only sets nothing', () => {
    const file = { path: 'peer.yaml', text: '# nothing yet\n' }
    expect(parsePeerConfig([], {}, { file })).toEqual(parsePeerConfig([], {}))
  })

  it('is named by --config, else CHORUS_CONFIG; one that was not read is a bug of the caller', () => {
    expect(
      configFilePath(parseStartFlags(['--config', 'a.yaml']), { CHORUS_CONFIG: 'b.yaml' }),
    ).toBe('a.yaml')
    expect(configFilePath(parseStartFlags([]), { CHORUS_CONFIG: 'b.yaml' })).toBe('b.yaml')
    expect(configFilePath(parseStartFlags([]), { CHORUS_CONFIG: '' })).toBeUndefined()
    expect(() => parsePeerConfig(['--config', 'a.yaml'], {})).toThrow(
      'the config file a.yaml was not read: pass it as sources.file',
    )
    const other = { path: 'b.yaml', text: '' }
    expect(() => parsePeerConfig(['--config', 'a.yaml'], {}, { file: other })).toThrow(/not read/)
  })

  it('is read whole from its path, and one that cannot be read is a bad-request naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chorus-config-'))
    try {
      const path = join(dir, 'peer.yaml')
      await writeFile(path, 'ownerLimit: 4\n')
      const file = await readPeerConfigFile(path)
      expect(file).toEqual({ path, text: 'ownerLimit: 4\n' })
      expect(parsePeerConfig(['--config', path], {}, { file }).ownerLimit).toBe(4)
      const missing = join(dir, 'missing.yaml')
      const refused = await readPeerConfigFile(missing).catch((err: unknown) => err)
      expect(refused).toBeInstanceOf(ChorusError)
      expect((refused as ChorusError).code).toBe('bad-request')
      expect((refused as ChorusError).message).toMatch(
        new RegExp(`^cannot read the config file ${missing}: ENOENT`),
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
