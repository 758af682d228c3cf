import Dispatch

/// A serial executor that runs jobs on one `DispatchQueue`: each room gets
/// its own, so rooms run in parallel on all cores while each room's state is
/// touched by one thread at a time. (`DispatchSerialQueue` is not available
/// on Linux; GRDB's `DispatchQueueActor` does the same.)
final class DispatchQueueExecutor: SerialExecutor {
    let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Code running on the queue outside a job (a `DispatchQueue.async`
    /// block) is isolated to the executor too, so `assumeIsolated` holds there.
    func checkIsolated() {
        dispatchPrecondition(condition: .onQueue(queue))
    }
}
