import Foundation
import GRDB
import Scuttlebutt

/// What ``DurableLog/verify(decodesAction:decodesState:progress:)`` found.
public struct LogVerification: Sendable, Hashable {
    /// Rooms in the file.
    public var rooms = 0
    /// Updates in the file.
    public var updates = 0
    /// Room checkpoints in the file.
    public var checkpoints = 0
    /// Everything wrong, one sentence each; empty for a sound log.
    public var problems: [String] = []
}

extension DurableLog {
    /// Checks the whole file: SQLite's own integrity check; every origin's
    /// updates numbered from 1 without gaps, their stamps increasing; every
    /// action and checkpoint decoding; every checkpoint covering only what
    /// the log holds.
    /// - Parameters:
    ///   - decodesAction: Whether an update's stored action bytes decode.
    ///   - decodesState: Whether a checkpoint's state decodes.
    ///   - progress: Told what is being checked, for long runs.
    public func verify(
        decodesAction: (UpdateID, [UInt8]) -> Bool, decodesState: ([UInt8]) -> Bool,
        progress: (String) -> Void = { _ in }
    ) throws(StorageError) -> LogVerification {
        do {
            return try writer.read { db in
                var result = LogVerification()
                progress("integrity")
                let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                if integrity != ["ok"] { result.problems += integrity.map { "SQLite integrity: \($0)" } }
                result.rooms = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM rooms") ?? 0
                result.checkpoints = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM checkpoints") ?? 0
                progress("gaps")
                result.problems += try Self.gaps(db)
                progress("stamps")
                result.problems += try Row.fetchAll(
                    db,
                    sql: """
                        SELECT room, origin, seq FROM (
                            SELECT room, origin, seq, timestamp,
                                LAG(timestamp) OVER (PARTITION BY room, origin ORDER BY seq) AS previous
                            FROM updates)
                        WHERE previous IS NOT NULL AND timestamp <= previous
                        """
                ).map { row in
                    "room \"\(row[0] as String)\": update \(Self.origin(row[1]))#\(row[2] as Int64) is not stamped "
                        + "after the one before it"
                }
                progress("actions")
                let actions = try Row.fetchCursor(db, sql: "SELECT room, origin, seq, action FROM updates")
                while let row = try actions.next() {
                    result.updates += 1
                    let id = UpdateID(origin: Self.origin(row[1]), seq: UInt64(bitPattern: row[2] as Int64))
                    if !decodesAction(id, [UInt8](row[3] as Data)) {
                        result.problems.append(
                            "room \"\(row[0] as String)\": update \(Self.origin(row[1]))#\(row[2] as Int64) does not decode"
                        )
                    }
                }
                progress("checkpoints")
                result.problems += try Self.checkpointProblems(db, decodesState: decodesState)
                return result
            }
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(error, doing: "verify the database")
        }
    }

    private static func origin(_ value: DatabaseValue) -> PeerID {
        PeerID(UInt64(bitPattern: Int64.fromDatabaseValue(value) ?? 0))
    }

    /// Every origin whose updates do not run 1, 2, 3… without holes.
    private static func gaps(_ db: Database) throws -> [String] {
        let late = try Row.fetchAll(
            db, sql: "SELECT room, origin, MIN(seq) FROM updates GROUP BY room, origin HAVING MIN(seq) != 1"
        ).map { row in
            "room \"\(row[0] as String)\": origin \(origin(row[1]))'s updates start at #\(row[2] as Int64), not #1"
        }
        let holes = try Row.fetchAll(
            db,
            sql: """
                SELECT room, origin, seq, next FROM (
                    SELECT room, origin, seq, LEAD(seq) OVER (PARTITION BY room, origin ORDER BY seq) AS next
                    FROM updates)
                WHERE next IS NOT NULL AND next != seq + 1
                """
        ).map { row in
            let (seq, next) = (row[2] as Int64, row[3] as Int64)
            let missing = seq + 1 == next - 1 ? "#\(seq + 1) is" : "#\(seq + 1)…#\(next - 1) are"
            return "room \"\(row[0] as String)\": origin \(origin(row[1])) has a gap: \(missing) missing"
        }
        return late + holes
    }

    /// Checkpoints that do not decode, or that cover what the log lacks.
    private static func checkpointProblems(_ db: Database, decodesState: ([UInt8]) -> Bool) throws -> [String] {
        var problems: [String] = []
        let checkpoints = try Row.fetchAll(
            db, sql: "SELECT room, horizon_timestamp, horizon_origin, state FROM checkpoints")
        for row in checkpoints {
            let room: String = row[0]
            if !decodesState([UInt8](row[3] as Data)) {
                problems.append("room \"\(room)\": the checkpoint's state does not decode")
            }
            let horizonStored =
                try Bool.fetchOne(
                    db, sql: "SELECT EXISTS (SELECT 1 FROM updates WHERE room = ? AND origin = ? AND timestamp = ?)",
                    arguments: [room, row[2] as Int64, row[1] as Int64]) ?? false
            if !horizonStored {
                problems.append("room \"\(room)\": the checkpoint was folded at an update the log does not hold")
            }
        }
        problems += try Row.fetchAll(
            db,
            sql: """
                SELECT d.room, d.origin, d.seq,
                    (SELECT MAX(seq) FROM updates u WHERE u.room = d.room AND u.origin = d.origin)
                FROM checkpoint_digests d
                """
        ).compactMap { row in
            let (covered, held) = (row[2] as Int64, row[3] as Int64? ?? 0)
            guard held < covered else { return nil }
            return "room \"\(row[0] as String)\": the checkpoint covers origin \(origin(row[1])) up to #\(covered), "
                + "the log only up to #\(held)"
        }
        return problems
    }
}
