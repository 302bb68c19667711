/**
 * fast-check arbitraries for choreographies: random valid definitions over f, g and h,
 * random inputs, and a scripted worker (each call's answer drawn from a list).
 */
import fc from 'fast-check'
import type { Answer, Invoke } from './helpers.js'

const options = fc
  .record({
    retries: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined, freq: 2 }),
    timeoutMs: fc.option(fc.integer({ min: 30, max: 120 }), { nil: undefined, freq: 2 }),
  })
  .map((o) => JSON.parse(JSON.stringify(o)) as { retries?: number; timeoutMs?: number })

const CONDITIONS = ['$ == null', '$[0] != null', '$.a', 'true', '$ > 1', '!$.a || $[1] == 2']

export const definition: fc.Arbitrary<unknown> = fc.letrec<{ step: unknown }>((tie) => ({
  step: fc.oneof(
    { maxDepth: 4, depthSize: 'medium', depthIdentifier: 'step' },
    fc.tuple(fc.constantFrom('f', 'g', 'h'), options).map(([fn, o]) => ({ function: fn, ...o })),
    fc.tuple(fc.array(tie('step'), { minLength: 1, maxLength: 3 }), options).map(([steps, o]) => ({
      sequence: steps,
      ...o,
    })),
    fc.tuple(fc.array(tie('step'), { minLength: 1, maxLength: 3 }), options).map(([steps, o]) => ({
      parallel: steps,
      ...o,
    })),
    fc
      .tuple(
        tie('step'),
        fc.constantFrom('$', '$', '$', '$.a'),
        fc.integer({ min: 1, max: 3 }),
        options,
      )
      .map(([step, items, maxConcurrency, o]) => ({ map: step, items, maxConcurrency, ...o })),
    fc
      .tuple(
        fc.array(fc.tuple(fc.constantFrom(...CONDITIONS), tie('step')), {
          minLength: 1,
          maxLength: 2,
        }),
        fc.option(tie('step'), { nil: undefined }),
        options,
      )
      .map(([branches, otherwise, o]) => ({
        choice: branches.map(([when, then]) => ({ when, then })),
        ...(otherwise === undefined ? {} : { otherwise }),
        ...o,
      })),
  ),
})).step

export const input: fc.Arbitrary<unknown> = fc.constantFrom(
  [[1, 2], [3]],
  [[[1], [2]], [[3]]],
  [1, 2, 3],
  { a: [[1], [2, 3]] },
  [],
  5,
  null,
)

/** What the n-th call gets. A "hang" answers so late that any timeout fires first. */
const action = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      ok: fc.constantFrom<unknown>(
        [1, 2],
        [[1], [2]],
        [[[1, 2]], [[3]]],
        [],
        { a: [[3]] },
        'x',
        null,
      ),
      after: fc.integer({ min: 1, max: 40 }),
      peer: fc.constantFrom('p1', 'p2'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      error: fc.constantFrom('boom', 'oom'),
      after: fc.integer({ min: 1, max: 40 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ ok: 'late', after: 10_000 }) },
)

export const script: fc.Arbitrary<Answer[]> = fc.array(action, { minLength: 1, maxLength: 30 })

/** A worker that answers the n-th call with `answers[n % length]`. */
export function scripted(answers: readonly Answer[]): (call: Invoke) => Answer {
  let n = 0
  return () => answers[n++ % answers.length] as Answer
}
