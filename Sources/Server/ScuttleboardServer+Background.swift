extension ScuttleboardServer {
    /// Runs the server in a task of its own (an in-process server for the
    /// demo, the swarm, tests and benchmarks) and returns once it listens.
    /// - Returns: The bound port, and the task running the server: it ends
    ///   after ``shutdown()``, or when cancelled.
    /// - Throws: Whatever stopped the server from listening (a port in use).
    public func startInBackground() async throws -> (port: Int, task: Task<Void, any Error>) {
        let started = try await startInBackgroundWithPorts()
        return (started.port, started.task)
    }

    /// Like ``startInBackground()``, and also waits for the HTTP port when
    /// the server has one (``ServerConfiguration/httpPort``).
    /// - Returns: The bound protocol port, the bound HTTP port (nil without
    ///   one), and the task running the server.
    public func startInBackgroundWithPorts() async throws -> (
        port: Int, httpPort: Int?, task: Task<Void, any Error>
    ) {
        let (ports, sink) = AsyncStream.makeStream(of: (isHTTP: Bool, port: Int).self)
        let task = Task {
            defer { sink.finish() }
            try await run(onListening: { sink.yield((false, $0)) }, onHTTPListening: { sink.yield((true, $0)) })
        }
        var (port, httpPort): (Int?, Int?) = (nil, nil)
        for await (isHTTP, bound) in ports {
            if isHTTP { httpPort = bound } else { port = bound }
            if let port, configuration.httpPort == nil || httpPort != nil { return (port, httpPort, task) }
        }
        // It stopped before listening: report why.
        try await task.value
        throw CancellationError()
    }
}
