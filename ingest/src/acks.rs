//! Which deliveries may be acknowledged. A channel numbers its deliveries
//! 1, 2, 3, … in the order the broker sends them, but with several queues on
//! one channel the consumer streams can hand them over out of that order,
//! and batches commit concurrently. A multiple-ack covers every tag up to the
//! one given, so tach acknowledges up to T only once every tag up to T has
//! committed (SPEC §4.1): a delivery still buffered, batching or being
//! written leaves a gap that holds the frontier back.

use std::collections::BTreeSet;

/// The committed deliveries of one channel not yet acknowledged.
#[derive(Debug, Default)]
pub struct AckFrontier {
    acked_through: u64,
    committed: BTreeSet<u64>,
}

impl AckFrontier {
    /// Records that `tags` committed; returns the tag to multiple-ack when
    /// the frontier moved.
    pub fn commit(&mut self, tags: &[u64]) -> Option<u64> {
        self.committed
            .extend(tags.iter().copied().filter(|tag| *tag > self.acked_through));
        let before = self.acked_through;
        while self.committed.remove(&(self.acked_through + 1)) {
            self.acked_through += 1;
        }
        (self.acked_through > before).then_some(self.acked_through)
    }

    /// Committed deliveries waiting behind a gap.
    pub fn waiting(&self) -> usize {
        self.committed.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_only_up_to_the_first_gap() {
        let mut frontier = AckFrontier::default();
        assert_eq!(
            frontier.commit(&[2, 3, 5]),
            None,
            "tag 1 is not committed yet"
        );
        assert_eq!(frontier.commit(&[1]), Some(3));
        assert_eq!(frontier.waiting(), 1);
        assert_eq!(frontier.commit(&[6, 4]), Some(6));
        assert_eq!(frontier.waiting(), 0);
    }

    #[test]
    fn interleaved_batches_never_ack_an_uncommitted_tag() {
        let mut frontier = AckFrontier::default();
        // Batch A holds 1, 4, 5; batch B holds 2, 3 (pulled from another queue later).
        assert_eq!(frontier.commit(&[1, 4, 5]), Some(1));
        assert_eq!(frontier.commit(&[2, 3]), Some(5));
    }
}
