import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalJson } from '../../src/definitions/canonical-json.js'
import {
  DefinitionLog,
  SYNC_LIMITS,
  type ApplyOutcome,
  type SyncLimits,
} from '../../src/definitions/definition-log.js'
import { compareOps, type DefinitionOp } from '../../src/definitions/definition-op.js'
import { SyncSession } from '../../src/definitions/sync-session.js'
import { DIGEST_A, DIGEST_B, SPEC, fnPut, tombstone } from './support.js'

const NOW = 1_000_000

/** Everything a log's state consists of, comparable with toEqual. */
function state(log: DefinitionLog): string[] {
  return log.entries().map(canonicalJson).sort()
}

function applied(outcome: ApplyOutcome): DefinitionOp {
  if (outcome.type !== 'applied')
    throw new Error(`expected applied, got ${JSON.stringify(outcome)}`)
  return outcome.op
}

/** Sends an operation over a "wire": JSON there and back. */
function wire<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T
}

function deploy(log: DefinitionLog, name: string, now: number, spec: object = SPEC): DefinitionOp {
  return applied(
    log.change({ type: 'deploy-function', owner: 'acme', name, spec: spec as typeof SPEC }, now),
  )
}

/** Runs one anti-entropy exchange: `asker` pulls from `answerer` until nothing is left. */
function pull(
  asker: DefinitionLog,
  answerer: DefinitionLog,
  limits: SyncLimits = SYNC_LIMITS,
  now = NOW,
): SyncSession {
  const session = new SyncSession(asker, { maxRounds: 1000, maxKeys: limits.maxKeys })
  for (let request = session.next(); request; request = session.next()) {
    const answer = answerer.answerSync(wire(request), limits)
    if ('type' in answer) throw new Error(answer.message)
    expect(answer.ops.length).toBeLessThanOrEqual(limits.maxOps)
    for (const op of wire(answer.ops)) asker.apply(op, now)
    session.answered(answer)
  }
  return session
}

describe('DefinitionLog: local changes', () => {
  it('deploys a function with defaults filled in, as version 1', () => {
    const log = new DefinitionLog({ self: 'p1' })
    const outcome = log.change(
      {
        type: 'deploy-function',
        owner: 'acme',
        name: 'images/resize',
        spec: { runtime: 'nodejs', digest: DIGEST_A },
      },
      NOW,
    )
    expect(outcome).toMatchObject({
      type: 'applied',
      op: {
        kind: 'function',
        action: 'put',
        owner: 'acme',
        name: 'images/resize',
        version: 1,
        hlc: { wall: NOW, counter: 0 },
        origin: 'p1',
        spec: {
          runtime: 'nodejs',
          provider: 'mesh',
          memoryMb: 128,
          timeoutMs: 60_000,
          concurrency: 1,
        },
      },
    })
    expect(log.getFunction('acme', 'images/resize')).toMatchObject({
      owner: 'acme',
      name: 'images/resize',
      version: 1,
      digest: DIGEST_A,
      deployedAt: NOW,
      origin: 'p1',
    })
    expect(log.owners()).toEqual(['acme'])
  })

  it('gives each deploy of the same name a new version, and deletes leave a tombstone', () => {
    const log = new DefinitionLog({ self: 'p1' })
    expect(deploy(log, 'f', NOW).version).toBe(1)
    expect(deploy(log, 'f', NOW, { ...SPEC, memoryMb: 256 }).version).toBe(2)
    expect(log.getFunction('acme', 'f')).toMatchObject({ version: 2, memoryMb: 256 })
    const gone = applied(log.change({ type: 'delete-function', owner: 'acme', name: 'f' }, NOW))
    expect(gone).toMatchObject({ action: 'delete', version: 3 })
    expect(log.getFunction('acme', 'f')).toBeUndefined()
    expect(log.listFunctions('acme')).toEqual([])
    expect(log.owners()).toEqual([])
    expect(log.entries()).toHaveLength(1)
    // A deploy after a delete continues the numbering: versions are never reused.
    expect(deploy(log, 'f', NOW).version).toBe(4)
  })

  it('refuses to delete what does not exist, and changes nothing', () => {
    const log = new DefinitionLog({ self: 'p1' })
    expect(log.change({ type: 'delete-function', owner: 'acme', name: 'f' }, NOW)).toMatchObject({
      type: 'rejected',
      reason: 'not-found',
    })
    deploy(log, 'f', NOW)
    applied(log.change({ type: 'delete-function', owner: 'acme', name: 'f' }, NOW))
    const before = state(log)
    expect(log.change({ type: 'delete-function', owner: 'acme', name: 'f' }, NOW)).toMatchObject({
      type: 'rejected',
      reason: 'not-found',
    })
    expect(state(log)).toEqual(before)
  })

  it('stamps each change later than the last, even when the wall clock goes back', () => {
    const log = new DefinitionLog({ self: 'p1' })
    const a = deploy(log, 'f', NOW)
    const b = deploy(log, 'g', NOW - 5000)
    const c = deploy(log, 'h', NOW)
    expect(b.hlc).toEqual({ wall: NOW, counter: 1 })
    expect(c.hlc).toEqual({ wall: NOW, counter: 2 })
    expect(a.hlc.wall).toBe(NOW)
  })

  it('deploys and deletes choreographies, keeping a canonical copy of the definition', () => {
    const log = new DefinitionLog({ self: 'p1' })
    const definition = { steps: [{ fn: 'resize' }], kind: 'sequence' }
    const op = applied(
      log.change({ type: 'deploy-choreography', owner: 'acme', name: 'pipeline', definition }, NOW),
    )
    definition.kind = 'changed afterwards'
    expect(log.getChoreography('acme', 'pipeline')).toMatchObject({
      name: 'pipeline',
      version: 1,
      definition: { kind: 'sequence', steps: [{ fn: 'resize' }] },
    })
    expect(Object.keys((op as { definition: object }).definition)).toEqual(['kind', 'steps'])
    expect(log.listChoreographies('acme').map((c) => c.name)).toEqual(['pipeline'])
    applied(log.change({ type: 'delete-choreography', owner: 'acme', name: 'pipeline' }, NOW))
    expect(log.getChoreography('acme', 'pipeline')).toBeUndefined()
  })

  it('keeps functions and choreographies of the same name apart', () => {
    const log = new DefinitionLog({ self: 'p1' })
    deploy(log, 'x', NOW)
    applied(
      log.change({ type: 'deploy-choreography', owner: 'acme', name: 'x', definition: 1 }, NOW),
    )
    expect(log.getFunction('acme', 'x')?.version).toBe(1)
    expect(log.getChoreography('acme', 'x')?.version).toBe(1)
  })

  it('hands out views that cannot change its state', () => {
    const log = new DefinitionLog({ self: 'p1' })
    deploy(log, 'f', NOW, { runtime: 'process', command: ['./run', '--fast'] })
    const view = log.getFunction('acme', 'f')!
    expect(() => (view.command as string[]).push('--evil')).toThrow()
    expect(log.getFunction('acme', 'f')?.command).toEqual(['./run', '--fast'])
  })

  it.each([
    ['an empty owner', { owner: '', name: 'f' }, 'bad-name'],
    ['an owner with a slash', { owner: 'a/b', name: 'f' }, 'bad-name'],
    ['a name over 128 characters', { name: 'f'.repeat(129) }, 'bad-name'],
    ['a name with an empty segment', { name: 'a//b' }, 'bad-name'],
    ['a name with a space', { name: 'a b' }, 'bad-name'],
    ['a name of ..', { name: '..' }, 'bad-name'],
    ['no runtime', { spec: { digest: DIGEST_A } }, 'malformed'],
    ['an unknown runtime', { spec: { runtime: 'python', digest: DIGEST_A } }, 'malformed'],
    ['nodejs with no code', { spec: { runtime: 'nodejs' } }, 'malformed'],
    ['process with no command', { spec: { runtime: 'process' } }, 'malformed'],
    ['memory of 0', { spec: { ...SPEC, memoryMb: 0 } }, 'malformed'],
    ['a fractional timeout', { spec: { ...SPEC, timeoutMs: 1.5 } }, 'malformed'],
    ['a digest in upper case', { spec: { ...SPEC, digest: 'A'.repeat(64) } }, 'malformed'],
    [
      'an http function with no url',
      { spec: { runtime: 'nodejs', provider: 'http' } },
      'malformed',
    ],
    ['a url on mesh', { spec: { ...SPEC, url: 'http://x' } }, 'malformed'],
    ['a ftp url', { spec: { runtime: 'nodejs', provider: 'http', url: 'ftp://x' } }, 'malformed'],
    ['an empty command', { spec: { runtime: 'process', command: [] } }, 'malformed'],
    ['a command with a NUL', { spec: { runtime: 'process', command: ['a\0b'] } }, 'malformed'],
  ])('refuses a deploy with %s and changes nothing', (_what, fields, reason) => {
    const log = new DefinitionLog({ self: 'p1' })
    deploy(log, 'existing', NOW)
    const before = { state: state(log), clock: log.clock, summary: log.summary() }
    const change = {
      type: 'deploy-function' as const,
      owner: 'acme',
      name: 'f',
      spec: SPEC,
      ...fields,
    } as Parameters<DefinitionLog['change']>[0]
    const outcome = log.change(change, NOW + 1)
    expect(outcome).toMatchObject({ type: 'rejected', reason })
    expect({ state: state(log), clock: log.clock, summary: log.summary() }).toEqual(before)
  })

  it('takes an http function with a url and no code', () => {
    const log = new DefinitionLog({ self: 'p1' })
    const spec = { runtime: 'nodejs', provider: 'http', url: 'https://faas.example/fn' }
    expect(deploy(log, 'remote', NOW, spec)).toMatchObject({ spec: { url: spec.url } })
  })

  it.each([
    ['a function value', { f: () => 1 }],
    ['NaN', { n: Number.NaN }],
    ['undefined', { u: undefined }],
    ['a Date', { d: new Date(0) }],
    ['nesting deeper than 64', JSON.parse('['.repeat(70) + ']'.repeat(70)) as unknown],
    ['nothing', undefined],
  ])('refuses a choreography whose definition holds %s', (_what, definition) => {
    const log = new DefinitionLog({ self: 'p1' })
    expect(
      log.change({ type: 'deploy-choreography', owner: 'acme', name: 'c', definition }, NOW),
    ).toMatchObject({ type: 'rejected', reason: 'malformed' })
    expect(log.size).toBe(0)
  })

  it('refuses a choreography name with a slash, and one over the size limit', () => {
    const log = new DefinitionLog({ self: 'p1', limits: { maxOpBytes: 1000 } })
    expect(
      log.change({ type: 'deploy-choreography', owner: 'acme', name: 'a/b', definition: 1 }, NOW),
    ).toMatchObject({ type: 'rejected', reason: 'bad-name' })
    expect(
      log.change(
        { type: 'deploy-choreography', owner: 'acme', name: 'big', definition: 'é'.repeat(600) },
        NOW,
      ),
    ).toMatchObject({ type: 'rejected', reason: 'too-large' })
    expect(log.size).toBe(0)
  })

  it('refuses a change with a time that is not a number', () => {
    const log = new DefinitionLog({ self: 'p1' })
    expect(
      log.change({ type: 'deploy-function', owner: 'acme', name: 'f', spec: SPEC }, Number.NaN),
    ).toMatchObject({ type: 'rejected', reason: 'invalid-time' })
  })

  it('holds at most maxEntriesPerOwner names per owner and maxOwners owners', () => {
    const log = new DefinitionLog({ self: 'p1', limits: { maxEntriesPerOwner: 2, maxOwners: 2 } })
    deploy(log, 'a', NOW)
    deploy(log, 'b', NOW)
    expect(
      log.change({ type: 'deploy-function', owner: 'acme', name: 'c', spec: SPEC }, NOW),
    ).toMatchObject({ type: 'rejected', reason: 'limit' })
    // A new version of a name it holds is fine.
    deploy(log, 'a', NOW)
    applied(log.change({ type: 'deploy-function', owner: 'two', name: 'a', spec: SPEC }, NOW))
    expect(log.apply(fnPut({ owner: 'three' }), NOW)).toMatchObject({
      type: 'rejected',
      reason: 'limit',
    })
    expect(log.size).toBe(3)
  })
})

describe('DefinitionLog: replicated operations', () => {
  it('applies an operation from another peer once; a duplicate is ignored', () => {
    const a = new DefinitionLog({ self: 'p1' })
    const b = new DefinitionLog({ self: 'p2' })
    const op = deploy(a, 'f', NOW)
    expect(b.apply(wire(op), NOW)).toMatchObject({ type: 'applied' })
    expect(b.apply(wire(op), NOW)).toMatchObject({ type: 'ignored', reason: 'duplicate' })
    expect(state(b)).toEqual(state(a))
    expect(b.getFunction('acme', 'f')?.revision).toBe(a.getFunction('acme', 'f')?.revision)
  })

  it('moves its clock past what it receives, so the next local change wins', () => {
    const a = new DefinitionLog({ self: 'p1' })
    const b = new DefinitionLog({ self: 'p2' })
    // a's clock is a minute ahead of b's.
    const first = deploy(a, 'f', NOW + 60_000)
    b.apply(wire(first), NOW)
    const second = deploy(b, 'f', NOW)
    expect(second.version).toBe(2)
    // Receiving made the clock (NOW + 60 s, 1); this change comes after it.
    expect(second.hlc).toEqual({ wall: NOW + 60_000, counter: 2 })
    a.apply(wire(second), NOW + 60_000)
    expect(a.getFunction('acme', 'f')?.origin).toBe('p2')
  })

  it('resolves concurrent deploys of one name the same way everywhere, with distinct revisions', () => {
    const a = new DefinitionLog({ self: 'p1' })
    const b = new DefinitionLog({ self: 'p2' })
    const v1 = deploy(a, 'f', NOW)
    b.apply(wire(v1), NOW)
    // Both deploy a second version without hearing of the other's.
    const fromA = deploy(a, 'f', NOW + 10, { ...SPEC, digest: DIGEST_A })
    const fromB = deploy(b, 'f', NOW + 20, { ...SPEC, digest: DIGEST_B })
    expect([fromA.version, fromB.version]).toEqual([2, 2])
    const revA = a.getFunction('acme', 'f')!.revision
    const revB = b.getFunction('acme', 'f')!.revision
    expect(revA).not.toBe(revB)
    expect(a.apply(wire(fromB), NOW + 30)).toMatchObject({ type: 'applied', replaced: fromA })
    expect(b.apply(wire(fromA), NOW + 30)).toMatchObject({ type: 'ignored', reason: 'superseded' })
    expect(state(a)).toEqual(state(b))
    // The later HLC wins the tie on version.
    expect(a.getFunction('acme', 'f')).toMatchObject({ digest: DIGEST_B, revision: revB })
  })

  it('breaks a tie on version and HLC by origin', () => {
    const one = fnPut({ origin: 'p1', spec: { digest: DIGEST_A } })
    const two = fnPut({ origin: 'p2', spec: { digest: DIGEST_B } })
    for (const order of [
      [one, two],
      [two, one],
    ]) {
      const log = new DefinitionLog({ self: 'x' })
      for (const op of order) log.apply(op, NOW)
      expect(log.getFunction('acme', 'resize')?.origin).toBe('p2')
    }
  })

  it('lets a higher version win over a later stamp: versions never go back', () => {
    const log = new DefinitionLog({ self: 'x' })
    log.apply(fnPut({ version: 5, hlc: { wall: 1000, counter: 0 } }), NOW)
    // A peer that had not heard of versions 2-5 deploys later in time.
    const stale = fnPut({ version: 2, hlc: { wall: 9000, counter: 0 }, origin: 'p9' })
    expect(log.apply(stale, NOW)).toMatchObject({ type: 'ignored', reason: 'superseded' })
    expect(log.getFunction('acme', 'resize')?.version).toBe(5)
  })

  it('keeps a tombstone, so an older put arriving late does not bring the name back', () => {
    const log = new DefinitionLog({ self: 'x' })
    log.apply(tombstone({ version: 2 }), NOW)
    expect(log.apply(fnPut({ version: 1 }), NOW)).toMatchObject({ type: 'ignored' })
    expect(log.getFunction('acme', 'resize')).toBeUndefined()
    // A deploy made after the delete was seen brings it back.
    expect(log.apply(fnPut({ version: 3, hlc: { wall: 3000, counter: 0 } }), NOW).type).toBe(
      'applied',
    )
    expect(log.getFunction('acme', 'resize')?.version).toBe(3)
  })

  it('drops fields it does not know when it rebuilds an operation', () => {
    const log = new DefinitionLog({ self: 'x' })
    const op = { ...fnPut(), extra: 'x'.repeat(100), spec: { ...SPEC, secret: true } }
    const out = applied(log.apply(op, NOW))
    expect(out).not.toHaveProperty('extra')
    expect(out.kind === 'function' && out.action === 'put' && out.spec).not.toHaveProperty('secret')
  })

  const base = fnPut()
  it.each([
    ['null', null, 'malformed'],
    ['an array', [base], 'malformed'],
    ['an unknown kind', { ...base, kind: 'owner' }, 'malformed'],
    ['an unknown action', { ...base, action: 'patch' }, 'malformed'],
    ['a bad owner', { ...base, owner: '../etc' }, 'bad-name'],
    ['a numeric owner', { ...base, owner: 7 }, 'bad-name'],
    ['a bad function name', { ...base, name: '/abs' }, 'bad-name'],
    [
      'a choreography name with a slash',
      { ...base, kind: 'choreography', name: 'a/b', definition: 1 },
      'bad-name',
    ],
    ['version 0', { ...base, version: 0 }, 'malformed'],
    ['a fractional version', { ...base, version: 1.5 }, 'malformed'],
    ['a version past the maximum', { ...base, version: 2 ** 31 }, 'malformed'],
    ['no hlc', { ...base, hlc: undefined }, 'malformed'],
    ['a negative wall', { ...base, hlc: { wall: -1, counter: 0 } }, 'malformed'],
    ['a string counter', { ...base, hlc: { wall: 1, counter: '0' } }, 'malformed'],
    ['an origin with a slash', { ...base, origin: 'p/1' }, 'malformed'],
    ['an empty origin', { ...base, origin: '' }, 'malformed'],
    [
      'a spec with a default left out',
      { ...base, spec: { ...SPEC, memoryMb: undefined } },
      'malformed',
    ],
    ['a spec that is a string', { ...base, spec: 'nodejs' }, 'malformed'],
    [
      'a choreography with no definition',
      { ...base, kind: 'choreography', name: 'c' },
      'malformed',
    ],
    [
      'a stamp ten minutes ahead',
      { ...base, hlc: { wall: NOW + 600_000, counter: 0 } },
      'clock-skew',
    ],
    [
      'an oversized definition',
      { ...base, kind: 'choreography', name: 'c', definition: 'x'.repeat(300_000) },
      'too-large',
    ],
  ])('rejects %s and changes nothing', (_what, raw, reason) => {
    const log = new DefinitionLog({ self: 'x' })
    log.apply(fnPut({ name: 'other' }), NOW)
    const before = { state: state(log), clock: log.clock, summary: log.summary() }
    expect(log.apply(raw, NOW)).toMatchObject({ type: 'rejected', reason })
    expect({ state: state(log), clock: log.clock, summary: log.summary() }).toEqual(before)
    expect(log.recent().at(-1)).toMatchObject({ type: 'apply', outcome: 'rejected', reason })
  })

  it('rejects any operation at a time that is not a number', () => {
    const log = new DefinitionLog({ self: 'x' })
    expect(log.apply(fnPut(), Number.POSITIVE_INFINITY)).toMatchObject({
      type: 'rejected',
      reason: 'invalid-time',
    })
    expect(log.size).toBe(0)
  })

  it('restores operations from disk without the skew check', () => {
    const log = new DefinitionLog({ self: 'x' })
    const future = fnPut({ hlc: { wall: NOW * 10, counter: 3 } })
    expect(log.restore(future).type).toBe('applied')
    expect(log.restore({ garbage: true }).type).toBe('rejected')
    // The next local change is stamped after what was restored.
    expect(deploy(log, 'g', NOW).hlc).toEqual({ wall: NOW * 10, counter: 5 })
  })

  it('keeps a bounded log of what it handled', () => {
    const log = new DefinitionLog({ self: 'x' })
    for (let i = 0; i < 300; i++) log.apply(fnPut({ version: i + 1 }), NOW)
    const recent = log.recent()
    expect(recent).toHaveLength(256)
    expect(recent.at(-1)).toMatchObject({ outcome: 'applied', key: 'acme/f:resize' })
  })

  it('names the deployers of a digest, newest first', () => {
    const log = new DefinitionLog({ self: 'x' })
    log.apply(fnPut({ name: 'a', origin: 'p1', hlc: { wall: 1, counter: 0 } }), NOW)
    log.apply(fnPut({ name: 'b', origin: 'p2', hlc: { wall: 2, counter: 0 } }), NOW)
    log.apply(fnPut({ name: 'c', origin: 'p3', spec: { digest: DIGEST_B } }), NOW)
    expect(log.originsOf(DIGEST_A)).toEqual(['p2', 'p1'])
  })
})

// --- convergence properties --------------------------------------------------------

const definitionArb = fc.oneof(
  fc.constant({ kind: 'sequence', steps: ['a', 'b'] }),
  fc.constant({ steps: ['a', 'b'], kind: 'sequence' }),
  fc.jsonValue({ maxDepth: 2 }),
)

/** Operations over a small space of names, stamps and origins, so they collide often. */
const opArb: fc.Arbitrary<DefinitionOp> = fc
  .record({
    kind: fc.constantFrom('function' as const, 'choreography' as const),
    action: fc.constantFrom('put' as const, 'put' as const, 'delete' as const),
    owner: fc.constantFrom('acme', 'globex'),
    name: fc.constantFrom('f', 'g', 'img.resize'),
    version: fc.integer({ min: 1, max: 3 }),
    wall: fc.integer({ min: 0, max: 3 }),
    counter: fc.integer({ min: 0, max: 1 }),
    origin: fc.constantFrom('p1', 'p2', 'p3'),
    memoryMb: fc.constantFrom(128, 256),
    digest: fc.constantFrom(DIGEST_A, DIGEST_B),
    definition: definitionArb,
  })
  .map((r): DefinitionOp => {
    const base = {
      owner: r.owner,
      name: r.name,
      version: r.version,
      hlc: { wall: r.wall, counter: r.counter },
      origin: r.origin,
    }
    if (r.action === 'delete') return { kind: r.kind, action: 'delete', ...base }
    if (r.kind === 'function') {
      return {
        kind: 'function',
        action: 'put',
        ...base,
        spec: { ...SPEC, memoryMb: r.memoryMb, digest: r.digest },
      }
    }
    return { kind: 'choreography', action: 'put', ...base, definition: r.definition }
  })

/** A delivery of `ops`: any order, some more than once. */
const deliveryArb = (ops: readonly DefinitionOp[]): fc.Arbitrary<DefinitionOp[]> =>
  fc
    .tuple(
      fc.shuffledSubarray([...ops], { minLength: ops.length, maxLength: ops.length }),
      fc.array(fc.nat({ max: Math.max(0, ops.length - 1) }), { maxLength: ops.length }),
    )
    .chain(([order, dups]) =>
      fc.shuffledSubarray([...order, ...dups.flatMap((i) => (ops[i] ? [ops[i]] : []))], {
        minLength: order.length + dups.filter((i) => ops[i]).length,
      }),
    )

describe('DefinitionLog: convergence', () => {
  it('reaches the same state from any order and duplication of the same operations', () => {
    fc.assert(
      fc.property(
        fc
          .array(opArb, { maxLength: 30 })
          .chain((ops) => fc.tuple(fc.constant(ops), deliveryArb(ops), deliveryArb(ops))),
        ([ops, first, second]) => {
          const reference = new DefinitionLog({ self: 'r' })
          for (const op of ops) reference.apply(wire(op), NOW)
          for (const delivery of [first, second]) {
            const log = new DefinitionLog({ self: 'x' })
            for (const op of delivery) expect(log.apply(wire(op), NOW).type).not.toBe('rejected')
            expect(state(log)).toEqual(state(reference))
            expect(log.summary()).toEqual(reference.summary())
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('holds, for each name, the greatest of its operations', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 30 }), (ops) => {
        const log = new DefinitionLog({ self: 'x' })
        for (const op of ops) log.apply(wire(op), NOW)
        const greatest = new Map<string, DefinitionOp>()
        for (const op of ops) {
          const key = `${op.owner}/${op.kind}/${op.name}`
          const held = greatest.get(key)
          if (!held || compareOps(op, held) > 0) greatest.set(key, op)
        }
        expect(state(log)).toEqual(
          [...greatest.values()].map((op) => canonicalJson(wire(op))).sort(),
        )
      }),
      { numRuns: 300 },
    )
  })

  it('peers that deploy concurrently and hear of each other late agree, and versions never go back', () => {
    const changeArb = fc.record({
      peer: fc.nat({ max: 2 }),
      name: fc.constantFrom('f', 'g'),
      del: fc.boolean(),
      memoryMb: fc.constantFrom(128, 256, 512),
      advanceMs: fc.integer({ min: 0, max: 3 }),
    })
    const stepArb = fc.oneof(
      changeArb.map((c) => ({ type: 'change' as const, ...c })),
      fc.record({ type: fc.constant('deliver' as const), pick: fc.nat(), dup: fc.boolean() }),
    )
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 60 }), fc.nat({ max: 100 }), (steps, skew) => {
        const peers = ['p0', 'p1', 'p2'].map((id) => new DefinitionLog({ self: id }))
        const clocks = [NOW, NOW + skew, NOW - skew]
        /** Messages in flight: [to, op]. */
        const inFlight: [number, DefinitionOp][] = []
        const seen = peers.map(() => new Map<string, number>())
        const check = (i: number): void => {
          for (const op of peers[i]!.entries()) {
            const key = `${op.kind}:${op.name}`
            expect(op.version).toBeGreaterThanOrEqual(seen[i]!.get(key) ?? 0)
            seen[i]!.set(key, op.version)
          }
        }
        for (const step of steps) {
          if (step.type === 'change') {
            clocks[step.peer]! += step.advanceMs
            const log = peers[step.peer]!
            const outcome = step.del
              ? log.change(
                  { type: 'delete-function', owner: 'acme', name: step.name },
                  clocks[step.peer]!,
                )
              : log.change(
                  {
                    type: 'deploy-function',
                    owner: 'acme',
                    name: step.name,
                    spec: { ...SPEC, memoryMb: step.memoryMb },
                  },
                  clocks[step.peer]!,
                )
            if (outcome.type === 'applied') {
              for (let to = 0; to < peers.length; to++) {
                if (to !== step.peer) inFlight.push([to, outcome.op])
              }
            }
            check(step.peer)
          } else if (inFlight.length > 0) {
            const index = step.pick % inFlight.length
            const [to, op] = inFlight[index]!
            if (!step.dup) inFlight.splice(index, 1)
            peers[to]!.apply(wire(op), clocks[to]!)
            check(to)
          }
        }
        for (const [to, op] of inFlight) peers[to]!.apply(wire(op), clocks[to]!)
        peers.forEach((_, i) => check(i))
        expect(state(peers[1]!)).toEqual(state(peers[0]!))
        expect(state(peers[2]!)).toEqual(state(peers[0]!))
      }),
      { numRuns: 300 },
    )
  })
})

describe('DefinitionLog: anti-entropy', () => {
  it('summarises equal states equally and different states differently', () => {
    const a = new DefinitionLog({ self: 'p1' })
    const b = new DefinitionLog({ self: 'p2' })
    const op = deploy(a, 'f', NOW)
    expect(a.summary()).not.toEqual(b.summary())
    b.apply(wire(op), NOW)
    expect(a.summary()).toEqual(b.summary())
    expect(Object.keys(a.summary().owners)).toEqual(['acme'])
  })

  it('brings an empty peer up to date in one round', () => {
    const a = new DefinitionLog({ self: 'p1' })
    for (const name of ['f', 'g', 'h']) deploy(a, name, NOW)
    const b = new DefinitionLog({ self: 'p2' })
    const session = pull(b, a)
    expect(session.rounds).toBe(1)
    expect(session.complete).toBe(true)
    expect(state(b)).toEqual(state(a))
  })

  it('sends only the names whose operations beat the asker’s', () => {
    const a = new DefinitionLog({ self: 'p1' })
    const b = new DefinitionLog({ self: 'p2' })
    for (const name of ['f', 'g', 'h']) b.apply(wire(deploy(a, name, NOW)), NOW)
    deploy(a, 'g', NOW + 1)
    deploy(b, 'h', NOW + 2)
    const first = a.answerSync(wire({ from: '', owners: b.summary().owners }))
    expect(first).toEqual({ ops: [], differ: ['acme'], more: false })
    const { stamps } = b.stampsOf('acme', undefined, 100)
    const second = a.answerSync(wire({ slices: [{ owner: 'acme', stamps }] }))
    expect('ops' in second && second.ops.map((op) => `${op.name}@${op.version}`)).toEqual(['g@2'])
  })

  it('pages the stamps of an owner by key range', () => {
    const b = new DefinitionLog({ self: 'p2' })
    for (const name of ['a', 'b', 'c']) deploy(b, name, NOW)
    const page = b.stampsOf('acme', undefined, 2)
    expect(Object.keys(page.stamps)).toEqual(['f:a', 'f:b'])
    expect(page.through).toBe('f:b')
    const rest = b.stampsOf('acme', page.through, 2)
    expect(Object.keys(rest.stamps)).toEqual(['f:c'])
    expect(rest.through).toBeUndefined()
  })

  it.each([
    ['not an object', 'hello'],
    ['from a number', { from: 7, owners: {} }],
    ['owners not an object', { from: '', owners: [] }],
    ['a digest that is not a string', { from: '', owners: { acme: 5 } }],
    ['slices not an array', { slices: {} }],
    ['a slice with no owner', { slices: [{ stamps: {} }] }],
    ['a stamp of the wrong shape', { slices: [{ owner: 'acme', stamps: { 'f:x': [1, 2, 3] } }] }],
    [
      'too many keys',
      {
        slices: [
          {
            owner: 'acme',
            stamps: Object.fromEntries(
              Array.from({ length: 5 }, (_, i) => [`f:${i}`, [1, 0, 0, 'p', 'h']]),
            ),
          },
        ],
      },
    ],
  ])('rejects a sync request that is %s', (_what, raw) => {
    const a = new DefinitionLog({ self: 'p1' })
    expect(a.answerSync(raw, { ...SYNC_LIMITS, maxKeys: 4 })).toMatchObject({ type: 'rejected' })
  })

  it('answers a peer whose owner is named like an Object.prototype property', () => {
    const a = new DefinitionLog({ self: 'p1' })
    applied(
      a.change(
        { type: 'deploy-function', owner: '__proto__', name: 'constructor', spec: SPEC },
        NOW,
      ),
    )
    applied(a.change({ type: 'deploy-function', owner: 'toString', name: 'f', spec: SPEC }, NOW))
    const b = new DefinitionLog({ self: 'p2' })
    pull(b, a)
    expect(state(b)).toEqual(state(a))
    expect(b.getFunction('__proto__', 'constructor')?.version).toBe(1)
    expect(Object.getPrototypeOf(b.summary().owners)).toBe(Object.prototype)
  })

  it('converges two divergent peers within tight bounds, both ways', () => {
    const tight: SyncLimits = { maxOps: 3, maxBytes: 1500, maxDiffer: 2, maxKeys: 4 }
    const manyOps = fc.array(
      opArb.chain((op) =>
        fc.constantFrom('acme', 'globex', 'initech', 'umbrella').map((owner) => ({ ...op, owner })),
      ),
      { maxLength: 40 },
    )
    fc.assert(
      fc.property(manyOps, manyOps, (opsA, opsB) => {
        const a = new DefinitionLog({ self: 'p1' })
        const b = new DefinitionLog({ self: 'p2' })
        for (const op of opsA) a.apply(wire(op), NOW)
        for (const op of opsB) b.apply(wire(op), NOW)
        expect(pull(a, b, tight).complete).toBe(true)
        expect(pull(b, a, tight).complete).toBe(true)
        expect(state(a)).toEqual(state(b))
        expect(a.summary()).toEqual(b.summary())
      }),
      { numRuns: 200 },
    )
  })

  it('stops after maxRounds when answers keep being cut short', () => {
    const a = new DefinitionLog({ self: 'p1' })
    for (let i = 0; i < 20; i++) deploy(a, `f${i}`, NOW)
    const b = new DefinitionLog({ self: 'p2' })
    const limits: SyncLimits = { ...SYNC_LIMITS, maxOps: 1 }
    const session = new SyncSession(b, { maxRounds: 5 })
    for (let request = session.next(); request; request = session.next()) {
      const answer = a.answerSync(wire(request), limits)
      if ('type' in answer) throw new Error(answer.message)
      for (const op of answer.ops) b.apply(wire(op), NOW)
      session.answered(answer)
    }
    expect(session.rounds).toBe(5)
    expect(session.complete).toBe(false)
    expect(b.size).toBeLessThan(20)
  })
})
