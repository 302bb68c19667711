/**
 * The bounds of the choreography language and of one run. A definition past a bound is
 * refused on deploy with a precise error, never truncated.
 */

/** Deepest nesting of steps, counted from the root step (1) through referenced choreographies. */
export const MAX_DEPTH = 32

/** Most steps in one definition, counted after referenced choreographies are expanded. */
export const MAX_STEPS = 1000

/** Most retries of one step (so at most MAX_RETRIES + 1 attempts). */
export const MAX_RETRIES = 10

/** Longest `timeoutMs` of a step: 7 days. */
export const MAX_TIMEOUT_MS = 7 * 24 * 60 * 60 * 1000

/** How many items of a `map` run at once when the step does not say. */
export const DEFAULT_MAP_CONCURRENCY = 16

/** The highest `maxConcurrency` a `map` may ask for. */
export const MAX_MAP_CONCURRENCY = 1000

/** How many tasks one run keeps in flight at most, over all its steps, unless told otherwise. */
export const DEFAULT_MAX_INFLIGHT_TASKS = 256

/** Longest choreography, step or function name, in characters: the one rule of names.ts. */
export { MAX_NAME_LENGTH } from '../names.js'

/** Longest condition (`when`), in characters. */
export const MAX_CONDITION_LENGTH = 1000

/** Deepest nesting of a condition's sub-expressions (parentheses, `!`, `&&`, `||`). */
export const MAX_CONDITION_DEPTH = 32

/** Longest JSON path, in characters. */
export const MAX_PATH_LENGTH = 500

/** Most errors one validation reports; the rest are summed up in a last one. */
export const MAX_ERRORS = 50
