// A per-cluster budget of commands per minute, shared by submission, polling and collection, so
// a burst of work never turns into a burst on slurmctld. Waits rather than fails.
export class TokenBucket {
  private tokens: number;
  private updatedAt = Date.now();

  constructor(private readonly perMinute: number, private readonly burst = Math.max(1, Math.ceil(perMinute / 10))) {
    this.tokens = this.burst;
  }

  async take(): Promise<void> {
    for (;;) {
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      const waitMs = Math.ceil(((1 - this.tokens) * 60_000) / this.perMinute);
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) * this.perMinute) / 60_000);
    this.updatedAt = now;
  }
}
