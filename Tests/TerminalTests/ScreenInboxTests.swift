import Testing

@testable import Terminal

/// The screen loop's inbox: input in order and never lost, changes merged
/// into one flag, and bounded however long the loop is busy.
@Suite struct ScreenInboxTests {
    func key(_ character: Character) -> TerminalEvent { .input(.key(.character(character))) }
    func motion(_ column: Int) -> TerminalEvent {
        .input(.mouse(MouseEvent(button: .left, action: .motion, column: column, row: 1)))
    }

    @Test func inputKeepsItsOrderAndChangesMerge() async {
        let inbox = ScreenInbox()
        inbox.markChanged()
        inbox.post(key("a"))
        for _ in 0..<1_000 { inbox.markChanged() }
        inbox.post(key("b"))
        let batch = await inbox.next()
        #expect(batch.events == [key("a"), key("b")])
        #expect(batch.changed)
        #expect(inbox.take().isEmpty, "everything was taken at once")
    }

    @Test func aWaitingLoopWakesForInputAndForChanges() async {
        let inbox = ScreenInbox()
        let waiting = Task { await inbox.next() }
        try? await Task.sleep(for: .milliseconds(50))
        inbox.post(key("q"))
        #expect(await waiting.value.events == [key("q")])
        let again = Task { await inbox.next() }
        try? await Task.sleep(for: .milliseconds(50))
        inbox.markChanged()
        let batch = await again.value
        #expect(batch.changed && batch.events.isEmpty)
    }

    @Test func aStalledLoopDropsOldMotionsButNeverKeys() {
        let inbox = ScreenInbox()
        inbox.post(key("x"))
        for column in 0..<(ScreenInbox.maxQueuedEvents + 100) { inbox.post(motion(column)) }
        inbox.post(.terminated(signal: nil))
        let batch = inbox.take()
        #expect(batch.events.count == ScreenInbox.maxQueuedEvents)
        #expect(batch.droppedMotions == 102)
        #expect(batch.events.first == key("x"), "the key survives")
        #expect(batch.events.last == .terminated(signal: nil))
        #expect(batch.events.dropFirst().first == motion(102), "the oldest motions went first")
    }
}
