/** Conditions re-checked on every change (never polled), each with its own timeout. */
export class Changes {
  private readonly waiters = new Set<() => void>();

  until(pred: () => boolean, timeoutMs: number, failure: () => string): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pred()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(failure()));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  changed(): void {
    for (const check of [...this.waiters]) check();
  }
}
