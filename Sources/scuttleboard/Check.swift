import ArgumentParser
import Foundation
import Storage
import Whiteboard

/// `scuttleboard check`: verifies a database without changing it.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a database: integrity, gaps in any origin's updates, and checkpoints against the log.",
        discussion: """
            Read-only. Exits 0 when the database is sound and 1 when anything is wrong, listing each problem. \
            Run it after a crash, a full disk or a restore, before serving the file again.
            """)

    @OptionGroup var database: StoredDatabaseOptions

    func run() throws {
        let log = try database.openFile()
        let verification: LogVerification
        do {
            verification = try log.verify(
                decodesAction: { id, bytes in (try? BoardActionCodec.decode(bytes, context: id)) != nil },
                decodesState: { (try? BoardSnapshotCodec.decode($0)) != nil },
                progress: { step in try? FileHandle.standardError.write(contentsOf: Data("checking \(step)…\n".utf8)) })
        } catch {
            throw CommandFailure(error)
        }
        let summary =
            "\(database.db): \(verification.rooms) rooms, \(verification.updates) updates, "
            + "\(verification.checkpoints) checkpoints"
        guard verification.problems.isEmpty else {
            for problem in verification.problems { say(problem) }
            throw CommandFailure(message: "\(summary): \(verification.problems.count) problems")
        }
        say("\(summary): ok")
    }
}
