/** A double-ended queue on a growable ring buffer: O(1) at both ends. */
export class Deque<T> {
  #buffer: (T | undefined)[] = new Array<T | undefined>(16)
  #head = 0
  #length = 0

  get length(): number {
    return this.#length
  }

  peekFront(): T | undefined {
    return this.#length === 0 ? undefined : this.#buffer[this.#head]
  }

  pushBack(item: T): void {
    this.#growIfFull()
    this.#buffer[(this.#head + this.#length) & (this.#buffer.length - 1)] = item
    this.#length++
  }

  pushFront(item: T): void {
    this.#growIfFull()
    this.#head = (this.#head - 1) & (this.#buffer.length - 1)
    this.#buffer[this.#head] = item
    this.#length++
  }

  popFront(): T | undefined {
    if (this.#length === 0) return undefined
    const item = this.#buffer[this.#head]
    this.#buffer[this.#head] = undefined
    this.#head = (this.#head + 1) & (this.#buffer.length - 1)
    this.#length--
    return item
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) {
      yield this.#buffer[(this.#head + i) & (this.#buffer.length - 1)] as T
    }
  }

  #growIfFull(): void {
    if (this.#length < this.#buffer.length) return
    const grown = new Array<T | undefined>(this.#buffer.length * 2)
    for (let i = 0; i < this.#length; i++) {
      grown[i] = this.#buffer[(this.#head + i) & (this.#buffer.length - 1)]
    }
    this.#buffer = grown
    this.#head = 0
  }
}
