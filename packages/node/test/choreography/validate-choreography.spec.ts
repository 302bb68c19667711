import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_MAP_CONCURRENCY,
  MAX_DEPTH,
  MAX_ERRORS,
  MAX_STEPS,
  validateChoreography,
  type ValidationError,
} from '../../src/choreography/index.js'
import { context } from './helpers.js'

function errorsOf(
  choreography: unknown,
  choreographies: Record<string, unknown> = {},
): readonly ValidationError[] {
  const result = validateChoreography(choreography, context(choreographies))
  if (result.ok) throw new Error('expected validation to fail')
  return result.errors
}

/** The errors of `{ name: 'test', definition }`, as [path, code] pairs. */
function problems(definition: unknown, choreographies: Record<string, unknown> = {}) {
  return errorsOf({ name: 'test', definition }, choreographies).map((e) => [e.path, e.code])
}

function nest(depth: number): unknown {
  let step: unknown = { function: 'f' }
  for (let i = 1; i < depth; i++) step = { sequence: [step] }
  return step
}

describe('validateChoreography', () => {
  it('compiles a valid definition into a plan of nodes in pre-order', () => {
    const result = validateChoreography(
      {
        name: 'pipeline',
        definition: {
          name: 'all',
          sequence: [
            { function: 'resize', retries: 2, timeoutMs: 500 },
            { map: { function: 'thumbnail' }, items: "$.images['all']", maxConcurrency: 4 },
            {
              choice: [{ when: '$.size > 10', then: { function: 'store' } }],
              otherwise: { function: 'f' },
            },
          ],
        },
      },
      context(),
    )
    expect(result.ok).toBe(true)
    if (!result.ok) return
    const { plan } = result
    expect(plan.name).toBe('pipeline')
    expect(
      plan.nodes.map((n) => [n.id, n.kind, n.path, n.rel, n.depth, n.parent, n.children]),
    ).toEqual([
      [0, 'sequence', '/definition', '', 1, null, [1, 2, 4]],
      [1, 'task', '/definition/sequence/0', '/sequence/0', 2, 0, []],
      [2, 'map', '/definition/sequence/1', '/sequence/1', 2, 0, [3]],
      [3, 'task', '/definition/sequence/1/map', '/map', 3, 2, []],
      [4, 'choice', '/definition/sequence/2', '/sequence/2', 2, 0, [5, 6]],
      [5, 'task', '/definition/sequence/2/choice/0/then', '/choice/0/then', 3, 4, []],
      [6, 'task', '/definition/sequence/2/otherwise', '/otherwise', 3, 4, []],
    ])
    expect(plan.nodes[0]).toMatchObject({ name: 'all', retries: 0, timeoutMs: null })
    expect(plan.nodes[1]).toMatchObject({ fn: 'resize', retries: 2, timeoutMs: 500 })
    expect(plan.nodes[2]).toMatchObject({
      items: { text: "$.images['all']", segments: ['images', 'all'] },
      maxConcurrency: 4,
    })
    expect(plan.nodes[4]).toMatchObject({ otherwise: true, branches: [{ when: '$.size > 10' }] })
    // The plan is plain JSON.
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan)
  })

  it('defaults a map to all of its input and 16 items at once', () => {
    const result = validateChoreography(
      { name: 'm', definition: { map: { function: 'f' } } },
      context(),
    )
    expect(result.ok && result.plan.nodes[0]).toMatchObject({
      items: { text: '$', segments: [] },
      maxConcurrency: DEFAULT_MAP_CONCURRENCY,
    })
  })

  it('reports an unknown function with its exact path and message', () => {
    expect(
      errorsOf(
        {
          name: 'p',
          definition: { sequence: [{ function: 'f' }, { function: 'g' }, { function: 'rsize' }] },
        },
        {},
      ),
    ).toEqual([
      {
        path: '/definition/sequence/2/function',
        code: 'unknown-function',
        message: 'unknown function "rsize"',
      },
    ])
  })

  it.each([
    ['not an object', 'nope', [['', 'wrong-type']]],
    ['an array', [], [['', 'wrong-type']]],
    ['no name', { definition: { function: 'f' } }, [['/name', 'missing-field']]],
    [
      'a name that is a number',
      { name: 7, definition: { function: 'f' } },
      [['/name', 'wrong-type']],
    ],
    ['a bad name', { name: 'a b', definition: { function: 'f' } }, [['/name', 'bad-name']]],
    ['an empty name', { name: '', definition: { function: 'f' } }, [['/name', 'bad-name']]],
    ['no definition', { name: 'p' }, [['/definition', 'missing-field']]],
    [
      'an unknown field',
      { name: 'p', definition: { function: 'f' }, version: 2 },
      [['/version', 'unknown-field']],
    ],
  ])('refuses a choreography with %s', (_, choreography, expected) => {
    expect(errorsOf(choreography).map((e) => [e.path, e.code])).toEqual(expected)
  })

  it.each([
    [
      'a step that is not an object',
      { sequence: ['f'] },
      [['/definition/sequence/0', 'wrong-type']],
    ],
    [
      'an unknown step kind',
      { sequence: [{ task: 'f' }] },
      [['/definition/sequence/0', 'unknown-kind']],
    ],
    ['an empty step', {}, [['/definition', 'unknown-kind']]],
    [
      'a step of two kinds',
      { function: 'f', sequence: [{ function: 'g' }] },
      [['/definition/sequence', 'unknown-kind']],
    ],
    ['an unknown function', { function: 'nope' }, [['/definition/function', 'unknown-function']]],
    ['a bad function name', { function: 'a:b' }, [['/definition/function', 'bad-name']]],
    ['a function that is not a string', { function: 3 }, [['/definition/function', 'wrong-type']]],
    ['an empty sequence', { sequence: [] }, [['/definition/sequence', 'empty']]],
    ['an empty parallel', { parallel: [] }, [['/definition/parallel', 'empty']]],
    ['an empty choice', { choice: [] }, [['/definition/choice', 'empty']]],
    ['a sequence that is not an array', { sequence: {} }, [['/definition/sequence', 'wrong-type']]],
    [
      'a parallel that is not an array',
      { parallel: 'f' },
      [['/definition/parallel', 'wrong-type']],
    ],
    ['a choice that is not an array', { choice: {} }, [['/definition/choice', 'wrong-type']]],
    ['a map of a non-step', { map: 'f' }, [['/definition/map', 'wrong-type']]],
    ['negative retries', { function: 'f', retries: -1 }, [['/definition/retries', 'out-of-range']]],
    ['too many retries', { function: 'f', retries: 11 }, [['/definition/retries', 'out-of-range']]],
    [
      'fractional retries',
      { function: 'f', retries: 1.5 },
      [['/definition/retries', 'out-of-range']],
    ],
    [
      'retries as a string',
      { function: 'f', retries: '2' },
      [['/definition/retries', 'wrong-type']],
    ],
    [
      'a zero timeout',
      { function: 'f', timeoutMs: 0 },
      [['/definition/timeoutMs', 'out-of-range']],
    ],
    [
      'a timeout as a string',
      { function: 'f', timeoutMs: '1s' },
      [['/definition/timeoutMs', 'wrong-type']],
    ],
    [
      'a step name that is a number',
      { function: 'f', name: 1 },
      [['/definition/name', 'wrong-type']],
    ],
    ['an empty step name', { function: 'f', name: '' }, [['/definition/name', 'bad-name']]],
    [
      'a zero maxConcurrency',
      { map: { function: 'f' }, maxConcurrency: 0 },
      [['/definition/maxConcurrency', 'out-of-range']],
    ],
    [
      'a huge maxConcurrency',
      { map: { function: 'f' }, maxConcurrency: 1001 },
      [['/definition/maxConcurrency', 'out-of-range']],
    ],
    [
      'a maxConcurrency as a string',
      { map: { function: 'f' }, maxConcurrency: '4' },
      [['/definition/maxConcurrency', 'wrong-type']],
    ],
    [
      'a typo in a field',
      { function: 'f', retires: 2 },
      [['/definition/retires', 'unknown-field']],
    ],
    [
      'a field of another kind',
      { function: 'f', items: '$' },
      [['/definition/items', 'unknown-field']],
    ],
    [
      'a field name to escape',
      { function: 'f', 'a/b~c': 1 },
      [['/definition/a~1b~0c', 'unknown-field']],
    ],
    [
      'items that are not a path',
      { map: { function: 'f' }, items: 'files' },
      [['/definition/items', 'bad-path']],
    ],
    [
      'an unclosed index',
      { map: { function: 'f' }, items: '$.a[0' },
      [['/definition/items', 'bad-path']],
    ],
    [
      'items as a number',
      { map: { function: 'f' }, items: 0 },
      [['/definition/items', 'wrong-type']],
    ],
    [
      'a bad condition',
      { choice: [{ when: '$.size >', then: { function: 'f' } }] },
      [['/definition/choice/0/when', 'bad-condition']],
    ],
    [
      'a condition with =',
      { choice: [{ when: '$.a = 1', then: { function: 'f' } }] },
      [['/definition/choice/0/when', 'bad-condition']],
    ],
    [
      'a condition that is not a string',
      { choice: [{ when: true, then: { function: 'f' } }] },
      [['/definition/choice/0/when', 'wrong-type']],
    ],
    [
      'a branch with no when',
      { choice: [{ then: { function: 'f' } }] },
      [['/definition/choice/0/when', 'missing-field']],
    ],
    [
      'a branch with no then',
      { choice: [{ when: 'true' }] },
      [['/definition/choice/0/then', 'missing-field']],
    ],
    ['a branch that is not an object', { choice: ['x'] }, [['/definition/choice/0', 'wrong-type']]],
    [
      'a branch with an unknown field',
      { choice: [{ when: 'true', then: { function: 'f' }, else: { function: 'g' } }] },
      [['/definition/choice/0/else', 'unknown-field']],
    ],
    [
      'an unknown function in an otherwise',
      { choice: [{ when: 'true', then: { function: 'f' } }], otherwise: { function: 'x' } },
      [['/definition/otherwise/function', 'unknown-function']],
    ],
    [
      'an unknown choreography',
      { choreography: 'other' },
      [['/definition/choreography', 'unknown-choreography']],
    ],
    [
      'a bad choreography name',
      { choreography: '../x' },
      [['/definition/choreography', 'bad-name']],
    ],
    [
      'a choreography that is not a string',
      { choreography: 1 },
      [['/definition/choreography', 'wrong-type']],
    ],
  ])('refuses %s', (_, definition, expected) => {
    expect(problems(definition)).toEqual(expected)
  })

  it('gives messages that say what is wrong and what is expected', () => {
    const messages = errorsOf({
      name: 'p',
      definition: {
        sequence: [
          { function: 'f', retries: -1 },
          { tsak: 'f' },
          { choice: [{ when: '$.size >> 3', then: { function: 'f' } }] },
          { map: { function: 'f' }, items: '$.a.' },
        ],
      },
    })
    expect(messages).toEqual([
      {
        path: '/definition/sequence/0/retries',
        code: 'out-of-range',
        message: '"retries" is an integer from 0 to 10, got -1',
      },
      {
        path: '/definition/sequence/1',
        code: 'unknown-kind',
        message:
          'unknown step kind: a step has one of "function", "sequence", "parallel", "map", "choice", "choreography", and this one has "tsak"',
      },
      {
        path: '/definition/sequence/2/choice/0/when',
        code: 'bad-condition',
        message: "bad condition at offset 8: expected a path, a value or '(', got '>'",
      },
      {
        path: '/definition/sequence/3/items',
        code: 'bad-path',
        message:
          "bad JSON path at offset 4: expected a field name after '.' (use ['...'] for other characters)",
      },
    ])
  })

  it('bounds the depth, and does not recurse into what lies past it', () => {
    expect(validateChoreography({ name: 'd', definition: nest(MAX_DEPTH) }, context()).ok).toBe(
      true,
    )
    const tooDeep = '/definition' + '/sequence/0'.repeat(MAX_DEPTH)
    expect(problems(nest(MAX_DEPTH + 1))).toEqual([[tooDeep, 'too-deep']])
    // Far past any stack: still one error.
    expect(problems(nest(20_000))).toEqual([[tooDeep, 'too-deep']])
  })

  it('bounds the number of steps', () => {
    const fns = (n: number) => Array.from({ length: n }, () => ({ function: 'f' }))
    expect(
      validateChoreography({ name: 's', definition: { parallel: fns(MAX_STEPS - 1) } }, context())
        .ok,
    ).toBe(true)
    expect(problems({ parallel: fns(MAX_STEPS) })).toEqual([
      [`/definition/parallel/${MAX_STEPS - 1}`, 'too-large'],
    ])
  })

  it('reports every error, up to a bound', () => {
    const many = Array.from({ length: 200 }, () => ({ function: 'nope' }))
    const errors = errorsOf({ name: 'p', definition: { parallel: many } })
    expect(errors).toHaveLength(MAX_ERRORS + 1)
    expect(errors[0]).toEqual({
      path: '/definition/parallel/0/function',
      code: 'unknown-function',
      message: 'unknown function "nope"',
    })
    expect(errors[MAX_ERRORS]).toMatchObject({ path: '', code: 'too-many-errors' })
  })

  describe('choreography steps', () => {
    it('expand the referenced choreography into the plan, under the step path', () => {
      const result = validateChoreography(
        { name: 'outer', definition: { sequence: [{ function: 'f' }, { choreography: 'inner' }] } },
        context({ inner: { parallel: [{ function: 'g' }, { function: 'h' }] } }),
      )
      expect(result.ok).toBe(true)
      if (!result.ok) return
      expect(result.plan.nodes.map((n) => [n.kind, n.path, n.rel])).toEqual([
        ['sequence', '/definition', ''],
        ['task', '/definition/sequence/0', '/sequence/0'],
        ['choreography', '/definition/sequence/1', '/sequence/1'],
        ['parallel', '/definition/sequence/1/choreography/definition', '/choreography/definition'],
        ['task', '/definition/sequence/1/choreography/definition/parallel/0', '/parallel/0'],
        ['task', '/definition/sequence/1/choreography/definition/parallel/1', '/parallel/1'],
      ])
      expect(result.plan.source).toEqual({
        name: 'outer',
        definition: { sequence: [{ function: 'f' }, { choreography: 'inner' }] },
        nested: { inner: { parallel: [{ function: 'g' }, { function: 'h' }] } },
      })
    })

    it('refuse a choreography that runs itself', () => {
      expect(
        errorsOf({
          name: 'loop',
          definition: { sequence: [{ function: 'f' }, { choreography: 'loop' }] },
        }),
      ).toEqual([
        {
          path: '/definition/sequence/1/choreography',
          code: 'cycle',
          message: 'cycle: loop → loop',
        },
      ])
    })

    it('refuse a cycle through other choreographies, at the step that enters it', () => {
      const others = {
        b: { sequence: [{ function: 'g' }, { choreography: 'c' }] },
        c: { choreography: 'a' },
      }
      expect(
        errorsOf(
          { name: 'a', definition: { parallel: [{ function: 'f' }, { choreography: 'b' }] } },
          others,
        ),
      ).toEqual([
        {
          path: '/definition/parallel/1/choreography',
          code: 'cycle',
          message:
            'in choreography "b" at /definition/sequence/1/choreography: ' +
            'in choreography "c" at /definition/choreography: cycle: a → b → c → a',
        },
      ])
    })

    it('check the definition being deployed, not the stored one of the same name', () => {
      // The stored "a" is harmless; the new one closes a cycle through b.
      const others = { a: { function: 'f' }, b: { choreography: 'a' } }
      expect(errorsOf({ name: 'a', definition: { choreography: 'b' } }, others)).toEqual([
        {
          path: '/definition/choreography',
          code: 'cycle',
          message: 'in choreography "b" at /definition/choreography: cycle: a → b → a',
        },
      ])
    })

    it('report what is wrong inside a referenced choreography', () => {
      expect(
        errorsOf(
          { name: 'a', definition: { choreography: 'b' } },
          { b: { map: { function: 'gone' } } },
        ),
      ).toEqual([
        {
          path: '/definition/choreography',
          code: 'unknown-function',
          message: 'in choreography "b" at /definition/map/function: unknown function "gone"',
        },
      ])
    })

    it('allow a choreography to be referenced twice without a cycle', () => {
      const others = { leaf: { function: 'f' } }
      const result = validateChoreography(
        {
          name: 'a',
          definition: { parallel: [{ choreography: 'leaf' }, { choreography: 'leaf' }] },
        },
        context(others),
      )
      expect(result.ok).toBe(true)
    })

    it('bound the expansion of choreographies that reference each other many times', () => {
      // c0 runs c1 four times, c1 runs c2 four times, ...: 4^10 steps if expanded in full.
      const others: Record<string, unknown> = { c10: { function: 'f' } }
      for (let i = 0; i < 10; i++) {
        others[`c${i}`] = {
          parallel: Array.from({ length: 4 }, () => ({ choreography: `c${i + 1}` })),
        }
      }
      const errors = errorsOf({ name: 'top', definition: { choreography: 'c0' } }, others)
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatchObject({ path: '/definition/choreography', code: 'too-large' })
    })

    it('are unknown when the context knows no other choreographies', () => {
      const result = validateChoreography(
        { name: 'a', definition: { choreography: 'b' } },
        { functionExists: () => true },
      )
      expect(result).toEqual({
        ok: false,
        errors: [
          {
            path: '/definition/choreography',
            code: 'unknown-choreography',
            message: 'unknown choreography "b"',
          },
        ],
      })
    })
  })

  it('never throws, whatever it is given', () => {
    const step: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      step: fc.oneof(
        { depthSize: 'small' },
        fc.record({ function: fc.constantFrom('f', 'nope', 3, '') }, { requiredKeys: [] }),
        fc.record({ sequence: fc.oneof(fc.array(tie('step'), { maxLength: 3 }), fc.anything()) }),
        fc.record({ parallel: fc.array(tie('step'), { maxLength: 3 }) }),
        fc.record(
          {
            map: tie('step'),
            items: fc.oneof(fc.string(), fc.constant('$.a')),
            maxConcurrency: fc.anything(),
          },
          { requiredKeys: ['map'] },
        ),
        fc.record(
          {
            choice: fc.array(
              fc.record({ when: fc.oneof(fc.string(), fc.anything()), then: tie('step') }),
              {
                maxLength: 3,
              },
            ),
            otherwise: tie('step'),
          },
          { requiredKeys: ['choice'] },
        ),
        fc.record({ choreography: fc.constantFrom('a', 'b', 'test') }),
        fc.anything(),
      ),
    })).step
    fc.assert(
      fc.property(step, fc.anything(), (definition, b) => {
        const result = validateChoreography(
          { name: 'test', definition },
          context({ a: { function: 'f' }, b }),
        )
        if (!result.ok) {
          expect(result.errors.length).toBeGreaterThan(0)
          for (const error of result.errors) {
            expect(typeof error.path).toBe('string')
            expect(typeof error.message).toBe('string')
          }
        }
      }),
      { numRuns: 500 },
    )
  }, 60_000)
})
