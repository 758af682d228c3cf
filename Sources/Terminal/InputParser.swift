/// Turns the bytes a terminal sends into ``InputEvent``s: UTF-8 text,
/// control keys, CSI and SS3 key sequences, and SGR 1006 mouse reports.
///
/// Stateful: a sequence split across reads is completed by the next
/// ``feed(_:)``. A lone Escape cannot be told from the start of a sequence
/// until time passes, so the caller calls ``flushPendingEscape()`` when no
/// byte followed it within a few tens of milliseconds. Bytes that form no
/// known sequence are dropped, never passed on as keys.
public struct InputParser: Sendable {
    private var pending: [UInt8] = []

    /// A parser with nothing pending.
    public init() {}

    /// Whether bytes wait for the rest of a sequence (a lone Escape, say).
    public var hasPending: Bool { !pending.isEmpty }

    /// Decodes `bytes`, together with what an earlier call left pending.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [InputEvent] {
        pending.append(contentsOf: bytes)
        var events: [InputEvent] = []
        var index = 0
        while index < pending.count {
            switch Self.decode(pending, at: index) {
            case .event(let event, let length):
                events.append(event)
                index += length
            case .skip(let length):
                index += length
            case .incomplete:
                pending.removeFirst(index)
                return events
            }
        }
        pending.removeAll(keepingCapacity: true)
        return events
    }

    /// Reports pending bytes as what they are on their own: Escape (and
    /// Alt+key) once the rest of a sequence has not come.
    public mutating func flushPendingEscape() -> [InputEvent] {
        guard !pending.isEmpty else { return [] }
        let bytes = pending
        pending.removeAll()
        guard bytes.first == 0x1B else { return [] }
        var events: [InputEvent] = [.key(.escape)]
        if bytes.count > 1 {
            var rest = InputParser()
            events += rest.feed(bytes.dropFirst())
        }
        return events
    }

    private enum Step {
        case event(InputEvent, length: Int)
        case skip(Int)
        case incomplete
    }

    private static func decode(_ bytes: [UInt8], at start: Int) -> Step {
        let byte = bytes[start]
        switch byte {
        case 0x1B:
            return decodeEscape(bytes, at: start)
        case 0x0D, 0x0A:
            return .event(.key(.enter), length: 1)
        case 0x09:
            return .event(.key(.tab), length: 1)
        case 0x7F, 0x08:
            return .event(.key(.backspace), length: 1)
        case 0x01...0x1A:
            let letter = Character(Unicode.Scalar(byte + 0x60))
            return .event(.key(.control(letter)), length: 1)
        case 0x00, 0x1C...0x1F:
            return .skip(1)
        default:
            return decodeUTF8(bytes, at: start)
        }
    }

    private static func decodeUTF8(_ bytes: [UInt8], at start: Int) -> Step {
        let lead = bytes[start]
        let length: Int
        switch lead {
        case 0x20..<0x80: length = 1
        case 0xC2..<0xE0: length = 2
        case 0xE0..<0xF0: length = 3
        case 0xF0..<0xF5: length = 4
        default: return .skip(1)
        }
        guard start + length <= bytes.count else { return .incomplete }
        let slice = bytes[start..<(start + length)]
        guard slice.dropFirst().allSatisfy({ $0 & 0xC0 == 0x80 }),
            let string = String(validating: slice, as: UTF8.self), let character = string.first
        else { return .skip(1) }
        return .event(.key(.character(character)), length: length)
    }

    private static func decodeEscape(_ bytes: [UInt8], at start: Int) -> Step {
        guard start + 1 < bytes.count else { return .incomplete }
        switch bytes[start + 1] {
        case UInt8(ascii: "["):
            return decodeCSI(bytes, at: start)
        case UInt8(ascii: "O"):
            guard start + 2 < bytes.count else { return .incomplete }
            guard let key = finalKey(bytes[start + 2], modifiers: []) else { return .skip(3) }
            return .event(.key(key), length: 3)
        case 0x1B:
            return .event(.key(.escape), length: 1)
        default:
            // Alt+key: reported as the key; the UI has no Alt bindings.
            switch decode(bytes, at: start + 1) {
            case .event(let event, let length): return .event(event, length: length + 1)
            case .skip(let length): return .skip(length + 1)
            case .incomplete: return .incomplete
            }
        }
    }

    /// `ESC [` parameters, then a final byte in 0x40…0x7E.
    private static func decodeCSI(_ bytes: [UInt8], at start: Int) -> Step {
        var index = start + 2
        let isMouse = index < bytes.count && bytes[index] == UInt8(ascii: "<")
        if isMouse { index += 1 }
        let parametersStart = index
        while index < bytes.count, !(0x40...0x7E).contains(bytes[index]) {
            // A runaway sequence is garbage, not a key.
            if index - start > 32 { return .skip(index - start) }
            index += 1
        }
        guard index < bytes.count else { return .incomplete }
        let final = bytes[index]
        let length = index - start + 1
        let parameters = String(decoding: bytes[parametersStart..<index], as: UTF8.self)
            .split(separator: ";", omittingEmptySubsequences: false).map { Int($0) }
        if isMouse {
            guard let event = mouse(parameters, final: final) else { return .skip(length) }
            return .event(.mouse(event), length: length)
        }
        let modifiers = parameters.count >= 2 ? Self.modifiers(parameters[1] ?? 1) : []
        if final == UInt8(ascii: "~") {
            let key: Key? =
                switch parameters.first ?? nil {
                case 1, 7: .home
                case 4, 8: .end
                case 3: .delete
                case 5: .pageUp
                case 6: .pageDown
                default: nil
                }
            return key.map { .event(.key($0), length: length) } ?? .skip(length)
        }
        if final == UInt8(ascii: "Z") { return .event(.key(.backTab), length: length) }
        guard let key = finalKey(final, modifiers: modifiers) else { return .skip(length) }
        return .event(.key(key), length: length)
    }

    private static func finalKey(_ final: UInt8, modifiers: KeyModifiers) -> Key? {
        switch final {
        case UInt8(ascii: "A"): .arrow(.up, modifiers)
        case UInt8(ascii: "B"): .arrow(.down, modifiers)
        case UInt8(ascii: "C"): .arrow(.right, modifiers)
        case UInt8(ascii: "D"): .arrow(.left, modifiers)
        case UInt8(ascii: "H"): .home
        case UInt8(ascii: "F"): .end
        default: nil
        }
    }

    /// xterm's modifier parameter: 1 + (shift 1 | alt 2 | ctrl 4).
    private static func modifiers(_ parameter: Int) -> KeyModifiers {
        let bits = max(0, parameter - 1)
        var modifiers: KeyModifiers = []
        if bits & 1 != 0 { modifiers.insert(.shift) }
        if bits & 2 != 0 { modifiers.insert(.alt) }
        if bits & 4 != 0 { modifiers.insert(.control) }
        return modifiers
    }

    /// `ESC [ < b ; x ; y M|m`: button bits, 1-based column and row.
    private static func mouse(_ parameters: [Int?], final: UInt8) -> MouseEvent? {
        guard parameters.count == 3, let code = parameters[0], let column = parameters[1], let row = parameters[2],
            column >= 1, row >= 1, final == UInt8(ascii: "M") || final == UInt8(ascii: "m")
        else { return nil }
        var modifiers: KeyModifiers = []
        if code & 4 != 0 { modifiers.insert(.shift) }
        if code & 8 != 0 { modifiers.insert(.alt) }
        if code & 16 != 0 { modifiers.insert(.control) }
        let button: MouseEvent.Button
        if code & 64 != 0 {
            guard code & 3 <= 1 else { return nil }
            button = code & 1 == 0 ? .wheelUp : .wheelDown
        } else {
            button = [.left, .middle, .right, .none][code & 3]
        }
        let action: MouseEvent.Action =
            code & 32 != 0 ? .motion : (final == UInt8(ascii: "m") ? .release : .press)
        return MouseEvent(button: button, action: action, column: column - 1, row: row - 1, modifiers: modifiers)
    }
}
