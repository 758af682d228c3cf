import Testing

@testable import Terminal

@Suite struct InputParserTests {
    func parse(_ text: String) -> [InputEvent] {
        var parser = InputParser()
        return parser.feed(Array(text.utf8))
    }

    @Test func textAndControlKeysDecode() {
        #expect(parse("aé✓") == [.key(.character("a")), .key(.character("é")), .key(.character("✓"))])
        #expect(parse("\u{03}\r\t\u{7F}") == [.key(.control("c")), .key(.enter), .key(.tab), .key(.backspace)])
    }

    @Test func arrowsAndEditingKeysDecodeWithModifiers() {
        #expect(parse("\u{1B}[A\u{1B}OD") == [.key(.arrow(.up, [])), .key(.arrow(.left, []))])
        #expect(parse("\u{1B}[1;2C") == [.key(.arrow(.right, .shift))])
        #expect(parse("\u{1B}[1;5B") == [.key(.arrow(.down, .control))])
        #expect(
            parse("\u{1B}[3~\u{1B}[5~\u{1B}[6~\u{1B}[H\u{1B}[F\u{1B}[Z") == [
                .key(.delete), .key(.pageUp), .key(.pageDown), .key(.home), .key(.end), .key(.backTab),
            ])
    }

    @Test func sgrMouseReportsDecode() {
        #expect(
            parse("\u{1B}[<0;10;5M") == [.mouse(MouseEvent(button: .left, action: .press, column: 9, row: 4))])
        #expect(
            parse("\u{1B}[<0;12;6m") == [.mouse(MouseEvent(button: .left, action: .release, column: 11, row: 5))])
        #expect(
            parse("\u{1B}[<32;11;5M") == [.mouse(MouseEvent(button: .left, action: .motion, column: 10, row: 4))])
        #expect(
            parse("\u{1B}[<35;1;1M") == [.mouse(MouseEvent(button: .none, action: .motion, column: 0, row: 0))])
        #expect(
            parse("\u{1B}[<65;3;3M")
                == [.mouse(MouseEvent(button: .wheelDown, action: .press, column: 2, row: 2))])
        #expect(
            parse("\u{1B}[<20;3;3M")
                == [
                    .mouse(MouseEvent(button: .left, action: .press, column: 2, row: 2, modifiers: [.shift, .control]))
                ])
    }

    @Test func aSequenceSplitAcrossReadsIsCompletedByTheNextRead() {
        var parser = InputParser()
        let whole = Array("\u{1B}[<0;10;5Mx".utf8)
        var events: [InputEvent] = []
        for byte in whole { events += parser.feed([byte]) }
        #expect(
            events == [.mouse(MouseEvent(button: .left, action: .press, column: 9, row: 4)), .key(.character("x"))])
        #expect(!parser.hasPending)
    }

    @Test func aLoneEscapeWaitsUntilFlushed() {
        var parser = InputParser()
        #expect(parser.feed([0x1B]).isEmpty)
        #expect(parser.hasPending)
        #expect(parser.flushPendingEscape() == [.key(.escape)])
        #expect(!parser.hasPending)
    }

    @Test func garbageIsDroppedNotTurnedIntoKeys() {
        #expect(parse("\u{1B}[<0;0;5M").isEmpty, "a zero coordinate is invalid")
        #expect(parse("\u{1B}[99~").isEmpty)
        var parser = InputParser()
        #expect(parser.feed([0xFF, 0x00, 0xC3]).isEmpty, "an invalid UTF-8 byte, NUL, half a character")
        #expect(parser.feed([0xA9]) == [.key(.character("é"))], "the character's second half")
        let runaway = "\u{1B}[" + String(repeating: "1", count: 40) + "A" + "z"
        #expect(parse(runaway).last == .key(.character("z")))
    }
}
