/// A key the terminal sent, decoded.
public enum Key: Sendable, Hashable {
    /// A printable character (letters, digits, punctuation, any script).
    case character(Character)
    /// Control plus a letter (`control("c")` is Ctrl-C).
    case control(Character)
    /// An arrow key, with Shift, Alt or Ctrl when they were held.
    case arrow(Direction, KeyModifiers)
    /// Return or Enter.
    case enter
    /// Escape on its own.
    case escape
    /// Backspace.
    case backspace
    /// Tab.
    case tab
    /// Shift-Tab.
    case backTab
    /// Delete (forward).
    case delete
    /// Home.
    case home
    /// End.
    case end
    /// Page Up.
    case pageUp
    /// Page Down.
    case pageDown
}

/// The four arrow directions.
public enum Direction: Sendable, Hashable, CaseIterable {
    /// Up.
    case up
    /// Down.
    case down
    /// Left.
    case left
    /// Right.
    case right
}

/// Modifier keys held with a key or a mouse event.
public struct KeyModifiers: OptionSet, Sendable, Hashable {
    /// The raw bits.
    public let rawValue: UInt8
    /// Creates modifiers from raw bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Shift.
    public static let shift = KeyModifiers(rawValue: 1)
    /// Alt (Meta).
    public static let alt = KeyModifiers(rawValue: 2)
    /// Control.
    public static let control = KeyModifiers(rawValue: 4)
}

/// A mouse report (SGR 1006 encoding, with 1003 any-motion tracking).
public struct MouseEvent: Sendable, Hashable {
    /// Which button, or the wheel.
    public enum Button: Sendable, Hashable {
        /// The left button.
        case left
        /// The middle button.
        case middle
        /// The right button.
        case right
        /// No button (plain motion).
        case none
        /// The wheel, rolled up.
        case wheelUp
        /// The wheel, rolled down.
        case wheelDown
    }

    /// What happened.
    public enum Action: Sendable, Hashable {
        /// A button went down (or the wheel turned).
        case press
        /// A button went up.
        case release
        /// The mouse moved (with `button` held, or none).
        case motion
    }

    /// The button involved.
    public var button: Button
    /// What happened.
    public var action: Action
    /// The cell's column, from 0.
    public var column: Int
    /// The cell's row, from 0.
    public var row: Int
    /// Modifiers held.
    public var modifiers: KeyModifiers

    /// A mouse event.
    public init(button: Button, action: Action, column: Int, row: Int, modifiers: KeyModifiers = []) {
        self.button = button
        self.action = action
        self.column = column
        self.row = row
        self.modifiers = modifiers
    }
}

/// One decoded piece of terminal input.
public enum InputEvent: Sendable, Hashable {
    /// A key.
    case key(Key)
    /// A mouse report.
    case mouse(MouseEvent)
}
