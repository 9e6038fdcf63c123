/** A FIFO async mutex: the fork's snapshot → send → revert sequence must never interleave. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private held = 0;

  /** How many holders and waiters there are now. */
  get queued(): number {
    return this.held;
  }

  /**
   * Runs `fn` once every earlier holder has finished.
   * @example await mutex.run(async () => { ... })
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    this.held += 1;
    try {
      await previous;
      return await fn();
    } finally {
      this.held -= 1;
      release();
    }
  }
}
