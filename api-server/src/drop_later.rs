//! Freeing a request's large intermediate values off its path. A graph of every namespace of a
//! big mesh leaves behind its nodes and edges, the inventory it was built from and the health
//! reports: hundreds of thousands of small allocations whose freeing took about a tenth of the
//! graph's CPU, all of it before the answer could be sent. [`drop_later`] hands them to one
//! background thread, which frees them while the answer is compressed and sent.

use std::sync::OnceLock;
use std::sync::mpsc::{Sender, channel};

type Garbage = Box<dyn Send>;

/// The freeing thread's queue (`None` when the thread could not be started).
fn queue() -> &'static Option<Sender<Garbage>> {
    static QUEUE: OnceLock<Option<Sender<Garbage>>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = channel::<Garbage>();
        let started = std::thread::Builder::new()
            .name("drop-later".into())
            .spawn(move || {
                for g in rx {
                    drop(g);
                }
            })
            .is_ok();
        started.then_some(tx)
    })
}

/// Drops `value` on the background thread; here, when that thread is gone (a failed send
/// hands the value back, and it is dropped in place).
pub fn drop_later<T: Send + 'static>(value: T) {
    if let Some(tx) = queue() {
        let _ = tx.send(Box::new(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::SyncSender;
    use std::time::Duration;

    /// Says on which thread it was dropped.
    struct Tell(SyncSender<std::thread::ThreadId>);

    impl Drop for Tell {
        fn drop(&mut self) {
            let _ = self.0.send(std::thread::current().id());
        }
    }

    #[test]
    fn a_value_is_dropped_on_another_thread_soon_after() {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        drop_later((vec![1u8; 1 << 20], Tell(tx)));
        let on = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("dropped within 10 s");
        assert_ne!(on, std::thread::current().id());
    }
}
