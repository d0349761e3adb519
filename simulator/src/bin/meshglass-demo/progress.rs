//! Step-by-step progress lines with timings: `[n/total] what ...`, then `done in x s: detail`.

use std::time::Instant;

/// Step-by-step progress with timings.
pub struct Progress {
    pub start: Instant,
    step: Instant,
    n: usize,
    total: usize,
}

impl Progress {
    pub fn new(total: usize) -> Self {
        Progress {
            start: Instant::now(),
            step: Instant::now(),
            n: 0,
            total,
        }
    }
    pub fn begin(&mut self, what: &str) {
        self.n += 1;
        self.step = Instant::now();
        println!("[{}/{}] {what} ...", self.n, self.total);
    }
    pub fn done(&self, detail: &str) {
        println!(
            "      done in {:.1} s{}{detail}",
            self.step.elapsed().as_secs_f64(),
            if detail.is_empty() { "" } else { ": " }
        );
    }
}
