// Parked GET /desired requests, per host. A publish wakes exactly the hosts
// whose generation changed; each waiter answers once (wake, timeout, or the
// client going away) and then forgets itself.

export type WakeReason = 'wake' | 'timeout' | 'shutdown';

interface Waiter {
  settle(reason: WakeReason): void;
}

export class LongPollHub {
  private readonly byHost = new Map<string, Set<Waiter>>();
  private count = 0;

  get waiting(): number {
    return this.count;
  }

  /**
   * Park until wake(host), `timeoutMs`, or `onGone` registration fires.
   * Returns a cancel function for when the client disconnects.
   */
  park(host: string, timeoutMs: number, answer: (reason: WakeReason) => void): () => void {
    let set = this.byHost.get(host);
    if (!set) this.byHost.set(host, (set = new Set()));
    let done = false;
    // Unparks exactly once, whether answered or cancelled by a disconnect.
    const leave = (): boolean => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      set.delete(waiter);
      if (set.size === 0 && this.byHost.get(host) === set) this.byHost.delete(host);
      this.count--;
      return true;
    };
    const waiter: Waiter = {
      settle: (reason) => {
        if (leave()) answer(reason);
      },
    };
    const timer = setTimeout(() => waiter.settle('timeout'), timeoutMs);
    set.add(waiter);
    this.count++;
    return () => void leave();
  }

  wake(host: string): number {
    const set = this.byHost.get(host);
    if (!set) return 0;
    const all = [...set];
    for (const w of all) w.settle('wake');
    return all.length;
  }

  shutdown(): void {
    for (const set of [...this.byHost.values()]) for (const w of [...set]) w.settle('shutdown');
  }
}
