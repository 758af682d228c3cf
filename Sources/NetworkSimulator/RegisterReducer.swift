import HashTreeCollections
import Scuttlebutt

/// A small reducer for testing replication: 64 registers of 64 bits on a
/// persistent `TreeDictionary`, with operations that do *not* commute on the
/// same register, so any ordering mistake shows up as a different state.
public struct RegisterReducer: Reducer {
    /// The registers, plus a count of clears.
    public struct State: Sendable, Hashable {
        /// Register values by index; absent means zero.
        public var registers: TreeDictionary<UInt8, UInt64> = [:]
        /// How many clears were applied.
        public var clears: UInt64 = 0

        /// An empty state.
        public init() {}
    }

    /// What a peer does to the registers.
    public enum Action: Sendable, Hashable {
        /// Overwrite a register.
        case set(register: UInt8, value: UInt64)
        /// Fold a value into a register, order-sensitively.
        case mix(register: UInt8, value: UInt64)
        /// Empty every register.
        case clear
    }

    /// Why an action was refused.
    public enum ValidationError: Error, CustomStringConvertible {
        /// Registers are numbered 0 to 63.
        case registerOutOfRange(UInt8)
        /// `UInt64.max` is reserved, to test refusals.
        case reservedValue

        /// A sentence for people.
        public var description: String {
            switch self {
            case .registerOutOfRange(let register): return "register \(register) is out of range 0…63"
            case .reservedValue: return "the value \(UInt64.max) is reserved"
            }
        }
    }

    /// A reducer.
    public init() {}

    /// Applies one update.
    public func reduce(_ state: inout State, _ update: Update<Action>) {
        switch update.action {
        case .set(let register, let value):
            state.registers[register] = value
        case .mix(let register, let value):
            let old = state.registers[register] ?? 0
            state.registers[register] = (old &* 0x100_0000_01B3) ^ value &+ update.seq
        case .clear:
            state.registers = [:]
            state.clears += 1
        }
    }

    /// A register update touches its register; a clear touches everything.
    public func footprint(of update: Update<Action>) -> Footprint<UInt8> {
        switch update.action {
        case .set(let register, _), .mix(let register, _): return .one(register)
        case .clear: return .everything
        }
    }

    /// Refuses registers above 63 and the reserved value.
    public func validate(_ action: Action, by origin: PeerID) throws {
        switch action {
        case .set(let register, let value), .mix(let register, let value):
            guard register < 64 else { throw ValidationError.registerOutOfRange(register) }
            guard value != .max else { throw ValidationError.reservedValue }
        case .clear:
            break
        }
    }

    /// The state a sorted reduce of `updates` gives: the reference every
    /// replica must match.
    public func referenceState(of updates: some Sequence<Update<Action>>) -> State {
        var state = State()
        for update in updates.sorted(by: { $0.orderKey < $1.orderKey }) { reduce(&state, update) }
        return state
    }
}

extension RegisterReducer.Action {
    /// A random action, mostly register updates on a few hot registers so
    /// that conflicts are common, with the occasional clear.
    public static func random(using generator: inout SeededGenerator, clearProbability: Double = 0.02) -> Self {
        if generator.chance(clearProbability) { return .clear }
        let register = UInt8.random(in: 0..<8, using: &generator)
        let value = UInt64.random(in: 0..<1_000_000, using: &generator)
        return generator.chance(0.5) ? .set(register: register, value: value) : .mix(register: register, value: value)
    }
}

extension RegisterReducer.State {
    /// Why bytes are not an encoded state.
    public struct DecodingError: Error, CustomStringConvertible {
        /// A sentence for people.
        public let description: String
    }

    /// The state as bytes, for snapshots and checkpoints: the clear count,
    /// then each register (index, value) in index order; integers little
    /// endian.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + registers.count * 9)
        bytes.append(contentsOf: withUnsafeBytes(of: clears.littleEndian, Array.init))
        for (register, value) in registers.sorted(by: { $0.key < $1.key }) {
            bytes.append(register)
            bytes.append(contentsOf: withUnsafeBytes(of: value.littleEndian, Array.init))
        }
        return bytes
    }

    /// Decodes what ``encoded()`` wrote.
    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        guard bytes.count >= 8, (bytes.count - 8) % 9 == 0 else {
            throw DecodingError(description: "\(bytes.count) bytes are not a register state")
        }
        func word(at offset: Int) -> UInt64 {
            bytes[offset..<offset + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        self.init()
        clears = word(at: 0)
        var offset = 8
        while offset < bytes.count {
            registers[bytes[offset]] = word(at: offset + 1)
            offset += 9
        }
    }
}
