import Bots
import Scuttlebutt
import Testing
import Whiteboard

@testable import Terminal

@Suite struct ViewerFramingTests {
    @Test func aBoardThatFitsIsCentredInHalfBlocks() {
        let framed = ViewerFraming.fitting(Rect(minX: 100, minY: 50, maxX: 139, maxY: 69), columns: 80, rows: 20)
        #expect(framed.mode == .halfBlock)
        #expect(framed.origin == Point(119 - 40, 59 - 20), "the middle of the bounds in the middle of the screen")
    }

    @Test func aBoardTooBigForHalfBlocksSwitchesToBraille() {
        let framed = ViewerFraming.fitting(Rect(minX: 0, minY: 0, maxX: 150, maxY: 30), columns: 80, rows: 20)
        #expect(framed.mode == .braille)
        #expect(framed.origin == Point(75 - 80, 15 - 40))
    }

    @Test func anEmptyBoardShowsTheOrigin() {
        #expect(ViewerFraming.fitting(nil, columns: 80, rows: 20) == (.zero, .halfBlock))
    }
}

@Suite struct BotBrainTests {
    let area = Rect(minX: 0, minY: 0, maxX: 79, maxY: 45)

    @Test(arguments: BotBehavior.allCases)
    func theSameSeedDrawsTheSameAndEverythingStaysInTheArea(behavior: BotBehavior) throws {
        var first = BotBrain(behavior: behavior, seed: 42, area: area)
        var second = BotBrain(behavior: behavior, seed: 42, area: area)
        var other = BotBrain(behavior: behavior, seed: 43, area: area)
        var differs = false
        var (extends, extendedPoints) = (0, 0)
        for _ in 0..<20 {
            let gesture = first.nextGesture()
            #expect(gesture == second.nextGesture())
            differs = differs || gesture != other.nextGesture()
            for step in gesture {
                switch step {
                case .cursor(let point), .beginStroke(let point, _):
                    #expect(area.contains(point))
                case .extendStroke(let points):
                    #expect(points.allSatisfy(area.contains))
                    #expect((1...BoardLimits().maxPointsPerExtend).contains(points.count))
                    extends += 1
                    extendedPoints += points.count
                case .record(let action):
                    #expect(behavior != .lurker, "a lurker only looks")
                    try BoardLimits().validate(action)
                case .erase(let erased):
                    #expect(behavior == .eraser)
                    #expect(area.intersects(erased))
                case .endStroke, .pause:
                    break
                }
            }
        }
        #expect(differs, "another seed draws something else")
        if behavior == .scribbler {
            #expect(extendedPoints > extends * 2, "a frame's points go in one extend, not one point per extend")
        }
    }
}
