//! Sending at a steady rate, or as fast as possible.

use std::time::Duration;

use tokio::time::{Interval, MissedTickBehavior};

pub struct Pace(Option<Interval>);

impl Pace {
    /// `per_second` sends a second; 0: unpaced.
    pub fn new(per_second: u32) -> Pace {
        Pace((per_second > 0).then(|| {
            let mut i = tokio::time::interval(Duration::from_secs(1) / per_second);
            // Behind schedule (a slow send) is not made up in a burst.
            i.set_missed_tick_behavior(MissedTickBehavior::Delay);
            i
        }))
    }

    pub async fn tick(&mut self) {
        match &mut self.0 {
            Some(i) => {
                i.tick().await;
            }
            None => tokio::task::yield_now().await,
        }
    }
}
