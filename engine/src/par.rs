//! The engine's one way to use a second core: [`join`] two pieces of work on scoped threads.
//! Callers decide whether the work is large enough and where to split it.

use std::sync::{Mutex, PoisonError};

/// Runs `here` on this thread and `there` on a second scoped thread, and returns both results.
///
/// When no thread can be spawned, both run on this thread, `there` first, so `here` may wait
/// for what `there` produces (a channel) either way. A panic in either is re-raised here.
pub(crate) fn join<H, T, RH, RT>(here: H, there: T) -> (RH, RT)
where
    H: FnOnce() -> RH,
    T: FnOnce() -> RT + Send,
    RT: Send,
{
    // Whichever thread runs `there` takes it out of the slot (held only for the take).
    let slot = Mutex::new(Some(there));
    let run = || {
        let there = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        there.map(|f| f())
    };
    std::thread::scope(|scope| {
        let second = std::thread::Builder::new().spawn_scoped(scope, run);
        let first = if second.is_err() { run() } else { None };
        let rh = here();
        let rt = match second {
            Ok(t) => t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(_) => first,
        };
        match rt {
            Some(rt) => (rh, rt),
            None => unreachable!("`there` is taken only by the thread that runs it"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::join;

    #[test]
    fn returns_both_results_in_order() {
        let data: Vec<u32> = (0..100).collect();
        let (a, b) = join(
            || data[..50].iter().sum::<u32>(),
            || data[50..].iter().sum::<u32>(),
        );
        assert_eq!((a, b), (1225, 3725));
    }

    #[test]
    fn here_can_wait_for_there() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (got, ()) = join(
            move || rx.iter().sum::<u32>(),
            move || {
                for i in 0..10 {
                    let _ = tx.send(i);
                }
            },
        );
        assert_eq!(got, 45);
    }

    #[test]
    fn a_panic_on_the_second_thread_is_raised_here() {
        let r = std::panic::catch_unwind(|| join(|| 1, || -> u32 { panic!("there") }));
        assert!(r.is_err());
    }
}
