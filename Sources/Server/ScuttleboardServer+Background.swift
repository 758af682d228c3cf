extension ScuttleboardServer {
    /// Runs the server in a task of its own (an in-process server for the
    /// demo, the swarm, tests and benchmarks) and returns once it listens.
    /// - Returns: The bound port, and the task running the server: it ends
    ///   after ``shutdown()``, or when cancelled.
    /// - Throws: Whatever stopped the server from listening (a port in use).
    public func startInBackground() async throws -> (port: Int, task: Task<Void, any Error>) {
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        let task = Task {
            defer { sink.finish() }
            try await run(onListening: { sink.yield($0) })
        }
        for await port in ports { return (port, task) }
        // It stopped before listening: report why.
        try await task.value
        throw CancellationError()
    }
}
