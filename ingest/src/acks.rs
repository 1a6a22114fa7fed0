//! Which deliveries may be acknowledged. Batches of one channel commit
//! concurrently and may finish out of order, but a multiple-ack covers every
//! tag up to the one given: so the window acknowledges only up to the end of
//! the longest prefix of batches that all committed (SPEC §4.1).

use std::collections::VecDeque;

/// The batches of one channel in delivery order, and whether each committed.
#[derive(Debug, Default)]
pub struct AckWindow {
    batches: VecDeque<(u64, bool)>,
}

impl AckWindow {
    /// Registers a batch whose deliveries end at `last_tag` (tags increase).
    pub fn open(&mut self, last_tag: u64) {
        self.batches.push_back((last_tag, false));
    }

    /// Marks the batch ending at `last_tag` committed; returns the tag to
    /// multiple-ack, if the committed prefix grew.
    pub fn commit(&mut self, last_tag: u64) -> Option<u64> {
        if let Some(batch) = self.batches.iter_mut().find(|(tag, _)| *tag == last_tag) {
            batch.1 = true;
        }
        let mut ack_up_to = None;
        while let Some(&(tag, true)) = self.batches.front() {
            ack_up_to = Some(tag);
            self.batches.pop_front();
        }
        ack_up_to
    }

    /// Batches not yet acknowledged.
    pub fn pending(&self) -> usize {
        self.batches.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_commits_ack_only_the_committed_prefix() {
        let mut window = AckWindow::default();
        window.open(10);
        window.open(20);
        window.open(30);
        assert_eq!(window.commit(20), None, "batch 1..10 is not committed yet");
        assert_eq!(window.commit(10), Some(20));
        assert_eq!(window.pending(), 1);
        assert_eq!(window.commit(30), Some(30));
        assert_eq!(window.pending(), 0);
    }
}
