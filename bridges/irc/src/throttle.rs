//! Flood control: a token bucket per connection. `rate` lines a second
//! after a burst of `burst`; a rate of 0 turns throttling off.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Bucket {
    burst: f64,
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(burst: u32, rate: f64) -> Bucket {
        let burst = f64::from(burst.max(1));
        Bucket {
            burst,
            rate,
            tokens: burst,
            last: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        self.tokens = (self.tokens + (now - self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
    }

    /// Whether a line may go now.
    pub fn ready(&mut self) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        self.refill();
        self.tokens >= 1.0
    }

    pub fn take(&mut self) {
        if self.rate > 0.0 {
            self.tokens -= 1.0;
        }
    }

    /// How long until the next line may go.
    pub fn wait(&self) -> Duration {
        if self.rate <= 0.0 || self.tokens >= 1.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((1.0 - self.tokens) / self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_rate() {
        let mut b = Bucket::new(3, 2.0);
        for _ in 0..3 {
            assert!(b.ready());
            b.take();
        }
        assert!(!b.ready());
        assert_eq!(b.wait(), Duration::from_millis(500));
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(b.ready());
        let mut off = Bucket::new(1, 0.0);
        for _ in 0..100 {
            assert!(off.ready());
            off.take();
        }
    }
}
