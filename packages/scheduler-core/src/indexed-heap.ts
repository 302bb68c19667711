/**
 * A binary min-heap that knows where each item sits, so any item can be removed or
 * re-keyed in O(log n). Items are compared by the `before` function given at
 * construction; an item may be in many heaps at once.
 */
export class IndexedHeap<T> {
  readonly #items: T[] = []
  readonly #positions = new Map<T, number>()
  readonly #before: (a: T, b: T) => boolean

  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before
  }

  get size(): number {
    return this.#items.length
  }

  has(item: T): boolean {
    return this.#positions.has(item)
  }

  peek(): T | undefined {
    return this.#items[0]
  }

  push(item: T): void {
    if (this.#positions.has(item)) throw new Error('IndexedHeap: item already present')
    this.#items.push(item)
    this.#positions.set(item, this.#items.length - 1)
    this.#up(this.#items.length - 1)
  }

  pop(): T | undefined {
    const top = this.#items[0]
    if (top !== undefined) this.remove(top)
    return top
  }

  /** Removes `item` if present; returns whether it was. */
  remove(item: T): boolean {
    const at = this.#positions.get(item)
    if (at === undefined) return false
    const last = this.#items.pop() as T
    this.#positions.delete(item)
    if (at < this.#items.length) {
      this.#items[at] = last
      this.#positions.set(last, at)
      this.#down(at)
      this.#up(at)
    }
    return true
  }

  /** Restores heap order after `item`'s key changed; pushes it if absent. */
  update(item: T): void {
    const at = this.#positions.get(item)
    if (at === undefined) return this.push(item)
    this.#down(at)
    this.#up(at)
  }

  /** Present iff `present`: pushes, re-keys or removes as needed. */
  sync(item: T, present: boolean): void {
    if (present) this.update(item)
    else this.remove(item)
  }

  #up(start: number): void {
    const items = this.#items
    let i = start
    const item = items[i] as T
    while (i > 0) {
      const parentAt = (i - 1) >> 1
      const parent = items[parentAt] as T
      if (!this.#before(item, parent)) break
      items[i] = parent
      this.#positions.set(parent, i)
      i = parentAt
    }
    if (i !== start) {
      items[i] = item
      this.#positions.set(item, i)
    }
  }

  #down(start: number): void {
    const items = this.#items
    const n = items.length
    let i = start
    const item = items[i] as T
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      let child = left
      if (right < n && this.#before(items[right] as T, items[left] as T)) child = right
      const smaller = items[child] as T
      if (!this.#before(smaller, item)) break
      items[i] = smaller
      this.#positions.set(smaller, i)
      i = child
    }
    if (i !== start) {
      items[i] = item
      this.#positions.set(item, i)
    }
  }
}
