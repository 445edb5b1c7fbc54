//! Pinned (page-locked) host blocks for transfers, reused without waiting for the device: a
//! block that feeds a queued copy stays "in flight" until the next wait for the queue, then
//! returns to the free list. So uploads in the middle of a segment (a kernel's taps or tables)
//! never make the host wait for the kernels queued before them.

/// A block of pinned host memory owned by a backend (freed by its `Drop`).
pub trait HostBlock {
    /// Start of the block.
    fn ptr(&self) -> *mut u8;
    /// Its size in bytes.
    fn size(&self) -> usize;
}

/// The blocks of one queue.
#[derive(Debug)]
pub struct StagingPool<B> {
    free: Vec<B>,
    in_flight: Vec<B>,
}

impl<B> Default for StagingPool<B> {
    fn default() -> Self {
        StagingPool {
            free: Vec::new(),
            in_flight: Vec::new(),
        }
    }
}

/// Smallest block allocated, so small uploads (taps, tables) share few blocks.
pub const MIN_BLOCK: usize = 64 * 1024;

impl<B: HostBlock> StagingPool<B> {
    /// A free block of at least `len` bytes, or a new one from `alloc(size)`.
    pub fn take<E>(
        &mut self,
        len: usize,
        alloc: impl FnOnce(usize) -> Result<B, E>,
    ) -> Result<B, E> {
        match self.free.iter().position(|b| b.size() >= len) {
            Some(i) => Ok(self.free.swap_remove(i)),
            None => alloc(len.max(MIN_BLOCK)),
        }
    }

    /// `block` feeds a queued copy: it must not be reused before the next [`Self::waited`].
    pub fn queued(&mut self, block: B) {
        self.in_flight.push(block);
    }

    /// `block` is no longer used by the device (its copy was waited for).
    pub fn give_back(&mut self, block: B) {
        self.free.push(block);
    }

    /// The queue was waited for: every block in flight is free again.
    pub fn waited(&mut self) {
        self.free.append(&mut self.in_flight);
    }

    /// Blocks in flight (for tests).
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Block(Vec<u8>);

    impl HostBlock for Block {
        fn ptr(&self) -> *mut u8 {
            self.0.as_ptr() as *mut u8
        }
        fn size(&self) -> usize {
            self.0.len()
        }
    }

    fn alloc(n: usize) -> Result<Block, ()> {
        Ok(Block(vec![0; n]))
    }

    #[test]
    fn blocks_in_flight_are_not_reused_until_the_queue_is_waited_for() {
        let mut pool = StagingPool::default();
        let a = pool.take(100, alloc).unwrap();
        let a_ptr = a.ptr();
        assert_eq!(a.size(), MIN_BLOCK);
        pool.queued(a);
        // A second upload before any wait gets another block, never the one in flight.
        assert!(pool.take(100, |_| Err(())).is_err());
        let b = pool.take(100, alloc).unwrap();
        let b_ptr = b.ptr();
        assert_ne!(b_ptr, a_ptr);
        pool.queued(b);
        assert_eq!(pool.in_flight(), 2);
        pool.waited();
        assert_eq!(pool.in_flight(), 0);
        // After the wait both are reused (no allocation); a larger request gets a new block.
        let c = pool.take(MIN_BLOCK, |_| Err(())).unwrap();
        assert!(c.ptr() == a_ptr || c.ptr() == b_ptr);
        let big = pool.take(MIN_BLOCK + 1, alloc).unwrap();
        assert_eq!(big.size(), MIN_BLOCK + 1);
        pool.give_back(c);
        pool.give_back(big);
        let again = pool.take(MIN_BLOCK + 1, |_| Err(())).unwrap();
        assert_eq!(again.size(), MIN_BLOCK + 1);
    }
}
