import NIOCore

/// Runs a task's jobs on one NIO event loop, so a handler that does not block can run next to
/// its connection without two thread hops per call (`RPCServer.Configuration.handlerExecution`).
@available(macOS 15.0, *)
final class EventLoopTaskExecutor: TaskExecutor, Sendable {
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
