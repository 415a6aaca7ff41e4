//! The model's stand-in for tokio's spawn (`crate::loom::spawn` in the
//! unit-test build): a spawned task waits here, and the model's login
//! thread runs it, one at a time, until every caller has ended.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex as StdMutex;

use loom::thread::{self, Thread};

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

#[derive(Default)]
struct Queue {
    task: Option<Task>,
    /// Every caller has ended: nothing more will be spawned.
    closed: bool,
    /// The login thread, parked until a task comes.
    sleeper: Option<Thread>,
}

impl Drop for Queue {
    fn drop(&mut self) {
        // Left only by a failed execution, whose teardown must not run the
        // task's guards (they would call into loom): leaked.
        std::mem::forget(self.task.take());
    }
}

// Per execution: loom resets its statics between executions. The queue is
// a std mutex, held only between loom operations (loom runs one thread at
// a time), so it adds no schedule point. The login thread sleeps with loom's
// park, which keeps an unpark that comes first (no lost wake-up) and, unlike
// loom's `Notify`, never wakes spuriously, which would multiply the
// executions to explore.
loom::lazy_static! {
    static ref QUEUE: StdMutex<Queue> = StdMutex::new(Queue::default());
}

fn wake(mut queue: std::sync::MutexGuard<'_, Queue>) {
    let sleeper = queue.sleeper.take();
    drop(queue);
    if let Some(sleeper) = sleeper {
        sleeper.unpark();
    }
}

pub(crate) fn spawn(task: impl Future<Output = ()> + Send + 'static) {
    let mut queue = QUEUE.lock().unwrap();
    // Only logins are spawned, and one chain runs one login at a time.
    assert!(
        queue.task.is_none(),
        "a second login started while one waits to run"
    );
    queue.task = Some(Box::pin(task));
    wake(queue);
}

/// The next task to run, once one is spawned; `None` once the queue is
/// closed and empty.
pub(super) fn next() -> Option<Task> {
    loop {
        {
            let mut queue = QUEUE.lock().unwrap();
            if let Some(task) = queue.task.take() {
                return Some(task);
            }
            if queue.closed {
                return None;
            }
            queue.sleeper = Some(thread::current());
        }
        thread::park();
    }
}

pub(super) fn close() {
    let mut queue = QUEUE.lock().unwrap();
    queue.closed = true;
    wake(queue);
}
