// A cap on one user's open tunnels on this replica. API Priority and Fairness does not limit
// long-running requests, so without it one user could hold every socket the gateway has.
import { Refusal } from './resolve.js';

export class UserTunnels {
  private readonly open = new Map<string, number>();
  private count = 0;

  constructor(private readonly max: number) {}

  get total(): number {
    return this.count;
  }

  /** Counts a tunnel for `user`; returns its release (idempotent), or refuses with 429 at the cap. */
  take(user: string): () => void {
    const held = this.open.get(user) ?? 0;
    if (held >= this.max) {
      throw new Refusal(
        429,
        'TooManyRequests',
        `user "${user}" already holds ${held} tunnels through this gateway replica, its limit (MAX_TUNNELS_PER_USER=${this.max}); close one and try again`,
      );
    }
    this.open.set(user, held + 1);
    this.count++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.count--;
      const left = (this.open.get(user) ?? 1) - 1;
      if (left > 0) this.open.set(user, left);
      else this.open.delete(user);
    };
  }
}
