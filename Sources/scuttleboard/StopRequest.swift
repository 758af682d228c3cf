import Dispatch
import Foundation
import Synchronization

/// SIGINT and SIGTERM taken as a request to stop early and cleanly, for the
/// commands that run for a while without a terminal screen (a headless
/// demo, a swarm): they finish what they are doing, report, and clean up.
/// A second signal ends the process at once.
struct StopRequest {
    private final class Flag: Sendable {
        let signals = Atomic<Int>(0)
    }

    private let flag = Flag()
    private let sources: [any DispatchSourceSignal]

    /// Starts listening for SIGINT and SIGTERM.
    init() {
        let flag = flag
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if flag.signals.add(1, ordering: .relaxed).newValue > 1 { exit(128 + number) }
                try? FileHandle.standardError.write(contentsOf: Data("stopping (again to stop at once)\n".utf8))
            }
            source.resume()
            return source
        }
    }

    /// Whether a signal asked to stop.
    var isRequested: Bool { flag.signals.load(ordering: .relaxed) > 0 }

    /// Stops listening; the signals' default actions apply again.
    func cancel() {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
