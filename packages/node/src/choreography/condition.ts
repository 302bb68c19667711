/**
 * Conditions of `choice` branches: a small, safe expression language over JSON paths,
 * parsed into an AST and evaluated by walking it (never `eval`).
 *
 *     $.size > 1000 && ($.kind == "image" || $.tags[0] != null) && !$.draft
 *
 * Operands: paths (`$`, `.field`, `['field']`, `[index]`), numbers, strings in single or
 * double quotes, `true`, `false`, `null`. Operators, loosest first: `||`, `&&`, comparisons
 * (`==`, `!=`, `<`, `<=`, `>`, `>=`, which do not chain), `!`; parentheses group.
 *
 * Evaluation never throws: a missing path is `null`; `==`/`!=` compare JSON values
 * structurally; `<`, `<=`, `>`, `>=` hold only between two numbers or two strings (so
 * `"10" > 9` is false, and so is its negation with `<=`); `!`, `&&`, `||` and the whole
 * condition use JSON truthiness (`false`, `null`, `0`, `""` are false).
 */
import { ConditionSyntaxError, JsonPathSyntaxError } from './errors.js'
import { readJsonPath, resolveJsonPath, type JsonPath } from './json-path.js'
import { describeValue, isTruthy, jsonEquals } from './json-value.js'
import { MAX_CONDITION_DEPTH, MAX_CONDITION_LENGTH } from './limits.js'

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>='

/** A parsed condition: plain JSON. */
export type ConditionNode =
  | { readonly type: 'literal'; readonly value: string | number | boolean | null }
  | { readonly type: 'path'; readonly path: JsonPath }
  | { readonly type: 'not'; readonly operand: ConditionNode }
  | { readonly type: 'and' | 'or'; readonly operands: readonly ConditionNode[] }
  | {
      readonly type: 'compare'
      readonly op: CompareOp
      readonly left: ConditionNode
      readonly right: ConditionNode
    }

type Token =
  | { readonly kind: 'value'; readonly node: ConditionNode; readonly at: number }
  | {
      readonly kind: 'op'
      readonly op: CompareOp | '&&' | '||' | '!' | '(' | ')'
      readonly at: number
    }
  | { readonly kind: 'end'; readonly at: number }

const COMPARE_OPS: readonly string[] = ['==', '!=', '<', '<=', '>', '>=']
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y
const WORD = /[A-Za-z_][A-Za-z0-9_]*/y
const SPACE = /[ \t\r\n]/
const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "'": "'",
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
}

/** Parses a condition. Throws ConditionSyntaxError, and nothing else, on any bad input. */
export function parseCondition(text: string): ConditionNode {
  if (typeof text !== 'string') {
    throw new ConditionSyntaxError(describeValue(text), 0, 'a condition is a string')
  }
  if (text.length > MAX_CONDITION_LENGTH) {
    throw new ConditionSyntaxError(
      text,
      MAX_CONDITION_LENGTH,
      `a condition is at most ${MAX_CONDITION_LENGTH} characters`,
    )
  }
  return new Parser(text, tokenize(text)).parse()
}

/** Whether `condition` holds on `input`. Never throws for a JSON input. */
export function evaluateCondition(condition: ConditionNode, input: unknown): boolean {
  return isTruthy(evaluate(condition, input))
}

function evaluate(node: ConditionNode, input: unknown): unknown {
  switch (node.type) {
    case 'literal':
      return node.value
    case 'path':
      return resolveJsonPath(node.path, input) ?? null
    case 'not':
      return !isTruthy(evaluate(node.operand, input))
    case 'and':
      return node.operands.every((operand) => isTruthy(evaluate(operand, input)))
    case 'or':
      return node.operands.some((operand) => isTruthy(evaluate(operand, input)))
    case 'compare':
      return compare(node.op, evaluate(node.left, input), evaluate(node.right, input))
  }
}

function compare(op: CompareOp, left: unknown, right: unknown): boolean {
  if (op === '==') return jsonEquals(left, right)
  if (op === '!=') return !jsonEquals(left, right)
  if (typeof left === 'number' && typeof right === 'number') return order(op, left, right)
  if (typeof left === 'string' && typeof right === 'string') return order(op, left, right)
  return false
}

function order<T extends number | string>(op: '<' | '<=' | '>' | '>=', l: T, r: T): boolean {
  switch (op) {
    case '<':
      return l < r
    case '<=':
      return l <= r
    case '>':
      return l > r
    case '>=':
      return l >= r
  }
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  const fail = (at: number, message: string): never => {
    throw new ConditionSyntaxError(text, at, message)
  }
  let i = 0
  while (i < text.length) {
    const c = text[i] as string
    if (SPACE.test(c)) {
      i++
      continue
    }
    const two = text.slice(i, i + 2)
    if (
      two === '==' ||
      two === '!=' ||
      two === '<=' ||
      two === '>=' ||
      two === '&&' ||
      two === '||'
    ) {
      tokens.push({ kind: 'op', op: two, at: i })
      i += 2
    } else if (c === '<' || c === '>' || c === '!' || c === '(' || c === ')') {
      tokens.push({ kind: 'op', op: c, at: i })
      i++
    } else if (c === '=') {
      fail(i, "use '==' to compare")
    } else if (c === '&' || c === '|') {
      fail(i, `use '${c}${c}'`)
    } else if (c === '$') {
      try {
        const { path, end } = readJsonPath(text, i)
        tokens.push({ kind: 'value', node: { type: 'path', path }, at: i })
        i = end
      } catch (err) {
        if (err instanceof JsonPathSyntaxError) fail(err.position, err.message)
        throw err
      }
    } else if (c === '"' || c === "'") {
      const at = i
      const { value, end } = readString(text, i, fail)
      tokens.push({ kind: 'value', node: { type: 'literal', value }, at })
      i = end
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i
      const match = NUMBER.exec(text)
      if (!match) fail(i, 'expected a number')
      const raw = (match as RegExpExecArray)[0]
      const value = Number(raw)
      if (!Number.isFinite(value)) fail(i, 'number out of range')
      tokens.push({ kind: 'value', node: { type: 'literal', value }, at: i })
      i += raw.length
    } else if (/[A-Za-z_]/.test(c)) {
      WORD.lastIndex = i
      const word = (WORD.exec(text) as RegExpExecArray)[0]
      const value =
        word === 'true' ? true : word === 'false' ? false : word === 'null' ? null : word
      if (typeof value === 'string') {
        fail(i, `unknown word ${JSON.stringify(word)}: paths start with '$', strings are quoted`)
      }
      tokens.push({
        kind: 'value',
        node: { type: 'literal', value: value as boolean | null },
        at: i,
      })
      i += word.length
    } else {
      fail(i, `unexpected ${JSON.stringify(c)}`)
    }
  }
  tokens.push({ kind: 'end', at: text.length })
  return tokens
}

function readString(
  text: string,
  start: number,
  fail: (at: number, message: string) => never,
): { value: string; end: number } {
  const quote = text[start]
  let value = ''
  let i = start + 1
  for (;;) {
    const c = text[i]
    if (c === undefined) return fail(start, `unterminated string: expected ${quote}`)
    if (c === quote) return { value, end: i + 1 }
    if (c !== '\\') {
      value += c
      i++
      continue
    }
    const e = text[i + 1] ?? ''
    const simple = ESCAPES[e]
    if (simple !== undefined) {
      value += simple
      i += 2
    } else if (e === 'u' && /^[0-9A-Fa-f]{4}$/.test(text.slice(i + 2, i + 6))) {
      value += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16))
      i += 6
    } else {
      return fail(i, `bad escape ${JSON.stringify(`\\${e}`)} in a string`)
    }
  }
}

class Parser {
  #next = 0

  constructor(
    readonly text: string,
    readonly tokens: readonly Token[],
  ) {}

  parse(): ConditionNode {
    if (this.#peek().kind === 'end') this.#fail(0, 'empty condition')
    const node = this.#or(0)
    const rest = this.#peek()
    if (rest.kind !== 'end') this.#fail(rest.at, `unexpected ${this.#describe(rest)}`)
    return node
  }

  #or(depth: number): ConditionNode {
    const operands = [this.#and(depth)]
    while (this.#isOp('||')) {
      this.#next++
      operands.push(this.#and(depth))
    }
    return operands.length === 1 ? (operands[0] as ConditionNode) : { type: 'or', operands }
  }

  #and(depth: number): ConditionNode {
    const operands = [this.#comparison(depth)]
    while (this.#isOp('&&')) {
      this.#next++
      operands.push(this.#comparison(depth))
    }
    return operands.length === 1 ? (operands[0] as ConditionNode) : { type: 'and', operands }
  }

  #comparison(depth: number): ConditionNode {
    const left = this.#unary(depth)
    const token = this.#peek()
    if (token.kind !== 'op' || !COMPARE_OPS.includes(token.op)) return left
    this.#next++
    const right = this.#unary(depth)
    const after = this.#peek()
    if (after.kind === 'op' && COMPARE_OPS.includes(after.op)) {
      this.#fail(after.at, 'comparisons do not chain: join them with && or ||')
    }
    return { type: 'compare', op: token.op as CompareOp, left, right }
  }

  #unary(depth: number): ConditionNode {
    const token = this.#peek()
    if (token.kind === 'op' && token.op === '!') {
      this.#deeper(depth, token.at)
      this.#next++
      return { type: 'not', operand: this.#unary(depth + 1) }
    }
    return this.#primary(depth)
  }

  #primary(depth: number): ConditionNode {
    const token = this.#peek()
    if (token.kind === 'value') {
      this.#next++
      return token.node
    }
    if (token.kind === 'op' && token.op === '(') {
      this.#deeper(depth, token.at)
      this.#next++
      const inner = this.#or(depth + 1)
      const close = this.#peek()
      if (close.kind !== 'op' || close.op !== ')') {
        this.#fail(close.at, `expected ')' to close the '(' at offset ${token.at}`)
      }
      this.#next++
      return inner
    }
    return this.#fail(token.at, `expected a path, a value or '(', got ${this.#describe(token)}`)
  }

  #deeper(depth: number, at: number): void {
    if (depth + 1 > MAX_CONDITION_DEPTH) {
      this.#fail(at, `a condition nests at most ${MAX_CONDITION_DEPTH} levels`)
    }
  }

  #isOp(op: string): boolean {
    const token = this.#peek()
    return token.kind === 'op' && token.op === op
  }

  #peek(): Token {
    return this.tokens[this.#next] as Token
  }

  #describe(token: Token): string {
    if (token.kind === 'end') return 'the end of the condition'
    if (token.kind === 'op') return `'${token.op}'`
    return token.node.type === 'path' ? `the path ${token.node.path.text}` : 'a value'
  }

  #fail(at: number, message: string): never {
    throw new ConditionSyntaxError(this.text, at, message)
  }
}
